// The health of a string's blocks (docs/analysis.md, "Health of every block"): the replacement
// list under the battery table, and a block's evidence, remaining life and weekly history on its
// page. Both read the controller's hourly assessment (/api/v1/strings/{n}/health).
import { useFetch } from "../lib/history.js";
import { live } from "../lib/live.js";
import { useStore } from "../lib/store.js";

// The controller assesses health hourly (plant time): read again when the plant's hour changes.
function usePlantHour() {
  const { doc } = useStore(live);
  return doc ? Math.floor(doc.time_ms / 3600000) : null;
}

const STATE_TEXT = { ok: "ok", degraded: "degraded", replace: "replace", unknown: "unknown" };

function years(x) {
  return typeof x === "number" ? x.toFixed(1) : "—";
}

function dateOf(iso) {
  return typeof iso === "string" ? iso.slice(0, 10) : "—";
}

// Blocks below 80 %, warned, or expected at 80 % within a year; soonest first.
export function ReplacementList({ string }) {
  const hour = usePlantHour();
  const { data, error } = useFetch(`/strings/${string}/health`, {}, [string, hour]);
  if (error) return <p class="error">Health: {error}</p>;
  if (!data) return null;
  const list = data.replacement_list || [];
  return (
    <div class="replacement-list" data-string={string}>
      <h3>Replacement list</h3>
      {list.length === 0 ? (
        <p class="sub">No block is below 80 % or expected there within a year.</p>
      ) : (
        <ul>
          {list.map((r) => (
            <li key={r.block} data-block={r.block} data-state={r.state}>
              <a href={`/strings/${string}/blocks/${r.block}`}>Block {r.block}</a> ({STATE_TEXT[r.state] || r.state}
              {typeof r.rul_years === "number" ? `, 80 % in ${years(r.rul_years)} years` : ""}): {r.evidence}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

// A block's health: state, components, trend, remaining life with its interval, the evidence and
// the last weeks.
export function BlockHealth({ s, b }) {
  const hour = usePlantHour();
  const { data, error } = useFetch(`/strings/${s}/blocks/${b}/health`, {}, [s, b, hour]);
  if (error) return <p class="error">{error}</p>;
  if (!data) return <p class="sub">Loading…</p>;
  const rul = data.rul || {};
  const trend = data.trends && data.trends.soh_pct;
  const weeks = (data.history || []).slice(-12).reverse();
  return (
    <div class="block-health" data-state={data.state}>
      <dl class="summary">
        <div class="summary-item" data-item="health_state">
          <dt>IEEE 450 / 1188 state</dt>
          <dd>{STATE_TEXT[data.state] || data.state}</dd>
        </div>
        <div class="summary-item" data-item="capacity_component">
          <dt>From the discharges</dt>
          <dd>
            {typeof data.components.capacity.pct === "number" ? `${data.components.capacity.pct.toFixed(1)} ± ${data.components.capacity.sigma_pct.toFixed(1)} %` : "—"}
          </dd>
        </div>
        <div class="summary-item" data-item="ri_component">
          <dt>From Ri at 25 °C alone</dt>
          <dd>{typeof data.components.ri.pct === "number" ? `${data.components.ri.pct.toFixed(1)} ± ${data.components.ri.sigma_pct.toFixed(1)} %` : "—"}</dd>
        </div>
        <div class="summary-item" data-item="soh_trend">
          <dt>SOH trend</dt>
          <dd>{trend ? `${trend.per_year.toFixed(1)} %/year (${trend.low.toFixed(1)} … ${trend.high.toFixed(1)}, ${trend.weeks} weeks)` : "— (needs 8 weeks)"}</dd>
        </div>
        <div class="summary-item" data-item="rul">
          <dt>Remaining life to 80 %</dt>
          <dd>
            {typeof rul.years === "number" ? `${years(rul.years)} years (80 %: ${years(rul.low_years)}–${years(rul.high_years)}), from the ${rul.basis}` : "—"}
            {rul.at_80_pct ? ` · expected ${dateOf(rul.at_80_pct)}` : ""}
          </dd>
        </div>
      </dl>
      <p class="evidence" data-warning={data.warning ? "" : undefined}>
        {data.warning ? <strong>Weak-block warning: </strong> : null}
        {data.evidence || "Not enough data yet: the Ri baseline takes a day of float, a capacity a discharge of 5 % of C."}
      </p>
      {weeks.length ? (
        <div class="table-scroll">
          <table class="data-table health-weeks">
            <caption>Last weeks (median of each week's hours in float)</caption>
            <thead>
              <tr>
                <th scope="col">Week to</th>
                <th scope="col" class="num">SOH [%]</th>
                <th scope="col" class="num">Ri at 25 °C [mΩ]</th>
                <th scope="col" class="num">Float vs. string [mV/cell]</th>
                <th scope="col" class="num">Equalization [%]</th>
              </tr>
            </thead>
            <tbody>
              {weeks.map((w) => (
                <tr key={w.time}>
                  <td>{dateOf(w.time)}</td>
                  <td class="num">{typeof w.soh_pct === "number" ? w.soh_pct.toFixed(1) : "—"}</td>
                  <td class="num">{typeof w.ri_25c_mohm === "number" ? w.ri_25c_mohm.toFixed(3) : "—"}</td>
                  <td class="num">{typeof w.float_deviation_mv_per_cell === "number" ? w.float_deviation_mv_per_cell.toFixed(1) : "—"}</td>
                  <td class="num">{typeof w.equalization_pct === "number" ? w.equalization_pct.toFixed(1) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
