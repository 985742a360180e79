// The daemon's REST API (docs/api.md). Reads are plain GETs; every change is a JSON request that
// carries the session's CSRF token (a page of another origin can send neither).
import { session } from "./session.js";

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function errorOf(r, path) {
  let message = `${path}: HTTP ${r.status}`;
  try {
    const b = await r.json();
    if (b && b.error && b.error.message) message = b.error.message;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(r.status, message);
}

export async function getJson(path, { signal } = {}) {
  const r = await fetch(API + path, {
    cache: "no-store",
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    signal,
  });
  if (!r.ok) throw await errorOf(r, path);
  return r.json();
}

// A change (POST, PUT, DELETE) with a JSON body; resolves with the parsed answer.
export async function send(method, path, body) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  const csrf = session.get().csrf;
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const r = await fetch(API + path, {
    method,
    cache: "no-store",
    credentials: "same-origin",
    headers,
    body: body === undefined ? "{}" : JSON.stringify(body),
  });
  if (!r.ok) throw await errorOf(r, path);
  const text = await r.text();
  return text ? JSON.parse(text) : {};
}

// A change whose body is not JSON (a backup archive: application/gzip).
export async function sendRaw(method, path, body, contentType) {
  const headers = { Accept: "application/json", "Content-Type": contentType };
  const csrf = session.get().csrf;
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const r = await fetch(API + path, { method, cache: "no-store", credentials: "same-origin", headers, body });
  if (!r.ok) throw await errorOf(r, path);
  const text = await r.text();
  return text ? JSON.parse(text) : {};
}

// A query string from an object; null, undefined and "" members are left out.
export function query(params) {
  const q = new URLSearchParams();
  Object.entries(params).forEach(([k, v]) => {
    if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  });
  const s = q.toString();
  return s ? "?" + s : "";
}
