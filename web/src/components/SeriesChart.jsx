// One recorded quantity over a time range as a chart card: fetched from a history route
// (docs/api.md, History) with as many points as the chart is wide (the server keeps the minimum
// and maximum of each interval), the rule thresholds drawn across, the point count in the title.
import { Chart } from "./Chart.jsx";
import { pointsFor, seriesData, useFetch } from "../lib/history.js";
import { cssVar } from "../lib/theme.js";

// path: the history route; field: its quantity; label: what the chart shows, for screen readers;
// extra: {value, series} a constant line (a baseline) drawn beside the data.
export function SeriesChart({ path, field, title, unit, label, range, thresholds = [], extra = null }) {
  const { data, error, loading } = useFetch(path, { quantity: field, from: range.from, to: range.to, max_points: pointsFor() }, [path, field, range.from, range.to]);
  const [xs, ys] = seriesData(data);
  const series = [{ label: title, stroke: cssVar("--accent", "#0b5cd5") }];
  const cols = [xs, ys];
  if (extra && data) {
    series.push(extra.series);
    cols.push(xs.map(() => extra.value));
  }
  const recorded = ys.some((v) => v !== null);
  return (
    <section class="card chart-card" aria-labelledby={`chart-${field}`} data-chart={field}>
      <h2 id={`chart-${field}`}>
        {title} [{unit}]
        <span class="sub" data-count={loading || error ? undefined : xs.length}>
          {" "}
          {loading ? "loading…" : error ? "" : `${xs.length} points${data && data.downsampled ? ` (of ${data.source_count}, min/max per interval)` : ""}`}
        </span>
      </h2>
      {error ? (
        <p class="error">{error}</p>
      ) : !recorded && !loading ? (
        <p class="sub">{xs.length ? "No valid value in this range (no sensor, or none answered)." : "No recorded values in this range."}</p>
      ) : (
        <Chart label={label} series={series} data={cols} unit={unit} thresholds={thresholds} xRange={[range.from, range.to]} />
      )}
      {thresholds.length ? <p class="sub chart-thresholds">Dashed lines: {thresholds.map((t) => t.label).join(", ")}.</p> : null}
    </section>
  );
}

// Warning and alarm lines of the enabled rules in `list` that watch `point`.
export function ruleThresholds(list, point) {
  const out = [];
  (list || []).forEach((r) => {
    if (r.point !== point || !r.enabled) return;
    const dir = r.direction === "high" ? "≥" : "≤";
    const unit = r.unit ? ` ${r.unit}` : "";
    out.push({ value: r.warning, level: "warning", label: `warning ${dir} ${r.warning}${unit}` });
    out.push({ value: r.alarm, level: "alarm", label: `alarm ${dir} ${r.alarm}${unit}` });
  });
  return out;
}
