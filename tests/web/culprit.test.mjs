// The culprit of a thermal runaway is shown where one looks first: with the thermal-runaway
// scenario (string 1 block 7 heats up; at 3600× its temperature warning comes after about 10 s)
// the battery table colours that block's temperature cell, and only its culprit cells, and its
// Note says why; the overview tile of string 1 names block 7 as its worst and the link opens
// the block page with its charts.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readBattery } from "./checks.mjs";
import { launchBrowser, log, openPage, startDaemon, waitFor, waitLive } from "./harness.mjs";

const S = 1;
const B = 7;
let daemon;
let browser;

before(async () => {
  daemon = await startDaemon({ timeScale: 3600, scenario: "thermal-runaway" });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// The active alarms of the block (any rule), once block 7 has its temperature alarm.
async function hotAlarms() {
  const list = (await daemon.getJson("/api/v1/alarms")).alarms;
  if (!list.some((a) => a.rule.startsWith("block.temperature_high") && a.string === S && a.block === B)) return null;
  return list;
}

test("the hot block's temperature cell is coloured and explained; the tile links it", { timeout: 120000 }, async () => {
  const alarmList = await waitFor(hotAlarms, `a block.temperature_high alarm of string ${S} block ${B}`, 90000, 500);
  log(`alarms of string ${S}: ${alarmList.filter((a) => a.string === S).map((a) => `${a.rule}${a.block ? "/" + a.block : ""} ${a.level}`).join(", ")}`);
  const page = await openPage(browser, daemon);
  await page.goto(`/battery/${S}`);
  await waitLive(page);
  // The alarm list is polled every 3 s: wait until the row says why.
  await page.waitForFunction(
    ([b]) => /temperature/i.test(document.querySelector(`tr[data-block="${b}"] td.note`)?.textContent || ""),
    [B],
    { timeout: 15000 },
  );
  const [string] = await readBattery(page);
  const row = string.rows.find((r) => r.block === B);
  const temp = row.cells.temperature_c;
  assert.ok(
    temp.classes.includes("cell-alarm") || temp.classes.includes("cell-warning"),
    `block ${B}'s temperature cell is not coloured (classes: ${temp.classes.join(" ")})`,
  );
  assert.match(row.note, /temperature/i, `block ${B}'s note does not explain the temperature: ${row.note}`);
  assert.notEqual(row.status, "ok", `block ${B} shows status ok`);
  // Its other cells are coloured only by an alarm of their own quantity.
  const active = (await daemon.getJson("/api/v1/alarms")).alarms.filter((a) => a.string === S && a.block === B);
  const ruleIds = active.map((a) => a.rule).join(" ");
  for (const [field, word] of [
    ["voltage_v", "voltage"],
    ["ri_mohm", "ri"],
  ]) {
    const c = row.cells[field].classes;
    if (c.includes("cell-alarm") || c.includes("cell-warning")) {
      assert.ok(new RegExp(`\\.${word}`).test(ruleIds), `block ${B}'s ${field} cell is coloured (${c.join(" ")}) without an alarm of its own (active: ${ruleIds})`);
    }
  }
  // No green block of the string has a coloured cell.
  for (const r of string.rows) {
    if (r.status !== "ok") continue;
    const coloured = Object.entries(r.cells).filter(([, c]) => c.classes.includes("cell-alarm") || c.classes.includes("cell-warning"));
    assert.equal(coloured.length, 0, `green block ${r.block} has coloured cells: ${coloured.map(([f]) => f).join(", ")}`);
  }
  log(`OK: block ${B} temperature ${temp.text} coloured ${temp.classes.filter((c) => c.startsWith("cell-")).join(" ")}; note: ${row.note.slice(0, 160)}`);

  // The overview: string 1's tile names block 7 as its worst; its link opens the block page.
  await page.goto("/");
  const link = page.locator(`section.tile[data-string="${S}"] .tile-worst a`);
  await waitFor(async () => (await link.getAttribute("href").catch(() => null)) === `/strings/${S}/blocks/${B}`, `the tile's worst-block link to block ${B}`, 15000).catch(async (e) => {
    const text = await page.locator(`section.tile[data-string="${S}"] .tile-worst`).textContent().catch(() => "(none)");
    throw new Error(`${e.message}; the tile says: ${text}`);
  });
  assert.match(await link.textContent(), new RegExp(`block ${B}\\b`));
  await link.click();
  await page.waitForURL(`**/strings/${S}/blocks/${B}`);
  await page.waitForSelector(".chart canvas", { timeout: 20000 });
  const h1 = await page.locator("main h1").textContent();
  assert.match(h1, new RegExp(`String ${S}, block ${B}\\b`));
  const charts = await page.locator(".chart canvas").count();
  assert.ok(charts >= 1, "no chart on the block page");
  assert.deepEqual(page.problems, [], `page errors: ${page.problems.join("; ")}`);
  log(`OK: the tile's worst-block link opens ${page.url().replace(daemon.url, "")} with ${charts} chart canvas(es)`);
  await page.context().close();
});
