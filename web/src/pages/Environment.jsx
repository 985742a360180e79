// The battery room and the I/O: ambient temperature, humidity and hydrogen with their alarm
// thresholds and the level reached, the electrolyte level of every string, then every I/O
// device and channel (GET /api/v1/io) with its value and quality, operators' switches for the
// outputs (with a confirmation), a mute button for the buzzer, and the last day's changes of
// every digital input (input events).
import { useEffect, useRef, useState } from "preact/hooks";
import { RangePicker } from "../components/RangePicker.jsx";
import { ruleThresholds, SeriesChart } from "../components/SeriesChart.jsx";
import { StatusMark } from "../components/StatusMark.jsx";
import { Time } from "../components/Time.jsx";
import { Value } from "../components/Value.jsx";
import { getJson, query, send } from "../lib/api.js";
import { alarms, LEVEL_RANK, rules } from "../lib/alarms.js";
import { fmtAge, isNum, NO_VALUE, QUALITY_TEXT, qualityNote, unitOf, withUnit } from "../lib/format.js";
import { rangeOf } from "../lib/history.js";
import { io, useIo } from "../lib/io.js";
import { live, usePlantNow } from "../lib/live.js";
import { point, points } from "../lib/points.js";
import { route } from "../lib/router.js";
import { mayOperate, session } from "../lib/session.js";
import { useStore } from "../lib/store.js";

const ROOM = [
  ["ambient_temperature_c", "Ambient temperature"],
  ["humidity_pct", "Humidity"],
  ["hydrogen_pct", "Hydrogen"],
];

// The catalogue point whose decimals a channel of this kind shows when it names none itself.
const KIND_POINT = {
  temperature: ["system", "ambient_temperature_c"],
  humidity: ["system", "humidity_pct"],
  hydrogen: ["system", "hydrogen_pct"],
};

const KIND_TEXT = {
  digital_input: "digital input",
  relay: "relay",
  analog_input: "analog input",
  temperature: "temperature",
  humidity: "humidity",
  hydrogen: "hydrogen",
  electrolyte_level: "electrolyte level",
  buzzer: "buzzer",
  led: "LED",
};

const DEVICE_STATE = { ok: "ok", connecting: "unknown", comm_lost: "alarm" };
const ELECTROLYTE = { good: "ok", warning: "warning", alarm: "alarm" };
const DAY_MS = 86400e3;
const TIMELINE_POLL_MS = 60000;
const NOTE_MS = 15000;

// ------------------------------------------------------------------------------ the room

function thresholdText(r) {
  const dir = r.direction === "high" ? "≥" : "≤";
  const unit = r.unit ? `\u00a0${r.unit}` : "";
  const what = r.direction === "high" ? "High" : "Low";
  return `${what}: warning ${dir} ${r.warning}${unit}, alarm ${dir} ${r.alarm}${unit}${r.enabled === false ? " (rule disabled)" : ""}`;
}

// The level a value has reached against the enabled rules of its point.
function thresholdLevel(vo, list) {
  if (!vo || vo.quality !== "ok" || !isNum(vo.value)) return "unknown";
  let level = "ok";
  list.forEach((r) => {
    if (r.enabled === false) return;
    const hit = (t) => isNum(t) && (r.direction === "high" ? vo.value >= t : vo.value <= t);
    const l = hit(r.alarm) ? "alarm" : hit(r.warning) ? "warning" : "ok";
    if (LEVEL_RANK[l] > LEVEL_RANK[level]) level = l;
  });
  return level;
}

function RoomValue({ field, label, vo, ruleList, active }) {
  const mine = ruleList.filter((r) => r.point === `system.${field}`);
  const ids = new Set(mine.map((r) => r.id));
  const raised = active.filter((a) => ids.has(a.rule) && !a.string);
  let level = thresholdLevel(vo, mine);
  raised.forEach((a) => {
    if ((LEVEL_RANK[a.level] || 0) > (LEVEL_RANK[level] || 0)) level = a.level;
  });
  const present = vo && vo.quality !== "not_present";
  return (
    <div class="room-item" data-room={field}>
      <h3 class="room-label">{label}</h3>
      <p class="room-value">
        <span data-field={field}>
          <Value vo={vo} scope="system" field={field} />
        </span>
      </p>
      <p class="room-level">
        {present ? <StatusMark status={level} /> : <span class="sub">no sensor</span>}
        {present ? <span class="sub"> · {vo.quality === "ok" && isNum(vo.age_s) ? `measured ${fmtAge(vo.age_s)} ago` : qualityNote(vo)}</span> : null}
      </p>
      {mine.length ? (
        <ul class="room-thresholds">
          {mine.map((r) => (
            <li key={r.id}>{thresholdText(r)}</li>
          ))}
        </ul>
      ) : (
        <p class="sub">No alarm rule watches this value.</p>
      )}
      {raised.map((a) => (
        <p key={a.key} class="room-alarm">
          Active {a.level} since <Time t={a.raised} />
          {a.acknowledged ? " (acknowledged)" : " (unacknowledged)"} — <a href="/alarms">alarms</a>
        </p>
      ))}
    </div>
  );
}

