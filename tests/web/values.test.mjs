// The values the pages show are the daemon's: the battery tables (/battery) and the overview
// tiles (/) against GET /api/v1/status sampled while the page is read (the demo plant drifts at
// time scale 60), within the catalogue's display rounding plus a small drift tolerance. Then the
// phone layout (390 × 844): string tiles before the alarm summary, nothing wider than the screen
// but inside a .table-scroll.
//
//   node tests/web/values.test.mjs            (EQUALIS_BIN_DIR: where equalisd is; default build/bin)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { checkBattery, checkTiles, readBattery, readTiles } from "./checks.mjs";
import { assertNoErrors, catalogue, checkShown, launchBrowser, log, openPage, readWhileSampling, sleep, startDaemon, waitForUpdate, waitLive } from "./harness.mjs";

let daemon;
let browser;
let cat;

before(async () => {
  daemon = await startDaemon({ timeScale: 60 });
  browser = await launchBrowser();
  cat = await catalogue(daemon);
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// Reads the page with read() while the API is sampled: from 2 s before until 1 s after.
const readSampled = (page, read) => readWhileSampling(daemon, page, read, { beforeMs: 2000 });

test("battery tables show the API's block values, qualities, status and summaries", { timeout: 90000 }, async () => {
  const page = await openPage(browser, daemon);
  const blocks = (await daemon.getJson("/api/v1/status")).strings.reduce((n, s) => n + s.blocks.length, 0);
  await page.goto("/battery");
  await waitLive(page);
  await page.waitForFunction((n) => document.querySelectorAll("tr[data-block]").length === n, blocks);
  await waitForUpdate(page);
  const { shown, docs } = await readSampled(page, readBattery);
  const { errors, rows } = checkBattery(shown, docs, cat);

  // The top bar: live, the data's time, the site, the simulator badge.
  const system = await daemon.getJson("/api/v1/system");
  const top = await page.evaluate(() => ({
    conn: document.querySelector(".conn")?.dataset.state,
    time: document.querySelector(".server-time time")?.textContent.trim(),
    site: document.querySelector(".brand-name")?.textContent.trim(),
    badge: document.querySelector(".sim-badge")?.textContent.trim(),
  }));
  if (top.conn !== "live") errors.push(`connection indicator says ${top.conn}`);
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(top.time || "")) errors.push(`the data's time is not shown (${JSON.stringify(top.time)})`);
  if (system.site?.name && top.site !== system.site.name) errors.push(`site name ${JSON.stringify(top.site)}, API ${JSON.stringify(system.site.name)}`);
  if (top.badge !== `simulated ×${system.time_scale}`) errors.push(`simulator badge ${JSON.stringify(top.badge)}, time scale ${system.time_scale}`);
  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "/battery against /api/v1/status");
  log(`OK: ${rows} block rows and ${shown.length} string summaries match the API (${docs.length} samples)`);

  // /battery/{s}: one string only.
  await page.goto("/battery/2");
  await page.waitForSelector('section[data-string="2"] tr[data-block]');
  const one = await readBattery(page);
  assert.deepEqual(one.map((s) => s.string), [2], "/battery/2 shows string 2 only");
  await page.context().close();
});

test("overview tiles show each string's voltage, mode and worst block", { timeout: 60000 }, async () => {
  const page = await openPage(browser, daemon);
  const strings = (await daemon.getJson("/api/v1/status")).strings.length;
  await page.goto("/");
  await waitLive(page);
  await page.waitForFunction((n) => document.querySelectorAll("section.tile[data-string]").length === n, strings);
  await waitForUpdate(page);
  const { shown, docs } = await readSampled(page, readTiles);
  const errors = checkTiles(shown, docs, cat);
  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "overview tiles against /api/v1/status");
  log(`OK: ${shown.length} tiles (${shown.map((t) => `${t.facts.Voltage?.text}, ${t.facts.Mode?.text}, ${t.status}`).join("; ")})`);
  await page.context().close();
});

