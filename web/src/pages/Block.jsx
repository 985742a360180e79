// One block: its live values (its capacity from the discharges included) and why it is not
// green, charts of voltage, temperature, internal resistance and equalization over any range
// (hour … years; the server downsamples), its Ri baseline, its active alarms and its events.
import { useState } from "preact/hooks";
import { BlockHealth } from "../components/Health.jsx";
import { RangePicker } from "../components/RangePicker.jsx";
import { ruleThresholds, SeriesChart } from "../components/SeriesChart.jsx";
import { StatusMark } from "../components/StatusMark.jsx";
import { Time } from "../components/Time.jsx";
import { Value } from "../components/Value.jsx";
import { send } from "../lib/api.js";
import { alarms, rules } from "../lib/alarms.js";
import { blockFindings } from "../lib/findings.js";
import { fmtPoint, unitOf } from "../lib/format.js";
import { rangeOf, useFetch } from "../lib/history.js";
import { live, liveString, usePlantNow } from "../lib/live.js";
import { points } from "../lib/points.js";
import { route } from "../lib/router.js";
import { mayOperate, session } from "../lib/session.js";
import { useStore } from "../lib/store.js";
import { cssVar } from "../lib/theme.js";

// [field, label, field of its 1 σ uncertainty (shown as "± x")]
const FACTS = [
  ["voltage_v", "Voltage"],
  ["temperature_c", "Temperature"],
  ["ri_mohm", "Internal resistance"],
  ["ri_baseline_mohm", "Ri baseline"],
  ["ri_rise_pct", "Ri rise over baseline"],
  ["ri_rise_25c_pct", "Ri rise at 25 °C"],
  ["soh_pct", "State of health", "soh_sigma_pct"],
  ["rul_years", "Remaining life to 80 %"],
  ["capacity_pct", "Capacity (of nominal)", "capacity_sigma_pct"],
  ["capacity_relative_pct", "Capacity vs. string mean", "capacity_relative_sigma_pct"],
  ["capacity_events", "Discharges analysed"],
  ["equalization_pct", "Equalization"],
  ["equalization_wh_per_day", "Equalization energy"],
  ["module_error_mv", "Module error"],
  ["comm_ok_count", "Answers"],
  ["comm_error_count", "Missed answers"],
];

// Warning and alarm lines of the rules that watch `point` in this string.
function thresholdsFor(ruleState, stringNo, point) {
  const s = ruleState.strings.find((x) => x.string === stringNo);
  return ruleThresholds(s && s.rules, point);
}

function HistoryChart({ s, b, field, title, ...rest }) {
  return <SeriesChart path={`/strings/${s}/blocks/${b}/history`} field={field} title={title} unit={unitOf("block", field)} label={`${title} of block ${b}, string ${s}`} {...rest} />;
}

