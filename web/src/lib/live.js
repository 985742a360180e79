// The live plant state: one Server-Sent Events stream (/api/v1/stream: a "snapshot", then
// "delta" messages, docs/api.md) kept as the /api/v1/status document, with REST polling while
// the stream is down. `live` holds {doc, conn, connNote, dataOld, lastDataWall}; `site` the
// daemon's /api/v1/system description (site, version, time scale, staleness limit).
//
// Stale data is never shown as fresh: every value carries its quality and time, and when the
// page itself stops receiving data for longer than the daemon's staleness limit, `dataOld` is
// set and every page greys its values.
import { useEffect, useState } from "preact/hooks";
import { getJson, API } from "./api.js";
import { createStore } from "./store.js";

const DATA_OLD_MIN_MS = 6000;
const POLL_MS = 2500;
const RECONNECT_MS = 3000;
const WATCHDOG_MS = 1000;

export const live = createStore({
  doc: null,
  conn: "connecting",
  connNote: "Connecting to the daemon…",
  dataOld: false,
  lastDataWall: 0,
});
export const site = createStore(null);

let dataOldMs = DATA_OLD_MIN_MS;
let streamDoc = null;
let source = null;
let lastStreamWall = 0;
let lastPollWall = 0;
let polling = false;

const QUALITY_ORDER = ["ok", "stale", "comm_lost", "invalid", "not_present"];
const MEASURED = ["voltage_v", "temperature_c", "ri_mohm"];

function setAge(vo, nowMs) {
  if (vo && typeof vo === "object" && "quality" in vo) {
    vo.age_s = vo.time ? (nowMs - Date.parse(vo.time)) / 1000 : null;
  }
}

// Ages follow the document's time; a block's quality and age are those of its worst and newest
// measured value, as the daemon computes them.
export function refreshDerived(doc) {
  const now = doc.time_ms;
  Object.values(doc.system || {}).forEach((vo) => setAge(vo, now));
  (doc.strings || []).forEach((st) => {
    Object.values(st).forEach((vo) => setAge(vo, now));
    (st.blocks || []).forEach((b) => {
      let worst = 0;
      let newest = 0;
      Object.values(b).forEach((vo) => setAge(vo, now));
      MEASURED.forEach((f) => {
        const vo = b[f];
        if (!vo) return;
        worst = Math.max(worst, QUALITY_ORDER.indexOf(vo.quality));
        if (vo.time) newest = Math.max(newest, Date.parse(vo.time));
      });
      b.quality = QUALITY_ORDER[worst];
      b.age_s = newest > 0 ? (now - newest) / 1000 : null;
    });
  });
}

// Applies one "delta" message to the state held (the reference client of docs/api.md).
export function applyDelta(doc, d) {
  doc.time = d.time;
  doc.time_ms = d.time_ms;
  Object.keys(d.system || {}).forEach((k) => {
    doc.system[k] = d.system[k];
  });
  (d.strings || []).forEach((ds) => {
    const st = doc.strings[ds.string - 1];
    if (!st) return;
    Object.keys(ds).forEach((k) => {
      if (k !== "string" && k !== "blocks" && k !== "blocks_time") st[k] = ds[k];
    });
    const times = ds.blocks_time || {};
    const fields = Object.keys(times);
    if (fields.length) {
      st.blocks.forEach((b) => {
        fields.forEach((f) => {
          if (b[f]) b[f].time = times[f];
        });
      });
    }
    (ds.blocks || []).forEach((db) => {
      const b = st.blocks[db.block - 1];
      if (!b) return;
      Object.keys(db).forEach((k) => {
        if (k === "block") return;
        // Merged: a block point lists what changed (value, quality, and its time when that is
        // not the field's blocks_time).
        const vo = b[k] || (b[k] = {});
        Object.assign(vo, db[k]);
      });
    });
  });
  refreshDerived(doc);
}

function setConn(conn, connNote) {
  live.set((s) => ({ ...s, conn, connNote }));
}

function show(doc) {
  live.set((s) => ({ ...s, doc, dataOld: false, lastDataWall: Date.now() }));
}

