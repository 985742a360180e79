// Recorded discharges (mains outages, tests): every discharge of every string, newest first;
// for one discharge the curves of all blocks (early collapsers drawn on top), the string's
// voltage and current, and the end-of-discharge voltages sorted, with the blocks that collapsed
// early flagged (the server's analysis, docs/api.md), and the controller's report of it: energy,
// the runtime predicted at half time against the actual one, the order in which the blocks
// reached each voltage, and links to the printable report and its CSV.
import { Chart } from "../components/Chart.jsx";
import { RangePicker } from "../components/RangePicker.jsx";
import { Time } from "../components/Time.jsx";
import { fmtDuration, isNum } from "../lib/format.js";
import { pointsFor, rangeOf, useDischarges, useFetch } from "../lib/history.js";
import { live, usePlantNow } from "../lib/live.js";
import { route, setQuery } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { cssVar } from "../lib/theme.js";

function DischargeList() {
  const { doc } = useStore(live);
  const r = useStore(route);
  const now = usePlantNow(0);
  const range = rangeOf(r.search, now ?? 0, "30d");
  const only = r.search.get("string") || "";
  const strings = doc ? doc.strings.map((s) => s.string).filter((n) => !only || String(n) === only) : [];
  const state = useDischarges(now === null ? [] : strings, range.from, range.to);
  const all = doc ? doc.strings.map((s) => s.string) : [];
  return (
    <div class="page discharges-page">
      <h1 class="page-title">Discharges</h1>
      <form class="filters" onSubmit={(ev) => ev.preventDefault()}>
        <label>
          String{" "}
          <select value={only} onChange={(ev) => setQuery({ string: ev.currentTarget.value, range: range.key === "custom" ? "" : range.key })}>
            <option value="">all</option>
            {all.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </form>
      <RangePicker range={range} extra={{ string: only }} key={`${range.from}-${range.to}`} />
      {state.error ? <p class="error">{state.error}</p> : null}
      {!state.list && !state.error ? <p class="sub">Loading…</p> : null}
      {state.list && state.list.length === 0 ? <p>No discharge recorded in this range.</p> : null}
      {state.list && state.list.length ? (
        <div class="table-scroll">
          <table class="data-table discharge-list">
            <thead>
              <tr>
                <th scope="col">Start</th>
                <th scope="col">String</th>
                <th scope="col" class="num">
                  Duration
                </th>
                <th scope="col" class="num">
                  Charge out [Ah]
                </th>
                <th scope="col" class="num">
                  Lowest string voltage [V]
                </th>
                <th scope="col" class="num">
                  Energy [kWh]
                </th>
                <th scope="col">End voltage / runtime</th>
                <th scope="col">
                  <span class="visually-hidden">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {state.list.map((d) => (
                <tr key={`${d.string}-${d.id}`} data-string={d.string} data-id={d.id}>
                  <td>
                    <Time t={d.start_ms} />
                  </td>
                  <td>{d.string}</td>
                  <td class="num">{d.end_ms ? fmtDuration(d.duration_s) : `${fmtDuration(d.duration_s)} (running)`}</td>
                  <td class="num">{isNum(d.ah_out) ? d.ah_out.toFixed(1) : "—"}</td>
                  <td class="num">{isNum(d.min_voltage_v) ? d.min_voltage_v.toFixed(2) : "—"}</td>
                  <td class="num">{d.report && isNum(d.report.energy_wh) ? (d.report.energy_wh / 1000).toFixed(2) : "—"}</td>
                  <td class="runtime">{runtimeText(d.report)}</td>
                  <td>
                    <a href={`/discharges/${d.string}/${d.id}`}>Curves and end voltages</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}

// "block 7 after 77 min (predicted 77 min at half time)" or "not reached; 130 min left".
function runtimeText(rep) {
  if (!rep) return "—";
  const rt = rep.runtime || {};
  if (rep.first_at_end) {
    const half = isNum(rt.predicted_at_half_s) ? ` (predicted ${fmtDuration(rt.predicted_at_half_s)} at half time)` : "";
    return `block ${rep.first_at_end.block} after ${fmtDuration(rt.actual_s)}${half}`;
  }
  return isNum(rt.left_at_end_s) ? `not reached; ${fmtDuration(rt.left_at_end_s)} left` : "not reached";
}

// The blocks in the order they reached each voltage level (the first ten of each).
function LevelTable({ report }) {
  return (
    <table class="data-table level-table">
      <caption class="visually-hidden">Blocks in the order they reached each voltage</caption>
      <thead>
        <tr>
          <th scope="col" class="num">
            Level [V/cell]
          </th>
          <th scope="col" class="num">
            Block [V]
          </th>
          <th scope="col">Blocks, first first (minutes from the start)</th>
        </tr>
      </thead>
      <tbody>
        {report.levels.map((l) => (
          <tr key={l.v_per_cell} data-level={l.v_per_cell}>
            <td class="num">{l.v_per_cell.toFixed(2)}</td>
            <td class="num">{l.block_v.toFixed(2)}</td>
            <td>
              {l.reached.length
                ? l.reached
                    .slice(0, 10)
                    .map((c) => `${c.block} (${(c.after_s / 60).toFixed(1)})`)
                    .join(", ") + (l.reached.length > 10 ? ` … ${l.reached.length} blocks` : "")
                : "none"}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// Horizontal bars of the end-of-discharge voltages, lowest first; early collapsers marked.
function EndBars({ rows }) {
  const vs = rows.map((r) => r.voltage_v).filter(isNum);
  if (!vs.length) return <p class="sub">No block voltages at the end of this discharge.</p>;
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  const base = lo - (hi - lo) * 0.25 - 0.01;
  const span = hi - base || 1;
  return (
    <table class="data-table eod-table">
      <caption class="visually-hidden">Block voltages at the lowest string voltage, sorted</caption>
      <thead>
        <tr>
          <th scope="col">Block</th>
          <th scope="col" class="num">
            Voltage [V]
          </th>
          <th scope="col" class="num">
            From median [V]
          </th>
          <th scope="col">Bar</th>
          <th scope="col">Flag</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.block} data-block={r.block} data-early={r.early_collapse ? "1" : "0"} class={r.early_collapse ? "early" : ""}>
            <th scope="row">{r.block}</th>
            <td class="num">{isNum(r.voltage_v) ? r.voltage_v.toFixed(3) : "—"}</td>
            <td class="num">{isNum(r.deviation_v) ? `${r.deviation_v >= 0 ? "+" : ""}${r.deviation_v.toFixed(3)}` : "—"}</td>
            <td class="bar-cell" aria-hidden="true">
              <span class={`hbar ${r.early_collapse ? "hbar-early" : ""}`} style={{ width: `${isNum(r.voltage_v) ? Math.max(2, ((r.voltage_v - base) / span) * 100) : 0}%` }} />
            </td>
            <td>{r.early_collapse ? <strong class="st-alarm">▼ collapsed early</strong> : ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DischargeDetail({ s, id }) {
  const { data, error } = useFetch(`/strings/${s}/discharges/${id}`, { max_points: pointsFor() }, [s, id]);
  if (error) return <p class="error">{error}</p>;
  if (!data) return <p class="sub">Loading…</p>;
  const eod = data.end_of_discharge || [];
  const rep = data.report;
  const early = new Set(eod.filter((r) => r.early_collapse).map((r) => r.block));
  const blocks = (data.blocks && data.blocks.blocks) || [];
  // Early collapsers last, so they are drawn on top, in the alarm colour.
  const ordered = [...blocks.filter((b) => !early.has(b.block)), ...blocks.filter((b) => early.has(b.block))];
  const alarm = cssVar("--alarm", "#c4202b");
  const soft = cssVar("--ink-soft", "#888");
  const accent = cssVar("--accent", "#0b5cd5");
  const ss = data.string_series || { times_ms: [], voltage_v: [], current_a: [] };
  return (
    <div class="page discharge-page">
      <p class="crumbs">
        <a href="/discharges">Discharges</a> › string {s}
      </p>
      <h1 class="page-title">
        Discharge of string {s}, <Time t={data.start_ms} />
      </h1>
      <dl class="summary card">
        <div>
          <dt>Duration</dt>
          <dd>{fmtDuration(data.duration_s)}{data.end_ms ? "" : " (running)"}</dd>
        </div>
        <div>
          <dt>Charge out</dt>
          <dd>{isNum(data.ah_out) ? `${data.ah_out.toFixed(1)} Ah` : "—"}</dd>
        </div>
        <div>
          <dt>Lowest string voltage</dt>
          <dd>{isNum(data.min_voltage_v) ? `${data.min_voltage_v.toFixed(2)} V` : "—"}</dd>
        </div>
        <div>
          <dt>Collapsed early</dt>
          <dd>{early.size ? [...early].map((b) => `block ${b}`).join(", ") : "none"}</dd>
        </div>
        {rep ? (
          <>
            <div>
              <dt>Energy out</dt>
              <dd>{isNum(rep.energy_wh) ? `${(rep.energy_wh / 1000).toFixed(2)} kWh` : "—"}</dd>
            </div>
            <div>
              <dt>End voltage</dt>
              <dd class="runtime">{runtimeText(rep)}</dd>
            </div>
            <div>
              <dt>Runtime predicted at the start</dt>
              <dd>{fmtDuration(rep.runtime.predicted_at_start_s)}</dd>
            </div>
          </>
        ) : null}
      </dl>
      {rep ? (
        <p class="report-links">
          Report: <a href={`/api/v1/strings/${s}/discharges/${id}/report.html`} target="_blank" rel="noopener">printable page</a> ·{" "}
          <a href={`/api/v1/strings/${s}/discharges/${id}/report.csv`}>CSV, one row per block</a>
        </p>
      ) : null}
      <section class="card chart-card" aria-labelledby="dis-blocks">
        <h2 id="dis-blocks">Block voltages [V]</h2>
        {data.blocks && data.blocks.times_ms ? (
          <Chart
            label={`Voltage of every block of string ${s} during the discharge${early.size ? `; early collapse: blocks ${[...early].join(", ")}` : ""}`}
            series={ordered.map((b) => ({ label: `Block ${b.block}`, stroke: early.has(b.block) ? alarm : soft, width: early.has(b.block) ? 2.5 : 1 }))}
            data={[data.blocks.times_ms, ...ordered.map((b) => b.values)]}
            unit="V"
            height={380}
            legend={false}
          />
        ) : null}
      </section>
      <section class="card chart-card" aria-labelledby="dis-string">
        <h2 id="dis-string">String voltage [V] and current [A]</h2>
        <Chart label={`Voltage of string ${s} during the discharge`} series={[{ label: "Voltage", stroke: accent }]} data={[ss.times_ms, ss.voltage_v]} unit="V" height={200} />
        <Chart label={`Current of string ${s} during the discharge`} series={[{ label: "Current", stroke: soft }]} data={[ss.times_ms, ss.current_a]} unit="A" height={200} />
      </section>
      {rep && rep.levels ? (
        <section class="card" aria-labelledby="dis-levels">
          <h2 id="dis-levels">Order in which the blocks reached each voltage</h2>
          <LevelTable report={rep} />
        </section>
      ) : null}
      <section class="card" aria-labelledby="dis-end">
        <h2 id="dis-end">End of discharge: block voltages, lowest first</h2>
        <EndBars rows={eod} />
      </section>
    </div>
  );
}

export default function Discharges({ params }) {
  if (params.s && params.id) return <DischargeDetail s={Number(params.s)} id={params.id} />;
  return <DischargeList />;
}
