// Alarms and roles, on the battery-room scenario (at 2 h plant time a faulty charger setting
// raises block voltage alarms on both strings: an alarm flood; 600× here, about 12 s):
//  - /alarms shows the flood as a few groups (one per rule and string), unacknowledged first;
//  - nobody logged in and a viewer see no write control on any page; an operator, logged in
//    through the page's form, sees the Acknowledge buttons, and acknowledging a group
//    acknowledges its alarms in the API;
//  - a page of another origin cannot use the operator's session to acknowledge or switch.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, test } from "node:test";
import { launchBrowser, log, navigate, openPage, pageLogin, runAxe, sleep, startDaemon, waitFor, waitLive } from "./harness.mjs";

const USERS = [
  { name: "vera", role: "viewer", password: "vera-password-1" },
  { name: "otto", role: "operator", password: "otto-password-1" },
];
const PAGES = ["/", "/battery", "/strings/1/blocks/2", "/strings/1/pattern", "/alarms", "/events", "/discharges", "/environment"];
const POLL_MS = 3000; // the page polls the alarm list every 3 s

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon({ timeScale: 600, scenario: "battery-room", users: USERS });
  browser = await launchBrowser();
  await waitFor(async () => (await alarmList()).length >= 20, "an alarm flood (≥ 20 active alarms)", 90000, 500);
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// The active alarms on display (a shelved alarm is off the display until its shelf ends).
async function alarmList() {
  return (await daemon.getJson("/api/v1/alarms")).alarms.filter((a) => !a.shelved);
}

const groupId = (a) => `${a.rule}/${a.string || 0}`;

// The alarm groups as the page shows them, in order.
async function readGroups(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("section.alarm-group")].map((g) => ({
      id: g.dataset.group,
      level: g.dataset.level,
      count: g.querySelector(".group-count")?.textContent.trim() ?? "",
      ack: [...g.querySelectorAll("button")].some((b) => /^Acknowledge/.test(b.textContent.trim())),
    })),
  );
}

// Write controls on the page as it is: acknowledge buttons, alarm selection, Ri-baseline reset,
// output switches and mutes.
async function writeControls(page) {
  return page.evaluate(() => {
    const out = [];
    document.querySelectorAll("main button").forEach((b) => {
      const t = b.textContent.trim();
      if (/^(Acknowledge|Shelve|Unshelve|Reset Ri baseline|Yes, reset|Mute|Switch|Turn (on|off)|Pulse|Edit|Revert|Remove|Add account|Create token|Install|Reload|Restore)/i.test(t)) out.push(`button "${t}"`);
    });
    document.querySelectorAll("main input[type=file], main .rule-form, main .cert-form").forEach((e) => out.push(`form control ${e.tagName.toLowerCase()}.${e.className}`));
    document.querySelectorAll("main .alarm-table input[type=checkbox], main .alarm-group input[type=checkbox]").forEach((c) => out.push(`checkbox ${c.getAttribute("aria-label") || ""}`));
    document.querySelectorAll("main .io-control, main .io-actions button").forEach(() => out.push("output switch"));
    return out;
  });
}

// Opens every group of /alarms (read-only: "Show the N alarms") so that row controls render.
async function expandGroups(page) {
  const buttons = page.locator("section.alarm-group .group-actions button", { hasText: /^Show/ });
  const n = await buttons.count();
  for (let i = 0; i < n; i += 1) await buttons.nth(0).click();
}

// Every page of PAGES and of the navigation (settings, UPS … as they come).
async function visitAll(page, label) {
  const found = [];
  await navigate(page, "/");
  const nav = await page.$$eval("nav a[href]", (as) => as.map((a) => a.getAttribute("href")));
  for (const p of [...new Set([...PAGES, ...nav])]) {
    await navigate(page, p);
    await waitLive(page);
    await sleep(500); // the I/O and the lists a page loads itself
    if (p === "/alarms") {
      await page.waitForSelector("section.alarm-group");
      await expandGroups(page);
    }
    (await writeControls(page)).forEach((c) => found.push(`${label} on ${p}: ${c}`));
  }
  return found;
}

