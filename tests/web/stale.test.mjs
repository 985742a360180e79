// Stale data is never shown as fresh. String 2's module 5 stops answering at once (a scenario
// written here): its values are greyed (class q-bad, data-quality stale / comm_lost), its status
// is not green, the rest stays as the API has it. Then the daemon is paused (SIGSTOP): the page
// receives nothing, and after the staleness limit (at least 6 s) greys everything
// (.shell.data-old), says so, and leaves "live"; resumed (SIGCONT), it recovers by itself.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { checkBattery, confirmNotes, readBattery } from "./checks.mjs";
import { assertNoErrors, catalogue, COMM_LOSS_SCENARIO, launchBrowser, log, openPage, readWhileSampling, startDaemon, waitFor, waitForUpdate, waitLive } from "./harness.mjs";

const STALE = new Set(["stale", "comm_lost"]);
const MEASURED = ["voltage_v", "temperature_c", "ri_mohm"];

let daemon;
let browser;
let cat;

before(async () => {
  daemon = await startDaemon({ timeScale: 60, scenario: COMM_LOSS_SCENARIO });
  browser = await launchBrowser();
  cat = await catalogue(daemon);
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

test("a block whose module stopped answering is greyed, the others match the API", { timeout: 60000 }, async () => {
  await waitFor(async () => (await daemon.getJson("/api/v1/alarms")).alarms.some((a) => a.rule === "block.comm_lost" && a.string === 2 && a.block === 5), "block.comm_lost of string 2 block 5", 30000);
  const page = await openPage(browser, daemon);
  await page.goto("/battery");
  await waitLive(page);
  await page.waitForSelector('section[data-string="2"] tr[data-block="5"]');
  await waitForUpdate(page);
  const { shown, docs } = await readWhileSampling(daemon, page, readBattery);
  const { errors, pending } = checkBattery(shown, docs, cat);
  errors.push(...(await confirmNotes(page, pending)));
  const row = shown.find((s) => s.string === 2).rows.find((r) => r.block === 5);
  for (const f of MEASURED) {
    const c = row.cells[f];
    if (!STALE.has(c.quality) || !c.greyed) errors.push(`string 2 block 5 ${f}: quality ${c.quality}, greyed ${c.greyed} (expected stale or comm_lost, greyed)`);
  }
  if (row.status === "ok") errors.push("string 2 block 5: status ok (green) without data");
  if (!row.note) errors.push("string 2 block 5: no note says why it is not green");
  // Its neighbour is fresh and not greyed.
  const other = shown.find((s) => s.string === 2).rows.find((r) => r.block === 4);
  for (const f of MEASURED) if (other.cells[f].quality !== "ok" || other.cells[f].greyed) errors.push(`string 2 block 4 ${f}: ${other.cells[f].quality}, greyed ${other.cells[f].greyed}`);
  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "/battery with a silent module");
  log(`OK: string 2 block 5 greyed (${MEASURED.map((f) => `${f} ${row.cells[f].quality}`).join(", ")}, status ${row.status}); note: ${row.note}`);
  await page.context().close();
});

test("the page greys everything while no data comes, and recovers", { timeout: 60000 }, async () => {
  const page = await openPage(browser, daemon);
  await page.goto("/battery");
  await waitLive(page);
  await page.waitForSelector("tr[data-block]");
  assert.equal(await page.locator(".shell.data-old").count(), 0, "data-old before the data stopped");
  const freshColor = await page.locator('section[data-string="1"] tr[data-block="1"] td[data-field="voltage_v"] .value').evaluate((e) => getComputedStyle(e).color);
  daemon.signal("SIGSTOP");
  const paused = Date.now();
  try {
    await page.waitForSelector(".shell.data-old", { timeout: 15000 });
    const after = Date.now() - paused;
    const state = await page.evaluate(() => {
      const probe = document.createElement("span");
      probe.className = "q-bad";
      document.querySelector("main").appendChild(probe);
      const grey = getComputedStyle(probe).color;
      probe.remove();
      const values = [...document.querySelectorAll("main .value")];
      return {
        grey,
        notGrey: values.filter((v) => getComputedStyle(v).color !== grey).length,
        values: values.length,
        notice: document.querySelector("main .notice")?.textContent.trim() ?? "",
        conn: document.querySelector(".conn")?.dataset.state,
      };
    });
    log(`data-old after ${(after / 1000).toFixed(1)} s: ${state.values} values, notice "${state.notice}", connection ${state.conn}`);
    assert.ok(after >= 5000, `the page called the data old after ${after} ms (the limit is at least 6 s)`);
    assert.notEqual(state.grey, freshColor, "the grey of old data is the colour of fresh values");
    assert.equal(state.notGrey, 0, `${state.notGrey} of ${state.values} values not greyed while the data is old`);
    assert.match(state.notice, /out of date/, "no notice that the values are out of date");
    assert.notEqual(state.conn, "live", "the connection still says live");
  } finally {
    daemon.signal("SIGCONT");
  }
  await page.waitForSelector(".shell:not(.data-old)", { timeout: 20000 });
  await page.waitForSelector('.conn[data-state="live"]', { timeout: 20000 });
  // Right after the pause the values are stale by their own time (greyed); the next sweep
  // brings them back.
  const cell = page.locator('section[data-string="1"] tr[data-block="1"] td[data-field="voltage_v"] .value');
  await waitFor(async () => (await cell.evaluate((e) => getComputedStyle(e).color)) === freshColor, "values coloured again after the data came back", 15000);
  const problems = page.problems.filter((p) => !/Failed to load resource|ERR_|net::/.test(p));
  assert.deepEqual(problems, [], "page errors");
  log("OK: greyed while paused, live and coloured again after SIGCONT");
  await page.context().close();
});
