// Alarm shelving on /alarms (docs/alarms.md#shelving), on a plant whose string 2, module 5 stops
// answering at once (block.comm_lost/2/5 stays active):
//  - an operator opens "Shelve…" of the group (focus on the shelf time; axe passes), cannot send
//    it without a reason, shelves it for 4 h with a reason: the API has the shelf, the group
//    leaves the list and a collapsed "Shelved (1)" section lists it with its end, length, reason
//    and who; the State filter "shelved" shows only that section; Unshelve brings it back; a
//    selection is shelved through "Shelve selected…";
//  - a viewer sees the shelved list but no Shelve, Unshelve or Acknowledge control.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { COMM_LOSS_SCENARIO, launchBrowser, log, openPage, pageLogin, runAxe, sleep, startDaemon, waitFor, waitLive } from "./harness.mjs";

const KEY = "block.comm_lost/2/5";
let daemon;
let browser;
before(async () => {
  daemon = await startDaemon({
    timeScale: 60,
    scenario: COMM_LOSS_SCENARIO,
    users: [
      { name: "otto", role: "operator", password: "otto-password-1" },
      { name: "vera", role: "viewer", password: "vera-password-1" },
    ],
  });
  browser = await launchBrowser();
  await waitFor(async () => (await alarm()) !== undefined, "comm-lost alarm", 30000);
});
after(async () => {
  await browser?.close();
  await daemon?.stop();
});

async function alarm() {
  return (await daemon.getJson("/api/v1/alarms")).alarms.find((a) => a.key === KEY);
}

test("operator shelves a group, sees it in Shelved (1), unshelves it", { timeout: 120000 }, async () => {
  const page = await openPage(browser, daemon);
  await page.goto("/alarms");
  await waitLive(page);
  await pageLogin(page, "otto", "otto-password-1");
  const group = page.locator(`section.alarm-group[data-group="block.comm_lost/2"]`);
  await group.waitFor();
  await group.locator(".group-actions button", { hasText: /^Shelve/ }).click();
  const form = group.locator("form.shelve-form");
  await form.waitFor();
  const focused = await page.evaluate(() => document.activeElement?.name);
  assert.equal(focused, "minutes", "focus on the shelf time");
  let axe = await runAxe(page);
  assert.deepEqual(axe.violations, [], "axe with the shelve form open");
  // Empty reason: nothing is sent.
  await form.locator("button[type=submit]").click();
  await sleep(500);
  assert.equal((await alarm()).shelved, false);
  await form.locator("select[name=minutes]").selectOption("240");
  await form.locator("input[name=reason]").fill("module swap on Monday");
  await form.locator("button[type=submit]").click();
  await waitFor(async () => (await alarm()).shelved, "shelved in the API", 10000);
  const a = await alarm();
  assert.equal(a.shelve_reason, "module swap on Monday");
  assert.equal(a.shelved_by, "otto");
  log(`shelved until ${a.shelved_until}`);
  await page.waitForSelector(`section.alarm-group[data-group="block.comm_lost/2"]`, { state: "detached", timeout: 8000 });
  const section = page.locator("section.shelved-section");
  await section.waitFor();
  assert.equal(await section.getAttribute("data-shelved"), "1");
  assert.equal(await section.locator("tbody tr").count(), 0, "collapsed at first");
  const toggle = section.locator("h2 button");
  assert.equal((await toggle.textContent()).trim(), "Shelved (1)");
  await toggle.click();
  const row = section.locator(`tr[data-key="${KEY}"]`);
  await row.waitFor();
  const text = await row.textContent();
  assert.match(text, /module swap on Monday/);
  assert.match(text, /\(4 h\)/);
  assert.match(text, /otto/);
  log(`row: ${text}`);
  const note = await page.locator("p.shelve-note").textContent();
  assert.match(note, /1 alarm shelved for 4 h/);
  axe = await runAxe(page);
  assert.deepEqual(axe.violations, [], "axe with the shelved list open");
  // The State filter "shelved".
  await page.locator("form.filters select").nth(2).selectOption("shelved");
  await sleep(300);
  assert.equal(await page.locator("section.alarm-group").count(), 0);
  assert.equal(await section.locator(`tr[data-key="${KEY}"]`).count(), 1);
  await page.locator("form.filters select").nth(2).selectOption("");
  // The summary line.
  const line = await page.locator("main p.sub[aria-live]").textContent();
  assert.match(line, /1 shelved/);
  // The block page says its alarm is shelved, and why.
  await page.goto("/strings/2/blocks/5");
  const blockNote = page.locator(`.shelved-notes li[data-key="${KEY}"]`);
  await blockNote.waitFor({ timeout: 10000 });
  assert.match(await blockNote.textContent(), /Shelved until .* by otto: .*module swap on Monday/);
  await page.goto("/alarms");
  await section.locator("h2 button").click();
  await row.locator("button", { hasText: /^Unshelve/ }).click();
  await waitFor(async () => !(await alarm()).shelved, "unshelved in the API", 10000);
  await page.waitForSelector(`section.alarm-group[data-group="block.comm_lost/2"]`, { timeout: 8000 });
  assert.equal(await page.locator("section.shelved-section").count(), 0);
  // Selection: shelve via the selection form.
  const show = page.locator(`section.alarm-group[data-group="block.comm_lost/2"] .group-actions button`, { hasText: /^Show/ });
  if (await show.count()) await show.click();
  await page.locator(`input[aria-label="Select ${KEY}"]`).check();
  const selBtn = page.locator("form.filters button", { hasText: /^Shelve selected/ });
  assert.match(await selBtn.textContent(), /\(1\)/);
  await selBtn.click();
  const sform = page.locator(`form.shelve-form[data-shelve-form="selection"]`);
  await sform.locator("input[name=reason]").fill("selection test");
  await sform.locator("input[name=reason]").press("Enter");
  await waitFor(async () => (await alarm()).shelved, "shelved by selection", 10000);
  assert.equal((await alarm()).shelve_reason, "selection test");
  assert.deepEqual(page.problems, [], `page errors: ${page.problems.join("; ")}`);
  await page.context().close();
});

test("a viewer sees the shelved list but no shelve or unshelve control", { timeout: 60000 }, async () => {
  const page = await openPage(browser, daemon);
  await page.goto("/alarms");
  await waitLive(page);
  await pageLogin(page, "vera", "vera-password-1");
  const section = page.locator("section.shelved-section");
  await section.waitFor();
  await section.locator("h2 button").click();
  await section.locator(`tr[data-key="${KEY}"]`).waitFor();
  const buttons = await page.locator("main button").allTextContents();
  assert.ok(!buttons.some((t) => /^(Shelve…|Shelve selected|Shelve \d|Unshelve|Acknowledge)/.test(t.trim())), buttons.join(" | "));
  const axe = await runAxe(page);
  assert.deepEqual(axe.violations, [], "axe as a viewer");
  await page.context().close();
});