test("an alarm flood is shown as a few groups, unacknowledged first", { timeout: 90000 }, async () => {
  // One group acknowledged beforehand: it must come after every group with something to do.
  let list = await alarmList();
  const stringLevel = list.filter((a) => !a.block && !a.acknowledged);
  const pre = (stringLevel.length ? stringLevel : list.filter((a) => !a.acknowledged))[0];
  const preGroup = groupId(pre);
  for (const a of list.filter((x) => groupId(x) === preGroup)) {
    const r = await daemon.request("POST", `/api/v1/alarms/ack?key=${encodeURIComponent(a.key)}`, {});
    assert.equal(r.status, 200, `acknowledging ${a.key} over the API: ${JSON.stringify(r.body)}`);
  }
  const page = await openPage(browser, daemon);
  await page.goto("/alarms");
  await waitLive(page);
  await page.waitForSelector("section.alarm-group");
  // The flood comes and goes with the plant's charge cycle: read the page while the API has it
  // before and after (a few tries).
  let before;
  let groups;
  let afterList;
  for (let attempt = 1; attempt <= 4; attempt += 1) {
    await waitFor(async () => (await alarmList()).length >= 20, "the alarm flood back", 60000, 500);
    await sleep(POLL_MS + 500);
    before = await alarmList();
    groups = await readGroups(page);
    afterList = await alarmList();
    if (Math.min(before.length, afterList.length) >= 20) break;
    log(`the flood went away while the page was read (${before.length}, ${afterList.length} alarms); again`);
  }
  const pairs = new Set([...before, ...afterList].map(groupId));
  const alarms = Math.min(before.length, afterList.length);
  log(`${alarms}…${Math.max(before.length, afterList.length)} active alarms in ${pairs.size} (rule, string) pairs; the page shows ${groups.length} groups: ${groups.map((g) => `${g.id} (${g.count})`).join(", ")}`);
  assert.ok(alarms >= 20, `the flood went away while the page was read (${alarms} alarms)`);
  assert.ok(groups.length > 0, "no alarm group shown");
  assert.ok(groups.length <= pairs.size, `${groups.length} groups for ${pairs.size} distinct (rule, string) pairs`);
  assert.ok(groups.length * 3 <= alarms, `${groups.length} groups are not far fewer than ${alarms} alarms`);
  for (const g of groups) assert.ok(pairs.has(g.id), `group ${g.id} is not a (rule, string) pair of the API's alarms`);
  // Unacknowledged first.
  const firstDone = groups.findIndex((g) => !/\d+ unacknowledged/.test(g.count));
  const lastOpen = groups.map((g) => /\d+ unacknowledged/.test(g.count)).lastIndexOf(true);
  assert.ok(firstDone === -1 || lastOpen < firstDone, `a group with unacknowledged alarms comes after an acknowledged one: ${groups.map((g) => `${g.id}: ${g.count}`).join("; ")}`);
  const pos = groups.findIndex((g) => g.id === preGroup);
  if (pos >= 0 && !/\d+ unacknowledged/.test(groups[pos].count)) assert.ok(pos > lastOpen, `the acknowledged group ${preGroup} is listed before unacknowledged ones`);
  else log(`note: the group acknowledged beforehand (${preGroup}) is ${pos < 0 ? "gone" : `"${groups[pos].count}"`} by now`);
  // The page says how many alarms it shows in how many groups.
  const line = await page.locator("main p.sub[aria-live]").textContent();
  const m = line.match(/(\d+) active alarms? in (\d+) groups?/);
  assert.ok(m, `no "N active alarms in M groups" line: ${line}`);
  assert.equal(Number(m[2]), groups.length, `the line says ${m[2]} groups, ${groups.length} are shown`);
  const counts = [before.length, afterList.length];
  assert.ok(Number(m[1]) >= Math.min(...counts) && Number(m[1]) <= Math.max(...counts), `the page counts ${m[1]} active alarms, the API had ${counts.join(" … ")}`);
  // The navigation counts the active alarms and warnings (the live system points).
  const nav = Number(await page.locator("nav a[href='/alarms'] .nav-count").textContent());
  const sys = (await daemon.getJson("/api/v1/system"));
  const navApi = sys.alarm_count.value + sys.warning_count.value;
  assert.ok(Math.abs(nav - navApi) <= Math.max(3, navApi / 10), `the navigation counts ${nav} alarms and warnings, the API ${navApi}`);
  assert.deepEqual(page.problems, [], `page errors: ${page.problems.join("; ")}`);
  await page.context().close();
});

test("nobody logged in and a viewer see no write controls on any page", { timeout: 120000 }, async () => {
  const page = await openPage(browser, daemon);
  const found = await visitAll(page, "not logged in");
  await page.goto("/alarms");
  await pageLogin(page, "vera", "vera-password-1");
  found.push(...(await visitAll(page, "viewer")));
  assert.deepEqual(found, [], "write controls shown to who may not write");
  assert.deepEqual(page.problems, [], `page errors: ${page.problems.join("; ")}`);
  log("OK: no write controls on any page, not logged in and as a viewer");
  await page.context().close();
});

