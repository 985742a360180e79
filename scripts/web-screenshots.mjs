// Screenshots of every page of the web application for docs/web.md, from a running equalisd:
//   node scripts/web-screenshots.mjs http://127.0.0.1:8080 docs/images [TOKEN]
// TOKEN (an admin API token) lets the settings page be shown; the pages are taken in the light
// theme at 1280 px, the overview also dark and at phone width. Uses Debian's chromium.
// ONLY="environment block" takes only the screenshots named.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "../web/node_modules/playwright-core/index.mjs";

const [base = "http://127.0.0.1:8080", out = "docs/images", token = ""] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.EQUALIS_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

const only = (process.env.ONLY || "").split(/\s+/).filter(Boolean);

async function shot(name, path, { width = 1280, height = 860, theme = "light", full = false, admin = false } = {}) {
  if (only.length && !only.includes(name)) return;
  const ctx = await browser.newContext({
    viewport: { width, height },
    colorScheme: theme,
    extraHTTPHeaders: admin && token ? { Authorization: `Bearer ${token}` } : {},
  });
  await ctx.addInitScript((t) => localStorage.setItem("equalis.theme", t), theme);
  const page = await ctx.newPage();
  await page.goto(base + path);
  await page.waitForTimeout(3500);
  const file = join(out, `web-${name}.png`);
  await page.screenshot({ path: file, fullPage: full });
  console.log(file);
  await ctx.close();
}

// The first block of the first string that is not ok, for the block page; block 1 otherwise.
const status = await (await fetch(`${base}/api/v1/status`)).json();
let worst = { s: 1, b: 1 };
for (const s of status.strings) {
  const b = s.blocks.find((x) => x.status && x.status.value !== "ok");
  if (b) {
    worst = { s: s.string, b: b.block };
    break;
  }
}
let discharge = null;
for (const s of status.strings) {
  const r = await (await fetch(`${base}/api/v1/strings/${s.string}/discharges?from=0`)).json();
  if (r.discharges && r.discharges.length) {
    discharge = `/discharges/${s.string}/${r.discharges[0].id}`;
    break;
  }
}

await shot("overview", "/");
await shot("overview-dark", "/", { theme: "dark" });
await shot("overview-phone", "/", { width: 390, height: 844 });
await shot("battery", "/battery/1");
await shot("block", `/strings/${worst.s}/blocks/${worst.b}?range=1d`, { full: true, height: 900 });
await shot("pattern", `/strings/1/pattern?range=1d&block=${worst.s === 1 ? worst.b : 1}`);
await shot("discharges", "/discharges");
if (discharge) await shot("discharge", discharge, { full: true });
await shot("alarms", "/alarms");
await shot("events", "/events");
await shot("ups", "/ups");
await shot("environment", "/environment?range=1d", { full: true });
if (token) await shot("settings", "/settings", { admin: true });
await browser.close();
