// The event log (GET /api/v1/events): newest first, 100 to a page, filtered by kind, level,
// string, block, time range and a text search — all kept in the query string, so a reload or a
// link shows the same — with the same selection as a CSV download, and the history export.
// A server without `q` and `offset` (no `more`/`total` in its answer) is served too: the page
// then reads the range once and searches and pages it here.
import { useEffect, useState } from "preact/hooks";
import { ExportDialog } from "../components/ExportDialog.jsx";
import { RangePicker } from "../components/RangePicker.jsx";
import { StatusMark } from "../components/StatusMark.jsx";
import { Time } from "../components/Time.jsx";
import { API, getJson, query } from "../lib/api.js";
import { rangeOf } from "../lib/history.js";
import { live } from "../lib/live.js";
import { route, setQuery } from "../lib/router.js";
import { useStore } from "../lib/store.js";

export const KINDS = ["system", "mode", "alarm", "input", "protection", "config", "ri_baseline", "scenario", "calibration", "module", "action"];
const LEVELS = ["warning", "alarm", "none"];
const PAGE = 100;
const LEGACY_LIMIT = 10000;
const CSV_LIMIT = 200000;
const FILTERS = ["kind", "level", "string", "block", "q"];
const PLANT_WAIT_MS = 3000;

// Newest first; events of the same time keep the reverse of the server's order.
function newestFirst(list) {
  return list
    .map((e, i) => [e, i])
    .sort((a, b) => (b[0].time_ms || 0) - (a[0].time_ms || 0) || b[1] - a[1])
    .map((x) => x[0]);
}

// The plant time the preset ranges end at (the demo plant's clock runs ahead of the wall
// clock): the live document's, taken once per selection so that paging stays on one list.
// Without a live document after a few seconds, the wall clock.
function usePlantNow(selectionKey) {
  const { doc } = useStore(live);
  const [waited, setWaited] = useState(false);
  const [held, setHeld] = useState({ key: null, now: null });
  useEffect(() => {
    const t = setTimeout(() => setWaited(true), PLANT_WAIT_MS);
    return () => clearTimeout(t);
  }, []);
  const plant = doc ? doc.time_ms : waited ? Date.now() : null;
  useEffect(() => {
    if (plant !== null && (held.key !== selectionKey || held.now === null)) setHeld({ key: selectionKey, now: plant });
  });
  if (held.key === selectionKey && held.now !== null) return held.now;
  return plant;
}

// One page of events: {rows, total, capped, more, legacy, truncated} or an error.
async function loadPage(params, page, signal) {
  const offset = (page - 1) * PAGE;
  const r = await getJson("/events" + query({ ...params, limit: PAGE, offset }), { signal });
  const events = Array.isArray(r.events) ? r.events : [];
  if ("more" in r || "total" in r) {
    const total = typeof r.total === "number" ? r.total : null;
    const more = typeof r.more === "boolean" ? r.more : total !== null && offset + events.length < total;
    return { rows: newestFirst(events), offset, total, capped: !!r.total_capped, more, legacy: false, truncated: false };
  }
  // An older server: no text search, no offset, the oldest matches first. Read the range and
  // do both here.
  let all = events;
  let truncated = false;
  if (params.q || offset > 0 || events.length >= PAGE) {
    const { q, ...rest } = params;
    const r2 = await getJson("/events" + query({ ...rest, limit: LEGACY_LIMIT }), { signal });
    all = Array.isArray(r2.events) ? r2.events : [];
    truncated = all.length >= LEGACY_LIMIT;
  }
  let list = newestFirst(all);
  if (params.q) {
    const needle = params.q.toLowerCase();
    list = list.filter((e) => String(e.message || "").toLowerCase().includes(needle));
  }
  return {
    rows: list.slice(offset, offset + PAGE),
    offset,
    total: list.length,
    capped: truncated,
    more: offset + PAGE < list.length,
    legacy: true,
    truncated,
  };
}

function useEventPage(params, page, enabled) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const key = JSON.stringify([params, page, enabled]);
  useEffect(() => {
    if (!enabled) return undefined;
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadPage(params, page, ctl.signal)
      .then((data) => setState({ data, error: null, loading: false }))
      .catch((e) => {
        if (e.name !== "AbortError") setState({ data: null, error: e.message, loading: false });
      });
    return () => ctl.abort();
  }, [key]);
  return state;
}