function Room({ doc, ruleState, active }) {
  const sys = doc.system || {};
  const strings = doc.strings || [];
  return (
    <section class="card env-room" aria-labelledby="room-title">
      <h2 id="room-title">Battery room</h2>
      <div class="room-grid">
        {ROOM.map(([field, label]) => (
          <RoomValue key={field} field={field} label={label} vo={sys[field]} ruleList={ruleState.system} active={active} />
        ))}
      </div>
      <h3 class="env-sub">Electrolyte level</h3>
      <ul class="electrolyte-list">
        {strings.map((s) => {
          const vo = s.electrolyte_level;
          const present = vo && vo.quality !== "not_present" && vo.value !== null && vo.value !== undefined;
          const bad = present && vo.quality !== "ok";
          return (
            <li key={s.string} data-string={s.string}>
              <span class="electrolyte-name">{s.name || `String ${s.string}`}:</span>{" "}
              {present ? (
                <>
                  <StatusMark status={bad ? "unknown" : ELECTROLYTE[vo.value] || "unknown"} label={false} />{" "}
                  <span class={bad ? "q-bad" : ""} data-field="electrolyte_level" data-string={s.string}>
                    {String(vo.value)}
                  </span>
                  <span class="sub"> ({qualityNote(vo)})</span>
                </>
              ) : (
                <span class="sub" data-field="electrolyte_level" data-string={s.string}>
                  no sensor
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

// ------------------------------------------------------------------------------ trends

// The room's recorded values over the page's range (?range= or ?from=&to=), one chart per
// quantity that has a sensor, with the warning and alarm thresholds of its rules.
function Trends({ doc, ruleState }) {
  const r = useStore(route);
  const now = usePlantNow();
  if (now === null) return null;
  const range = rangeOf(r.search, now);
  const sys = doc.system || {};
  const shown = ROOM.filter(([field]) => sys[field] && sys[field].quality !== "not_present");
  const absent = ROOM.filter(([field]) => !shown.some(([f]) => f === field));
  return (
    <section class="env-trends" aria-labelledby="trends-title">
      <h2 id="trends-title">Room trends</h2>
      <RangePicker range={range} key={`${range.from}-${range.to}`} />
      {shown.map(([field, label]) => (
        <SeriesChart
          key={field}
          path="/system/history"
          field={field}
          title={label}
          unit={unitOf("system", field)}
          label={`${label} of the battery room`}
          range={range}
         
          thresholds={ruleThresholds(ruleState.system, `system.${field}`)}
        />
      ))}
      {absent.length ? <p class="sub">No sensor: {absent.map(([, label]) => label.toLowerCase()).join(", ")}.</p> : null}
    </section>
  );
}

// ------------------------------------------------------------------------------ channels

function isDoor(c) {
  return /door/i.test(c.name || "");
}

// A digital state in words: doors open/closed, breakers closed/open, others active/inactive.
function digitalText(c, on) {
  if (c.role === "breaker_status") return on ? "closed" : "open";
  if (isDoor(c)) return on ? "open" : "closed";
  return on ? "active" : "inactive";
}

function decimalsOf(c) {
  if (c.point && c.point.includes(".")) {
    const [scope, field] = c.point.split(".");
    const p = points.get().get(`${scope}.${field}`);
    if (p) return p.decimals;
  }
  const k = KIND_POINT[c.kind];
  if (k) return point(k[0], k[1]).decimals;
  return null;
}

// The channel's value as shown (and as the value cell's whole text).
export function channelText(c) {
  const v = c.value;
  if (v === null || v === undefined) return NO_VALUE;
  if (typeof v === "boolean") return c.output ? (v ? "on" : "off") : digitalText(c, v);
  if (typeof v === "number") {
    const d = decimalsOf(c);
    const text = d === null ? String(+v.toPrecision(6)) : v.toFixed(d);
    return withUnit(text, c.unit || "");
  }
  return String(v);
}

function qualityText(c) {
  const q = QUALITY_TEXT[c.quality] || c.quality || "unknown";
  const age = fmtAge(c.age_s);
  let text = age ? `${q}, ${age} ago` : q;
  if (c.quality === "invalid" && c.raw !== undefined && c.raw !== null) text += ` (read ${c.raw})`;
  return text;
}

function isOn(c) {
  return c.pending && typeof c.commanded === "boolean" ? c.commanded : c.value === true;
}

// Reads the I/O again after a switch, so that the commanded state shows at once.
async function refreshIo() {
  try {
    const r = await getJson("/io");
    io.set({ devices: r.devices || [], loaded: true, error: null, okWall: Date.now() });
  } catch {
    /* the next poll reports it */
  }
}

async function switchOutput(c, on) {
  const r = await send("POST", `/io/outputs/${encodeURIComponent(c.id)}`, { on });
  refreshIo();
  return r && r.output ? r.output : null;
}

function outcomeText(c, on, out) {
  const name = c.name || c.id;
  const word = on ? "on" : "off";
  if (out && (out.pending || out.value !== on)) return `${name}: switching ${word} — the command is being written to the device.`;
  return `${name}: switched ${word}.`;
}

// A message that says what was done, cleared after a while (the table shows the state).
function useNote() {
  const [text, setText] = useState("");
  useEffect(() => {
    if (!text) return undefined;
    const t = setTimeout(() => setText(""), NOTE_MS);
    return () => clearTimeout(t);
  }, [text]);
  return [text, setText];
}

function OutputControl({ c }) {
  // null, or the state asked about (kept while the question is open, whatever the polls say).
  const [confirming, setConfirming] = useState(null);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useNote();
  const [error, setError] = useState("");
  const cancelRef = useRef(null);
  const switchRef = useRef(null);
  const on = isOn(c);
  const target = !on;
  const name = c.name || c.id;
  useEffect(() => {
    if (confirming !== null && cancelRef.current) cancelRef.current.focus();
  }, [confirming]);
  const close = () => {
    setConfirming(null);
    setTimeout(() => switchRef.current && switchRef.current.focus(), 0);
  };
  const run = async (value, closeAfter) => {
    setBusy(true);
    setError("");
    setMsg("");
    try {
      const out = await switchOutput(c, value);
      setMsg(outcomeText(c, value, out));
    } catch (e) {
      setError(`Refused: ${e.message}`);
    }
    setBusy(false);
    if (closeAfter) close();
  };
  const trip = c.role === "breaker_trip" && confirming === true;
  return (
    <div class="io-control">
      {confirming !== null ? (
        <div
          class="io-confirm"
          role="group"
          aria-label={`Confirm switching ${name} ${confirming ? "on" : "off"}`}
          onKeyDown={(ev) => {
            if (ev.key === "Escape" && !busy) close();
          }}
        >
          <span class="io-question">
            Switch {name} {confirming ? "on" : "off"}?{trip ? ` This trips the breaker of string ${c.string || "?"}.` : ""}
          </span>
          <button type="button" class={trip ? "button-danger" : ""} disabled={busy} onClick={() => run(confirming, true)}>
            Yes
          </button>
          <button type="button" ref={cancelRef} class="button-quiet" disabled={busy} onClick={close}>
            Cancel
          </button>
        </div>
      ) : (
        <span class="io-buttons">
          <button type="button" ref={switchRef} disabled={busy} onClick={() => setConfirming(target)}>
            {target ? "Switch on" : "Switch off"}
            <span class="visually-hidden"> {name}</span>
          </button>
          {c.kind === "buzzer" ? (
            <button type="button" disabled={busy} onClick={() => run(false, false)}>
              Mute buzzer<span class="visually-hidden"> ({name})</span>
            </button>
          ) : null}
        </span>
      )}
      <span class="io-msg" role="status">
        {msg}
      </span>
      <span class="error" role="alert">
        {error}
      </span>
    </div>
  );
}

function outputNote(c) {
  const parts = [];
  if (c.pending && typeof c.commanded === "boolean") parts.push(`commanded ${c.commanded ? "on" : "off"}, being written`);
  if (c.pulse_until) parts.push("pulse");
  return parts.join(", ");
}

function roleText(c) {
  const role = String(c.role || "generic").replace(/_/g, " ");
  return c.string ? `${role}, string ${c.string}` : role;
}

function ChannelRow({ c, canOperate, controls }) {
  const bad = c.quality !== "ok";
  const note = c.output ? outputNote(c) : "";
  return (
    <tr data-channel={c.id} data-kind={c.kind} data-quality={c.quality} class={bad ? "q-bad" : ""}>
      <th scope="row" class="io-name">
        {c.name || c.id}
        <span class="sub io-id"> {c.id}</span>
      </th>
      <td data-label="Kind">{KIND_TEXT[c.kind] || c.kind}</td>
      <td class="io-value" data-field="value">
        {channelText(c)}
      </td>
      <td data-label="Quality" class="io-quality">
        {qualityText(c)}
        {note ? <span class="io-note"> · {note}</span> : null}
        {c.pulse_until ? (
          <span class="io-note">
            {" "}
            until <Time t={c.pulse_until} />
          </span>
        ) : null}
        {c.error ? <span class="error io-error"> · {c.error}</span> : null}
      </td>
      <td data-label="Role">{roleText(c)}</td>
      {controls ? <td class="io-actions">{c.output && canOperate ? <OutputControl c={c} /> : null}</td> : null}
    </tr>
  );
}

function Device({ d, canOperate }) {
  const list = d.channels || [];
  // Operators see a switch column in every table, so that the tables line up.
  const controls = canOperate;
  const status = DEVICE_STATE[d.state] || "unknown";
  const titleId = `dev-${d.id}`;
  return (
    <div class="card io-device" data-device={d.id}>
      <div class="card-head">
        <h3 id={titleId} class="io-device-name">
          {d.name || d.id}
        </h3>
        <StatusMark status={status} label={false} />
        <span class="io-state">{String(d.state || "unknown").replace(/_/g, " ")}</span>
      </div>
      <p class="sub io-facts">
        {d.id} · {String(d.type || "").replace(/_/g, " ")} · {d.transport}
        {d.endpoint && d.endpoint !== d.transport ? ` ${d.endpoint}` : ""} · last answer{" "}
        {d.last_ok ? <Time t={d.last_ok} /> : "never"} · {isNum(d.polls) ? `${d.polls} polls, ${d.failures || 0} failed` : ""}
      </p>
      {d.error ? <p class="error">Error: {d.error}</p> : null}
      {list.length === 0 ? (
        <p class="sub">No channels.</p>
      ) : (
        <div class="table-scroll">
          <table class="data-table io-table">
            <caption class="visually-hidden">Channels of {d.name || d.id}</caption>
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Kind</th>
                <th scope="col">Value</th>
                <th scope="col">Quality</th>
                <th scope="col">Role</th>
                {controls ? <th scope="col">Switch</th> : null}
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <ChannelRow key={c.id} c={c} canOperate={canOperate} controls={controls} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

// A buzzer that sounds: said at the top, with its mute button for operators.
function BuzzerNotice({ buzzers, canOperate }) {
  const [error, setError] = useState("");
  const [msg, setMsg] = useNote();
  const sounding = buzzers.filter((c) => c.value === true || (c.pending && c.commanded === true));
  if (!sounding.length && !msg && !error) return null;
  const mute = async () => {
    setError("");
    setMsg("");
    const errs = [];
    for (const c of sounding) {
      try {
        await switchOutput(c, false);
      } catch (e) {
        errs.push(`${c.name || c.id}: ${e.message}`);
      }
    }
    if (errs.length) setError(`Refused: ${errs.join("; ")}`);
    else setMsg("Buzzer muted.");
  };
  return (
    <div class="notice buzzer-notice" role="status">
      {sounding.length ? (
        <>
          <StatusMark status="warning" label={false} /> The buzzer is sounding ({sounding.map((c) => c.name || c.id).join(", ")}).{" "}
          {canOperate ? (
            <button type="button" onClick={mute}>
              Mute buzzer
            </button>
          ) : null}{" "}
          <span class="sub">An event rule may sound it again until the alarm is acknowledged on the <a href="/alarms">alarms page</a>.</span>
        </>
      ) : (
        msg
      )}
      <span class="error" role="alert">
        {error}
      </span>
    </div>
  );
}

// ------------------------------------------------------------------------------ input changes

// "aux1.di3 (Door contact): active" → {id, state}.
export function parseInputEvent(message) {
  const m = /^(\S+?)(?: \((.*)\))?: (active|inactive)\s*$/.exec(message || "");
  return m ? { id: m[1], name: m[2] || "", active: m[3] === "active" } : null;
}

function useInputEvents(enabled) {
  const [state, setState] = useState({ list: null, error: null, from: null, to: null });
  useEffect(() => {
    if (!enabled) return undefined;
    let ctl = null;
    const load = () => {
      if (ctl) ctl.abort();
      ctl = new AbortController();
      const doc = live.get().doc;
      const to = doc ? doc.time_ms : Date.now();
      const from = to - DAY_MS;
      getJson("/events" + query({ kind: "input", from, to, limit: 1000 }), { signal: ctl.signal })
        .then((r) => setState({ list: Array.isArray(r.events) ? r.events : [], error: null, from, to }))
        .catch((e) => {
          if (e.name !== "AbortError") setState((s) => ({ ...s, error: e.message }));
        });
    };
    load();
    const t = setInterval(load, TIMELINE_POLL_MS);
    return () => {
      clearInterval(t);
      if (ctl) ctl.abort();
    };
  }, [enabled]);
  return state;
}

function InputTimelines({ inputs, events }) {
  const byId = new Map();
  (events.list || []).forEach((e) => {
    const p = parseInputEvent(e.message);
    if (!p) return;
    if (!byId.has(p.id)) byId.set(p.id, []);
    byId.get(p.id).push({ t: e.time_ms ?? e.time, active: p.active, name: p.name });
  });
  const known = new Set(inputs.map((c) => c.id));
  const others = [...byId.keys()].filter((id) => !known.has(id)).map((id) => ({ id, name: byId.get(id)[0].name || id, role: "generic" }));
  const rows = [...inputs, ...others];
  return (
    <section class="card env-inputs" aria-labelledby="inputs-title">
      <h2 id="inputs-title">Input changes, last 24 hours</h2>
      {events.error ? <p class="error">Input events not loaded: {events.error}</p> : null}
      {events.list === null && !events.error ? <p class="sub">Loading…</p> : null}
      {events.list !== null && rows.length === 0 ? <p class="sub">No digital inputs.</p> : null}
      {events.list !== null ? (
        <div class="timeline-grid">
          {rows.map((c) => {
            const list = (byId.get(c.id) || []).slice().sort((a, b) => b.t - a.t);
            return (
              <div key={c.id} class="timeline" data-timeline={c.id}>
                <h3>
                  {c.name || c.id} <span class="sub io-id">{c.id}</span>
                </h3>
                {list.length ? (
                  <ol class="timeline-list">
                    {list.map((x, i) => (
                      <li key={i}>
                        <Time t={x.t} /> <span class="timeline-state">{digitalText(c, x.active)}</span>
                      </li>
                    ))}
                  </ol>
                ) : (
                  <p class="sub">No change.</p>
                )}
              </div>
            );
          })}
        </div>
      ) : null}
    </section>
  );
}

// ------------------------------------------------------------------------------ the page

export default function Environment() {
  const { doc } = useStore(live);
  const ruleState = useStore(rules);
  const a = useStore(alarms);
  const s = useStore(session);
  useStore(points);
  const state = useIo();
  const canOperate = mayOperate(s);
  const devices = state.devices || [];
  const all = devices.flatMap((d) => d.channels || []);
  const buzzers = all.filter((c) => c.kind === "buzzer" && c.output);
  const inputs = all.filter((c) => c.kind === "digital_input");
  const events = useInputEvents(!!doc || state.loaded);
  const ioAge = state.okWall ? (Date.now() - state.okWall) / 1000 : null;
  return (
    <div class="page environment-page">
      <h1 class="page-title">Room &amp; I/O</h1>
      <BuzzerNotice buzzers={buzzers} canOperate={canOperate} />
      {doc ? <Room doc={doc} ruleState={ruleState} active={a.list} /> : <p class="placeholder">Loading battery data…</p>}
      <section class="env-io" aria-labelledby="io-title">
        <div class="card-head">
          <h2 id="io-title">I/O devices</h2>
          {canOperate ? null : <span class="sub">Log in as an operator to switch outputs.</span>}
        </div>
        {state.error ? (
          <p class="error">
            I/O not updated: {state.error}
            {ioAge !== null ? ` (last read ${fmtAge(ioAge)} ago)` : ""}
          </p>
        ) : null}
        {!state.loaded && !state.error ? <p class="sub">Loading I/O…</p> : null}
        {state.loaded && devices.length === 0 ? <p class="sub">No I/O devices are configured.</p> : null}
        {devices.map((d) => (
          <Device key={d.id} d={d} canOperate={canOperate} />
        ))}
      </section>
      {doc ? <Trends doc={doc} ruleState={ruleState} /> : null}
      <InputTimelines inputs={inputs} events={events} />
    </div>
  );
}
