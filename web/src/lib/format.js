// Display of values, qualities and times. A value object is {value, quality, time, age_s}
// (docs/api.md); anything not of quality "ok" is shown greyed with its quality in words.
import { point } from "./points.js";

export const NO_VALUE = "—";

export const QUALITY_TEXT = {
  ok: "ok",
  stale: "stale",
  comm_lost: "communication lost",
  invalid: "invalid",
  not_present: "not present",
};

export function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

export function fmtNumber(v, decimals) {
  return isNum(v) ? v.toFixed(decimals) : NO_VALUE;
}

// "13.48" for a value object of a catalogue point (decimals from the catalogue unless given).
export function fmtPoint(vo, scope, field, decimals) {
  const d = decimals ?? point(scope, field).decimals;
  return vo && isNum(vo.value) ? vo.value.toFixed(d) : NO_VALUE;
}

export function unitOf(scope, field) {
  return point(scope, field).unit;
}

export function withUnit(text, unit) {
  return text === NO_VALUE || !unit ? text : `${text} ${unit}`;
}

export function qualityOf(vo) {
  return vo && typeof vo === "object" && vo.quality ? vo.quality : "not_present";
}

export function fmtAge(s) {
  if (!isNum(s)) return "";
  if (s < 90) return `${Math.max(0, Math.round(s))} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function fmtDuration(s) {
  if (!isNum(s)) return NO_VALUE;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

// "measured 12 s ago · ok" — what a value's detail shows.
export function qualityNote(vo) {
  if (!vo || typeof vo !== "object") return "no data";
  const q = QUALITY_TEXT[vo.quality] || vo.quality || "unknown";
  const age = fmtAge(vo.age_s);
  return age ? `${q}, measured ${age} ago` : q;
}

const pad = (n) => String(n).padStart(2, "0");

function toDate(t) {
  if (t instanceof Date) return t;
  if (isNum(t)) return new Date(t);
  if (typeof t === "string") return new Date(t);
  return null;
}

// Local time "2026-12-06 14:03:21" (seconds optional); UTC for titles in fmtUtc.
export function fmtLocal(t, { seconds = true, date = true } = {}) {
  const d = toDate(t);
  if (!d || Number.isNaN(d.getTime())) return NO_VALUE;
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? ":" + pad(d.getSeconds()) : ""}`;
  return date ? `${day} ${time}` : time;
}

export function fmtUtc(t) {
  const d = toDate(t);
  if (!d || Number.isNaN(d.getTime())) return "";
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

// The value of a <input type="datetime-local"> for a time, and back.
export function toInputLocal(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromInputLocal(text) {
  const ms = new Date(text).getTime();
  return Number.isNaN(ms) ? null : ms;
}