async function loadSite() {
  try {
    const sys = await getJson("/system");
    site.set(sys);
    const scale = typeof sys.time_scale === "number" && sys.time_scale > 0 ? sys.time_scale : 1;
    const staleS =
      typeof sys.stale_after_s === "number"
        ? sys.stale_after_s
        : typeof sys.sweep_interval_s === "number"
          ? 3 * sys.sweep_interval_s
          : 0;
    if (staleS > 0) dataOldMs = Math.max(DATA_OLD_MIN_MS, (1000 * staleS) / scale + 2000);
    if (sys.site && sys.site.name) document.title = `${sys.site.name} — Equalis`;
  } catch {
    /* the site name is cosmetic; data loading reports errors */
  }
}

async function poll() {
  if (polling) return;
  polling = true;
  const started = Date.now();
  lastPollWall = started;
  try {
    const doc = await getJson("/status");
    // A REST answer overtaken by a stream message is older than what is shown.
    if (lastStreamWall <= started) {
      show(doc);
      if (live.get().conn === "reconnecting") {
        setConn("polling", `Live stream unavailable; refreshing every ${POLL_MS / 1000} s`);
      }
    }
  } catch (err) {
    if (live.get().conn === "polling") {
      setConn("reconnecting", `Cannot reach the daemon (${err.message}); retrying…`);
    }
  } finally {
    polling = false;
  }
}

function connect() {
  if (!window.EventSource) {
    setConn("polling", `This browser has no EventSource; polling every ${POLL_MS / 1000} s`);
    return;
  }
  const es = new EventSource(API + "/stream");
  source = es;
  const restart = () => {
    streamDoc = null;
    es.close();
    if (source === es) source = null;
    setTimeout(connect, RECONNECT_MS);
  };
  const received = () => {
    lastStreamWall = Date.now();
    show(streamDoc);
    if (live.get().conn !== "live") setConn("live", "Receiving live updates");
  };
  es.addEventListener("snapshot", (ev) => {
    try {
      streamDoc = JSON.parse(ev.data);
    } catch {
      restart();
      return;
    }
    received();
  });
  es.addEventListener("delta", (ev) => {
    try {
      if (!streamDoc) throw new Error("a delta before any snapshot");
      applyDelta(streamDoc, JSON.parse(ev.data));
    } catch {
      // The state held here is no longer the daemon's: connect again for a new snapshot.
      restart();
      return;
    }
    received();
  });
  es.addEventListener("error", () => {
    if (source !== es) return;
    if (live.get().conn !== "polling") {
      setConn("reconnecting", "Connection to the daemon lost; reconnecting…");
    }
    if (es.readyState === EventSource.CLOSED) restart();
  });
}

function watchdog() {
  const s = live.get();
  const since = Date.now() - s.lastDataWall;
  if (s.lastDataWall > 0 && since > dataOldMs && !s.dataOld) {
    live.set((v) => ({
      ...v,
      dataOld: true,
      conn: v.conn === "live" ? "reconnecting" : v.conn,
      connNote: `No data from the daemon for ${Math.round(since / 1000)} s`,
    }));
  }
  if (live.get().conn !== "live" && Date.now() - lastPollWall > POLL_MS) poll();
}

let started = false;
export function startLive() {
  if (started) return;
  started = true;
  loadSite();
  setInterval(loadSite, 60000);
  poll();
  connect();
  setInterval(watchdog, WATCHDOG_MS);
}

// The string record (with its blocks) of the live document, or null.
export function liveString(doc, stringNo) {
  return (doc && doc.strings && doc.strings.find((s) => s.string === stringNo)) || null;
}

// The plant's "now" for pages that show "the last N hours": the live data's time (with the
// simulator it runs ahead of the wall clock), null until the first data arrived; moved on every
// refreshMs (0: kept) so a range ending "now" follows the plant.
export function usePlantNow(refreshMs = 30000) {
  const [now, setNow] = useState(() => (live.get().doc ? live.get().doc.time_ms : null));
  useEffect(() => {
    const unsub = live.subscribe((s) => {
      if (s.doc) setNow((n) => (n === null ? s.doc.time_ms : n));
    });
    const t = refreshMs
      ? setInterval(() => {
          const d = live.get().doc;
          if (d) setNow(d.time_ms);
        }, refreshMs)
      : null;
    return () => {
      unsub();
      if (t) clearInterval(t);
    };
  }, [refreshMs]);
  return now;
}
