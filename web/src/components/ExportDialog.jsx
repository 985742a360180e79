// History export: a date range (local time) and optionally one string, then a CSV download of
// every block value recorded in it (GET /api/v1/history/export.csv, docs/api.md, History). The
// address it will fetch is shown as text; a range of more than 31 days is warned of, since the
// file then holds many rows.
import { useState } from "preact/hooks";
import { API, query } from "../lib/api.js";
import { fromInputLocal, toInputLocal } from "../lib/format.js";

const DAY_MS = 86400e3;
const LARGE_DAYS = 31;
// Rows the recorder writes at the least (docs/history.md: every 20 min in float; more during
// discharges and at every event), and the length of one CSV row.
const FLOAT_ROWS_PER_DAY = 72;
const ROW_BYTES = 65;

function fmtSize(bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

// strings: [{string, name, block_count}] of the live document; nowMs: plant time.
export function ExportDialog({ strings = [], nowMs, idPrefix = "export" }) {
  const end = nowMs || Date.now();
  const [from, setFrom] = useState(() => toInputLocal(end - DAY_MS));
  const [to, setTo] = useState(() => toInputLocal(end));
  const [stringNo, setStringNo] = useState("");
  const f = fromInputLocal(from);
  const t = fromInputLocal(to);
  const valid = f !== null && t !== null && t > f;
  const path = `${API}/history/export.csv${valid ? query({ from: f, to: t, string: stringNo }) : ""}`;
  const url = `${location.origin}${path}`;
  const days = valid ? (t - f) / DAY_MS : 0;
  const chosen = stringNo ? strings.filter((s) => String(s.string) === stringNo) : strings;
  const blocks = chosen.reduce((n, s) => n + (s.block_count && typeof s.block_count === "number" ? s.block_count : (s.blocks || []).length), 0);
  const estimate = blocks * FLOAT_ROWS_PER_DAY * ROW_BYTES * days;
  const name = `equalis-history${stringNo ? `-string${stringNo}` : ""}.csv`;
  return (
    <div class="export-dialog">
      <form class="filters" onSubmit={(ev) => ev.preventDefault()} aria-label="History export range">
        <label>
          From
          <input id={`${idPrefix}-from`} type="datetime-local" value={from} onInput={(ev) => setFrom(ev.currentTarget.value)} />
        </label>
        <label>
          To
          <input id={`${idPrefix}-to`} type="datetime-local" value={to} onInput={(ev) => setTo(ev.currentTarget.value)} />
        </label>
        <label>
          String
          <select id={`${idPrefix}-string`} value={stringNo} onChange={(ev) => setStringNo(ev.currentTarget.value)}>
            <option value="">all strings</option>
            {strings.map((s) => (
              <option key={s.string} value={String(s.string)}>
                {s.name || `String ${s.string}`}
              </option>
            ))}
          </select>
        </label>
        {valid ? (
          <a class="button-link" href={path} download={name} data-export-url={path}>
            Download history (CSV)
          </a>
        ) : null}
      </form>
      {valid ? (
        <>
          <p class="export-url">
            <span class="sub">Fetches </span>
            <code>{url}</code>
          </p>
          <p class="sub">
            {days < 1 ? `${Math.round(days * 24)} hours` : `${days.toFixed(days < 10 ? 1 : 0)} days`}; one row per block and recorded time with time, string, block,
            voltage, temperature, internal resistance, charge, equalization, equalization energy and quality.
          </p>
          {days > LARGE_DAYS ? (
            <p class="notice export-warning" role="status">
              <strong>Large file:</strong> the range spans {Math.round(days)} days (more than {LARGE_DAYS}). The file may be large
              {estimate > 0 ? ` — at least about ${fmtSize(estimate)} for ${blocks} blocks, more where discharges were recorded every 10 s` : ""} — and take a while
              to prepare.
            </p>
          ) : null}
        </>
      ) : null}
      <p role="alert" class="error">
        {valid ? "" : "Choose a start before the end."}
      </p>
    </div>
  );
}
