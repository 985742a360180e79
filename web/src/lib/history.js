// History series for charts (docs/api.md, History): column arrays fetched for a time range, with
// the server downsampling long ranges (max_points: min and max per time bucket), so a chart never
// receives more points than it can draw.
import { useEffect, useState } from "preact/hooks";
import { getJson, query } from "./api.js";

export const RANGES = [
  ["1h", "1 hour", 3600e3],
  ["6h", "6 hours", 6 * 3600e3],
  ["1d", "1 day", 86400e3],
  ["7d", "7 days", 7 * 86400e3],
  ["30d", "30 days", 30 * 86400e3],
  ["1y", "1 year", 365 * 86400e3],
];

// The time range of a page's query string: ?range=7d (ending at `now`) or ?from=&to= (ms).
export function rangeOf(search, nowMs, fallback = "1d") {
  const from = Number(search.get("from"));
  const to = Number(search.get("to"));
  if (from > 0 && to > from) return { from, to, key: "custom" };
  const key = search.get("range") || fallback;
  const r = RANGES.find((x) => x[0] === key) || RANGES.find((x) => x[0] === fallback);
  return { from: nowMs - r[2], to: nowMs, key: r[0] };
}

// The width a page-wide chart gets: the window's, at most 1500 px.
export function chartWidth() {
  return Math.min(1500, window.innerWidth || 1200);
}

// Points a chart of this width can show: two per pixel (min and max).
export function pointsFor(widthPx = chartWidth()) {
  return Math.max(200, Math.min(4000, Math.round(widthPx * 2)));
}

// Fetches `path` + the range (and max_points) whenever one of them changes:
// {data, error, loading}. `key` forces a reload (e.g. the end of a "last N hours" range moving).
export function useFetch(path, params, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  useEffect(() => {
    if (!path) return undefined;
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    getJson(path + query(params), { signal: ctl.signal })
      .then((data) => setState({ data, error: null, loading: false }))
      .catch((e) => {
        if (e.name !== "AbortError") setState({ data: null, error: e.message, loading: false });
      });
    return () => ctl.abort();
  }, deps);
  return state;
}

// uPlot data [times, values] of one history reply; values that are not of quality ok are gaps.
export function seriesData(reply) {
  if (!reply || !Array.isArray(reply.times_ms)) return [[], []];
  const q = reply.quality;
  const values = reply.values.map((v, i) => (typeof v === "number" && (q === "ok" || !Array.isArray(q) || q[i] === "ok") ? v : null));
  return [reply.times_ms, values];
}

// The recorded discharges of the given strings overlapping [fromMs, toMs], newest first, each
// with its `string`: {list, error}; list is null while loading (and while strings is empty).
export function useDischarges(strings, fromMs, toMs) {
  const [state, setState] = useState({ list: null, error: null });
  const key = `${strings.join(",")}|${fromMs}|${toMs}`;
  useEffect(() => {
    if (!strings.length) return undefined;
    const ctl = new AbortController();
    Promise.all(
      strings.map((n) =>
        getJson(`/strings/${n}/discharges${query({ from: fromMs, to: toMs })}`, { signal: ctl.signal }).then((x) =>
          (x.discharges || []).map((d) => ({ ...d, string: n })),
        ),
      ),
    )
      .then((lists) => setState({ list: lists.flat().sort((a, b) => b.start_ms - a.start_ms), error: null }))
      .catch((e) => {
        if (e.name !== "AbortError") setState({ list: null, error: e.message });
      });
    return () => ctl.abort();
  }, [key]);
  return state;
}
