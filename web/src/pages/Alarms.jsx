// Active alarms grouped by rule and string ("String 1: 31 × voltage above …"), unacknowledged
// groups first, with the current value beside the value at raise, filters, and acknowledge for
// a selection, a group or all. Operators shelve a group or a selection for a while with a reason
// (ISA-18.2, docs/alarms.md#shelving); shelved alarms are listed apart, collapsed, at the bottom,
// with their shelf end, reason and an Unshelve button. Updated in place: keyboard focus and
// selection survive updates.
import { useEffect, useRef, useState } from "preact/hooks";
import { StatusMark } from "../components/StatusMark.jsx";
import { Time } from "../components/Time.jsx";
import { Value } from "../components/Value.jsx";
import { acknowledge, alarms, groupAlarms, ruleOf, SHELVE_CHOICES, shelve, unshelve } from "../lib/alarms.js";
import { isNum } from "../lib/format.js";
import { live, liveString } from "../lib/live.js";
import { route, setQuery } from "../lib/router.js";
import { mayOperate, session } from "../lib/session.js";
import { useStore } from "../lib/store.js";

// The live value object of the point an alarm watches, or null.
function currentValue(doc, a) {
  const rule = ruleOf(a);
  if (!rule || !doc) return null;
  const [scope, field] = rule.point.split(".");
  if (scope === "system") return { vo: doc.system?.[field], scope, field };
  const s = liveString(doc, a.string);
  if (!s) return null;
  if (scope === "string") return { vo: s[field], scope, field };
  const b = (s.blocks || []).find((x) => x.block === a.block);
  return b ? { vo: b[field], scope, field } : null;
}

function AlarmRow({ a, doc, selected, onSelect, canAck }) {
  const cur = currentValue(doc, a);
  const rule = ruleOf(a);
  return (
    <tr data-key={a.key} data-level={a.level} data-ack={a.acknowledged ? "1" : "0"}>
      {canAck ? (
        <td>
          <input type="checkbox" checked={selected} aria-label={`Select ${a.key}`} onChange={(ev) => onSelect(a.key, ev.currentTarget.checked)} />
        </td>
      ) : null}
      <td>
        <StatusMark status={a.level} />
      </td>
      <td>{a.block ? <a href={`/strings/${a.string}/blocks/${a.block}`}>block {a.block}</a> : a.string ? `string ${a.string}` : "system"}</td>
      <td class="num">{isNum(a.value) ? `${a.value.toFixed(3)}${rule ? " " + rule.unit : ""}` : "—"}</td>
      <td class="num">{cur ? <Value vo={cur.vo} scope={cur.scope} field={cur.field} /> : "—"}</td>
      <td>
        <Time t={a.raised} />
      </td>
      <td>{a.acknowledged ? "acknowledged" : "unacknowledged"}</td>
    </tr>
  );
}

// "31 blocks: voltage above 14.1 V (warning) / 14.4 V (alarm)".
function groupText(g, rule) {
  const where = g.alarms.every((a) => a.block) ? `${g.alarms.length} blocks` : `${g.alarms.length} alarms`;
  if (!rule) return `${where}: ${g.rule}`;
  const what = rule.point.split(".")[1].replace(/_(v|c|pct|mohm)$/, "").replace(/_/g, " ");
  const dir = rule.direction === "high" ? "above" : "below";
  return `${where}: ${what} ${dir} ${rule.warning} ${rule.unit} (warning) / ${rule.alarm} ${rule.unit} (alarm)`;
}

// "2 h", "15 min", "7 d": how long a shelf lasts (from its start and end).
function shelfLength(a) {
  const min = Math.round((Date.parse(a.shelved_until) - Date.parse(a.shelved_at)) / 60000);
  if (!Number.isFinite(min)) return "";
  if (min % 1440 === 0) return `${min / 1440} d`;
  if (min % 60 === 0) return `${min / 60} h`;
  return `${min} min`;
}

