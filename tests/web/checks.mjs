// Comparisons of pages with the REST API, shared by the browser tests: the battery tables
// (/battery), the overview tiles (/) and the battery room and I/O (/environment). Every read*()
// takes the page's DOM in one evaluation; every check*() returns a list of differences.
import { apiBlock, apiString, checkShown, NO_VALUE, range } from "./harness.mjs";

// Block table columns: (field, drift tolerance beyond the sampled range).
export const BLOCK_FIELDS = [
  ["voltage_v", 0.05],
  ["temperature_c", 0.3],
  ["ri_mohm", 0.3],
];
// String summary items under each table: (field, drift tolerance).
export const SUMMARY_FIELDS = [
  ["voltage_v", 0.3],
  ["target_voltage_v", 0.05],
  ["current_a", 0.2],
  ["power_kw", 0.05],
  ["ac_current_a", 0.05],
  ["charge_avg_pct", 1.0],
  ["block_voltage_spread_v", 0.05],
  ["temperature_max_c", 0.3],
];
export const QUALITIES = new Set(["ok", "stale", "comm_lost", "invalid", "not_present"]);
const QUALITY_TEXT = { ok: "ok", stale: "stale", comm_lost: "communication lost", invalid: "invalid", not_present: "not present" };

// The status a page may show for a block's status value object: its value while fresh, else
// "unknown" (a stale "ok" must never look green).
export function expectedStatus(vo) {
  if (!vo || vo.quality !== "ok") return "unknown";
  return vo.value;
}

// ------------------------------------------------------------------------------ /battery

export async function readBattery(page) {
  return page.evaluate((fields) => {
    const value = (el) => {
      if (!el) return null;
      const v = el.querySelector(".value");
      return {
        text: (v || el).textContent,
        quality: v ? v.dataset.quality : null,
        greyed: v ? v.classList.contains("q-bad") : false,
        title: v ? v.getAttribute("title") || "" : "",
        classes: [...el.classList],
        color: v ? getComputedStyle(v).color : null,
      };
    };
    return [...document.querySelectorAll("section[data-string]")].map((sec) => ({
      string: Number(sec.dataset.string),
      name: (sec.querySelector("h2") || {}).textContent?.trim(),
      mode: sec.querySelector(".mode-badge")?.textContent.trim() ?? null,
      tables: sec.querySelectorAll("table").length,
      headers: [...sec.querySelectorAll("table thead th")].map((th) => th.textContent.trim()),
      rows: [...sec.querySelectorAll("tr[data-block]")].map((tr) => {
        const fill = tr.querySelector(".eq-fill");
        return {
          block: Number(tr.dataset.block),
          number: tr.querySelector("th")?.textContent.trim(),
          link: tr.querySelector("th a")?.getAttribute("href") ?? null,
          status: tr.querySelector("td[data-field=status] [data-status]")?.dataset.status ?? null,
          cells: Object.fromEntries(fields.map((f) => [f, value(tr.querySelector(`td[data-field="${f}"]`))])),
          eqFill: fill ? fill.className : null,
          eqWidth: fill ? fill.style.width : null,
          eqText: tr.querySelector(".eq-text")?.textContent.trim() ?? null,
          note: tr.querySelector("td.note")?.textContent.trim() ?? "",
          notePending: tr.querySelector("td.note[data-pending]") !== null,
        };
      }),
      summary: Object.fromEntries([...sec.querySelectorAll("dl.summary [data-field]")].map((d) => [d.dataset.field, value(d.querySelector("dd"))])),
    }));
  }, BLOCK_FIELDS.map((f) => f[0]));
}

// The rows checkBattery() found waiting for the alarm list: within `ms` each shows the alarm that
// turned it red (or is no longer red). Returns the errors.
export async function confirmNotes(page, pending, ms = 4000) {
  const errors = [];
  for (const { string, block } of pending) {
    const sel = `section[data-string="${string}"] tr[data-block="${block}"]`;
    const ok = await page
      .waitForFunction((s) => {
        const tr = document.querySelector(s);
        return tr && !tr.querySelector("td.note[data-pending]");
      }, sel, { timeout: ms })
      .then(() => true, () => false);
    if (!ok) errors.push(`string ${string} block ${block}: status alarm, its note still says the alarm list is being read after ${ms} ms`);
  }
  return errors;
}

