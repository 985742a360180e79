// The shell: header (site, connection, server time, account, theme), the navigation, a notice
// when the data is old, and the page of the current path. Pages are loaded when first opened.
import { lazy, Suspense } from "preact/compat";
import { live, site } from "../lib/live.js";
import { match, route } from "../lib/router.js";
import { useStore } from "../lib/store.js";
import { Header } from "./Header.jsx";

const Overview = lazy(() => import("../pages/Overview.jsx"));
const Battery = lazy(() => import("../pages/Battery.jsx"));
const Block = lazy(() => import("../pages/Block.jsx"));
const Pattern = lazy(() => import("../pages/Pattern.jsx"));
const Discharges = lazy(() => import("../pages/Discharges.jsx"));
const Alarms = lazy(() => import("../pages/Alarms.jsx"));
const Events = lazy(() => import("../pages/Events.jsx"));
const Environment = lazy(() => import("../pages/Environment.jsx"));
const Ups = lazy(() => import("../pages/Ups.jsx"));
const Settings = lazy(() => import("../pages/Settings.jsx"));
const NotFound = lazy(() => import("../pages/NotFound.jsx"));

// [path pattern, component, navigation label (null: not in the navigation)]
const ROUTES = [
  ["/", Overview, "Overview"],
  ["/battery", Battery, "Battery"],
  ["/battery/:s", Battery, null],
  ["/strings/:s/blocks/:b", Block, null],
  ["/strings/:s/pattern", Pattern, null],
  ["/pattern", Pattern, "Voltage pattern"],
  ["/discharges", Discharges, "Discharges"],
  ["/discharges/:s/:id", Discharges, null],
  ["/alarms", Alarms, "Alarms"],
  ["/events", Events, "Event log"],
  ["/ups", Ups, "UPS & charger"],
  ["/environment", Environment, "Room & I/O"],
  ["/settings", Settings, "Settings"],
];

function findRoute(path) {
  for (const [pattern, Page] of ROUTES) {
    const params = match(pattern, path === "" ? "/" : path);
    if (params) return { pattern, Page, params };
  }
  return { pattern: null, Page: NotFound, params: {} };
}

function Nav({ current }) {
  const { doc } = useStore(live);
  const alarmCount = doc && doc.system && doc.system.alarm_count ? doc.system.alarm_count.value : 0;
  const warnCount = doc && doc.system && doc.system.warning_count ? doc.system.warning_count.value : 0;
  const section = "/" + (current.split("/")[1] || "");
  return (
    <nav class="nav" aria-label="Pages">
      <ul>
        {ROUTES.filter((r) => r[2]).map(([pattern, , label]) => {
          const active = pattern === "/" ? current === "/" : section === pattern || (pattern === "/battery" && section === "/strings" && !current.endsWith("/pattern")) || (pattern === "/pattern" && current.endsWith("/pattern"));
          return (
            <li key={pattern}>
              <a href={pattern} aria-current={active ? "page" : undefined}>
                {label}
                {pattern === "/alarms" && alarmCount + warnCount > 0 ? (
                  <span class={`nav-count ${alarmCount ? "lvl-alarm" : "lvl-warning"}`} aria-label={`, ${alarmCount} alarms, ${warnCount} warnings`}>
                    {alarmCount + warnCount}
                  </span>
                ) : null}
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

export function App() {
  const r = useStore(route);
  const l = useStore(live);
  useStore(site);
  const { Page, params } = findRoute(r.path);
  return (
    <div class={`shell ${l.dataOld ? "data-old" : ""}`}>
      <a class="skip-link" href="#main">Skip to content</a>
      <Header />
      <Nav current={r.path} />
      <main id="main" tabIndex={-1}>
        {l.dataOld ? (
          <p class="notice" role="status">
            {l.connNote} — the values shown are out of date.
          </p>
        ) : null}
        {!l.doc && l.conn !== "live" && l.connNote.startsWith("Cannot") ? (
          <p class="notice" role="status">
            {l.connNote}
          </p>
        ) : null}
        <Suspense fallback={<p class="placeholder">Loading…</p>}>
          <Page params={params} search={r.search} />
        </Suspense>
      </main>
      <footer class="footer">
        <span>Equalis {site.get() ? site.get().version : ""}</span>
        <span>
          <a href="/api/v1/status">REST API</a> · <a href="/metrics">Metrics</a>
        </span>
      </footer>
    </div>
  );
}
