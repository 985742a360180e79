// Settings (admins): alarm rules per string, showing where each value comes from (default,
// configuration file, changed here) with validation by the daemon and revert; the event rules
// with a "Send test" for each; the names of the I/O channels; the protocol adapters (Modbus,
// SNMP, MQTT); accounts and API tokens; the HTTPS certificate; configuration reload; backup
// download and restore upload.
// Every change goes through the daemon's one write path (role check and audit record); a refusal
// shows the daemon's reason.
import { useEffect, useState } from "preact/hooks";
import { Time } from "../components/Time.jsx";
import { getJson, send, sendRaw } from "../lib/api.js";
import { channels, useIo } from "../lib/io.js";
import { isAdmin, session } from "../lib/session.js";
import { useStore } from "../lib/store.js";

const RULE_FIELDS = [
  ["warning", "Warning"],
  ["alarm", "Alarm"],
  ["hysteresis", "Hysteresis"],
  ["on_delay_s", "On delay [s]"],
  ["off_delay_s", "Off delay [s]"],
];
const ORIGIN_TEXT = { default: "default", config: "configuration file", api: "changed here" };

// A settings table: a line on what it is, the column heads, the rows.
function SettingsTable({ class: cls, columns, intro, children }) {
  return (
    <>
      <p class="sub">{intro}</p>
      <div class="table-scroll">
        <table class={`data-table ${cls}`}>
          <thead>
            <tr>
              {columns.map((c) => (
                <th scope="col" key={c}>
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>{children}</tbody>
        </table>
      </div>
    </>
  );
}

function useReload() {
  const [n, setN] = useState(0);
  return [n, () => setN((x) => x + 1)];
}

function RuleRow({ rule, stringNo, onChanged }) {
  const [edit, setEdit] = useState(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const q = stringNo ? `?string=${stringNo}` : "";
  const save = async (ev) => {
    ev.preventDefault();
    setError("");
    const body = {};
    for (const [f] of RULE_FIELDS) {
      const v = Number(edit[f]);
      if (edit[f] === "" || !Number.isFinite(v)) {
        setError(`${f}: not a number`);
        return;
      }
      if (v !== rule[f]) body[f] = v;
    }
    if (edit.enabled !== rule.enabled) body.enabled = edit.enabled;
    if (!Object.keys(body).length) {
      setEdit(null);
      return;
    }
    setBusy(true);
    try {
      await send("PUT", `/alarms/rules/${encodeURIComponent(rule.id)}${q}`, body);
      setEdit(null);
      onChanged();
    } catch (e) {
      setError(e.message);
    }
    setBusy(false);
  };
  const revert = async () => {
    setError("");
    try {
      await send("DELETE", `/alarms/rules/${encodeURIComponent(rule.id)}${q}`);
      onChanged();
    } catch (e) {
      setError(e.message);
    }
  };
  if (edit) {
    return (
      <tr data-rule={rule.id}>
        <th scope="row">{rule.id}</th>
        <td colSpan={RULE_FIELDS.length + 3}>
          <form class="rule-form" onSubmit={save}>
            {RULE_FIELDS.map(([f, label]) => (
              <label key={f}>
                {label} {f === "warning" || f === "alarm" || f === "hysteresis" ? `[${rule.unit}]` : ""}
                <input type="number" step="any" required value={edit[f]} onInput={(e) => setEdit({ ...edit, [f]: e.currentTarget.value })} />
              </label>
            ))}
            <label class="check">
              <input type="checkbox" checked={edit.enabled} onChange={(e) => setEdit({ ...edit, enabled: e.currentTarget.checked })} /> enabled
            </label>
            <button type="submit" disabled={busy}>
              Save
            </button>
            <button type="button" class="button-quiet" onClick={() => setEdit(null)}>
              Cancel
            </button>
            <span role="alert" class="error">
              {error}
            </span>
          </form>
        </td>
      </tr>
    );
  }
  return (
    <tr data-rule={rule.id} data-origin={rule.origin}>
      <th scope="row">
        {rule.id}
        <div class="sub">
          {rule.point} {rule.direction === "high" ? "above" : "below"}
        </div>
      </th>
      {RULE_FIELDS.map(([f]) => (
        <td key={f} class="num">
          {rule[f]}
          {f === "warning" || f === "alarm" ? ` ${rule.unit}` : ""}
        </td>
      ))}
      <td>{rule.enabled ? "enabled" : "disabled"}</td>
      <td>{ORIGIN_TEXT[rule.origin] || rule.origin}</td>
      <td class="actions">
        <button type="button" class="button-quiet" onClick={() => setEdit(Object.fromEntries([...RULE_FIELDS.map(([f]) => [f, String(rule[f])]), ["enabled", rule.enabled]]))}>
          Edit<span class="visually-hidden"> {rule.id}</span>
        </button>
        {rule.origin === "api" ? (
          <button type="button" class="button-quiet" onClick={revert}>
            Revert<span class="visually-hidden"> {rule.id}</span>
          </button>
        ) : null}
        <span role="alert" class="error">
          {error}
        </span>
      </td>
    </tr>
  );
}

function RulesSection() {
  const [n, reload] = useReload();
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const [which, setWhich] = useState("system");
  useEffect(() => {
    getJson("/alarms/rules").then(setData, (e) => setError(e.message));
  }, [n]);
  if (error) return <p class="error">{error}</p>;
  if (!data) return <p class="sub">Loading…</p>;
  const stringNo = which === "system" ? null : Number(which);
  const list = stringNo === null ? data.system : (data.strings.find((s) => s.string === stringNo) || { rules: [] }).rules;
  return (
    <>
      <label>
        Rules of{" "}
        <select value={which} onChange={(e) => setWhich(e.currentTarget.value)}>
          <option value="system">the system (battery room)</option>
          {data.strings.map((s) => (
            <option key={s.string} value={String(s.string)}>
              {s.name || `string ${s.string}`}
            </option>
          ))}
        </select>
      </label>
      <div class="table-scroll">
        <table class="data-table rules-table">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              {RULE_FIELDS.map(([f, label]) => (
                <th key={f} scope="col" class="num">
                  {label}
                </th>
              ))}
              <th scope="col">State</th>
              <th scope="col">Value from</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((rule) => (
              <RuleRow key={`${which}-${rule.id}`} rule={rule} stringNo={stringNo} onChanged={reload} />
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function UsersSection() {
  const [n, reload] = useReload();
  const [users, setUsers] = useState(null);
  const [tokens, setTokens] = useState(null);
  const [error, setError] = useState("");
  const [secret, setSecret] = useState("");
  const [form, setForm] = useState({ name: "", password: "", role: "viewer" });
  const [tokenForm, setTokenForm] = useState({ label: "", role: "viewer" });
  useEffect(() => {
    getJson("/users").then((r) => setUsers(r.users || []), (e) => setError(e.message));
    getJson("/tokens").then((r) => setTokens(r.tokens || []), (e) => setError(e.message));
  }, [n]);
  const act = async (fn) => {
    setError("");
    try {
      await fn();
      reload();
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <>
      <p role="alert" class="error">
        {error}
      </p>
      <h3>Accounts</h3>
      <table class="data-table">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(users || []).map((u) => (
            <tr key={u.name} data-user={u.name}>
              <th scope="row">{u.name}</th>
              <td>
                <select aria-label={`Role of ${u.name}`} value={u.role} onChange={(e) => act(() => send("PUT", `/users/${encodeURIComponent(u.name)}`, { role: e.currentTarget.value }))}>
                  {["viewer", "operator", "admin"].map((r) => (
                    <option key={r}>{r}</option>
                  ))}
                </select>
              </td>
              <td>{u.created ? <Time t={u.created} /> : "—"}</td>
              <td>
                <button type="button" class="button-quiet" onClick={() => window.confirm(`Remove the account ${u.name}?`) && act(() => send("DELETE", `/users/${encodeURIComponent(u.name)}`))}>
                  Remove<span class="visually-hidden"> {u.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          act(async () => {
            await send("POST", "/users", form);
            setForm({ name: "", password: "", role: "viewer" });
          });
        }}
      >
        <label>
          New user <input required value={form.name} autocomplete="off" onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
        </label>
        <label>
          Password <input required type="password" autocomplete="new-password" value={form.password} onInput={(e) => setForm({ ...form, password: e.currentTarget.value })} />
        </label>
        <label>
          Role{" "}
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value })}>
            {["viewer", "operator", "admin"].map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit">Add account</button>
      </form>
      <h3>API tokens</h3>
      {secret ? (
        <p class="notice" role="status">
          New token (shown this once; copy it now): <code class="secret">{secret}</code>
        </p>
      ) : null}
      <table class="data-table">
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Label</th>
            <th scope="col">Role</th>
            <th scope="col">Created</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(tokens || []).map((t) => (
            <tr key={t.id}>
              <td>{t.id}</td>
              <td>{t.label}</td>
              <td>{t.role}</td>
              <td>{t.created ? <Time t={t.created} /> : "—"}</td>
              <td>
                <button type="button" class="button-quiet" onClick={() => window.confirm(`Revoke the token ${t.label || t.id}?`) && act(() => send("DELETE", `/tokens/${encodeURIComponent(t.id)}`))}>
                  Revoke<span class="visually-hidden"> {t.label || t.id}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          act(async () => {
            const r = await send("POST", "/tokens", tokenForm);
            setSecret(r.secret || "");
            setTokenForm({ label: "", role: "viewer" });
          });
        }}
      >
        <label>
          Label <input required value={tokenForm.label} onInput={(e) => setTokenForm({ ...tokenForm, label: e.currentTarget.value })} />
        </label>
        <label>
          Role{" "}
          <select value={tokenForm.role} onChange={(e) => setTokenForm({ ...tokenForm, role: e.currentTarget.value })}>
            {["viewer", "operator", "admin"].map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit">Create token</button>
      </form>
    </>
  );
}

function CertificateSection() {
  const [n, reload] = useReload();
  const [info, setInfo] = useState(null);
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const [pem, setPem] = useState({ certificate: "", key: "" });
  useEffect(() => {
    getJson("/system/certificate").then(setInfo, (e) => setError(e.message));
  }, [n]);
  const install = async (ev) => {
    ev.preventDefault();
    setError("");
    setNote("");
    try {
      const r = await send("PUT", "/system/certificate", pem);
      setPem({ certificate: "", key: "" });
      setNote(["Installed.", ...(r.warnings || [])].join(" "));
      reload();
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <>
      {info ? (
        <dl class="summary">
          {["subject", "issuer", "not_after", "source", "sha256"].map((k) =>
            info[k] !== undefined ? (
              <div key={k}>
                <dt>{k.replace("_", " ")}</dt>
                <dd class="wrap">{String(info[k])}</dd>
              </div>
            ) : null,
          )}
        </dl>
      ) : null}
      <form class="cert-form" onSubmit={install}>
        <label>
          Certificate chain (PEM)
          <textarea rows={4} required value={pem.certificate} onInput={(e) => setPem({ ...pem, certificate: e.currentTarget.value })} />
        </label>
        <label>
          Private key (PEM, not encrypted)
          <textarea rows={4} required value={pem.key} onInput={(e) => setPem({ ...pem, key: e.currentTarget.value })} />
        </label>
        <button type="submit">Install certificate</button>
      </form>
      <p role="status">{note}</p>
      <p role="alert" class="error">
        {error}
      </p>
    </>
  );
}

const TRIGGER_GROUPS = [
  [["alarm_raised", "alarm_escalated", "alarm_lowered", "alarm_cleared", "alarm_acknowledged"], "any alarm change"],
  [["protection_suspected", "protection_alarm", "protection_trip", "protection_cleared", "protection_reset", "protection_charger_reduced"], "any protection step"],
];

// The triggers in words: a whole family as one phrase, the rest by name.
function triggerText(list) {
  let rest = [...list];
  const out = [];
  TRIGGER_GROUPS.forEach(([group, words]) => {
    if (group.every((t) => rest.includes(t))) {
      out.push(words);
      rest = rest.filter((t) => !group.includes(t));
    }
  });
  return [...out, ...rest.map((t) => t.replace(/_/g, " "))].join(", ");
}

function filterText(r) {
  const f = r.filters || {};
  const parts = [];
  if (f.rule) parts.push(`rule ${f.rule}`);
  if (f.min_level) parts.push(`${f.min_level} or worse`);
  if (f.string) parts.push(`string ${f.string}`);
  if (f.block) parts.push(`block ${f.block}`);
  if (f.input) parts.push(`input ${f.input}${f.input_value === undefined ? "" : f.input_value ? " on" : " off"}`);
  const sc = r.schedule || {};
  if (sc.daily_utc) parts.push(`daily ${sc.daily_utc} UTC`);
  if (sc.every_min) parts.push(`every ${sc.every_min} min`);
  return parts.join(", ") || "—";
}

function actionText(a) {
  const when = [];
  if (a.delay_s) when.push(`after ${a.delay_s} s`);
  if (a.repeat_s) when.push(`every ${a.repeat_s} s${a.repeat_count ? ` × ${a.repeat_count}` : ""}${a.until_cleared ? " until cleared" : ""}`);
  if (a.pulse_s) when.push(`pulse ${a.pulse_s} s`);
  return `${a.type} → ${a.target || "(default)"}${when.length ? ` (${when.join(", ")})` : ""}`;
}

const TESTABLE = new Set(["email", "syslog", "webhook"]);

function EventRuleRow({ rule }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState("");
  const testable = rule.actions.some((a) => TESTABLE.has(a.type));
  const test = async () => {
    setBusy(true);
    setError("");
    setResult(null);
    try {
      setResult(await send("POST", "/events/test", { rule: rule.name }));
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr data-event-rule={rule.name}>
      <th scope="row">
        {rule.name}
        {rule.implicit ? <span class="sub"> (added: syslog of every alarm)</span> : null}
      </th>
      <td>{triggerText(rule.triggers)}</td>
      <td>{filterText(rule)}</td>
      <td>
        <ul class="plain">
          {rule.actions.map((a, i) => (
            <li key={i}>{actionText(a)}</li>
          ))}
        </ul>
      </td>
      <td class="test-cell">
        {testable ? (
          <button type="button" onClick={test} disabled={busy} aria-describedby={`test-note-${rule.name}`}>
            {busy ? "Sending…" : "Send test"}
          </button>
        ) : (
          <span class="sub">nothing to test</span>
        )}
        <div id={`test-note-${rule.name}`} role="status" class="test-result">
          {result ? (
            <ul class="plain">
              {result.results.map((t, i) => (
                <li key={i} data-test-action={t.action} data-test-outcome={!t.run ? "not-run" : t.ok ? "sent" : "failed"} class={t.run && !t.ok ? "error" : ""}>
                  {t.action} → {t.target}: {!t.run ? t.text : t.ok ? `sent${t.text ? ` (${t.text})` : ""}` : `failed: ${t.text}`}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
        {error ? (
          <p role="alert" class="error">
            {error}
          </p>
        ) : null}
      </td>
    </tr>
  );
}

function EventRulesSection() {
  const [rules, setRules] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    getJson("/events/rules").then((r) => setRules(r.rules || []), (e) => setError(e.message));
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!rules) return <p class="sub">Loading…</p>;
  if (!rules.length) return <p class="sub">No event rule is configured ([[events.rule]] in the configuration file, docs/events.md).</p>;
  return (
    <SettingsTable class="event-rules" columns={["Rule", "Triggers", "Filters", "Actions", "Test"]} intro={<>Rules come from the configuration file ([[events.rule]]). "Send test" sends a test message through the rule's email, syslog and webhook actions now and shows each outcome; commands, relays and the buzzer are not run by a test. Every test is recorded in
        the audit trail and the event log.</>}>
      {rules.map((r) => (
        <EventRuleRow key={r.name} rule={r} />
      ))}
    </SettingsTable>
  );
}

// One channel's name: edited in place, saved through the daemon (which checks it), or given back
// its configured name. The input keeps what the user types while the I/O list refreshes.
function ChannelNameRow({ c }) {
  const [text, setText] = useState(c.name);
  const [dirty, setDirty] = useState(false);
  const [note, setNote] = useState("");
  const [error, setError] = useState("");
  useEffect(() => {
    if (!dirty) setText(c.name);
  }, [c.name]);
  const save = async (name) => {
    setError("");
    setNote("");
    try {
      const r = await send("PUT", `/io/channels/${encodeURIComponent(c.id)}/name`, { name });
      setText(r.channel.name);
      setDirty(false);
      setNote("Saved.");
    } catch (e) {
      setError(e.message);
    }
  };
  const renamed = c.name !== c.configured_name;
  return (
    <tr data-io-channel={c.id}>
      <th scope="row">
        <code>{c.id}</code>
      </th>
      <td>{String(c.kind || "").replace(/_/g, " ")}</td>
      <td class="configured-name">{c.configured_name}</td>
      <td>
        <form
          class="inline-form"
          onSubmit={(ev) => {
            ev.preventDefault();
            save(text.trim());
          }}
        >
          <label>
            <span class="visually-hidden">Name of {c.id}</span>
            <input
              type="text"
              name="name"
              maxLength={64}
              value={text}
              onInput={(ev) => {
                setText(ev.currentTarget.value);
                setDirty(true);
              }}
            />
          </label>
          <button type="submit" disabled={!dirty || !text.trim()}>
            Save
          </button>
          {renamed ? (
            <button type="button" onClick={() => save("")}>
              Configured name
            </button>
          ) : null}
        </form>
        <span role="status" class="sub">
          {note}
        </span>
        {error ? (
          <span role="alert" class="error">
            {" "}
            {error}
          </span>
        ) : null}
      </td>
    </tr>
  );
}

function IoNamesSection() {
  const state = useIo();
  const list = channels(state.devices || []);
  if (state.error && !state.loaded) return <p class="error">{state.error}</p>;
  if (!state.loaded) return <p class="sub">Loading…</p>;
  if (!list.length) return <p class="sub">No I/O devices are configured.</p>;
  return (
    <SettingsTable class="io-names" columns={["Channel", "Kind", "Configured name", "Name"]} intro={<>The name the pages and the event log (input changes) show for a channel. A name given here is kept in the data directory (io_names.json, in backups) over the configuration file's; "Configured name" gives the file's back.</>}>
      {list.map((c) => (
        <ChannelNameRow key={c.id} c={c} />
      ))}
    </SettingsTable>
  );
}

const SOURCE_TEXT = { config: "configuration file", "changed here": "changed here", "command line": "command line" };

function ProtocolRow({ p, onChanged }) {
  const [text, setText] = useState(p.spec);
  const [dirty, setDirty] = useState(false);
  const [note, setNote] = useState("");
  const [error, setError] = useState("");
  useEffect(() => {
    if (!dirty) setText(p.pending_spec || p.spec);
  }, [p.spec, p.pending_spec]);
  const apply = async (method, body, confirmText) => {
    if (confirmText && !window.confirm(confirmText)) return;
    setError("");
    setNote("");
    try {
      const r = await send(method, `/system/protocols/${p.name}`, body);
      const q = r.protocol;
      setText(q.pending_spec || q.spec);
      setDirty(false);
      setNote(q.restart_needed ? "Stored: applies when equalisd starts again." : q.running ? "Serving." : "Off.");
      onChanged();
    } catch (e) {
      setError(e.message);
    }
  };
  const fixed = p.source === "command line";
  const state = !p.built ? "not built in" : p.running ? (p.condition ? "not serving" : "serving") : p.error ? "failed" : "off";
  return (
    <tr data-protocol={p.name}>
      <th scope="row">{p.label}</th>
      <td>
        <span class={`protocol-state protocol-${state.replace(/ /g, "-")}`}>{state}</span>
        {p.description ? <div class="sub protocol-description">{p.description}</div> : null}
        {p.error ? <div class="error protocol-error">{p.error}</div> : null}
        {p.condition ? <div class="error protocol-condition">{p.condition}</div> : null}
        {p.restart_needed ? (
          <div class="sub protocol-pending">
            Next start: <code>{p.pending_spec || "off"}</code>
          </div>
        ) : null}
      </td>
      <td class="protocol-source">
        {SOURCE_TEXT[p.source] || p.source}
        {p.source !== "command line" ? (
          <div class="sub">
            {p.config_key}: <code>{p.config_spec || "off"}</code>
          </div>
        ) : (
          <div class="sub">{p.flag} comes first</div>
        )}
      </td>
      <td>
        {fixed ? (
          <code>{p.spec}</code>
        ) : (
          <form
            class="inline-form"
            onSubmit={(ev) => {
              ev.preventDefault();
              apply("PUT", { spec: text.trim() }, text.trim() ? null : `Turn the ${p.label} off?`);
            }}
          >
            <label>
              <span class="visually-hidden">Spec of the {p.label}</span>
              <input
                type="text"
                name="spec"
                maxLength={1024}
                placeholder={p.form}
                spellcheck={false}
                autocomplete="off"
                value={text}
                onInput={(ev) => {
                  setText(ev.currentTarget.value);
                  setDirty(true);
                }}
              />
            </label>
            <button type="submit" disabled={!dirty || !p.built}>
              Apply
            </button>
            {p.spec || p.pending_spec ? (
              <button type="button" onClick={() => apply("PUT", { spec: "" }, `Turn the ${p.label} off?`)}>
                Turn off
              </button>
            ) : null}
            {p.source === "changed here" || p.restart_needed ? (
              <button type="button" onClick={() => apply("DELETE", undefined, null)}>
                Configuration file's
              </button>
            ) : null}
          </form>
        )}
        <span role="status" class="sub">
          {note}
        </span>
        <span role="alert" class="error">
          {error}
        </span>
      </td>
    </tr>
  );
}

function ProtocolsSection() {
  const [list, setList] = useState(null);
  const [error, setError] = useState("");
  const [n, reload] = useReload();
  useEffect(() => {
    getJson("/system/protocols")
      .then((r) => {
        setList(r.protocols);
        setError("");
      })
      .catch((e) => setError(e.message));
  }, [n]);
  // A connection comes and goes (an MQTT broker): read again every 5 s.
  useEffect(() => {
    const t = setInterval(reload, 5000);
    return () => clearInterval(t);
  }, []);
  if (error && !list) return <p class="error">{error}</p>;
  if (!list) return <p class="sub">Loading…</p>;
  return (
    <SettingsTable class="protocols" columns={["Adapter", "State", "From", "Spec"]} intro={<>The adapters that serve the plant's points to other systems. A spec given here applies at once (the adapter restarts; if the new spec does not start, the old one goes on) and is kept in the data directory (protocols.json, in backups) over the configuration file's. A command-line flag comes first. Secrets show as ******** and stay as they are unless typed over. The SNMP agent runs once per process: its changes apply at the next start. Other keys ([modbus] writes, [snmp] options) are in the configuration file.</>}>
      {list.map((p) => (
        <ProtocolRow key={p.name} p={p} onChanged={reload} />
      ))}
    </SettingsTable>
  );
}

function MaintenanceSection() {
  const [note, setNote] = useState("");
  const [error, setError] = useState("");
  const [file, setFile] = useState(null);
  const reloadConfig = async () => {
    setError("");
    setNote("");
    try {
      const r = await send("POST", "/system/reload", {});
      setNote(r.message || "Configuration reloaded.");
    } catch (e) {
      setError(e.message);
    }
  };
  const restore = async (ev) => {
    ev.preventDefault();
    if (!file) return;
    if (!window.confirm(`Restore ${file.name}? The present configuration and data files are replaced at the next restart.`)) return;
    setError("");
    setNote("");
    try {
      const r = await sendRaw("POST", "/system/restore", file, "application/gzip");
      setNote(r.message || "Restore staged: restart equalisd to apply it.");
    } catch (e) {
      setError(e.message);
    }
  };
  return (
    <>
      <p>
        <button type="button" onClick={reloadConfig}>
          Reload the configuration file
        </button>
      </p>
      <p>
        Backup: <a href="/api/v1/system/backup" download>configuration and data</a> · <a href="/api/v1/system/backup?history=1" download>with the history</a>
      </p>
      <form class="filters" onSubmit={restore}>
        <label>
          Restore a backup (.tar.gz) <input type="file" accept=".gz,.tgz,application/gzip" onChange={(e) => setFile(e.currentTarget.files[0] || null)} />
        </label>
        <button type="submit" disabled={!file}>
          Restore…
        </button>
      </form>
      <p role="status">{note}</p>
      <p role="alert" class="error">
        {error}
      </p>
    </>
  );
}

export default function Settings() {
  const s = useStore(session);
  if (!s.loaded) return <p class="placeholder">Loading…</p>;
  if (!isAdmin(s)) {
    return (
      <div class="page">
        <h1 class="page-title">Settings</h1>
        <p>Settings are for administrators: log in as an admin to change alarm rules, protocols, accounts, the certificate, or to back up and restore.</p>
      </div>
    );
  }
  return (
    <div class="page settings-page">
      <h1 class="page-title">Settings</h1>
      <section class="card" aria-labelledby="set-rules">
        <h2 id="set-rules">Alarm rules</h2>
        <RulesSection />
      </section>
      <section class="card" aria-labelledby="set-events">
        <h2 id="set-events">Event rules</h2>
        <EventRulesSection />
      </section>
      <section class="card" aria-labelledby="set-io">
        <h2 id="set-io">I/O names</h2>
        <IoNamesSection />
      </section>
      <section class="card" aria-labelledby="set-protocols">
        <h2 id="set-protocols">Protocols</h2>
        <ProtocolsSection />
      </section>
      <section class="card" aria-labelledby="set-users">
        <h2 id="set-users">Accounts and tokens</h2>
        <UsersSection />
      </section>
      <section class="card" aria-labelledby="set-cert">
        <h2 id="set-cert">HTTPS certificate</h2>
        <CertificateSection />
      </section>
      <section class="card" aria-labelledby="set-maint">
        <h2 id="set-maint">Configuration, backup and restore</h2>
        <MaintenanceSection />
      </section>
    </div>
  );
}
