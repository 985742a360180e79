// The voltage pattern of a string: every block of the string over time in one chart (the
// seed's "violet line" view), any block highlightable; the blocks that end furthest from the
// string's median are listed beside it. Other quantities (temperature, Ri, equalization) too.
import { Chart } from "../components/Chart.jsx";
import { RangePicker } from "../components/RangePicker.jsx";
import { isNum, unitOf } from "../lib/format.js";
import { pointsFor, rangeOf, useFetch } from "../lib/history.js";
import { live, usePlantNow } from "../lib/live.js";
import { points } from "../lib/points.js";
import { navigate, route, setQuery } from "../lib/router.js";
import { useStore } from "../lib/store.js";

const QUANTITIES = [
  ["voltage_v", "Voltage"],
  ["temperature_c", "Temperature"],
  ["ri_mohm", "Internal resistance"],
  ["equalization_pct", "Equalization"],
];

// A palette of distinguishable hues; the highlighted block is drawn thick on top of faded others.
function colour(i, n) {
  const hue = Math.round((360 * i) / Math.max(1, n)) % 360;
  return `hsl(${hue} 65% 45%)`;
}

function median(xs) {
  const s = xs.filter(isNum).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function lastValue(values) {
  for (let i = values.length - 1; i >= 0; i -= 1) if (isNum(values[i])) return values[i];
  return null;
}

export default function Pattern({ params }) {
  const { doc } = useStore(live);
  const r = useStore(route);
  useStore(points);
  const now = usePlantNow(0);
  const strings = doc ? doc.strings.map((s) => s.string) : [];
  const sNo = params.s ? Number(params.s) : strings[0] || 1;
  const quantity = r.search.get("quantity") || "voltage_v";
  const hl = r.search.get("block") ? Number(r.search.get("block")) : null;
  const range = rangeOf(r.search, now ?? 0, "1d");
  const keep = { quantity, block: hl || "" };
  const rangeParams = range.key === "custom" ? { from: range.from, to: range.to } : { range: range.key };
  const path = now === null ? null : `/strings/${sNo}/blocks/history`;
  const { data, error, loading } = useFetch(path, { quantity, from: range.from, to: range.to, max_points: pointsFor() }, [path, quantity, range.from, range.to]);
  const unit = unitOf("block", quantity);
  const blocks = (data && data.blocks) || [];
  const series = blocks.map((b, i) => ({ label: `Block ${b.block}`, stroke: colour(i, blocks.length), width: b.block === hl ? 3 : 1 }));
  const cols = data ? [data.times_ms, ...blocks.map((b) => b.values)] : [[]];
  const med = median(blocks.map((b) => lastValue(b.values)));
  const outliers =
    med === null
      ? []
      : blocks
          .map((b) => ({ block: b.block, v: lastValue(b.values) }))
          .filter((x) => isNum(x.v))
          .map((x) => ({ ...x, d: x.v - med }))
          .sort((a, b) => Math.abs(b.d) - Math.abs(a.d))
          .slice(0, 5);
  const highlightIndex = hl === null ? null : blocks.findIndex((b) => b.block === hl);
  const qLabel = (QUANTITIES.find((q) => q[0] === quantity) || QUANTITIES[0])[1];
  return (
    <div class="page pattern-page">
      <h1 class="page-title">
        {qLabel} pattern, string {sNo}
      </h1>
      <form class="filters" onSubmit={(ev) => ev.preventDefault()}>
        <label>
          String{" "}
          <select value={String(sNo)} onChange={(ev) => navigate(`/strings/${ev.currentTarget.value}/pattern${location.search}`, { replace: true })}>
            {strings.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          Quantity{" "}
          <select value={quantity} onChange={(ev) => setQuery({ ...rangeParams, ...keep, quantity: ev.currentTarget.value })}>
            {QUANTITIES.map(([q, label]) => (
              <option key={q} value={q}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Highlight block{" "}
          <select value={hl === null ? "" : String(hl)} onChange={(ev) => setQuery({ ...rangeParams, ...keep, block: ev.currentTarget.value })}>
            <option value="">none</option>
            {blocks.map((b) => (
              <option key={b.block} value={String(b.block)}>
                {b.block}
              </option>
            ))}
          </select>
        </label>
      </form>
      <RangePicker range={range} extra={keep} key={`${range.from}-${range.to}`} />
      <section class="card chart-card" aria-labelledby="pattern-title">
        <h2 id="pattern-title">
          {blocks.length} blocks [{unit}]
          <span class="sub">
            {" "}
            {loading ? "loading…" : data ? `${data.times_ms.length} times${data.downsampled ? ` (of ${data.source_count}, min/max per interval)` : ""}` : ""}
          </span>
        </h2>
        {error ? (
          <p class="error">{error}</p>
        ) : data && data.times_ms.length === 0 ? (
          <p class="sub">No recorded values in this range.</p>
        ) : data ? (
          <Chart label={`${qLabel} of every block of string ${sNo}`} series={series} data={cols} unit={unit} height={420} legend={false} highlight={highlightIndex !== null && highlightIndex >= 0 ? highlightIndex : null} xRange={[range.from, range.to]} />
        ) : null}
      </section>
      {outliers.length ? (
        <section class="card" aria-labelledby="outliers-title">
          <h2 id="outliers-title">Furthest from the string's median at the end of the range</h2>
          <table class="data-table">
            <thead>
              <tr>
                <th scope="col">Block</th>
                <th scope="col" class="num">
                  Last value [{unit}]
                </th>
                <th scope="col" class="num">
                  From median [{unit}]
                </th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {outliers.map((o) => (
                <tr key={o.block}>
                  <th scope="row">
                    <a href={`/strings/${sNo}/blocks/${o.block}`}>{o.block}</a>
                  </th>
                  <td class="num">{o.v.toFixed(3)}</td>
                  <td class="num">
                    {o.d >= 0 ? "+" : ""}
                    {o.d.toFixed(3)}
                  </td>
                  <td>
                    <button type="button" class="button-quiet" onClick={() => setQuery({ ...rangeParams, ...keep, block: o.block })}>
                      Highlight
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </div>
  );
}
