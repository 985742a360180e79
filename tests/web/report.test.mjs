// Runtime and discharge reports in the web application, on the `long-outage` scenario: string 2
// block 7 at 70 % of nominal; a one-hour outage teaches the blocks' capacities, a second outage
// runs the strings to their cut-off. While a string discharges, the battery page shows the runtime
// left and the block expected at the end voltage first (the API's string.runtime_s); after the long
// outage the discharge list names block 7 as the first at the end voltage with the runtime that
// was predicted, the discharge page lists the order of the blocks at each voltage level, and its
// links give the printable report and the CSV.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, log, openPage, startDaemon, waitFor, waitLive } from "./harness.mjs";

const S = 2;
const B = 7;

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon({ timeScale: 3600, scenario: "long-outage" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// The scenario's outage to the cut-off: the largest discharge that reached the end voltage (the
// demo plant's own short mains failures come and go beside it).
async function longOutage() {
  const list = (await daemon.getJson(`/api/v1/strings/${S}/discharges?from=0`)).discharges;
  const ended = list.filter((d) => d.report && d.report.first_at_end);
  return ended.reduce((a, d) => (a === null || d.ah_out > a.ah_out ? d : a), null);
}

test("runtime on the battery page, the report on the discharge pages", { timeout: 200000 }, async () => {
  const page = await openPage(browser, daemon);
  await page.goto(`/battery/${S}`);
  await waitLive(page);
  // The first outage begins at 2 h (2 s in): from then on the string has a runtime.
  const shown = await waitFor(
    async () => {
      const text = await page.textContent(`section[data-string="${S}"] .summary-item[data-field="runtime_s"] dd`);
      return /\d+ (min|h)/.test(text) ? text : null;
    },
    "a runtime on the battery page",
    60000,
    500,
  );
  log(`battery page runtime: ${shown.trim()}`);
  // The block expected at the end voltage first moves while the blocks discharge: any of the string's.
  const named = Number((shown.match(/block (\d+)/) || [])[1]);
  assert.ok(named >= 1 && named <= 32, `the runtime names a block of the string: ${shown}`);

  const d = await waitFor(longOutage, "the report of the outage to the cut-off", 150000, 1000);
  log(`discharge ${d.id}: ${JSON.stringify(d.report.runtime)}`);
  assert.equal(d.report.first_at_end.block, B);
  await page.goto(`/discharges?string=${S}&range=30d`);
  await waitLive(page);
  const row = page.locator(`table.discharge-list tr[data-string="${S}"][data-id="${d.id}"]`);
  await row.waitFor({ timeout: 20000 });
  const runtime = await row.locator("td.runtime").textContent();
  assert.ok(runtime.startsWith(`block ${B} after`), `the list names block ${B}: ${runtime}`);
  assert.ok(runtime.includes("predicted"), runtime);

  await row.locator("a").click();
  await page.waitForURL(`**/discharges/${S}/${d.id}`);
  await page.waitForSelector(".level-table tr[data-level]", { timeout: 20000 });
  const levels = await page.$$eval(".level-table tbody tr", (trs) => trs.map((tr) => tr.textContent));
  assert.equal(levels.length, 5, "five voltage levels");
  assert.ok(levels[levels.length - 1].includes(`${B} (`), `block ${B} first at the end voltage: ${levels.at(-1)}`);
  const html = await page.locator(".report-links a", { hasText: "printable" }).getAttribute("href");
  const res = await page.request.get(html);
  assert.equal(res.status(), 200);
  assert.ok((await res.text()).includes("Runtime predicted at half time"));
  // The printable page is styled in the browser: its inline stylesheet is allowed by its hash, and
  // nothing is refused.
  const refused = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
  });
  await page.goto(html);
  const th = await page.$eval("th", (el) => getComputedStyle(el).backgroundColor);
  assert.equal(th, "rgb(238, 238, 238)", "the report's stylesheet applies");
  assert.deepEqual(refused, [], "no resource refused by the page's policy");
  await page.goBack();
  const csv = await page.locator(".report-links a", { hasText: "CSV" }).getAttribute("href");
  const rows = (await (await page.request.get(csv)).text()).trim().split(/\r?\n/);
  assert.equal(rows.length, 1 + 32, "a header and one row per block");
});