function checkQuality(errors, where, cell, qualities) {
  if (!QUALITIES.has(cell.quality)) {
    errors.push(`${where}: data-quality ${JSON.stringify(cell.quality)} is not a quality name`);
    return;
  }
  if (qualities.size && !qualities.has(cell.quality)) errors.push(`${where}: data-quality ${cell.quality}, the API said ${[...qualities].join("/")}`);
  if (cell.quality !== "ok" && !cell.greyed) errors.push(`${where}: quality ${cell.quality} but not greyed (no class q-bad)`);
  if (cell.quality === "ok" && cell.greyed) errors.push(`${where}: quality ok but greyed`);
  if (!cell.title.startsWith(QUALITY_TEXT[cell.quality] || cell.quality)) errors.push(`${where}: no tooltip with the quality and age (title ${JSON.stringify(cell.title)})`);
}

// The battery page (read by readBattery) against /api/v1/status documents sampled while it was
// read (docs), with the catalogue's decimals and units (cat).
// `pending`: rows whose status is newer than the alarm list the page holds (their note says the
// list is being read); confirmNotes() checks that their real notes follow.
export function checkBattery(read, docs, cat) {
  const errors = [];
  const pending = [];
  const latest = docs[docs.length - 1];
  if (read.length !== latest.strings.length) errors.push(`${read.length} string sections on the page, the API has ${latest.strings.length} strings`);
  let rows = 0;
  for (const st of latest.strings) {
    const n = st.string;
    const sec = read.find((x) => x.string === n);
    if (!sec) {
      errors.push(`string ${n}: no <section data-string=${n}>`);
      continue;
    }
    if (sec.name !== st.name) errors.push(`string ${n}: title ${JSON.stringify(sec.name)}, API name ${JSON.stringify(st.name)}`);
    if (sec.tables !== 1) errors.push(`string ${n}: ${sec.tables} tables in its section, expected 1`);
    const modes = new Set(docs.map((d) => apiString(d, n)?.mode?.value));
    if (!modes.has(sec.mode)) errors.push(`string ${n}: mode ${JSON.stringify(sec.mode)}, API ${[...modes].join("/")}`);
    for (const [field] of BLOCK_FIELDS) {
      const unit = cat.get(`block.${field}`)?.unit;
      if (unit && !sec.headers.some((h) => h.endsWith(`[${unit}]`))) errors.push(`string ${n}: no column header with the unit [${unit}] of ${field} (${sec.headers.join(" | ")})`);
    }
    const numbers = sec.rows.map((r) => r.block);
    const apiNumbers = st.blocks.map((b) => b.block);
    if (numbers.join(",") !== apiNumbers.join(",") || numbers.length !== st.block_count) {
      errors.push(`string ${n}: rows ${numbers.join(",")}, API block_count ${st.block_count}, blocks ${apiNumbers.join(",")}`);
    }
    rows += sec.rows.length;
    for (const row of sec.rows) {
      const b = row.block;
      const where = `${st.name} block ${b}`;
      const vosOf = (f) => docs.map((d) => apiBlock(d, n, b)?.[f]).filter(Boolean);
      if (row.number !== String(b)) errors.push(`${where}: number cell shows ${JSON.stringify(row.number)}`);
      if (row.link !== `/strings/${n}/blocks/${b}`) errors.push(`${where}: number links to ${row.link}`);
      for (const [field, tol] of BLOCK_FIELDS) {
        const cell = row.cells[field];
        if (!cell) {
          errors.push(`${where}: no cell td[data-field=${field}]`);
          continue;
        }
        const vos = vosOf(field);
        checkShown(errors, `${where} ${field}`, cell.text, vos, { decimals: cat.get(`block.${field}`)?.decimals, tol });
        checkQuality(errors, `${where} ${field}`, cell, new Set(vos.map((vo) => vo.quality)));
      }
      const statuses = new Set(vosOf("status").map(expectedStatus));
      if (!statuses.has(row.status)) errors.push(`${where}: status ${JSON.stringify(row.status)}, the API had ${[...statuses].join("/")}`);
      if (row.status && row.status !== "ok" && !row.note) errors.push(`${where}: status ${row.status} but no note says why`);
      if (row.notePending) pending.push({ string: n, block: b });
      // Equalization: the bar's level class and width, the percentage in words.
      const levels = new Set(vosOf("equalization_level").map((vo) => vo.value || "off"));
      const pcts = vosOf("equalization_pct").map((vo) => vo.value).filter((v) => typeof v === "number");
      const lvl = (row.eqFill || "").match(/lvl-(\S+)/)?.[1];
      if (!levels.has(lvl)) errors.push(`${where}: equalize bar level ${lvl}, API ${[...levels].join("/")}`);
      const width = parseFloat(row.eqWidth);
      if (pcts.length && !(width >= Math.min(...pcts) - 5 && width <= Math.min(100, Math.max(...pcts)) + 5)) {
        errors.push(`${where}: equalize bar width ${row.eqWidth}, API ${range(pcts)} %`);
      }
      const eqShown = (row.eqText || "").match(/^(\S+ %|—)/)?.[1];
      if (eqShown === undefined) errors.push(`${where}: equalize text ${JSON.stringify(row.eqText)}`);
      else checkShown(errors, `${where} equalization_pct`, eqShown, vosOf("equalization_pct"), { decimals: 0, tol: 2, unit: "%" });
    }
    for (const [field, tol] of SUMMARY_FIELDS) {
      const item = sec.summary[field];
      const where = `${st.name} summary ${field}`;
      if (!item) {
        errors.push(`${where}: missing (dl.summary [data-field=${field}])`);
        continue;
      }
      const vos = docs.map((d) => apiString(d, n)?.[field]).filter(Boolean);
      const p = cat.get(`string.${field}`) || {};
      checkShown(errors, where, item.text, vos, { decimals: p.decimals, tol, unit: p.unit || "" });
      if (p.unit && item.text.trim() !== NO_VALUE && !item.text.includes(` ${p.unit}`)) errors.push(`${where}: ${JSON.stringify(item.text)} has no unit ${p.unit}`);
      checkQuality(errors, where, item, new Set(vos.map((vo) => vo.quality)));
    }
  }
  const apiTotal = latest.strings.reduce((s, x) => s + x.blocks.length, 0);
  if (rows !== apiTotal) errors.push(`${rows} block rows in total, the API has ${apiTotal} blocks`);
  return { errors, rows, pending };
}