// The string and block an event is about: its fields, else "String 2, block 17" at the start of
// its message or after a colon (mode events name their string only in the message).
export function whereOf(e) {
  if (e.string) return { s: e.string, b: e.block || null };
  const m = /(?:^|: )String (\d+)(?:, block (\d+))?(?=[:,]|$)/.exec(e.message || "");
  return m ? { s: Number(m[1]), b: m[2] ? Number(m[2]) : null } : null;
}

function Where({ e }) {
  const w = whereOf(e);
  if (!w) return <span class="sub">system</span>;
  if (w.b) return <a href={`/strings/${w.s}/blocks/${w.b}`}>{`String ${w.s}, block ${w.b}`}</a>;
  return <a href={`/battery/${w.s}`}>{`String ${w.s}`}</a>;
}

function Level({ level }) {
  if (level === "warning" || level === "alarm") return <StatusMark status={level} />;
  if (level === "none") return <span class="sub">none</span>;
  return null;
}

function EventTable({ rows }) {
  return (
    <table class="data-table events-table">
      <caption class="visually-hidden">Events, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Kind</th>
          <th scope="col">Level</th>
          <th scope="col">Where</th>
          <th scope="col">Message</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((e, i) => (
          <tr key={`${e.time_ms}-${i}`} data-kind={e.kind} data-level={e.level || ""}>
            <td class="ev-time">
              <Time t={e.time_ms ?? e.time} />
            </td>
            <td class="ev-kind">{String(e.kind || "").replace(/_/g, " ")}</td>
            <td class="ev-level">
              <Level level={e.level} />
            </td>
            <td class="ev-where">
              <Where e={e} />
            </td>
            <td class="ev-message">{e.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SearchBox({ value, onSearch }) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  return (
    <form
      class="filters events-search"
      role="search"
      aria-label="Event text"
      onSubmit={(ev) => {
        ev.preventDefault();
        onSearch(text.trim());
      }}
    >
      <label>
        Text in the message
        <input type="search" name="q" value={text} maxLength={200} placeholder="e.g. breaker, block 17" onInput={(ev) => setText(ev.currentTarget.value)} />
      </label>
      <button type="submit">Search</button>
      {value ? (
        <button type="button" class="button-quiet" onClick={() => onSearch("")}>
          Clear search
        </button>
      ) : null}
    </form>
  );
}

function fmtCount(n) {
  return n.toLocaleString("en");
}

function Summary({ data, loading, error, page }) {
  if (error) return <p class="error">Events not loaded: {error}</p>;
  if (!data) return <p class="sub">{loading ? "Loading events…" : ""}</p>;
  const n = data.rows.length;
  if (n === 0) return <p class="sub">{page > 1 ? "No events on this page." : "No events match these filters in this range."}</p>;
  const first = data.offset + 1;
  const last = data.offset + n;
  let of = "";
  if (data.total !== null && data.total !== undefined) of = ` of ${data.capped ? "more than " : ""}${fmtCount(data.total)}`;
  else if (data.more) of = "; older events follow";
  return (
    <p class="sub">
      Events {fmtCount(first)}–{fmtCount(last)}
      {of}, newest first{loading ? " (updating…)" : ""}.
    </p>
  );
}

function Pager({ page, data, go, where }) {
  const newer = page > 1;
  const older = !!(data && data.more);
  if (!newer && !older) return null;
  const pages = data && data.total && !data.capped ? Math.max(1, Math.ceil(data.total / PAGE)) : null;
  return (
    <nav class="pager" aria-label={`Event pages (${where})`}>
      <button type="button" disabled={!newer} onClick={() => go(page - 1)}>
        ← Newer
      </button>
      <span>
        Page {page}
        {pages ? ` of ${pages}` : ""}
      </span>
      <button type="button" disabled={!older} onClick={() => go(page + 1)}>
        Older →
      </button>
    </nav>
  );
}

export default function Events() {
  const r = useStore(route);
  const { doc } = useStore(live);
  const search = r.search;
  const f = {};
  FILTERS.forEach((k) => {
    f[k] = search.get(k) || "";
  });
  if (!f.string) f.block = "";
  const page = Math.max(1, Math.floor(Number(search.get("page")) || 1));
  const rangeParams = search.get("from") && search.get("to") ? { from: search.get("from"), to: search.get("to") } : { range: search.get("range") || "" };
  const [refresh, setRefresh] = useState(0);
  const selection = JSON.stringify([f, rangeParams, refresh]);
  const now = usePlantNow(selection);
  const custom = rangeOf(search, 0).key === "custom";
  const range = rangeOf(search, now || 0, "1d");
  const ready = custom || now !== null;
  const params = { from: range.from, to: range.to, kind: f.kind, level: f.level, string: f.string, block: f.block, q: f.q };
  const { data, error, loading } = useEventPage(params, page, ready);

  // Changes of a filter go back to the first page; the range stays.
  const apply = (changes) => setQuery({ ...rangeParams, ...f, ...changes, page: "" });
  const go = (p) => setQuery({ ...rangeParams, ...f, page: p > 1 ? p : "" });

  const strings = doc ? doc.strings || [] : [];
  const chosen = strings.find((s) => String(s.string) === f.string);
  const blockCount = chosen ? chosen.block_count || (chosen.blocks || []).length : 0;
  const csv = `${API}/events/export.csv${query({ from: range.from, to: range.to, kind: f.kind, level: f.level, string: f.string, block: f.block, q: f.q, limit: CSV_LIMIT })}`;
  const anyFilter = FILTERS.some((k) => f[k]);

  return (
    <div class="page events-page">
      <h1 class="page-title">Event log</h1>
      {ready ? <RangePicker key={`${range.key}-${range.from}-${range.to}`} range={range} extra={f} /> : <p class="sub">Waiting for the plant time…</p>}
      <form class="filters" onSubmit={(ev) => ev.preventDefault()} aria-label="Event filters">
        <label>
          Kind
          <select value={f.kind} onChange={(ev) => apply({ kind: ev.currentTarget.value })}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k.replace(/_/g, " ")}
              </option>
            ))}
          </select>
        </label>
        <label>
          Level
          <select value={f.level} onChange={(ev) => apply({ level: ev.currentTarget.value })}>
            <option value="">any</option>
            {LEVELS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          String
          <select value={f.string} onChange={(ev) => apply({ string: ev.currentTarget.value, block: "" })}>
            <option value="">any</option>
            {strings.map((s) => (
              <option key={s.string} value={String(s.string)}>
                {s.name || `String ${s.string}`}
              </option>
            ))}
            {f.string && !chosen ? <option value={f.string}>String {f.string}</option> : null}
          </select>
        </label>
        <label>
          Block
          <select value={f.block} disabled={!f.string} aria-describedby={f.string ? undefined : "block-note"} onChange={(ev) => apply({ block: ev.currentTarget.value })}>
            <option value="">any</option>
            {Array.from({ length: blockCount }, (_, i) => (
              <option key={i + 1} value={String(i + 1)}>
                {i + 1}
              </option>
            ))}
            {f.block && Number(f.block) > blockCount ? <option value={f.block}>{f.block}</option> : null}
          </select>
        </label>
        {anyFilter ? (
          <button type="button" class="button-quiet" onClick={() => setQuery({ ...rangeParams })}>
            Clear filters
          </button>
        ) : null}
      </form>
      {f.string ? null : (
        <p id="block-note" class="sub filter-note">
          Choose a string to filter by block.
        </p>
      )}
      <SearchBox value={f.q} onSearch={(q) => apply({ q })} />
      <div class="events-bar">
        <div aria-live="polite">
          <Summary data={data} loading={loading} error={error} page={page} />
        </div>
        {custom ? null : (
          <button type="button" class="button-quiet" onClick={() => setRefresh((n) => n + 1)}>
            Refresh
          </button>
        )}
        <a class="button-link" href={csv} download="equalis-events.csv">
          Download these events (CSV)
        </a>
      </div>
      {data && data.legacy && (f.q || page > 1 || data.total > PAGE || data.truncated) ? (
        <p class="sub">
          This server does not search or page the event log itself: the page reads up to {fmtCount(LEGACY_LIMIT)} events of the range and does it here
          {data.truncated ? " — the range holds more; narrow it to see them all" : ""}.{f.q ? " The CSV download holds the range without the text search." : ""}
        </p>
      ) : null}
      <Pager page={page} data={data} go={go} where="above the table" />
      {data && data.rows.length ? (
        <div class="table-scroll">
          <EventTable rows={data.rows} />
        </div>
      ) : null}
      <Pager page={page} data={data} go={go} where="below the table" />
      <section class="card history-export" aria-labelledby="history-export-title">
        <h2 id="history-export-title">History export</h2>
        <p class="sub">Every recorded block value (voltage, temperature, internal resistance, charge, equalization) as CSV, for a range and optionally one string.</p>
        {doc || now !== null ? <ExportDialog strings={strings} nowMs={doc ? doc.time_ms : now} /> : <p class="sub">Waiting for the plant time…</p>}
      </section>
    </div>
  );
}
