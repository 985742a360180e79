// Browser tests of the web application (web/) against a real equalisd: the harness.
//
// startDaemon() runs equalisd (EQUALIS_BIN_DIR, default build/bin) on a free loopback port with a
// temporary data directory, an admin API token (equalisctl token create) and any accounts a test
// asks for (equalisctl user add), optionally a scenario or a configuration, and waits for
// /readyz. launchBrowser() starts Debian's Chromium (/usr/bin/chromium or EQUALIS_CHROMIUM)
// through playwright-core from web/node_modules. Every daemon, simulator and temporary
// directory is removed when the test process ends, also after a failure or a signal.
//
// Helpers: Sampler (the REST API sampled in the background while the page is read: the
// simulated plant drifts), numeric comparisons within display rounding, axe-core, page logins.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = path.resolve(here, "../..");
const webRequire = createRequire(path.join(SOURCE_DIR, "web", "package.json"));
const { chromium } = webRequire("playwright-core");
const AXE_SOURCE = readFileSync(webRequire.resolve("axe-core/axe.min.js"), "utf8");

export const BIN_DIR = path.resolve(process.env.EQUALIS_BIN_DIR || path.join(SOURCE_DIR, "build", "bin"));
export const CHROMIUM = process.env.EQUALIS_CHROMIUM || "/usr/bin/chromium";
export const NO_VALUE = "—";

export function binary(name) {
  const p = path.join(BIN_DIR, name);
  if (!existsSync(p)) throw new Error(`${p} not built`);
  return p;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function log(...args) {
  console.log(`[${path.basename(process.argv[1] || "web")}]`, ...args);
}

// ------------------------------------------------------------------------------ clean-up

const children = new Set(); // live child processes (equalisd, equalis-sim)
const tempDirs = new Set();

function cleanupNow() {
  for (const p of children) {
    try {
      p.kill("SIGKILL");
    } catch {
      /* gone */
    }
  }
  children.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

process.on("exit", cleanupNow);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    cleanupNow();
    process.exit(128 + (os.constants.signals[sig] || 1));
  });
}

export function tempDir(prefix = "equalis-web-") {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

export function removeTempDir(d) {
  rmSync(d, { recursive: true, force: true });
  tempDirs.delete(d);
}

// Waits until predicate() returns something truthy; throws after timeoutMs with the last value.
// A scenario in which string 2's module 5 stops answering at once (block.comm_lost/2/5).
export const COMM_LOSS_SCENARIO = `name = "web-comm-loss"
description = "String 2 module 5 stops answering at once"
[[event]]
at = "0s"
action = "fault"
string = 2
block = 5
kind = "module_comm_loss"
`;

export async function waitFor(predicate, what, timeoutMs = 30000, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await predicate();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 300)})`);
}

function ctl(args, input) {
  const r = spawnSync(binary("equalisctl"), args, { input, encoding: "utf8", timeout: 60000 });
  if (r.status !== 0) throw new Error(`equalisctl ${args.join(" ")}: ${r.stderr || r.error}`);
  return r.stdout;
}

// ------------------------------------------------------------------------------ equalisd

export class Daemon {
  constructor(proc, url, dataDir, token, lines) {
    this.proc = proc;
    this.url = url;
    this.dataDir = dataDir;
    this.token = token;
    this.lines = lines; // its output, for a failure report
  }

  // GET → parsed JSON (with the admin token unless auth is false); throws on a non-200.
  async getJson(p, { auth = true, timeoutMs = 10000 } = {}) {
    const r = await fetch(this.url + p, {
      headers: auth ? { Authorization: `Bearer ${this.token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (r.status !== 200) throw new Error(`GET ${p} → ${r.status}: ${(await r.text()).slice(0, 300)}`);
    return r.json();
  }

  async get(p, { auth = false } = {}) {
    const r = await fetch(this.url + p, { headers: auth ? { Authorization: `Bearer ${this.token}` } : {}, signal: AbortSignal.timeout(10000) });
    return { status: r.status, type: r.headers.get("content-type") || "", body: Buffer.from(await r.arrayBuffer()) };
  }

  async request(method, p, body) {
    const r = await fetch(this.url + p, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }

  output() {
    return this.lines.slice(-40).join("\n");
  }

  signal(sig) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(sig);
  }

  async stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGCONT"); // in case a test paused it
      this.proc.kill("SIGTERM");
      const t = setTimeout(() => this.proc.kill("SIGKILL"), 15000).unref();
      await exited;
      clearTimeout(t);
    }
    children.delete(this.proc);
    removeTempDir(this.dataDir);
  }
}