// ------------------------------------------------------------------------------ / (overview)

export async function readTiles(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll("section.tile[data-string]")].map((t) => {
      const facts = {};
      t.querySelectorAll(".tile-facts > div").forEach((d) => {
        const dt = d.querySelector("dt")?.textContent.trim();
        const dd = d.querySelector("dd");
        const v = dd?.querySelector(".value");
        facts[dt] = { text: (v || dd)?.textContent.trim() ?? "", quality: v ? v.dataset.quality : null, greyed: v ? v.classList.contains("q-bad") : false };
      });
      const worst = t.querySelector(".tile-worst a");
      const r = t.getBoundingClientRect();
      return {
        string: Number(t.dataset.string),
        name: t.querySelector("h2")?.textContent.trim(),
        status: t.querySelector(".tile-head [data-status]")?.dataset.status ?? null,
        worstHref: worst ? worst.getAttribute("href") : null,
        worstText: t.querySelector(".tile-worst")?.textContent.trim() ?? "",
        facts,
        box: { top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left, right: r.right },
      };
    }),
  );
}

const RANK = { ok: 0, unknown: 0.5, warning: 1, alarm: 2 };

// The overview tiles against /api/v1/status documents: voltage and mode of every string, the
// tile's status (the worst block's) and its "Worst: block N" link.
export function checkTiles(tiles, docs, cat) {
  const errors = [];
  const latest = docs[docs.length - 1];
  if (tiles.length !== latest.strings.length) errors.push(`${tiles.length} tiles, the API has ${latest.strings.length} strings`);
  for (const st of latest.strings) {
    const n = st.string;
    const tile = tiles.find((t) => t.string === n);
    if (!tile) {
      errors.push(`string ${n}: no tile section.tile[data-string=${n}]`);
      continue;
    }
    const where = `tile of string ${n}`;
    if (tile.name !== st.name) errors.push(`${where}: title ${JSON.stringify(tile.name)}, API ${JSON.stringify(st.name)}`);
    const volt = tile.facts.Voltage;
    const p = cat.get("string.voltage_v") || {};
    if (!volt) errors.push(`${where}: no Voltage`);
    else checkShown(errors, `${where} voltage`, volt.text, docs.map((d) => apiString(d, n)?.voltage_v).filter(Boolean), { decimals: p.decimals, tol: 0.3, unit: p.unit || "" });
    const modes = new Set(docs.map((d) => apiString(d, n)?.mode?.value));
    if (!tile.facts.Mode || !modes.has(tile.facts.Mode.text)) errors.push(`${where}: mode ${JSON.stringify(tile.facts.Mode?.text)}, API ${[...modes].join("/")}`);
    // The tile's status is its worst block's; a non-green tile links that block.
    const worstOf = (d) => {
      let w = "ok";
      (apiString(d, n)?.blocks || []).forEach((b) => {
        const s = expectedStatus(b.status);
        if ((RANK[s] ?? 0) > (RANK[w] ?? 0)) w = s;
      });
      return w;
    };
    const worsts = new Set(docs.map(worstOf));
    if (!worsts.has(tile.status)) errors.push(`${where}: status ${tile.status}, the worst block status in the API was ${[...worsts].join("/")}`);
    if (tile.status && tile.status !== "ok") {
      const m = (tile.worstHref || "").match(/^\/strings\/(\d+)\/blocks\/(\d+)$/);
      if (!m || Number(m[1]) !== n) {
        errors.push(`${where}: status ${tile.status} but no "Worst: block N" link of this string (${tile.worstHref})`);
      } else {
        const b = Number(m[2]);
        const ok = docs.some((d) => expectedStatus(apiBlock(d, n, b)?.status) === tile.status);
        if (!ok) errors.push(`${where}: worst block ${b} is not ${tile.status} in the API`);
      }
    }
  }
  return errors;
}

