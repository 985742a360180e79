// A status told by shape and word as well as colour: ok ● circle, warning ▲ triangle, alarm ■
// square, unknown ○ hollow circle.
const SHAPES = {
  ok: <circle cx="6" cy="6" r="5" />,
  warning: <path d="M6 0.8 L11.4 10.8 L0.6 10.8 Z" />,
  alarm: <rect x="1" y="1" width="10" height="10" rx="1" />,
  unknown: <circle cx="6" cy="6" r="4.2" fill="none" stroke-width="1.8" />,
};
export const STATUS_TEXT = { ok: "ok", warning: "warning", alarm: "alarm", unknown: "unknown" };

export function StatusMark({ status, label = true, short = false }) {
  const s = SHAPES[status] ? status : "unknown";
  const word = short ? { ok: "ok", warning: "warn", alarm: "alarm", unknown: "?" }[s] : STATUS_TEXT[s];
  return (
    <span class={`status st-${s}`} data-status={s}>
      <svg class="status-shape" viewBox="0 0 12 12" width="12" height="12" aria-hidden="true">
        {SHAPES[s]}
      </svg>
      {label ? <span class="status-word">{word}</span> : <span class="visually-hidden">{STATUS_TEXT[s]}</span>}
    </span>
  );
}