// Starts equalisd. options: timeScale (60), scenario (a built-in name, a file, or TOML text
// with a `name =` line), config (a file), users ([{name, role, password}]), args (more
// arguments), env. Returns a Daemon once /readyz answers 200.
export async function startDaemon({ timeScale = 60, scenario = null, config = null, users = [], args = [], timeoutMs = 30000 } = {}) {
  const dataDir = tempDir("equalis-web-data-");
  const token = (ctl(["token", "create", "web-tests", "--role", "admin", "--data-dir", dataDir]).match(/eqt_\S+/) || [])[0];
  if (!token) throw new Error("equalisctl token create printed no token");
  for (const u of users) ctl(["user", "add", u.name, "--role", u.role, "--data-dir", dataDir], `${u.password}\n`);
  const argv = ["--http", "127.0.0.1:0", "--data-dir", dataDir, "--time-scale", String(timeScale), "--log-level", "warn"];
  if (scenario) {
    let s = scenario;
    if (scenario.includes("\n")) {
      s = path.join(dataDir, "scenario.toml");
      writeFileSync(s, scenario);
    }
    argv.push("--scenario", s);
  }
  if (config) argv.push("--config", config);
  argv.push(...args);
  const proc = spawn(binary("equalisd"), argv, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(proc);
  const lines = [];
  let url = null;
  const gotUrl = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        if (lines.length > 2000) lines.shift();
        lines.push(line);
        const m = !url && line.match(/(https?:\/\/[0-9.]+:\d+)\//);
        if (m) {
          url = m[1];
          resolve(url);
        }
      }
    };
    proc.stdout.on("data", onData);
    proc.stderr.on("data", onData);
    proc.once("exit", (code, sig) => reject(new Error(`equalisd exited (${code ?? sig}) before printing its URL:\n${lines.slice(-30).join("\n")}`)));
    setTimeout(() => reject(new Error(`equalisd printed no URL within ${timeoutMs / 1000} s:\n${lines.join("\n")}`)), timeoutMs).unref();
  });
  try {
    await gotUrl;
    const d = new Daemon(proc, url, dataDir, token, lines);
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`equalisd exited: ${d.output()}`);
      const r = await fetch(url + "/readyz", { signal: AbortSignal.timeout(2000) });
      return r.status === 200;
    }, "equalisd /readyz", timeoutMs);
    return d;
  } catch (e) {
    proc.kill("SIGKILL");
    children.delete(proc);
    removeTempDir(dataDir);
    throw e;
  }
}

// equalis-sim serving a module-bus line on a pty, linked at `link` (as a USB adapter's
// /dev/serial/by-id path would be). Resolves once it printed its line.
export async function startSim({ config, link, timeScale, faults = [] }) {
  const argv = ["--config", config, "--time-scale", String(timeScale), "--link", link];
  faults.forEach((f) => argv.push("--fault", f));
  const proc = spawn(binary("equalis-sim"), argv, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(proc);
  let err = "";
  proc.stderr.on("data", (c) => {
    err = (err + c.toString()).slice(-4000);
  });
  await new Promise((resolve, reject) => {
    let out = "";
    proc.stdout.on("data", (c) => {
      out += c.toString();
      if (/equalis-sim: line 1 on (\S+)/.test(out)) resolve();
    });
    proc.once("exit", (code) => reject(new Error(`equalis-sim exited (${code}): ${out} ${err}`)));
    setTimeout(() => reject(new Error(`equalis-sim printed no line: ${out} ${err}`)), 20000).unref();
  });
  return {
    proc,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGKILL");
        await exited;
      }
      children.delete(proc);
    },
  };
}

// ------------------------------------------------------------------------------ Chromium

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
}

