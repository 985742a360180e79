// The battery status table of the seed product, one card per string: every block's voltage,
// temperature, internal resistance, capacity against the string's mean, state of health, equalization and status. The cell that causes a block's
// warning or alarm is coloured, and every non-green block says why in the Note column.
// Block numbers open the block page.
import { ReplacementList } from "../components/Health.jsx";
import { RuntimeItem } from "../components/Runtime.jsx";
import { StatusMark } from "../components/StatusMark.jsx";
import { Value } from "../components/Value.jsx";
import { alarms } from "../lib/alarms.js";
import { cellLevel, blockFindings } from "../lib/findings.js";
import { fmtPoint, isNum, unitOf } from "../lib/format.js";
import { live } from "../lib/live.js";
import { points } from "../lib/points.js";
import { useStore } from "../lib/store.js";

const LEVEL_TEXT = { off: "off", eco_plus: "ECO+", eco: "ECO", normal: "normal", power: "power", boost: "boost" };

const COLUMNS = [
  ["voltage_v", "Voltage"],
  ["temperature_c", "Temp."],
  ["ri_mohm", "Ri"],
  // From the string's discharges (docs/analysis.md): the block against the string's mean block.
  ["capacity_relative_pct", "Capacity vs. mean"],
  // Fused state of health (docs/analysis.md, "Health of every block").
  ["soh_pct", "SOH"],
];

const SUMMARY = [
  ["voltage_v", "Σ voltage"],
  ["target_voltage_v", "Target voltage"],
  ["current_a", "DC current"],
  ["power_kw", "Power"],
  ["ac_current_a", "AC ripple current"],
  ["charge_avg_pct", "State of charge"],
  ["capacity_pct", "Capacity (last test)"],
  ["soh_pct", "State of health (weakest block)"],
  ["rul_years", "Remaining life to 80 %"],
  ["block_voltage_spread_v", "Block spread ±"],
  ["temperature_max_c", "Max. temperature"],
];

function EqualizeCell({ b }) {
  const pct = b.equalization_pct && isNum(b.equalization_pct.value) ? b.equalization_pct.value : null;
  const level = b.equalization_level ? b.equalization_level.value : null;
  return (
    <td class="eq-cell">
      <span class="eq-bar" aria-hidden="true">
        <span class={`eq-fill lvl-${level || "off"}`} style={{ width: `${pct === null ? 0 : Math.min(100, pct)}%` }} />
      </span>
      <span class="eq-text">{pct === null ? "—" : `${pct.toFixed(0)} %`} {level && level !== "off" ? LEVEL_TEXT[level] || level : ""}</span>
    </td>
  );
}

function BlockRow({ s, b, alarmList }) {
  const findings = blockFindings(b, s, alarmList);
  const status = b.status ? b.status.value : "unknown";
  return (
    <tr data-block={b.block} data-status={status}>
      <th scope="row">
        <a href={`/strings/${s.string}/blocks/${b.block}`} aria-label={`String ${s.string} block ${b.block}`}>
          {b.block}
        </a>
      </th>
      {COLUMNS.map(([field]) => {
        const lvl = cellLevel(findings, field);
        return (
          <td key={field} class={`num ${lvl ? "cell-" + lvl : ""}`} data-field={field}>
            <Value vo={b[field]} scope="block" field={field} unit={false} />
          </td>
        );
      })}
      <EqualizeCell b={b} />
      <td data-field="status">
        <StatusMark status={status} short />
      </td>
      <td class="note" data-pending={findings.some((f) => f.pending) ? "" : undefined}>
        {findings.map((f) => f.text).join("; ")}
      </td>
    </tr>
  );
}

export function StringCard({ s, alarmList }) {
  useStore(points);
  const mode = s.mode ? s.mode.value : null;
  return (
    <section class="card string-card" aria-labelledby={`string-${s.string}-title`} data-string={s.string}>
      <div class="card-head">
        <h2 id={`string-${s.string}-title`}>
          <a href={`/battery/${s.string}`}>{s.name || `String ${s.string}`}</a>
        </h2>
        <span class="mode-badge" data-mode={mode || "unknown"}>
          {mode || "mode unknown"}
        </span>
        <a class="card-link" href={`/strings/${s.string}/pattern`}>
          Voltage pattern
        </a>
      </div>
      <div class="table-scroll">
        <table class="block-table">
          <caption class="visually-hidden">Blocks of string {s.string}</caption>
          <thead>
            <tr>
              <th scope="col">Block</th>
              {COLUMNS.map(([field, label]) => (
                <th key={field} scope="col" class="num">
                  {label} [{unitOf("block", field)}]
                </th>
              ))}
              <th scope="col">Equalize</th>
              <th scope="col">Status</th>
              <th scope="col">Note</th>
            </tr>
          </thead>
          <tbody>
            {(s.blocks || []).map((b) => (
              <BlockRow key={b.block} s={s} b={b} alarmList={alarmList} />
            ))}
          </tbody>
        </table>
      </div>
      <dl class="summary">
        {SUMMARY.map(([field, label]) => (
          <div key={field} class="summary-item" data-field={field}>
            <dt>{label}</dt>
            <dd>
              <Value vo={s[field]} scope="string" field={field} />
            </dd>
          </div>
        ))}
        <RuntimeItem s={s} />
      </dl>
      <ReplacementList string={s.string} />
    </section>
  );
}

export default function Battery({ params }) {
  const { doc } = useStore(live);
  const a = useStore(alarms);
  if (!doc) return <p class="placeholder">Loading battery data…</p>;
  const only = params.s ? Number(params.s) : null;
  const strings = (doc.strings || []).filter((s) => only === null || s.string === only);
  if (only !== null && strings.length === 0) return <p class="notice">There is no string {params.s}.</p>;
  return (
    <div class="page battery-page">
      <h1 class="page-title">{only === null ? "Battery" : `String ${only}`}</h1>
      {only !== null ? (
        <p>
          <a href="/battery">All strings</a>
        </p>
      ) : null}
      <div class="strings">
        {strings.map((s) => (
          <StringCard key={s.string} s={s} alarmList={a.list} />
        ))}
      </div>
      <p class="legend">
        <StatusMark status="ok" /> <StatusMark status="warning" /> <StatusMark status="alarm" /> <StatusMark status="unknown" />{" "}
        <span class="q-bad">12.34*</span> stale or no data · {fmtPoint(null)}: no value
      </p>
    </div>
  );
}
