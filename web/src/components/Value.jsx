// One measured value with its quality: greyed and marked when not "ok" (and everything is greyed
// while the page receives no data; see lib/live.js). The quality and age are in the accessible
// name and in a hover title; pages with room show them as text too.
import { fmtPoint, qualityNote, qualityOf, unitOf, withUnit } from "../lib/format.js";

export function Value({ vo, scope, field, decimals, unit = true, className = "" }) {
  const q = qualityOf(vo);
  const text = fmtPoint(vo, scope, field, decimals);
  const u = unit ? unitOf(scope, field) : "";
  const bad = q !== "ok";
  return (
    <span class={`value ${bad ? "q-bad" : ""} ${className}`} data-quality={q} title={qualityNote(vo)}>
      {withUnit(text, u)}
      {bad && text !== "—" ? <span class="q-mark" aria-label={` (${q.replace("_", " ")})`}>*</span> : null}
    </span>
  );
}
