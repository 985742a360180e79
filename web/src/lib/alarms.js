// Active alarms (GET /api/v1/alarms: read again as soon as the live state shows a change in the
// alarm counts or in a block's status, and every 3 s besides) and the alarm rules (GET
// /api/v1/alarms/rules, every minute): the rule of an alarm says which point it watches, so the
// page can show the current value beside the value at which it was raised.
import { getJson, send } from "./api.js";
import { live } from "./live.js";
import { createStore } from "./store.js";

// `list`: the alarms on the display; `shelved`: the ones an operator shelved (off the display
// until their shelf ends, docs/alarms.md#shelving), which no other page shows or counts.
export const alarms = createStore({ list: [], shelved: [], loaded: false, error: null, time: null });
export const rules = createStore({ byId: new Map(), strings: [], system: [] });

const POLL_MS = 3000;
const RULES_POLL_MS = 60000;
export const LEVEL_RANK = { ok: 0, warning: 1, alarm: 2 };

let inFlight = null;
let again = false;

// One request at a time; a call during a request reads once more after it (a change seen while
// the list was on its way must not wait for the next period).
export async function pollAlarms() {
  if (inFlight) {
    again = true;
    return inFlight;
  }
  inFlight = readAlarms();
  try {
    await inFlight;
  } finally {
    inFlight = null;
  }
  if (again) {
    again = false;
    await pollAlarms();
  }
}

async function readAlarms() {
  try {
    const r = await getJson("/alarms");
    const all = r.alarms || [];
    alarms.set({ list: all.filter((a) => !a.shelved), shelved: all.filter((a) => a.shelved), loaded: true, error: null, time: r.time });
  } catch (e) {
    alarms.set((s) => ({ ...s, error: e.message }));
  }
}

async function pollRules() {
  try {
    const r = await getJson("/alarms/rules");
    const byId = new Map();
    (r.system || []).forEach((rule) => byId.set(rule.id, rule));
    (r.strings || []).forEach((s) => (s.rules || []).forEach((rule) => byId.set(`${rule.id}/${s.string}`, rule)));
    rules.set({ byId, strings: r.strings || [], system: r.system || [] });
  } catch {
    /* the rule only adds the current value and the thresholds */
  }
}

export function ruleOf(alarm) {
  const m = rules.get().byId;
  return (alarm.string && m.get(`${alarm.rule}/${alarm.string}`)) || m.get(alarm.rule) || null;
}

const COUNTS = ["alarm_count", "warning_count", "unacknowledged_count", "shelved_count"];

// What of the live state changes when an alarm is raised, cleared, acknowledged or shelved: the
// system's counts and every block's status (a status turns red in the same state version that
// raises its alarm, so a page never shows a red block without the alarm that says why for long).
function alarmSignature(doc) {
  if (!doc) return "";
  const sys = doc.system || {};
  const parts = COUNTS.map((k) => (sys[k] ? sys[k].value : ""));
  (doc.strings || []).forEach((s) => parts.push((s.blocks || []).map((b) => (b.status ? b.status.value : "")).join(",")));
  return parts.join("|");
}

let started = false;
export function startAlarms() {
  if (started) return;
  started = true;
  let seen = alarmSignature(live.get().doc);
  live.subscribe((v) => {
    const sig = alarmSignature(v.doc);
    if (sig === seen) return;
    seen = sig;
    pollAlarms();
  });
  pollAlarms();
  pollRules();
  setInterval(pollAlarms, POLL_MS);
  setInterval(pollRules, RULES_POLL_MS);
}

export async function acknowledge(keys) {
  const errors = [];
  for (const key of keys) {
    try {
      await send("POST", `/alarms/ack?key=${encodeURIComponent(key)}`, {});
    } catch (e) {
      // 404: the alarm cleared since the list was read (an alarm flood comes and goes), so there
      // is nothing left to acknowledge; not an error to show.
      if (e.status !== 404) errors.push(`${key}: ${e.message}`);
    }
  }
  await pollAlarms();
  if (errors.length) throw new Error(errors.join("; "));
}

