// The battery room and the I/O (/environment) against the API. The daemon plays a scenario
// written here: at 1 min plant time the door contact aux1.di3 opens, the room air turns humid
// (97 %) and string 1's pilot cell drops to 30 % electrolyte; once the API reports the alarms
// that raises, the page must show the room values as /api/v1/system has them (to the
// catalogue's decimals), the electrolyte of every string as /api/v1/status, every I/O device and
// channel of /api/v1/io with its value and quality, and the scenario named explicitly: the
// door open, the breakers closed, the relays off, the humidity at alarm level, string 1's
// electrolyte at warning level and string 2 without a level sensor.
// (The room and I/O panels were on the old single page, tests/integration/web_status_test.py.)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { checkEnvironment, pageExists, readEnvironment } from "./checks.mjs";
import { assertNoErrors, catalogue, launchBrowser, log, openPage, Sampler, sleep, startDaemon, waitFor, waitLive } from "./harness.mjs";

const SCENARIO = `name = "web-environment-test"
description = "Door open, humid air and a low pilot-cell electrolyte for the environment page test"
duration = "1d"

[[event]]
at = "1min"
action = "input"
channel = "aux1.di3"
active = true

[[event]]
at = "1min"
action = "humidity"
humidity_pct = 97
swing_pct = 0

[[event]]
at = "1min"
action = "electrolyte"
string = 1
block = 1
level_pct = 30
`;
// The alarms the scenario raises ("rule/string"): the page is read once the API has them.
const SCENARIO_ALARMS = ["input.aux1.di3/0", "system.humidity_high/0", "string.electrolyte_low/1"];
const PATHS = ["/api/v1/system", "/api/v1/status", "/api/v1/io", "/api/v1/alarms"];

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon({ timeScale: 60, scenario: SCENARIO });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

test("the room and I/O page shows the API's room values, electrolyte and channels", { timeout: 90000 }, async (t) => {
  const page = await openPage(browser, daemon);
  if (!(await pageExists(page, "/environment"))) {
    t.skip("/environment does not exist yet");
    return;
  }
  const cat = await catalogue(daemon);
  await waitFor(async () => {
    const active = new Set((await daemon.getJson("/api/v1/alarms")).alarms.map((a) => `${a.rule}/${a.string || 0}`));
    return SCENARIO_ALARMS.every((a) => active.has(a));
  }, `the scenario's alarms ${SCENARIO_ALARMS.join(", ")}`, 30000);
  await waitLive(page);
  await page.waitForSelector("tr[data-channel]");
  await page.waitForSelector('[data-field="humidity_pct"] .value');
  await sleep(3500); // the I/O and the alarm list are polled every 3 s
  const sampler = new Sampler(daemon, { paths: PATHS }).start();
  await sleep(3500); // samples over one poll period before the page is read
  const read = Date.now();
  const env = await readEnvironment(page);
  await sleep(500);
  await sampler.stop();
  const rules = (await daemon.getJson("/api/v1/alarms/rules")).system || [];
  const errors = checkEnvironment(env, sampler.since(read - 6000), cat, rules);

  // The scenario, named.
  const channel = (id) => env.devices.flatMap((d) => d.channels).find((c) => c.id === id)?.value;
  for (const [id, want] of [
    ["aux1.di1", "closed"],
    ["aux1.di2", "closed"],
    ["aux1.di3", "open"],
    ["aux1.relay1", "off"],
  ]) {
    if (channel(id) !== want) errors.push(`I/O ${id}: shows ${JSON.stringify(channel(id))}, expected ${want}`);
  }
  if (env.room.humidity_pct?.level !== "alarm") errors.push(`humidity at 97 % is not shown at alarm level (${env.room.humidity_pct?.level})`);
  const el1 = env.electrolyte.find((e) => e.string === 1);
  if (el1?.text !== "warning" || el1?.level !== "warning") errors.push(`string 1 electrolyte: ${JSON.stringify(el1)}, expected "warning" at warning level`);
  const el2 = env.electrolyte.find((e) => e.string === 2);
  if (!el2 || el2.text !== "no sensor") errors.push(`string 2 has no level sensor, but shows ${JSON.stringify(el2)}`);
  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "/environment against the API");
  const channels = env.devices.reduce((n, d) => n + d.channels.length, 0);
  assert.ok(channels > 0);
  log(`OK: room (${Object.entries(env.room).map(([f, v]) => `${f} ${v?.text}`).join(", ")}), electrolyte and ${channels} channels of ${env.devices.length} devices match the API`);
  await page.context().close();
});

