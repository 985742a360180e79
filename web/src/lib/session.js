// Who is logged in (GET /api/v1/session). Viewers see; operators acknowledge alarms and switch
// outputs; admins change settings. The page shows write controls only to whom may use them —
// the daemon checks every request anyway.
import { createStore } from "./store.js";

export const session = createStore({ loaded: false, user: null, role: null, csrf: null });

const RANK = { viewer: 1, operator: 2, admin: 3 };

export function mayOperate(s = session.get()) {
  return (RANK[s.role] || 0) >= RANK.operator;
}

export function isAdmin(s = session.get()) {
  return (RANK[s.role] || 0) >= RANK.admin;
}

function apply(s) {
  session.set({
    loaded: true,
    user: s && s.authenticated ? s.user : null,
    role: s && s.authenticated ? s.role : null,
    csrf: s && s.csrf_token ? s.csrf_token : null,
  });
}

export async function loadSession() {
  try {
    const r = await fetch("/api/v1/session", {
      cache: "no-store",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    apply(r.ok ? await r.json() : null);
  } catch {
    apply(null);
  }
}

async function sessionRequest(method, body) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  const csrf = session.get().csrf;
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const r = await fetch("/api/v1/session", {
    method,
    cache: "no-store",
    credentials: "same-origin",
    headers,
    body: JSON.stringify(body || {}),
  });
  let b = {};
  try {
    b = await r.json();
  } catch {
    /* empty answer */
  }
  if (!r.ok) throw new Error(b && b.error && b.error.message ? b.error.message : `HTTP ${r.status}`);
  return b;
}

export async function login(user, password) {
  apply(await sessionRequest("POST", { user, password }));
}

export async function logout() {
  try {
    await sessionRequest("DELETE");
  } finally {
    apply(null);
  }
}