// Shelf times offered by the page (minutes; the API takes 1 … 10080).
export const SHELVE_CHOICES = [
  { minutes: 15, text: "15 min" },
  { minutes: 60, text: "1 h" },
  { minutes: 240, text: "4 h" },
  { minutes: 480, text: "8 h" },
  { minutes: 1440, text: "24 h" },
  { minutes: 10080, text: "7 d" },
];

// Shelves every key for `minutes` with `reason`. Resolves with the number of alarms that had
// cleared before their turn (404: nothing left to shelve); other refusals are thrown together.
export async function shelve(keys, minutes, reason) {
  const errors = [];
  let cleared = 0;
  for (const key of keys) {
    try {
      await send("POST", `/alarms/shelve?key=${encodeURIComponent(key)}`, { minutes, reason });
    } catch (e) {
      if (e.status === 404) cleared += 1;
      else errors.push(`${key}: ${e.message}`);
    }
  }
  await pollAlarms();
  if (errors.length) throw new Error(errors.join("; "));
  return cleared;
}

export async function unshelve(keys) {
  const errors = [];
  for (const key of keys) {
    try {
      await send("POST", `/alarms/unshelve?key=${encodeURIComponent(key)}`, {});
    } catch (e) {
      // 404: its shelf ended meanwhile; it is back on the display either way.
      if (e.status !== 404) errors.push(`${key}: ${e.message}`);
    }
  }
  await pollAlarms();
  if (errors.length) throw new Error(errors.join("; "));
}

// What a group of alarms of one rule in one string most likely shares as a cause, when it
// takes in a large part of the string (one block alone is that block's own matter).
function likelyCause(rule, count, blockCount) {
  if (count < 3 || !blockCount || count < blockCount / 4) return "";
  if (rule.startsWith("block.voltage_high") || rule.startsWith("block.voltage_low")) {
    return "many blocks at once: likely the charger (set-point or fault), not the blocks";
  }
  if (rule.startsWith("block.temperature")) {
    return "many blocks at once: likely the room (ventilation, air conditioning)";
  }
  if (rule.startsWith("block.comm") || rule.includes("module")) {
    return "many blocks at once: likely the bus line or its power";
  }
  return "many blocks at once: likely a common cause";
}

// Groups alarms by rule and string: [{id, rule, string, level, alarms, unacknowledged, cause}],
// unacknowledged groups first, then the worse level, then the larger group.
export function groupAlarms(list, blockCountOf) {
  const groups = new Map();
  list.forEach((a) => {
    const id = `${a.rule}/${a.string || 0}`;
    let g = groups.get(id);
    if (!g) {
      g = { id, rule: a.rule, string: a.string || null, level: "warning", alarms: [], unacknowledged: 0 };
      groups.set(id, g);
    }
    g.alarms.push(a);
    if ((LEVEL_RANK[a.level] || 0) > (LEVEL_RANK[g.level] || 0)) g.level = a.level;
    if (!a.acknowledged) g.unacknowledged += 1;
  });
  const out = [...groups.values()];
  out.forEach((g) => {
    g.alarms.sort((x, y) => (LEVEL_RANK[y.level] || 0) - (LEVEL_RANK[x.level] || 0) || (x.block || 0) - (y.block || 0));
    g.cause = g.string ? likelyCause(g.rule, g.alarms.length, blockCountOf ? blockCountOf(g.string) : 0) : "";
  });
  out.sort(
    (a, b) =>
      (b.unacknowledged > 0) - (a.unacknowledged > 0) ||
      (LEVEL_RANK[b.level] || 0) - (LEVEL_RANK[a.level] || 0) ||
      b.alarms.length - a.alarms.length ||
      a.id.localeCompare(b.id),
  );
  return out;
}

// Alarms of one block, worst first.
export function blockAlarms(list, stringNo, blockNo) {
  return list
    .filter((a) => a.string === stringNo && a.block === blockNo)
    .sort((x, y) => (LEVEL_RANK[y.level] || 0) - (LEVEL_RANK[x.level] || 0));
}
