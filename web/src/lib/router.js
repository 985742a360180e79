// Pages have real paths (/battery, /strings/1/blocks/7, …); equalisd answers every such path
// with the application, which shows the page. Links are plain <a href> elements: a click on one
// of ours changes the page without reloading; the back button works.
import { createStore } from "./store.js";

function current() {
  return { path: location.pathname, search: new URLSearchParams(location.search) };
}

export const route = createStore(current());

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  route.set(current());
  if (!replace) window.scrollTo(0, 0);
}

// Replaces the query string of the current page (filters, ranges) without a new history entry.
export function setQuery(params) {
  const q = new URLSearchParams();
  Object.entries(params).forEach(([k, v]) => {
    if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  });
  const s = q.toString();
  navigate(location.pathname + (s ? "?" + s : ""), { replace: true });
}

export function startRouter() {
  window.addEventListener("popstate", () => route.set(current()));
  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) {
      return;
    }
    const a = ev.target.closest && ev.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname === "/metrics") {
      return;
    }
    ev.preventDefault();
    navigate(url.pathname + url.search);
  });
}

// Matches "/strings/:s/blocks/:b" against a path; returns the parameters or null.
export function match(pattern, path) {
  const norm = (x) => x.replace(/\/+$/, "") || "/";
  const p = norm(pattern).split("/");
  const a = norm(path).split("/");
  if (p.length !== a.length) return null;
  const params = {};
  for (let i = 0; i < p.length; i += 1) {
    if (p[i].startsWith(":")) params[p[i].slice(1)] = decodeURIComponent(a[i]);
    else if (p[i] !== a[i]) return null;
  }
  return params;
}
