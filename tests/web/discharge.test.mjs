// The discharge view flags the block that collapses first. String 1 block 12 dries out at once
// (its R0 ramps to six times its value within about an hour; dry-out, docs/scenarios.md), then
// a 20 kW outage of one hour discharges the plant: under the load block 12's voltage falls well
// below the others'. The API's end-of-discharge analysis must flag block 12 as an early
// collapse, and the page must list the discharge, open it, show the block curves, and put block
// 12 first in the sorted end-of-discharge table, flagged, with every flag the API gives and no
// other.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, log, openPage, startDaemon, waitFor, waitLive } from "./harness.mjs";

const S = 1;
const B = 12;
const SCENARIO = `name = "web-weak-block-discharge"
description = "String 1 block 12 dries out; an outage three hours later"
[[event]]
at = "0s"
action = "fault"
string = ${S}
block = ${B}
kind = "dry_out"
r0_factor = 6.0
i0_factor = 1.0
time_constant = "20min"
[[event]]
at = "3h"
action = "outage"
load_kw = 20
duration = "1h"
`;

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon({ timeScale: 3600, scenario: SCENARIO });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// The scenario's outage once it has ended (longer than 45 min; the demo's own short outages
// are a few minutes), with its details.
async function recordedOutage() {
  const list = (await daemon.getJson(`/api/v1/strings/${S}/discharges?from=0`)).discharges;
  const d = list.find((x) => x.end_ms && x.duration_s > 45 * 60);
  if (!d) return null;
  return daemon.getJson(`/api/v1/strings/${S}/discharges/${d.id}`);
}

test("the weak block is flagged as the early collapser, in the API and on the page", { timeout: 200000 }, async () => {
  const detail = await waitFor(recordedOutage, "the scenario's one-hour outage recorded and ended", 150000, 1000);
  const flagged = detail.end_of_discharge.filter((r) => r.early_collapse).map((r) => r.block);
  log(`discharge ${detail.id}: ${detail.duration_s.toFixed(0)} s, flagged ${flagged.join(", ") || "none"}; lowest ${JSON.stringify(detail.end_of_discharge[0])}`);
  assert.deepEqual(flagged, [B], `the API should flag block ${B} alone`);
  assert.equal(detail.end_of_discharge[0].block, B, `block ${B} should end lowest`);

  const page = await openPage(browser, daemon);
  await page.goto(`/discharges?string=${S}&range=30d`);
  await waitLive(page);
  const row = page.locator(`table.discharge-list tr[data-string="${S}"][data-id="${detail.id}"]`);
  await row.waitFor({ timeout: 20000 });
  await row.locator("a").click();
  await page.waitForURL(`**/discharges/${S}/${detail.id}`);
  await page.waitForSelector(".eod-table tr[data-block]", { timeout: 20000 });
  await page.waitForSelector(".chart canvas", { timeout: 20000 });
  const rows = await page.$$eval(".eod-table tbody tr", (trs) =>
    trs.map((tr) => ({ block: Number(tr.dataset.block), early: tr.dataset.early === "1", text: tr.textContent })),
  );
  assert.equal(rows.length, detail.end_of_discharge.length, "one row per block");
  assert.equal(rows[0].block, B, `block ${B} first in the sorted table`);
  assert.ok(rows[0].early && rows[0].text.includes("collapsed early"), `block ${B} flagged on the page`);
  assert.deepEqual(
    rows.filter((r) => r.early).map((r) => r.block),
    flagged,
    "the page flags exactly the API's early collapsers",
  );
  const summary = await page.textContent(".discharge-page dl.summary");
  assert.ok(summary.includes(`block ${B}`), `the summary names block ${B} as collapsed early: ${summary}`);
});