// A new browser context and page on the daemon. options: theme ("light" / "dark": stored
// before the page loads, as the theme switch would), viewport, colorScheme. page.problems
// collects uncaught exceptions and console errors.
export async function openPage(browser, daemon, { theme = null, viewport = { width: 1280, height: 900 }, colorScheme = "light", isMobile = false } = {}) {
  const context = await browser.newContext({ baseURL: daemon.url, viewport, colorScheme, isMobile, hasTouch: isMobile, deviceScaleFactor: isMobile ? 2 : 1 });
  if (theme) {
    await context.addInitScript((t) => {
      try {
        localStorage.setItem("equalis.theme", t);
      } catch {
        /* no storage */
      }
    }, theme);
  }
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (e) => page.problems.push(`uncaught exception: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push(`console.error: ${m.text()}`);
  });
  page.setDefaultTimeout(20000);
  return page;
}

// Waits until the page shows live data: the connection indicator says "live" and the header
// shows the time of the data.
export async function waitLive(page, timeoutMs = 20000) {
  await page.waitForSelector('.conn[data-state="live"]', { timeout: timeoutMs });
  await page.waitForSelector(".server-time time[datetime]", { timeout: timeoutMs });
}

// Opens a page of the application: a full load the first time, then as a click on one of its
// links would (the application changes the page without reloading). Resolves once the page
// has its heading and no "Loading…" placeholder.
export async function navigate(page, path) {
  const loaded = await page.evaluate(() => !!document.querySelector(".shell")).catch(() => false);
  if (!loaded) {
    await page.goto(path);
  } else {
    await page.evaluate((p) => {
      history.pushState(null, "", p);
      dispatchEvent(new PopStateEvent("popstate"));
    }, path);
  }
  await page.waitForFunction((p) => location.pathname + location.search === p && document.querySelector("main h1") && !document.querySelector("main > .placeholder"), path);
}

// The time of the data shown (ms), from the header.
export async function shownDataTime(page) {
  const iso = await page.getAttribute(".server-time time[datetime]", "datetime").catch(() => null);
  return iso ? Date.parse(iso) : null;
}

// Waits until the page shows data newer than it shows now (a further live update).
export async function waitForUpdate(page, timeoutMs = 15000) {
  const first = await shownDataTime(page);
  await waitFor(async () => {
    const t = await shownDataTime(page);
    return t !== null && t !== first;
  }, "a newer update on the page", timeoutMs, 100);
}

// Logs in with the page's own form (top bar); resolves when the page names the user.
export async function pageLogin(page, user, password) {
  const form = page.locator("#login-form");
  if (!(await form.isVisible().catch(() => false))) await page.getByRole("button", { name: "Log in" }).first().click();
  await form.locator('input[name="user"]').fill(user);
  await form.locator('input[name="password"]').fill(password);
  await form.locator('button[type="submit"]').click();
  await page.waitForFunction((u) => (document.querySelector(".account-name")?.textContent || "").startsWith(u), user, { timeout: 15000 });
}

// axe-core on the page as it is: {violations (serious or critical), minor (the others)}.
// Evaluated over the DevTools protocol: the page's CSP allows no injected script tag.
export async function runAxe(page) {
  await page.evaluate(AXE_SOURCE);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const fmt = (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.length} node(s), e.g. ${v.nodes
    .slice(0, 3)
    .map((n) => n.target.join(" ") + (n.failureSummary ? ` [${n.failureSummary.replace(/\s+/g, " ").slice(0, 160)}]` : ""))
    .join("; ")}`;
  return {
    violations: r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map(fmt),
    minor: r.violations.filter((v) => v.impact !== "serious" && v.impact !== "critical").map(fmt),
  };
}

// ------------------------------------------------------------------------------ the API, sampled

// Samples GET /api/v1/status (and optionally more paths) in the background while the page is
// read: the simulated plant drifts, so a displayed value is checked against the range the API
// had around the time it was read.
// Reads a page with read(page) while the API is sampled around it (the plant drifts while the
// page is read): {shown, docs} with the /api/v1/status documents sampled.
export async function readWhileSampling(daemon, page, read, { beforeMs = 1500, afterMs = 1000 } = {}) {
  const sampler = new Sampler(daemon).start();
  await sleep(beforeMs);
  const shown = await read(page);
  await sleep(afterMs);
  await sampler.stop();
  return { shown, docs: sampler.status() };
}

export class Sampler {
  constructor(daemon, { paths = ["/api/v1/status"], intervalMs = 250 } = {}) {
    this.daemon = daemon;
    this.paths = paths;
    this.intervalMs = intervalMs;
    this.samples = []; // {t, "/api/v1/status": {...}, ...}
    this.errors = [];
    this.running = false;
  }

  async sampleOnce() {
    const s = { t: Date.now() };
    for (const p of this.paths) s[p] = await this.daemon.getJson(p);
    this.samples.push(s);
  }

  start() {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          await this.sampleOnce();
        } catch (e) {
          this.errors.push(e.message);
        }
        await sleep(this.intervalMs);
      }
    })();
    return this;
  }

  async stop() {
    this.running = false;
    await this.loop;
    await this.sampleOnce(); // one more after the page was read
    assert.ok(this.samples.length > 0, `no API samples: ${this.errors.slice(0, 3).join("; ")}`);
    return this;
  }

  // Samples taken since time t (ms since the epoch, wall clock), at least the last one.
  since(t) {
    const s = this.samples.filter((x) => x.t >= t);
    return s.length ? s : this.samples.slice(-1);
  }

  status(list = this.samples) {
    return list.map((s) => s["/api/v1/status"]);
  }
}

