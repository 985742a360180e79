// Equalis web application: entry point. Starts the live state, the alarm poll, the session and
// the router, then renders the shell (components/App.jsx), which shows the page of the path.
import { render } from "preact";
import "./style.css";
import { App } from "./components/App.jsx";
import { startAlarms } from "./lib/alarms.js";
import { startLive } from "./lib/live.js";
import { loadPoints } from "./lib/points.js";
import { startRouter } from "./lib/router.js";
import { loadSession } from "./lib/session.js";

startRouter();
loadSession();
loadPoints();
startLive();
startAlarms();
render(<App />, document.getElementById("app"));