// The inline form of "Shelve…": a shelf time and a reason (required) for the alarms `keys`;
// `what` names them for screen readers ("the 12 alarms of String 1 …"). Escape or Cancel closes
// it; onDone(text) after shelving.
function ShelveForm({ id, keys, what, onDone, onCancel }) {
  const [minutes, setMinutes] = useState(SHELVE_CHOICES[1].minutes);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const firstRef = useRef(null);
  useEffect(() => {
    if (firstRef.current) firstRef.current.focus();
  }, []);
  const submit = async (ev) => {
    ev.preventDefault();
    const text = reason.trim();
    if (!text) {
      setError("A reason is required: why is it shelved?");
      return;
    }
    setBusy(true);
    setError("");
    try {
      const cleared = await shelve(keys, minutes, text);
      const done = keys.length - cleared;
      const length = SHELVE_CHOICES.find((c) => c.minutes === minutes)?.text || `${minutes} min`;
      onDone(`${done} ${done === 1 ? "alarm" : "alarms"} shelved for ${length}${cleared ? ` (${cleared} had cleared meanwhile)` : ""}.`);
    } catch (e) {
      setError(e.message);
      setBusy(false);
    }
  };
  return (
    <form
      class="shelve-form"
      data-shelve-form={id}
      aria-label={`Shelve ${what}`}
      onSubmit={submit}
      onKeyDown={(ev) => {
        if (ev.key === "Escape" && !busy) onCancel();
      }}
    >
      <label>
        Shelve for{" "}
        <select ref={firstRef} name="minutes" value={String(minutes)} disabled={busy} onChange={(ev) => setMinutes(Number(ev.currentTarget.value))}>
          {SHELVE_CHOICES.map((c) => (
            <option key={c.minutes} value={String(c.minutes)}>
              {c.text}
            </option>
          ))}
        </select>
      </label>
      <label>
        Reason (required){" "}
        <input type="text" name="reason" required maxLength={200} size={36} value={reason} disabled={busy} onInput={(ev) => setReason(ev.currentTarget.value)} />
      </label>
      <button type="submit" disabled={busy}>
        Shelve {keys.length === 1 ? "" : `${keys.length} alarms`}
        <span class="visually-hidden"> ({what})</span>
      </button>
      <button type="button" class="button-quiet" disabled={busy} onClick={onCancel}>
        Cancel
      </button>
      <span role="alert" class="error">
        {error}
      </span>
    </form>
  );
}