function BlockEvents({ s, b }) {
  const { data, error } = useFetch("/events", { string: s, block: b, limit: 50 }, [s, b]);
  if (error) return <p class="error">{error}</p>;
  const list = (data && data.events) || [];
  if (!data) return <p class="sub">Loading…</p>;
  if (!list.length) return <p class="sub">No events of this block in the last day.</p>;
  return (
    <div class="table-scroll">
      <table class="data-table">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Kind</th>
            <th scope="col">Level</th>
            <th scope="col">Message</th>
          </tr>
        </thead>
        <tbody>
          {list
            .slice()
            .reverse()
            .map((e, i) => (
              <tr key={i}>
                <td>
                  <Time t={e.time_ms} />
                </td>
                <td>{e.kind}</td>
                <td>{e.level || ""}</td>
                <td>{e.message}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}

function BaselineReset({ s, b }) {
  const [confirm, setConfirm] = useState(false);
  const [msg, setMsg] = useState("");
  const run = async () => {
    setConfirm(false);
    try {
      await send("POST", `/strings/${s}/blocks/${b}/ri-baseline/reset`, {});
      setMsg("A new Ri baseline is being collected.");
    } catch (e) {
      setMsg(`Not reset: ${e.message}`);
    }
  };
  return (
    <div class="group-actions">
      {confirm ? (
        <>
          <span>Collect a new Ri baseline for this block (after replacing it)?</span>
          <button type="button" onClick={run}>
            Yes, reset
          </button>
          <button type="button" class="button-quiet" onClick={() => setConfirm(false)}>
            Cancel
          </button>
        </>
      ) : (
        <button type="button" onClick={() => setConfirm(true)}>
          Reset Ri baseline…
        </button>
      )}
      <span role="status">{msg}</span>
    </div>
  );
}

export default function Block({ params }) {
  const sNo = Number(params.s);
  const bNo = Number(params.b);
  const { doc } = useStore(live);
  const a = useStore(alarms);
  const ruleState = useStore(rules);
  const sess = useStore(session);
  const r = useStore(route);
  useStore(points);
  const now = usePlantNow();
  if (!doc || now === null) return <p class="placeholder">Loading battery data…</p>;
  const s = liveString(doc, sNo);
  const blk = s && (s.blocks || []).find((x) => x.block === bNo);
  if (!blk) return <p class="notice">There is no block {params.b} in string {params.s}.</p>;
  const findings = blockFindings(blk, s, a.list);
  const shelved = (a.shelved || []).filter((x) => x.string === sNo && x.block === bNo);
  const status = blk.status ? blk.status.value : "unknown";
  const range = rangeOf(r.search, now);
  const baseline = blk.ri_baseline_mohm && typeof blk.ri_baseline_mohm.value === "number" ? blk.ri_baseline_mohm.value : null;
  const prev = bNo > 1 ? bNo - 1 : null;
  const next = bNo < s.blocks.length ? bNo + 1 : null;
  return (
    <div class="page block-page">
      <p class="crumbs">
        <a href={`/battery/${sNo}`}>String {sNo}</a> › block {bNo}
        {prev ? (
          <>
            {" · "}
            <a href={`/strings/${sNo}/blocks/${prev}${location.search}`}>‹ block {prev}</a>
          </>
        ) : null}
        {next ? (
          <>
            {" · "}
            <a href={`/strings/${sNo}/blocks/${next}${location.search}`}>block {next} ›</a>
          </>
        ) : null}
      </p>
      <h1 class="page-title">
        String {sNo}, block {bNo} <StatusMark status={status} />
      </h1>
      {findings.length ? (
        <ul class="findings">
          {findings.map((f, i) => (
            <li key={i} data-level={f.level}>
              <StatusMark status={f.level === "unknown" ? "unknown" : f.level} label={false} /> {f.text}
            </li>
          ))}
        </ul>
      ) : (
        <p>This block is ok.</p>
      )}
      {shelved.length ? (
        <ul class="findings shelved-notes">
          {shelved.map((x) => (
            <li key={x.key} data-key={x.key}>
              Shelved until <Time t={x.shelved_until} /> by {x.shelved_by}: {x.message.replace(/^String \d+, block \d+: /, "")} — “{x.shelve_reason}” (<a href="/alarms?state=shelved">shelved alarms</a>)
            </li>
          ))}
        </ul>
      ) : null}
      <section class="card">
        <h2>Now</h2>
        <dl class="summary">
          {FACTS.map(([field, label, sigma]) => (
            <div key={field} class="summary-item" data-field={field}>
              <dt>{label}</dt>
              <dd>
                <Value vo={blk[field]} scope="block" field={field} />
                {sigma && blk[field] && typeof blk[field].value === "number" && blk[sigma] && typeof blk[sigma].value === "number" ? (
                  <span class="sigma"> ± {fmtPoint(blk[sigma], "block", sigma)}</span>
                ) : null}
              </dd>
            </div>
          ))}
        </dl>
        {mayOperate(sess) ? <BaselineReset s={sNo} b={bNo} /> : null}
      </section>
      <section class="card">
        <h2>Health</h2>
        <BlockHealth s={sNo} b={bNo} />
      </section>
      <RangePicker range={range} key={`${range.from}-${range.to}`} />
      <HistoryChart s={sNo} b={bNo} field="voltage_v" title="Voltage" range={range} thresholds={thresholdsFor(ruleState, sNo, "block.voltage_v")} />
      <HistoryChart s={sNo} b={bNo} field="temperature_c" title="Temperature" range={range} thresholds={thresholdsFor(ruleState, sNo, "block.temperature_c")} />
      <HistoryChart
        s={sNo}
        b={bNo}
        field="ri_mohm"
        title="Internal resistance"
        range={range}
       
        extra={baseline !== null ? { value: baseline, series: { label: "Baseline", stroke: cssVar("--ink-soft", "#888"), dash: [6, 4] } } : null}
      />
      <HistoryChart s={sNo} b={bNo} field="equalization_pct" title="Equalization" range={range} />
      <HistoryChart s={sNo} b={bNo} field="equalization_wh_per_day" title="Equalization energy" range={range} />
      <section class="card">
        <h2>Events of this block</h2>
        <BlockEvents s={sNo} b={bNo} />
      </section>
    </div>
  );
}