// Elements wider than the screen that are not inside a horizontally scrolling box.
async function overflowing(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    document.querySelectorAll("body *").forEach((el) => {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || r.right <= width + 1) return;
      if (el.closest(".table-scroll, .visually-hidden, .skip-link")) return;
      const name = el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
      out.push(`${name} reaches ${Math.round(r.right)} px`);
    });
    return { scrollWidth: document.documentElement.scrollWidth, width, out: out.slice(0, 8) };
  });
}

test("phone (390 × 844): tiles before the alarm summary, no sideways page scroll", { timeout: 90000 }, async () => {
  const page = await openPage(browser, daemon, { viewport: { width: 390, height: 844 }, isMobile: true });
  await page.goto("/");
  await waitLive(page);
  await page.waitForSelector("section.tile[data-string]");
  await page.waitForSelector("section.alarm-summary");
  const boxes = await page.evaluate(() => {
    const box = (el) => {
      const r = el.getBoundingClientRect();
      return { top: r.top + scrollY, bottom: r.bottom + scrollY };
    };
    return { tiles: [...document.querySelectorAll("section.tile[data-string]")].map(box), alarms: box(document.querySelector("section.alarm-summary")) };
  });
  const errors = [];
  boxes.tiles.forEach((t, i) => {
    if (t.bottom > boxes.alarms.top) errors.push(`tile ${i + 1} ends at ${Math.round(t.bottom)} px, below the alarm summary's top ${Math.round(boxes.alarms.top)} px`);
  });
  const pages = ["/", "/battery", "/strings/1/blocks/2", "/strings/1/pattern", "/alarms", "/events", "/discharges", "/environment"];
  for (const p of pages) {
    await page.goto(p);
    await page.waitForSelector("main h1");
    await sleep(700); // charts and polled lists render
    const o = await overflowing(page);
    if (o.scrollWidth > o.width || o.out.length) errors.push(`${p}: page ${o.scrollWidth} px wide on a ${o.width} px screen; ${o.out.join(", ") || "(no single element)"}`);
  }
  errors.push(...page.problems.map((p) => `page error: ${p}`));
  assertNoErrors(errors, "phone layout");
  log(`OK: ${boxes.tiles.length} tiles above the alarm summary; ${pages.length} pages fit 390 px`);
  await page.context().close();
});

test("the block page's live values are the API's", { timeout: 90000 }, async () => {
  const S = 2;
  const B = 9;
  const page = await openPage(browser, daemon);
  await page.goto(`/strings/${S}/blocks/${B}`);
  await waitLive(page);
  await page.waitForSelector("dl.summary div[data-field] dd");
  await waitForUpdate(page);
  const read = (p) =>
    p.$$eval("dl.summary div[data-field]", (items) => items.map((d) => ({ field: d.dataset.field, text: d.querySelector("dd").textContent })));
  const { shown, docs } = await readSampled(page, read);
  const errors = [];
  const numeric = shown.filter((x) => (cat.get(`block.${x.field}`)?.type || "") !== "enum");
  assert.ok(numeric.length >= 8, `the block page shows its values: ${JSON.stringify(shown)}`);
  for (const { field, text } of numeric) {
    const p = cat.get(`block.${field}`) || {};
    const vos = docs.map((d) => d.strings.find((s) => s.string === S).blocks.find((b) => b.block === B)[field]);
    // Counters grow while the page is read: allow the answers of the sampled span.
    const tol = field.endsWith("_count") ? 20 : field === "voltage_v" ? 0.05 : 0.3;
    checkShown(errors, `block ${S}/${B} ${field}`, text, vos, { decimals: p.decimals, tol, unit: p.unit });
  }
  errors.push(...page.problems.map((x) => `page error: ${x}`));
  assertNoErrors(errors, "block page");
  log(`OK: ${numeric.length} values of block ${S}/${B} match the API`);
  await page.context().close();
});