test("the room trends draw the recorded air of every sensor, with the rules' thresholds", { timeout: 90000 }, async () => {
  await waitFor(async () => (await daemon.getJson("/api/v1/alarms")).alarms.some((a) => a.rule === "system.humidity_high"), "the humidity alarm", 30000);
  const page = await openPage(browser, daemon);
  const replies = new Map();
  page.on("response", async (r) => {
    const url = new URL(r.url());
    if (url.pathname === "/api/v1/system/history" && r.ok()) replies.set(url.searchParams.get("quantity"), await r.json());
  });
  await page.goto("/environment?range=1d");
  await waitLive(page);
  const status = await daemon.getJson("/api/v1/status");
  const ruleList = (await daemon.getJson("/api/v1/alarms/rules")).system || [];
  const errors = [];
  const ROOM = { ambient_temperature_c: "ambient temperature", humidity_pct: "humidity", hydrogen_pct: "hydrogen" };
  let charts = 0;
  for (const [field, label] of Object.entries(ROOM)) {
    const present = status.system[field]?.quality !== "not_present";
    const card = page.locator(`.env-trends [data-chart="${field}"]`);
    if (!present) {
      if ((await card.count()) !== 0) errors.push(`${field}: a chart although the site has no such sensor`);
      const note = (await page.locator(".env-trends").textContent()) || "";
      if (!note.includes(label)) errors.push(`${field}: no sensor, but the trends do not say so (${JSON.stringify(note)})`);
      continue;
    }
    charts += 1;
    await card.locator("canvas").first().waitFor({ timeout: 15000 });
    await page.waitForFunction((f) => document.querySelector(`[data-chart="${f}"] [data-count]`), field);
    const shown = Number(await card.locator("[data-count]").getAttribute("data-count"));
    const reply = replies.get(field);
    if (!reply) {
      errors.push(`${field}: the page drew a chart without reading /api/v1/system/history`);
      continue;
    }
    if (shown !== reply.count || reply.count < 2) errors.push(`${field}: the chart says ${shown} points, the reply had ${reply.count}`);
    const values = reply.values.filter((v) => typeof v === "number");
    if (field === "humidity_pct" && !(Math.max(...values) >= 95)) errors.push(`humidity: the scenario's 97 % is not in the recorded series (max ${Math.max(...values)})`);
    if (field === "ambient_temperature_c") {
      const live = status.system[field].value;
      if (Math.abs(values[values.length - 1] - live) > 1.5) errors.push(`ambient: last recorded ${values[values.length - 1]} °C, live ${live} °C`);
    }
    // Every enabled rule of the point is drawn, and named in words under the chart.
    const lines = (await card.locator(".chart-thresholds").textContent().catch(() => "")) || "";
    for (const r of ruleList.filter((x) => x.point === `system.${field}` && x.enabled)) {
      for (const v of [r.warning, r.alarm]) if (!lines.includes(` ${v}`)) errors.push(`${field}: threshold ${v} of rule ${r.id} not drawn (${JSON.stringify(lines)})`);
    }
  }
  if (charts === 0) errors.push("no room chart at all");
  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "/environment room trends");
  log(`OK: ${charts} room trend(s) drawn from /api/v1/system/history with their thresholds`);
  await page.context().close();
});
