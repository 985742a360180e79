import { fmtDuration, isNum, qualityNote, qualityOf } from "../lib/format.js";

// Runtime on battery (docs/analysis.md): while discharging the time left to the weakest block's
// end voltage, otherwise the autonomy at the last discharge's load.
export function RuntimeItem({ s }) {
  const rt = s.runtime_s;
  const q = qualityOf(rt);
  const has = rt && isNum(rt.value) && q !== "not_present";
  const onBattery = s.mode && s.mode.value === "discharge";
  const block = s.runtime_block && isNum(s.runtime_block.value) ? s.runtime_block.value : null;
  const load = s.runtime_load_a && isNum(s.runtime_load_a.value) ? s.runtime_load_a.value : null;
  return (
    <div class="summary-item" data-field="runtime_s">
      <dt>{onBattery ? "Runtime left" : "Autonomy (last load)"}</dt>
      <dd>
        <span class={`value ${q !== "ok" ? "q-bad" : ""}`} data-quality={q} title={qualityNote(rt)}>
          {has ? fmtDuration(rt.value) : "—"}
          {has && (block || load) ? (
            <span class="sub">
              {" "}
              ({block ? `block ${block}` : ""}
              {block && load ? ", " : ""}
              {load ? `${load.toFixed(1)} A` : ""})
            </span>
          ) : null}
        </span>
      </dd>
    </div>
  );
}