// ------------------------------------------------------------------------------ /environment

// Whether the application has a page at `path` (not the "Page not found" page).
export async function pageExists(page, path) {
  await page.goto(path);
  await page.waitForSelector("main h1, main .placeholder, main .notice");
  await page.waitForFunction(() => !document.querySelector("main .placeholder") || document.querySelector("main h1"), null, { timeout: 10000 }).catch(() => {});
  const h1 = await page.locator("main h1").first().textContent().catch(() => "");
  return !/not found/i.test(h1 || "");
}

export async function readEnvironment(page) {
  return page.evaluate(() => {
    const room = {};
    ["ambient_temperature_c", "humidity_pct", "hydrogen_pct"].forEach((f) => {
      const el = document.querySelector(`[data-field="${f}"]`);
      const v = el?.querySelector(".value");
      const item = el?.closest("[data-room]");
      room[f] = el
        ? {
            text: (v || el).textContent.trim(),
            quality: v ? v.dataset.quality : null,
            greyed: v ? v.classList.contains("q-bad") : false,
            title: v ? v.getAttribute("title") || "" : "",
            classes: [],
            level: item?.querySelector(".room-level [data-status]")?.dataset.status ?? null,
          }
        : null;
    });
    const electrolyte = [...document.querySelectorAll('[data-field="electrolyte_level"][data-string]')].map((el) => ({
      string: Number(el.dataset.string),
      text: el.textContent.trim(),
      greyed: el.classList.contains("q-bad"),
      level: el.closest("li")?.querySelector("[data-status]")?.dataset.status ?? null,
    }));
    const devices = [...document.querySelectorAll("[data-device]")].map((d) => ({
      id: d.dataset.device,
      name: d.querySelector(".io-device-name")?.textContent.trim() ?? null,
      state: d.querySelector(".io-state")?.textContent.trim() ?? null,
      channels: [...d.querySelectorAll("tr[data-channel]")].map((tr) => ({
        id: tr.dataset.channel,
        quality: tr.dataset.quality,
        greyed: tr.classList.contains("q-bad"),
        value: tr.querySelector('td[data-field="value"]')?.textContent.trim() ?? null,
      })),
    }));
    return { room, electrolyte, devices };
  });
}

// What the page must show for an /api/v1/io channel; null: a number (checked apart).
export function ioExpectedText(c) {
  const v = c.value;
  if (v === null || v === undefined) return NO_VALUE;
  if (typeof v === "boolean") {
    if (c.output) return v ? "on" : "off";
    if (c.role === "breaker_status") return v ? "closed" : "open";
    if (/door/i.test(c.name || "")) return v ? "open" : "closed";
    return v ? "active" : "inactive";
  }
  if (typeof v === "number") return null;
  return String(v);
}

