// The event log page (/events) value by value against GET /api/v1/events: the battery-room
// scenario at 600× fills the log (an alarm flood, mode changes, actions); the page is opened on a
// fixed time range, so the test's own API calls ask for exactly what the page shows. Each row
// (time to the millisecond, kind, level, where, message) is the API's event at the same place,
// newest first; the summary's total is the API's; "Older →" shows the API's second page; the
// kind filter and the text search show the API's selection; the CSV link asks for the same.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { assertNoErrors, launchBrowser, log, openPage, sleep, startDaemon, waitFor, waitLive } from "./harness.mjs";

const PAGE = 100;

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon({ timeScale: 600, scenario: "battery-room" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// The rows of the page as shown.
function readRows(page) {
  return page.locator("table.events-table tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({
      time: tr.querySelector(".ev-time time")?.getAttribute("datetime") ?? null,
      kind: tr.dataset.kind,
      level: tr.dataset.level,
      kindText: tr.querySelector(".ev-kind")?.textContent.trim(),
      where: tr.querySelector(".ev-where")?.textContent.trim(),
      whereLink: tr.querySelector(".ev-where a")?.getAttribute("href") ?? null,
      message: tr.querySelector(".ev-message")?.textContent,
    })),
  );
}

// The API's page as the page must show it: the API pages from the newest match and lists a
// page in time order (docs/api.md); the page shows it newest first.
async function apiPage(params) {
  const q = new URLSearchParams({ ...params, limit: String(PAGE) });
  const r = await daemon.getJson(`/api/v1/events?${q}`);
  return { ...r, events: r.events.slice().reverse() };
}

function compare(errors, where, rows, api) {
  if (rows.length !== api.events.length) errors.push(`${where}: ${rows.length} rows, the API has ${api.events.length}`);
  const n = Math.min(rows.length, api.events.length);
  for (let i = 0; i < n; i += 1) {
    const r = rows[i];
    const e = api.events[i];
    const at = `${where} row ${i + 1}`;
    if (r.time !== new Date(e.time_ms).toISOString()) errors.push(`${at}: time ${r.time}, API ${new Date(e.time_ms).toISOString()}`);
    if (r.kind !== e.kind) errors.push(`${at}: kind ${r.kind}, API ${e.kind}`);
    if (r.kindText !== e.kind.replace(/_/g, " ")) errors.push(`${at}: kind shown ${JSON.stringify(r.kindText)}`);
    if (r.level !== (e.level || "")) errors.push(`${at}: level ${JSON.stringify(r.level)}, API ${JSON.stringify(e.level)}`);
    if (r.message !== e.message) errors.push(`${at}: message ${JSON.stringify(r.message)}, API ${JSON.stringify(e.message)}`);
    if (e.string && e.block && r.whereLink !== `/strings/${e.string}/blocks/${e.block}`) errors.push(`${at}: where links ${r.whereLink}, the event is about string ${e.string} block ${e.block}`);
  }
}

async function waitRows(page, want) {
  await page.waitForFunction((n) => document.querySelectorAll("table.events-table tbody tr").length === n && !document.body.textContent.includes("(updating…)"), want, { timeout: 15000 });
}

test("the event log shows the API's events, pages, filters and search", { timeout: 150000 }, async () => {
  // Enough events for two pages, then a range that ends in the past: fixed from here on.
  await waitFor(async () => (await daemon.getJson("/api/v1/events?limit=1")).total > PAGE + 20, `more than ${PAGE + 20} events`, 60000);
  const plantNow = (await daemon.getJson("/api/v1/status")).time_ms;
  const range = { from: "1", to: String(plantNow - 1000) }; // from 0 would read as "no range"
  await sleep(1500); // events up to `to` are written by now
  const errors = [];
  const page = await openPage(browser, daemon);
  await page.goto(`/events?from=${range.from}&to=${range.to}`);
  await waitLive(page);

  // Page 1.
  const first = await apiPage({ ...range, offset: "0" });
  assert.ok(first.total > PAGE, `the API has ${first.total} events in the range`);
  await waitRows(page, first.events.length);
  compare(errors, "page 1", await readRows(page), first);
  const summary = (await page.locator(".events-page p.sub, p.sub").filter({ hasText: "newest first" }).first().textContent()) || "";
  if (!summary.includes(`Events 1–${first.events.length} of ${first.total.toLocaleString("en")}`)) errors.push(`summary ${JSON.stringify(summary)}, API total ${first.total}`);

  // Page 2.
  await page.getByRole("button", { name: "Older →" }).first().click();
  const second = await apiPage({ ...range, offset: String(PAGE) });
  await waitRows(page, second.events.length);
  compare(errors, "page 2", await readRows(page), second);
  if (!page.url().includes("page=2")) errors.push(`the page number is not in the address: ${page.url()}`);

  // Kind filter: alarms only, back on page 1.
  await page.locator("select").filter({ has: page.locator('option[value="alarm"]') }).first().selectOption("alarm");
  const alarms = await apiPage({ ...range, kind: "alarm", offset: "0" });
  await waitRows(page, alarms.events.length);
  compare(errors, "kind alarm", await readRows(page), alarms);

  // Text search within the filter.
  await page.locator('input[name="q"]').fill("VOLTAGE");
  await page.locator('input[name="q"]').press("Enter");
  const found = await apiPage({ ...range, kind: "alarm", q: "VOLTAGE", offset: "0" });
  assert.ok(found.events.length > 0, "the battery-room flood has voltage alarms");
  await waitRows(page, found.events.length);
  const rows = await readRows(page);
  compare(errors, "search VOLTAGE", rows, found);
  rows.forEach((r, i) => !/voltage/i.test(r.message) && errors.push(`search row ${i + 1} has no "voltage": ${r.message}`));

  // The CSV link asks for the same selection.
  const href = await page.getByRole("link", { name: /CSV/ }).first().getAttribute("href");
  const csv = new URL(href, daemon.url);
  for (const [k, v] of Object.entries({ ...range, kind: "alarm", q: "VOLTAGE" })) if (csv.searchParams.get(k) !== v) errors.push(`CSV link ${k}=${csv.searchParams.get(k)}, expected ${v}`);
  const got = await daemon.get(`${csv.pathname}${csv.search}`, { auth: true });
  const lines = got.body.toString("utf8").trim().split("\n");
  if (got.status !== 200 || lines.length - 1 !== found.total) errors.push(`CSV: ${got.status}, ${lines.length - 1} rows, the API total ${found.total}`);

  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "/events against the API");
  log(`OK: ${first.total} events in the range; pages 1 and 2, ${alarms.total} alarm events and ${found.total} found by "VOLTAGE" shown as the API has them; CSV with the same selection`);
  await page.context().close();
});
