// A time-series chart (uPlot: canvas, fluid with hundreds of series and 10⁵ points). Times in
// epoch milliseconds, shown in local time. Threshold lines (warning / alarm) are drawn across.
// The chart is rebuilt when the series list or the theme changes and only fed new data otherwise.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { cssVar, theme } from "../lib/theme.js";
import { useStore } from "../lib/store.js";

function thresholdPlugin(thresholds) {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const { left, width } = u.bbox;
          thresholds.forEach((t) => {
            const y = u.valToPos(t.value, "y", true);
            if (!Number.isFinite(y) || y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
            ctx.save();
            ctx.strokeStyle = cssVar(t.level === "alarm" ? "--alarm" : "--warning", "#c00");
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(left + width, y);
            ctx.stroke();
            ctx.fillStyle = ctx.strokeStyle;
            ctx.font = `${11 * devicePixelRatio}px sans-serif`;
            ctx.textAlign = "right";
            ctx.fillText(t.label, left + width - 4 * devicePixelRatio, y - 3 * devicePixelRatio);
            ctx.restore();
          });
        },
      ],
    },
  };
}

// Axis tick texts with the decimals of the tick spacing (0.0021, 0.0022 … for a hydrogen trace
// of a few ppm; 42.5, 45 for a humidity; 13, 14 for volts), never more than six.
export function tickTexts(vals) {
  const nums = vals.filter((v) => v !== null && Number.isFinite(v));
  let step = Infinity;
  for (let i = 1; i < nums.length; i += 1) step = Math.min(step, Math.abs(nums[i] - nums[i - 1]));
  let decimals = 3;
  if (Number.isFinite(step) && step > 0) {
    decimals = 0;
    while (decimals < 6 && Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6 * step * 10 ** decimals) decimals += 1;
  }
  return vals.map((v) => (v === null ? "" : String(+v.toFixed(decimals))));
}

// series: [{label, stroke, width, dash, points}], data: [times_ms, values…] (null = gap).
export function Chart({ label, series, data, unit = "", height = 260, thresholds = [], highlight = null, legend = true, yRange = null, xRange = null }) {
  const box = useRef(null);
  const plot = useRef(null);
  const t = useStore(theme);
  const shape = JSON.stringify([series.map((s) => [s.label, s.stroke, s.width, s.dash]), thresholds, legend, unit, height, t, yRange, xRange]);

  useEffect(() => {
    if (!box.current) return undefined;
    const ink = cssVar("--ink-soft", "#555");
    const grid = cssVar("--line", "#ddd");
    const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts = {
      width: Math.max(300, box.current.clientWidth),
      height,
      ms: 1,
      legend: { show: legend, live: legend },
      cursor: { focus: { prox: 16 }, drag: { x: true, y: false } },
      focus: { alpha: 0.25 },
      scales: { x: xRange ? { time: true, range: () => xRange } : { time: true }, y: yRange ? { range: yRange } : { auto: true } },
      axes: [
        axis,
        { ...axis, label: unit, labelSize: 18, size: 64, values: (u, vals) => tickTexts(vals) },
      ],
      series: [
        { label: "Time", value: (u, v) => (v === null ? "—" : new Date(v).toLocaleString()) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.stroke,
          width: s.width || 1.5,
          dash: s.dash,
          spanGaps: false,
          points: { show: s.points ?? false },
          value: (u, v) => (v === null || v === undefined ? "—" : `${v}${unit ? " " + unit : ""}`),
        })),
      ],
      plugins: [thresholdPlugin(thresholds)],
    };
    plot.current = new uPlot(opts, data, box.current);
    const ro = new ResizeObserver(() => {
      if (plot.current && box.current) plot.current.setSize({ width: Math.max(300, box.current.clientWidth), height });
    });
    ro.observe(box.current);
    return () => {
      ro.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    if (highlight === null) u.setSeries(null, { focus: false });
    else u.setSeries(highlight + 1, { focus: true });
  }, [highlight, shape]);

  return <div class="chart" ref={box} role="img" aria-label={label} />;
}
