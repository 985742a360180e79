// A time in the viewer's local time, with UTC on hover and in the machine-readable attribute.
import { fmtLocal, fmtUtc } from "../lib/format.js";

export function Time({ t, seconds = true, date = true }) {
  if (t === null || t === undefined) return <span>—</span>;
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return <span>—</span>;
  return (
    <time dateTime={d.toISOString()} title={fmtUtc(d)}>
      {fmtLocal(d, { seconds, date })}
    </time>
  );
}