// The environment page against /api/v1/system, /api/v1/status, /api/v1/io and /api/v1/alarms
// sampled in a window (samples: Sampler entries with those paths); ruleList: the system rules of
// GET /api/v1/alarms/rules.
export function checkEnvironment(env, samples, cat, ruleList = []) {
  const errors = [];
  const systems = samples.map((s) => s["/api/v1/system"]);
  const alarmLists = samples.map((s) => s["/api/v1/alarms"]?.alarms).filter(Boolean);
  for (const f of ["ambient_temperature_c", "humidity_pct", "hydrogen_pct"]) {
    const item = env.room[f];
    const vos = systems.map((s) => s[f]).filter(Boolean);
    const where = `battery room ${f}`;
    if (!item) {
      if (vos.some((vo) => vo.quality !== "not_present")) errors.push(`${where}: missing ([data-field=${f}])`);
      continue;
    }
    const p = cat.get(`system.${f}`) || {};
    checkShown(errors, where, item.text, vos, { decimals: p.decimals, unit: p.unit || "" });
    const qualities = new Set(vos.map((vo) => vo.quality));
    if (!qualities.has(item.quality)) errors.push(`${where}: data-quality ${item.quality}, API ${[...qualities].join("/")}`);
    if (item.quality !== "ok" && !item.greyed) errors.push(`${where}: quality ${item.quality} but not greyed`);
    // Its level is at least that of the active alarms of its rules.
    const ids = new Set(ruleList.filter((r) => r.point === `system.${f}`).map((r) => r.id));
    const alarmLevel = (list) => list.filter((a) => ids.has(a.rule) && !a.string).reduce((w, a) => Math.max(w, RANK[a.level] ?? 0), 0);
    const least = alarmLists.length ? Math.min(...alarmLists.map(alarmLevel)) : 0;
    if (item.quality === "ok" && (RANK[item.level] ?? -1) < least) errors.push(`${where}: shown at level ${item.level}, below its active alarms`);
  }
  const docs = samples.map((s) => s["/api/v1/status"]);
  for (const st of docs[docs.length - 1].strings) {
    const n = st.string;
    const vos = docs.map((d) => apiString(d, n)?.electrolyte_level).filter(Boolean);
    const item = env.electrolyte.find((e) => e.string === n);
    const where = `electrolyte of string ${n}`;
    if (!item) {
      errors.push(`${where}: missing ([data-field=electrolyte_level][data-string=${n}])`);
      continue;
    }
    const present = vos.some((vo) => vo.quality !== "not_present" && vo.value !== null);
    const texts = new Set(vos.map((vo) => (vo.quality === "not_present" || vo.value === null ? "no sensor" : String(vo.value))));
    if (!texts.has(item.text)) errors.push(`${where}: shows ${JSON.stringify(item.text)}, API ${[...texts].join("/")}`);
    if (present && vos.every((vo) => vo.quality !== "ok") && !item.greyed) errors.push(`${where}: not fresh in the API but not greyed`);
  }
  const ios = samples.map((s) => s["/api/v1/io"]);
  const latest = ios[ios.length - 1].devices;
  const shownIds = env.devices.map((d) => d.id);
  if (shownIds.join(",") !== latest.map((d) => d.id).join(",")) errors.push(`I/O devices shown ${shownIds.join(",")}, API ${latest.map((d) => d.id).join(",")}`);
  for (const d of latest) {
    const box = env.devices.find((x) => x.id === d.id);
    if (!box) continue;
    if (box.name !== (d.name || d.id)) errors.push(`I/O device ${d.id}: name ${JSON.stringify(box.name)}, API ${JSON.stringify(d.name)}`);
    const states = new Set(ios.flatMap((x) => x.devices.filter((y) => y.id === d.id).map((y) => String(y.state || "unknown").replace(/_/g, " "))));
    if (!states.has(box.state)) errors.push(`I/O device ${d.id}: state ${JSON.stringify(box.state)}, API ${[...states].join("/")}`);
    const ids = box.channels.map((c) => c.id);
    if (ids.join(",") !== d.channels.map((c) => c.id).join(",")) errors.push(`I/O device ${d.id}: channels ${ids.join(",")}, API ${d.channels.map((c) => c.id).join(",")}`);
    for (const row of box.channels) {
      const seen = ios.flatMap((x) => x.devices.filter((y) => y.id === d.id).flatMap((y) => y.channels.filter((c) => c.id === row.id)));
      if (!seen.length) continue;
      const where = `I/O ${row.id}`;
      const expected = new Set(seen.map(ioExpectedText));
      if (expected.has(null)) {
        const unit = seen[seen.length - 1].unit || "";
        let decimals;
        if (seen[0].point && cat.get(seen[0].point)) decimals = cat.get(seen[0].point).decimals;
        checkShown(errors, where, row.value, seen, { decimals, unit });
        if (unit && row.value !== NO_VALUE && !row.value.endsWith(` ${unit}`)) errors.push(`${where}: ${JSON.stringify(row.value)} has no unit ${unit}`);
      } else if (!expected.has(row.value)) {
        errors.push(`${where}: shows ${JSON.stringify(row.value)}, API ${[...expected].join("/")}`);
      }
      const qualities = new Set(seen.map((c) => c.quality));
      if (!qualities.has(row.quality)) errors.push(`${where}: data-quality ${row.quality}, API ${[...qualities].join("/")}`);
      if (row.quality !== "ok" && !row.greyed) errors.push(`${where}: quality ${row.quality} but not greyed`);
    }
  }
  return errors;
}
