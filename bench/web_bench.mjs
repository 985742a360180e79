// Web benchmark: the time from navigating to the overview (/) until it shows every string's tile
// with its voltage and the heat map has a cell for every block, on a 600-block plant (the soak
// plant, config/soak-plant.toml: 10 strings × 60 blocks) in headless Chromium; and the time to
// draw the voltage pattern of string 1 (60 blocks) over a month at the float cadence (2160 times
// per block, the reply served to the page as the daemon would send it, so that only the page's
// work is timed; the server's part is in equalis-bench-history). Not a test: it prints one JSON
// line per figure with the conditions.
//
//   EQUALIS_BIN_DIR=build/bin node bench/web_bench.mjs [--config FILE | --strings 20 --blocks 30] [--runs 7]
//
// Each run is a cold load in a new browser context (no cache); the time is measured in the page
// (performance.now() when a MutationObserver first sees every tile and every heat-map cell, i.e.
// milliseconds since the navigation started). The daemon runs at time scale 60.
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { launchBrowser, SOURCE_DIR, startDaemon, tempDir } from "../tests/web/harness.mjs";

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const runs = Number(arg("runs", 7));
let config = arg("config", null);
if (!config && arg("strings", null)) {
  const strings = Number(arg("strings"));
  const blocks = Number(arg("blocks", 30));
  config = path.join(tempDir("equalis-web-bench-"), "plant.toml");
  let text = `[site]\nname = "Web bench ${strings} × ${blocks}"\n\n[simulation.ups]\nload_kw = ${(strings * 6).toFixed(1)}\n`;
  for (let s = 1; s <= strings; s += 1) text += `\n[[string]]\nname = "String ${s}"\nblocks = ${blocks}\nage_years = ${s % 2 ? 5.0 : 0.0}\n`;
  writeFileSync(config, text);
} else if (!config) {
  config = path.join(SOURCE_DIR, "config", "soak-plant.toml");
}

// Records in the page when the overview first shows all tiles (each with a voltage) and every
// heat-map cell of the plant.
function recorder() {
  window.__tilesShownMs = null;
  const check = () => {
    if (window.__tilesShownMs !== null) return;
    const want = window.__expect;
    const tiles = document.querySelectorAll("section.tile[data-string]");
    if (!want || tiles.length !== want.strings) return;
    for (const t of tiles) {
      const v = [...t.querySelectorAll(".tile-facts dt")].find((dt) => dt.textContent.trim() === "Voltage");
      if (!v || !/\d/.test(v.nextElementSibling?.textContent || "")) return;
    }
    if (document.querySelectorAll(".heat-cell").length !== want.blocks) return;
    window.__tilesShownMs = performance.now();
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true });
}

const daemon = await startDaemon({ timeScale: 60, config });
const browser = await launchBrowser();
try {
  const status = await daemon.getJson("/api/v1/status");
  const expect = { strings: status.strings.length, blocks: status.strings.reduce((n, s) => n + s.blocks.length, 0) };
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript(`window.__expect = ${JSON.stringify(expect)}; (${recorder.toString()})();`);
    const page = await context.newPage();
    await page.goto(daemon.url + "/");
    await page.waitForFunction(() => window.__tilesShownMs !== null, null, { timeout: 60000 });
    times.push(await page.evaluate(() => window.__tilesShownMs));
    await context.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const cpu = os.cpus()[0]?.model?.trim() || "unknown";

  // The voltage pattern of string 1 over a month: a reply of every block at the 20-min cadence.
  const blocksOf1 = status.strings[0].blocks.length;
  const t1 = status.time_ms;
  const times1 = [];
  for (let t = t1 - 30 * 86400e3; t <= t1; t += 20 * 60e3) times1.push(t);
  const reply = JSON.stringify({
    string: 1,
    quantity: "voltage_v",
    unit: "V",
    times_ms: times1,
    blocks: Array.from({ length: blocksOf1 }, (_, b) => ({
      block: b + 1,
      values: times1.map((t, i) => +(13.6 + 0.003 * b + 0.02 * Math.sin(i / 36 + b)).toFixed(3)),
    })),
    downsampled: false,
    source_count: times1.length,
  });
  const drawTimes = [];
  const afterReply = [];
  for (let i = 0; i < runs; i += 1) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.route("**/api/v1/strings/1/blocks/history**", (route) =>
      route.fulfill({ status: 200, contentType: "application/json", body: reply }),
    );
    await context.addInitScript(() => {
      window.__drawnMs = null;
      new MutationObserver((_, obs) => {
        if (window.__drawnMs === null && document.querySelector(".chart canvas")) {
          obs.disconnect();
          requestAnimationFrame(() => requestAnimationFrame(() => (window.__drawnMs = performance.now())));
        }
      }).observe(document, { childList: true, subtree: true });
    });
    const page = await context.newPage();
    await page.goto(daemon.url + "/strings/1/pattern?range=30d");
    await page.waitForFunction(() => window.__drawnMs !== null, null, { timeout: 60000 });
    const [drawn, replied] = await page.evaluate(() => {
      const r = performance.getEntriesByType("resource").find((e) => e.name.includes("/blocks/history"));
      return [window.__drawnMs, r ? r.responseEnd : null];
    });
    drawTimes.push(drawn);
    if (replied !== null) afterReply.push(drawn - replied);
    await context.close();
  }
  const drawSorted = [...drawTimes].sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: "web",
      metric: "pattern_month_drawn_ms",
      value: Math.round(drawSorted[Math.floor(drawSorted.length / 2)]),
      unit: "ms",
      min_ms: Math.round(drawSorted[0]),
      max_ms: Math.round(drawSorted[drawSorted.length - 1]),
      blocks: blocksOf1,
      times_per_block: times1.length,
      after_reply_ms: afterReply.map((t) => Math.round(t)),
      after_reply_median_ms: Math.round([...afterReply].sort((a, b) => a - b)[Math.floor(afterReply.length / 2)]),
      note: "from navigation to the chart drawn, with the month's reply served without the daemon",
      chromium: browser.version(),
      cpus: os.cpus().length,
      node: process.version,
    }),
  );
  console.log(
    JSON.stringify({
      bench: "web",
      metric: "overview_all_tiles_ms",
      value: Math.round(median),
      unit: "ms",
      min_ms: Math.round(sorted[0]),
      max_ms: Math.round(sorted[sorted.length - 1]),
      runs: times.map((t) => Math.round(t)),
      strings: expect.strings,
      blocks: expect.blocks,
      config: path.relative(SOURCE_DIR, config).startsWith("..") ? `generated ${expect.strings} × ${expect.blocks / expect.strings}` : path.relative(SOURCE_DIR, config),
      chromium: browser.version(),
      headless: true,
      viewport: "1280x900",
      time_scale: 60,
      cpus: os.cpus().length,
      cpu,
      node: process.version,
      version: (await daemon.getJson("/api/v1/system")).version,
    }),
  );
} finally {
  await browser.close();
  await daemon.stop();
}
