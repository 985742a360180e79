// Active alarms grouped by rule and string ("String 1: 31 × voltage above …"), unacknowledged
// groups first, with the current value beside the value at raise, filters, and acknowledge for
// a selection, a group or all. Updated in place: keyboard focus and selection survive updates.
import { useState } from "preact/hooks";
import { StatusMark } from "../components/StatusMark.jsx";
import { Time } from "../components/Time.jsx";
import { Value } from "../components/Value.jsx";
import { acknowledge, alarms, groupAlarms, ruleOf } from "../lib/alarms.js";
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
          <input type="checkbox" checked={selected} disabled={a.acknowledged} aria-label={`Select ${a.key}`} onChange={(ev) => onSelect(a.key, ev.currentTarget.checked)} />
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

function Group({ g, doc, selected, setSelected, canAck, expanded, toggle }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
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
        <span role="alert" class="error">
          {error}
        </span>
      </div>
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
  const canAck = mayOperate(s);
  const level = r.search.get("level") || "";
  const stringNo = r.search.get("string") || "";
  const state = r.search.get("state") || "";
  const list = a.list.filter(
    (x) =>
      (!level || x.level === level) &&
      (!stringNo || String(x.string || 0) === stringNo) &&
      (!state || (state === "unacknowledged" ? !x.acknowledged : x.acknowledged)),
  );
  const groups = groupAlarms(list, (n) => (liveString(doc, n)?.blocks || []).length);
  const live_keys = new Set(a.list.filter((x) => !x.acknowledged).map((x) => x.key));
  const chosen = [...selected].filter((k) => live_keys.has(k));
  const unackedAll = list.filter((x) => !x.acknowledged).map((x) => x.key);
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
          </>
        ) : (
          <span class="sub">Log in as an operator to acknowledge.</span>
        )}
      </form>
      <p role="alert" class="error">
        {error}
      </p>
      <p class="sub" aria-live="polite">
        {list.length} active {list.length === 1 ? "alarm" : "alarms"} in {groups.length} {groups.length === 1 ? "group" : "groups"}
        {a.error ? ` — not updated: ${a.error}` : ""}
      </p>
      {groups.map((g) => (
        <Group
          key={g.id}
          g={g}
          doc={doc}
          selected={selected}
          setSelected={setSelected}
          canAck={canAck}
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
    </div>
  );
}
