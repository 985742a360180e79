// Health of every block in the web application, on the `weak-blocks` scenario: string 1 block 5
// at 70 % of nominal; the one-hour outage at 2 h gives every block's capacity and with it its
// state of health (block.soh_pct). The battery table's SOH column must show the API's values,
// block 5 lower than block 1; string 1's replacement list must name block 5 with its state; the
// block page of block 5 must show the Health card with the state and the evidence of the API's
// health document, and one row of the weekly table per week kept.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, log, openPage, parseShown, startDaemon, waitFor, waitLive } from "./harness.mjs";

const S = 1;
const B = 5;

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon({ timeScale: 3600, scenario: "weak-blocks" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// The health document once block 5 has a capacity component and is on the replacement list. The battery page is opened before that, at the start: its replacement
// list must follow the controller's hourly assessment (it reads the document again each plant hour).
// Block 5 is measured near 80 % (its estimate against a nominal string level): it is on the list
// when below 80 % or expected there within a year, which depends on the estimate's last decimal.
async function assessed() {
  const doc = await daemon.getJson(`/api/v1/strings/${S}/health`);
  return typeof doc.blocks[B - 1].components.capacity.pct === "number" ? doc : null;
}

test("block health in the battery table, the replacement list and on the block page", { timeout: 200000 }, async () => {
  const page = await openPage(browser, daemon);
  await page.goto(`/battery/${S}`);
  await waitLive(page);
  const doc = await waitFor(assessed, `string ${S} assessed with block ${B}'s capacity`, 120000, 500);
  const api = doc.blocks[B - 1];
  log(`block ${B}: ${api.state}, ${api.evidence}`);
  assert.ok(["degraded", "replace"].includes(api.state), api.state);
  assert.ok(api.soh_pct < doc.blocks[0].soh_pct, `API: block ${B} ${api.soh_pct} %, block 1 ${doc.blocks[0].soh_pct} %`);

  const card = `section[data-string="${S}"]`;
  const head = await page.textContent(`${card} thead`);
  assert.ok(head.includes("SOH [%]"), head);
  // The SOH cells: one per block, each the API's block.soh_pct (it changes only hourly).
  const cells = await waitFor(
    async () => {
      const list = await page.$$eval(`${card} tr[data-block] td[data-field="soh_pct"]`, (tds) =>
        tds.map((td) => ({ block: Number(td.closest("tr").dataset.block), text: td.textContent })),
      );
      return list.length === doc.blocks.length && list.every((c) => parseShown(c.text).value !== null) ? list : null;
    },
    "an SOH in every row of the battery table",
    20000,
    250,
  );
  const points = (await daemon.getJson(`/api/v1/strings/${S}/blocks`)).blocks;
  for (const c of cells) {
    const value = points.find((b) => b.block === c.block).soh_pct.value;
    assert.ok(Math.abs(parseShown(c.text).value - value) < 0.051, `block ${c.block}: page ${c.text}, API ${value}`);
  }
  const shown = (n) => parseShown(cells.find((c) => c.block === n).text).value;
  log(`battery page SOH: block ${B} ${shown(B)} %, block 1 ${shown(1)} %`);
  assert.ok(shown(B) < shown(1), `block ${B} (${shown(B)} %) below block 1 (${shown(1)} %)`);
  assert.equal(Math.min(...cells.map((c) => parseShown(c.text).value)), shown(B), `block ${B} lowest`);
  // The string's SOH is its weakest block's.
  const stringSoh = await page.textContent(`${card} .summary-item[data-field="soh_pct"] dd`);
  assert.ok(Math.abs(parseShown(stringSoh, "%").value - shown(B)) < 0.051, stringSoh);

  // The replacement list under the table: what the API lists (the page opened before the
  // assessment, so it must have followed it), block 5 with its state and evidence when listed.
  const { listed, apiList } = await waitFor(
    async () => {
      const now = (await daemon.getJson(`/api/v1/strings/${S}/health`)).replacement_list.map((r) => r.block);
      const onPage = await page.$$eval(`.replacement-list[data-string="${S}"] li[data-block]`, (lis) => lis.map((li) => Number(li.dataset.block)));
      return JSON.stringify(onPage) === JSON.stringify(now) ? { listed: onPage, apiList: now } : null;
    },
    "the page's replacement list to be the API's",
    30000,
    500,
  );
  log(`replacement list: ${JSON.stringify(listed)}`);
  assert.deepEqual(listed, apiList, "the page lists what the API lists");
  assert.ok(!listed.includes(1), `block 1 (${doc.blocks[0].soh_pct} %) is not to be replaced`);
  if (listed.includes(B)) {
    const item = page.locator(`.replacement-list[data-string="${S}"] li[data-block="${B}"]`);
    const entry = (await daemon.getJson(`/api/v1/strings/${S}/health`)).replacement_list.find((r) => r.block === B);
    assert.equal(await item.getAttribute("data-state"), entry.state);
    const itemText = await item.textContent();
    assert.ok(itemText.startsWith(`Block ${B} (${entry.state}`), itemText);
    assert.ok(itemText.includes(entry.evidence), itemText);
    await item.locator("a").click();
  } else {
    await page.goto(`/strings/${S}/blocks/${B}`);
  }

  // The block page: the Health card with the state, the evidence and the weeks kept.
  await page.waitForURL(`**/strings/${S}/blocks/${B}`);
  await waitLive(page);
  const health = page.locator(".block-health");
  await health.waitFor({ timeout: 20000 });
  const one = await daemon.getJson(`/api/v1/strings/${S}/blocks/${B}/health`);
  assert.equal(await health.getAttribute("data-state"), one.state);
  assert.ok(["degraded", "replace"].includes(one.state), one.state);
  assert.equal((await page.textContent(`.block-health [data-item="health_state"] dd`)).trim(), one.state);
  const component = await page.textContent(`.block-health [data-item="capacity_component"] dd`);
  assert.match(component, /^\d+\.\d ± \d+\.\d %$/, component);
  assert.ok(Math.abs(parseShown(component.split("±")[0]).value - one.components.capacity.pct) < 0.051, component);
  const evidence = (await page.textContent(".block-health .evidence")).trim();
  log(`block page evidence: ${evidence}`);
  assert.ok(evidence.includes(one.evidence), `page: ${evidence}\nAPI: ${one.evidence}`);
  assert.ok(evidence.includes("from the discharges"), evidence);
  assert.equal(evidence.startsWith("Weak-block warning:"), one.warning, evidence);
  assert.equal(await page.locator(".health-weeks tbody tr").count(), Math.min(12, one.history.length), "one row per week kept (12 at most)");
  assert.deepEqual(page.problems, [], `page errors: ${page.problems.join("; ")}`);
});
