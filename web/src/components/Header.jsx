// Site name, connection state, the time of the data shown, the simulator badge, the account
// (log in / out) and the theme switch.
import { useRef, useState } from "preact/hooks";
import { live, site } from "../lib/live.js";
import { login, logout, session } from "../lib/session.js";
import { useStore } from "../lib/store.js";
import { setTheme, theme } from "../lib/theme.js";
import { Time } from "./Time.jsx";

const CONN_TEXT = { connecting: "connecting", live: "live", polling: "polling", reconnecting: "reconnecting" };

function Account() {
  const s = useStore(session);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  const user = useRef(null);
  const password = useRef(null);
  if (!s.loaded) return <span class="account" />;
  if (s.user) {
    return (
      <span class="account">
        <span class="account-name">
          {s.user} <span class="account-role">({s.role})</span>
        </span>
        <button type="button" class="button-quiet" onClick={() => logout()}>
          Log out
        </button>
      </span>
    );
  }
  const submit = async (ev) => {
    ev.preventDefault();
    setError("");
    try {
      await login(user.current.value, password.current.value);
      setOpen(false);
    } catch (e) {
      setError(e.message);
      password.current.value = "";
    }
  };
  return (
    <span class="account">
      <span class="account-name">not logged in</span>
      <button
        type="button"
        class="button-quiet"
        aria-expanded={open ? "true" : "false"}
        aria-controls="login-form"
        onClick={() => {
          setOpen(!open);
          setTimeout(() => user.current && user.current.focus(), 0);
        }}
      >
        Log in
      </button>
      {open ? (
        <form id="login-form" class="login-form" onSubmit={submit}>
          <label>
            User <input ref={user} name="user" autocomplete="username" required />
          </label>
          <label>
            Password <input ref={password} name="password" type="password" autocomplete="current-password" required />
          </label>
          <button type="submit">Log in</button>
          <span class="login-error" role="alert">
            {error}
          </span>
        </form>
      ) : null}
    </span>
  );
}

export function Header() {
  const l = useStore(live);
  const sys = useStore(site);
  const t = useStore(theme);
  const scale = sys && typeof sys.time_scale === "number" ? sys.time_scale : 1;
  return (
    <header class="topbar">
      <div class="brand">
        <a href="/" class="brand-link">
          <span class="brand-mark" aria-hidden="true" />
          <span class="brand-name">{sys && sys.site && sys.site.name ? sys.site.name : "Equalis"}</span>
        </a>
        {sys && sys.site && sys.site.location ? <span class="site-location">{sys.site.location}</span> : null}
      </div>
      <div class="topbar-status">
        <span class="conn" data-state={l.conn} role="status" aria-live="polite">
          <span class="conn-dot" aria-hidden="true" />
          <span class="conn-text">{CONN_TEXT[l.conn] || l.conn}</span>
          <span class="visually-hidden">: {l.connNote}</span>
        </span>
        <span class="server-time">
          <span class="label">Data of</span> {l.doc ? <Time t={l.doc.time_ms} /> : "—"}
        </span>
        {sys && sys.simulated ? (
          <span class="sim-badge" title="Values come from the built-in simulator">
            simulated{scale !== 1 ? ` ×${scale}` : ""}
          </span>
        ) : null}
        <Account />
        <button
          type="button"
          class="button-quiet theme-switch"
          aria-pressed={t === "dark" ? "true" : "false"}
          onClick={() => setTheme(t === "dark" ? "light" : "dark")}
        >
          Dark mode
        </button>
      </div>
    </header>
  );
}