function Group({ g, doc, selected, setSelected, canAck, expanded, toggle, onShelved }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [shelving, setShelving] = useState(false);
  const shelveRef = useRef(null);
  const rule = ruleOf(g.alarms[0]);
  const unacked = g.alarms.filter((a) => !a.acknowledged).map((a) => a.key);
  const ack = async () => {
    setBusy(true);
    setError("");
    try {
      await acknowledge(unacked);
    } catch (e) {
      setError(e.message);
    }
    setBusy(false);
  };
  const head = g.alarms[0].message.replace(/^String \d+(, block \d+)?: /, "");
  const name = `${g.string ? `String ${g.string}` : "System"}: ${g.alarms.length > 1 ? `${g.alarms.length} × ${g.rule}` : g.alarms[0].key}`;
  const closeShelve = () => {
    setShelving(false);
    setTimeout(() => shelveRef.current && shelveRef.current.focus(), 0);
  };
  return (
    <section class="card alarm-group" data-group={g.id} data-level={g.level} aria-labelledby={`g-${g.id}`}>
      <div class="group-head">
        <StatusMark status={g.level} />
        <h2 id={`g-${g.id}`} class="group-title">
          {g.string ? `String ${g.string}` : "System"}: {g.alarms.length > 1 ? `${g.alarms.length} alarms — ` : ""}
          {g.alarms.length > 1 ? groupText(g, rule) : head}
        </h2>
        <span class="group-count">{g.unacknowledged ? `${g.unacknowledged} unacknowledged` : "all acknowledged"}</span>
      </div>
      {g.cause ? <p class="cause">{g.cause}</p> : null}
      <div class="group-actions">
        <button type="button" class="button-quiet" aria-expanded={expanded ? "true" : "false"} onClick={toggle}>
          {expanded ? "Hide" : "Show"} {g.alarms.length === 1 ? "details" : `the ${g.alarms.length} alarms`}
        </button>
        {canAck && unacked.length ? (
          <button type="button" disabled={busy} onClick={ack}>
            Acknowledge {unacked.length === 1 ? "" : `all ${unacked.length}`}
          </button>
        ) : null}
        {canAck ? (
          <button type="button" ref={shelveRef} class="button-quiet" aria-expanded={shelving ? "true" : "false"} onClick={() => (shelving ? closeShelve() : setShelving(true))}>
            Shelve…<span class="visually-hidden"> {name}</span>
          </button>
        ) : null}
        <span role="alert" class="error">
          {error}
        </span>
      </div>
      {canAck && shelving ? (
        <ShelveForm
          id={g.id}
          keys={g.alarms.map((a) => a.key)}
          what={g.alarms.length === 1 ? `the alarm ${g.alarms[0].key}` : `the ${g.alarms.length} alarms of ${name}`}
          onCancel={closeShelve}
          onDone={(text) => {
            closeShelve();
            onShelved(text);
          }}
        />
      ) : null}
      {expanded ? (
        <div class="table-scroll">
          <table class="alarm-table">
            <thead>
              <tr>
                {canAck ? (
                  <th scope="col">
                    <span class="visually-hidden">Select</span>
                  </th>
                ) : null}
                <th scope="col">Level</th>
                <th scope="col">Where</th>
                <th scope="col" class="num">
                  At raise
                </th>
                <th scope="col" class="num">
                  Now
                </th>
                <th scope="col">Raised</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {g.alarms.map((a) => (
                <AlarmRow
                  key={a.key}
                  a={a}
                  doc={doc}
                  canAck={canAck}
                  selected={selected.has(a.key)}
                  onSelect={(k, on) =>
                    setSelected((s) => {
                      const n = new Set(s);
                      if (on) n.add(k);
                      else n.delete(k);
                      return n;
                    })
                  }
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

export default function Alarms() {
  const a = useStore(alarms);
  const { doc } = useStore(live);
  const s = useStore(session);
  const r = useStore(route);
  const [selected, setSelected] = useState(new Set());
  const [expanded, setExpanded] = useState(new Set());
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const [shelvingSelection, setShelvingSelection] = useState(false);
  const [shelvedOpen, setShelvedOpen] = useState(false);
  const shelveSelRef = useRef(null);
  const canAck = mayOperate(s);
  const level = r.search.get("level") || "";
  const stringNo = r.search.get("string") || "";
  const state = r.search.get("state") || "";
  const where = (x) => (!level || x.level === level) && (!stringNo || String(x.string || 0) === stringNo);
  const list = a.list.filter(
    (x) =>
      where(x) &&
      (!state || (state === "unacknowledged" ? !x.acknowledged : state === "acknowledged" ? x.acknowledged : false)),
  );
  // Shelved alarms: shown with "any" state and under "shelved" (open there).
  const shelvedList = !state || state === "shelved" ? (a.shelved || []).filter(where) : [];
  const groups = groupAlarms(list, (n) => (liveString(doc, n)?.blocks || []).length);
  const displayed = new Set(a.list.map((x) => x.key));
  const unackedKeys = new Set(a.list.filter((x) => !x.acknowledged).map((x) => x.key));
  const chosenAll = [...selected].filter((k) => displayed.has(k));
  const chosen = chosenAll.filter((k) => unackedKeys.has(k));
  const unackedAll = list.filter((x) => !x.acknowledged).map((x) => x.key);
  const closeShelveSelection = () => {
    setShelvingSelection(false);
    setTimeout(() => shelveSelRef.current && shelveSelRef.current.focus(), 0);
  };
  const unshelveOne = async (key) => {
    setError("");
    setNote("");
    try {
      await unshelve([key]);
      setNote(`${key} unshelved: back on the display.`);
    } catch (e) {
      setError(e.message);
    }
  };
  const run = async (keys) => {
    setError("");
    try {
      await acknowledge(keys);
      setSelected(new Set());
    } catch (e) {
      setError(e.message);
    }
  };
  const strings = doc ? doc.strings.map((x) => x.string) : [];
  return (
    <div class="page alarms-page">
      <h1 class="page-title">Alarms</h1>
      <form class="filters" onSubmit={(ev) => ev.preventDefault()}>
        <label>
          Level{" "}
          <select value={level} onChange={(ev) => setQuery({ level: ev.currentTarget.value, string: stringNo, state })}>
            <option value="">any</option>
            <option value="alarm">alarm</option>
            <option value="warning">warning</option>
          </select>
        </label>
        <label>
          String{" "}
          <select value={stringNo} onChange={(ev) => setQuery({ level, string: ev.currentTarget.value, state })}>
            <option value="">any</option>
            <option value="0">system</option>
            {strings.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <label>
          State{" "}
          <select value={state} onChange={(ev) => setQuery({ level, string: stringNo, state: ev.currentTarget.value })}>
            <option value="">any</option>
            <option value="unacknowledged">unacknowledged</option>
            <option value="acknowledged">acknowledged</option>
            <option value="shelved">shelved</option>
          </select>
        </label>
        {canAck ? (
          <>
            <button type="button" disabled={chosen.length === 0} onClick={() => run(chosen)}>
              Acknowledge selected ({chosen.length})
            </button>
            <button type="button" disabled={unackedAll.length === 0} onClick={() => run(unackedAll)}>
              Acknowledge all shown ({unackedAll.length})
            </button>
            <button
              type="button"
              ref={shelveSelRef}
              class="button-quiet"
              disabled={chosenAll.length === 0 && !shelvingSelection}
              aria-expanded={shelvingSelection ? "true" : "false"}
              onClick={() => (shelvingSelection ? closeShelveSelection() : setShelvingSelection(true))}
            >
              Shelve selected… ({chosenAll.length})
            </button>
          </>
        ) : (
          <span class="sub">Log in as an operator to acknowledge or shelve.</span>
        )}
      </form>
      {canAck && shelvingSelection && chosenAll.length ? (
        <ShelveForm
          id="selection"
          keys={chosenAll}
          what={`the ${chosenAll.length} selected ${chosenAll.length === 1 ? "alarm" : "alarms"}`}
          onCancel={closeShelveSelection}
          onDone={(text) => {
            setSelected(new Set());
            closeShelveSelection();
            setNote(text);
          }}
        />
      ) : null}
      <p role="alert" class="error">
        {error}
      </p>
      <p class="sub" aria-live="polite">
        {list.length} active {list.length === 1 ? "alarm" : "alarms"} in {groups.length} {groups.length === 1 ? "group" : "groups"}
        {(a.shelved || []).length ? `; ${a.shelved.length} shelved` : ""}
        {a.error ? ` — not updated: ${a.error}` : ""}
      </p>
      <p class="sub shelve-note" role="status">
        {note}
      </p>
      {groups.map((g) => (
        <Group
          key={g.id}
          g={g}
          doc={doc}
          selected={selected}
          setSelected={setSelected}
          canAck={canAck}
          onShelved={setNote}
          expanded={expanded.has(g.id) || groups.length === 1}
          toggle={() =>
            setExpanded((e) => {
              const n = new Set(e);
              if (n.has(g.id)) n.delete(g.id);
              else n.add(g.id);
              return n;
            })
          }
        />
      ))}
      {shelvedList.length || state === "shelved" ? (
        <ShelvedSection list={shelvedList} open={shelvedOpen || state === "shelved"} toggle={() => setShelvedOpen((o) => !o)} canAck={canAck} onUnshelve={unshelveOne} />
      ) : null}
    </div>
  );
}

// The shelved alarms, collapsed until opened: level, where, the alarm, until when, why and by
// whom; operators can end a shelf at once.
function ShelvedSection({ list, open, toggle, canAck, onUnshelve }) {
  const [busy, setBusy] = useState("");
  const sorted = [...list].sort((x, y) => Date.parse(x.shelved_until) - Date.parse(y.shelved_until) || x.key.localeCompare(y.key));
  return (
    <section class="card shelved-section" data-shelved={String(list.length)} aria-labelledby="shelved-title">
      <h2 id="shelved-title" class="group-title">
        <button type="button" class="button-quiet" aria-expanded={open ? "true" : "false"} onClick={toggle}>
          Shelved ({list.length})
        </button>
      </h2>
      <p class="sub">Off the display until their shelf ends: not counted, no block colour, no notifications.</p>
      {open ? (
        <div class="table-scroll" id="shelved-list">
          {list.length === 0 ? (
            <p>No shelved alarms.</p>
          ) : (
            <table class="alarm-table shelved-table">
              <thead>
                <tr>
                  <th scope="col">Level</th>
                  <th scope="col">Where</th>
                  <th scope="col">Alarm</th>
                  <th scope="col">Shelved until</th>
                  <th scope="col">Reason</th>
                  <th scope="col">By</th>
                  {canAck ? (
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {sorted.map((a) => (
                  <tr key={a.key} data-key={a.key} data-level={a.level} data-ack={a.acknowledged ? "1" : "0"} data-shelved-until={a.shelved_until}>
                    <td>
                      <StatusMark status={a.level} />
                    </td>
                    <td>{a.block ? <a href={`/strings/${a.string}/blocks/${a.block}`}>string {a.string}, block {a.block}</a> : a.string ? `string ${a.string}` : "system"}</td>
                    <td>{a.message.replace(/^String \d+(, block \d+)?: /, "")}</td>
                    <td>
                      <Time t={a.shelved_until} /> <span class="sub">({shelfLength(a)})</span>
                    </td>
                    <td class="shelve-reason">{a.shelve_reason}</td>
                    <td>
                      {a.shelved_by}
                      <span class="sub">
                        {" "}
                        at <Time t={a.shelved_at} />
                      </span>
                    </td>
                    {canAck ? (
                      <td>
                        <button
                          type="button"
                          disabled={busy === a.key}
                          onClick={async () => {
                            setBusy(a.key);
                            await onUnshelve(a.key);
                            setBusy("");
                          }}
                        >
                          Unshelve<span class="visually-hidden"> {a.key}</span>
                        </button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ) : null}
    </section>
  );
}