// The block record of string s, block b in a /api/v1/status document.
export function apiBlock(doc, s, b) {
  const st = doc.strings.find((x) => x.string === s);
  return st ? st.blocks.find((x) => x.block === b) : undefined;
}

export function apiString(doc, s) {
  return doc.strings.find((x) => x.string === s);
}

// The catalogue (GET /api/v1/points): "scope.field" → {unit, decimals, …}.
export async function catalogue(daemon) {
  const r = await daemon.getJson("/api/v1/points");
  const m = new Map();
  (r.points || []).forEach((p) => m.set(`${p.scope}.${p.field}`, p));
  return m;
}

const NUMBER = /^[+\-−]?\d+(\.\d+)?$/;

// A displayed number (optionally followed by a unit and a quality mark "*") → {value, decimals},
// {value: null} for the null dash; throws on anything else.
export function parseShown(text, unit = "") {
  let t = text.replace(/\u00a0/g, " ").trim();
  if (t.endsWith("*")) t = t.slice(0, -1).trim();
  if (t === NO_VALUE) return { value: null, decimals: null };
  if (unit && t.endsWith(unit)) t = t.slice(0, -unit.length).trim();
  if (!NUMBER.test(t)) throw new Error(`not a number: ${JSON.stringify(text)}`);
  const dot = t.indexOf(".");
  return { value: Number(t.replace("−", "-")), decimals: dot < 0 ? 0 : t.length - dot - 1 };
}

// Checks a displayed value against the value objects the API had (vos); pushes differences to
// errors. decimals: what the catalogue says; tol: drift allowed beyond the sampled range.
export function checkShown(errors, where, text, vos, { decimals, tol = 0, unit = "" }) {
  let shown;
  try {
    shown = parseShown(text, unit);
  } catch (e) {
    errors.push(`${where}: ${e.message}`);
    return;
  }
  const values = vos.map((vo) => (vo && typeof vo === "object" ? vo.value : undefined));
  const numbers = values.filter((v) => typeof v === "number");
  if (shown.value === null) {
    if (!values.some((v) => v === null || v === undefined)) errors.push(`${where}: shows ${NO_VALUE} but the API had ${range(numbers)}`);
    return;
  }
  if (decimals !== undefined && decimals !== null && shown.decimals !== decimals) {
    errors.push(`${where}: ${JSON.stringify(text)} has ${shown.decimals} decimals, the catalogue says ${decimals}`);
  }
  if (!numbers.length) {
    errors.push(`${where}: shows ${text} but the API had no value in any sample`);
    return;
  }
  const slack = 0.5 * 10 ** -(decimals ?? shown.decimals) + tol + 1e-9;
  const lo = Math.min(...numbers);
  const hi = Math.max(...numbers);
  if (shown.value < lo - slack || shown.value > hi + slack) {
    errors.push(`${where}: shows ${text}, the API had ${range(numbers)} (allowed ±${+slack.toFixed(4)})`);
  }
}

export function range(numbers) {
  if (!numbers.length) return "no value";
  const lo = Math.min(...numbers);
  const hi = Math.max(...numbers);
  return lo === hi ? String(lo) : `${lo} … ${hi}`;
}

export function report(errors, max = 60) {
  if (!errors.length) return "";
  return `${errors.length} difference(s):\n  ${errors.slice(0, max).join("\n  ")}${errors.length > max ? `\n  … and ${errors.length - max} more` : ""}`;
}

export function assertNoErrors(errors, what = "") {
  assert.ok(errors.length === 0, `${what}${what ? ": " : ""}${report(errors)}`);
}
