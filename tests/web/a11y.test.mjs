// axe-core on every page in both themes (the choice stored as the theme switch stores it, set
// before the page loads): no violation of impact serious or critical; the others are printed.
// The pages: the overview, the battery tables, a block page, the voltage pattern, discharges,
// alarms, the event log, every page the navigation links (environment, settings … when they
// exist) and the "page not found" page.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { launchBrowser, log, navigate, openPage, runAxe, sleep, startDaemon, waitLive } from "./harness.mjs";

const PAGES = ["/", "/battery", "/battery/1", "/strings/1/blocks/2", "/strings/1/pattern", "/discharges", "/alarms", "/events", "/environment", "/no/such/page"];

let daemon;
let browser;

before(async () => {
  daemon = await startDaemon({ timeScale: 60 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

// Waits until a page has rendered what it loads: live data, no "Loading…" left, charts drawn.
async function settle(page) {
  await waitLive(page);
  await page.waitForFunction(() => ![...document.querySelectorAll("main .placeholder, main .sub")].some((e) => /loading/i.test(e.textContent)), null, { timeout: 15000 }).catch(() => {});
  await sleep(300);
}

for (const theme of ["light", "dark"]) {
  test(`axe: no serious or critical violation on any page, ${theme} theme`, { timeout: 150000 }, async () => {
    const page = await openPage(browser, daemon, { theme, colorScheme: theme });
    await page.goto("/");
    await waitLive(page);
    const nav = await page.$$eval("nav a[href]", (as) => as.map((a) => a.getAttribute("href")));
    const pages = [...new Set([...PAGES, ...nav])];
    const serious = [];
    for (const p of pages) {
      const t1 = Date.now();
      await navigate(page, p);
      await settle(page);
      if (process.env.EQUALIS_WEB_VERBOSE) log(`${theme} ${p}: loaded in ${Date.now() - t1} ms`);
      const shown = await page.evaluate(() => document.documentElement.dataset.theme);
      assert.equal(shown, theme, `${p} is shown in the ${shown} theme`);
      const notFound = /not found/i.test(await page.locator("main h1").first().textContent());
      if (notFound && p !== "/no/such/page") {
        log(`${theme}: ${p} does not exist yet (page not found); checked as such`);
      }
      const t0 = Date.now();
      const r = await runAxe(page);
      if (process.env.EQUALIS_WEB_VERBOSE) log(`${theme} ${p}: axe ${Date.now() - t0} ms`);
      r.violations.forEach((v) => serious.push(`${theme} ${p}: ${v}`));
      r.minor.forEach((v) => log(`${theme} ${p}: minor: ${v}`));
    }
    assert.deepEqual(page.problems, [], `page errors: ${page.problems.join("; ")}`);
    assert.deepEqual(serious, [], `axe: serious or critical violations:\n  ${serious.join("\n  ")}`);
    log(`OK: ${pages.length} pages without serious or critical axe violations in the ${theme} theme`);
    await page.context().close();
  });
}