test("an operator acknowledges a group of alarms from the page", { timeout: 90000 }, async () => {
  const page = await openPage(browser, daemon);
  await page.goto("/alarms");
  await waitLive(page);
  await pageLogin(page, "otto", "otto-password-1");
  await page.waitForSelector("section.alarm-group button:text-matches('^Acknowledge')", { timeout: POLL_MS + 5000 });
  await page.waitForSelector("form.filters button:text-matches('^Acknowledge all')");
  // The largest group with unacknowledged alarms.
  const groups = (await readGroups(page)).filter((g) => g.ack);
  assert.ok(groups.length, "no group with an Acknowledge button for an operator");
  const list = await alarmList();
  const size = (g) => list.filter((a) => groupId(a) === g.id && !a.acknowledged).length;
  const target = groups.reduce((best, g) => (size(g) > size(best) ? g : best), groups[0]);
  const keys = list.filter((a) => groupId(a) === target.id && !a.acknowledged).map((a) => a.key);
  // The row controls of an operator pass axe too.
  await expandGroups(page);
  const checkboxes = await page.locator(`section.alarm-group[data-group="${target.id}"] input[type=checkbox]`).count();
  assert.ok(checkboxes > 0, `no selection checkboxes in group ${target.id} for an operator`);
  const axe = await runAxe(page);
  assert.deepEqual(axe.violations, [], "axe on /alarms as an operator");
  await page.locator(`section.alarm-group[data-group="${target.id}"] .group-actions button`, { hasText: /^Acknowledge/ }).click();
  await waitFor(
    async () => {
      const now = await alarmList();
      const open = now.filter((a) => keys.includes(a.key) && !a.acknowledged);
      return open.length === 0 ? now : null;
    },
    `the ${keys.length} alarms of ${target.id} acknowledged in the API`,
    10000,
  );
  // The page follows: once the API has nothing left to acknowledge in the group, no button.
  await waitFor(
    async () => {
      const now = await alarmList();
      const open = now.filter((a) => groupId(a) === target.id && !a.acknowledged).length;
      const g = (await readGroups(page)).find((x) => x.id === target.id);
      return open > 0 || !g || !g.ack;
    },
    `group ${target.id} shown without an Acknowledge button`,
    POLL_MS * 3,
  );
  // No error shown: alarms of the group that cleared before their turn (404) are not errors.
  const shownError = (await page.locator(`section.alarm-group[data-group="${target.id}"] .error`).textContent().catch(() => "")) || "";
  assert.equal(shownError.trim(), "", `acknowledging group ${target.id} shows an error`);
  // The block page offers an operator the Ri-baseline reset.
  await navigate(page, "/strings/1/blocks/2");
  await page.waitForSelector("main button:text-matches('^Reset Ri baseline')");
  // The browser logs the 404 of an acknowledgement whose alarm had cleared meanwhile.
  const problems = page.problems.filter((p) => !/status of 404/.test(p));
  assert.deepEqual(problems, [], `page errors: ${problems.join("; ")}`);
  log(`OK: the operator acknowledged group ${target.id} (${keys.length} alarms) from the page`);
  await page.context().close();
});

// Written by the test and served from another port: tries, with the operator's cookie, to
// switch string 1's breaker trip relay and to acknowledge an alarm, as a "simple" no-cors
// request and as a JSON request.
const EVIL_PAGE = `<!DOCTYPE html><html><body><script>
window.__done = null;
var target = TARGET;
var writes = [
  [target + "/api/v1/io/outputs/aux1.relay1", '{"on": true}'],
  [target + "/api/v1/alarms/ack?key=" + encodeURIComponent(KEY), "{}"]
];
Promise.all(writes.map(function (w) {
  return Promise.all([
    fetch(w[0], {method: "POST", mode: "no-cors", credentials: "include", body: w[1]})
      .then(function () { return "sent"; }, function (e) { return "failed " + e; }),
    fetch(w[0], {method: "POST", mode: "cors", credentials: "include", body: w[1],
                 headers: {"Content-Type": "application/json"}})
      .then(function (r) { return "answered " + r.status; }, function () { return "blocked"; })
  ]);
})).then(function (r) { window.__done = JSON.stringify(r); });
</script></body></html>`;

test("a page of another origin cannot write with the operator's session", { timeout: 60000 }, async () => {
  const relay = async () => {
    for (const d of (await daemon.getJson("/api/v1/io")).devices) for (const c of d.channels) if (c.id === "aux1.relay1") return c.value;
    return undefined;
  };
  const open = (await alarmList()).filter((a) => !a.acknowledged && a.rule !== "string.thermal_runaway");
  assert.ok(open.length, "no unacknowledged alarm left for the cross-origin test");
  const key = open[0].key;
  const html = EVIL_PAGE.replace("TARGET", JSON.stringify(daemon.url)).replace("KEY", JSON.stringify(key));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(html);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const page = await openPage(browser, daemon);
  try {
    await page.goto("/alarms");
    await pageLogin(page, "otto", "otto-password-1");
    const before = await relay();
    await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
    const done = await (await page.waitForFunction(() => window.__done, null, { timeout: 15000 })).jsonValue();
    await sleep(1000);
    assert.equal(await relay(), before, `a page of another origin switched aux1.relay1: ${done}`);
    const acked = (await alarmList()).some((a) => a.key === key && a.acknowledged);
    assert.ok(!acked, `a page of another origin acknowledged ${key}: ${done}`);
    assert.ok(!done.includes("answered 200"), `a cross-origin JSON request was answered 200: ${done}`);
    log(`OK: cross-origin page: ${done}; aux1.relay1 ${before}, ${key} unacknowledged`);
  } finally {
    server.close();
    await page.context().close();
  }
});
