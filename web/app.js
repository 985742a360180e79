// Equalis status page: active alarms, the battery room (ambient, humidity, hydrogen, electrolyte
// level, alarm counts), one card per battery string with a block table and the string summary,
// and the I/O devices with their channels (read-only).
// Plain JavaScript, no dependencies. Data comes from the daemon's REST API (initial load and
// fallback polling) and its Server-Sent Events stream (/api/v1/stream, live updates: strings,
// blocks and system points). Alarms (/alarms) and I/O (/io) are polled every 3 s.
//
// Data quality: every value arrives as {value, quality, time, age_s}. Anything that is not
// quality "ok" is greyed (class "q-bad"), a null value is shown as "—", and every value has a
// tooltip with its quality and age. When the page itself stops receiving data, everything is
// greyed as well (body class "data-old"), so an old page never looks live.
(function () {
  "use strict";

  var API = "/api/v1";
  var DATA_OLD_MIN_MS = 6000;  // no data for this long (wall clock): treat the whole page as old
  var POLL_MS = 2500;          // REST polling interval while the stream is down
  var RECONNECT_MS = 3000;     // delay before re-creating a closed EventSource
  var WATCHDOG_MS = 1000;

  var LEVEL_TEXT = {
    off: "OFF", eco_plus: "ECO+", eco: "ECO", normal: "Normal", power: "Power", boost: "Boost"
  };
  var QUALITY_TEXT = {
    ok: "ok", stale: "stale", comm_lost: "communication lost", invalid: "invalid",
    not_present: "not present"
  };
  var STATUS_TEXT = { ok: "ok", warning: "warning", alarm: "alarm", unknown: "unknown" };

  // Block table columns, in the seed's order.
  var BLOCK_COLUMNS = [
    { field: "block", label: "No.", title: "Block number" },
    { field: "voltage_v", label: "Volt. [V]", name: "Voltage", unit: "V", decimals: 2 },
    { field: "temperature_c", label: "Temp. [°C]", name: "Temperature", unit: "°C", decimals: 1 },
    { field: "ri_mohm", label: "Ri [mΩ]", name: "Internal resistance", unit: "mΩ", decimals: 2 },
    { field: "charge_pct", label: "Charge [%]", name: "Charge", unit: "%", decimals: 0, suffix: "%" },
    { field: "equalization_pct", label: "Equalize", kind: "bar" },
    { field: "status", label: "Status", kind: "dot" }
  ];

  // String summary below the table.
  var SUMMARY = [
    { field: "voltage_v", label: "Σ Voltage", unit: "V", decimals: 2 },
    { field: "charge_avg_pct", label: "Average charge", unit: "%", decimals: 1 },
    { field: "target_voltage_v", label: "Target voltage", unit: "V", decimals: 2 },
    { field: "current_a", label: "DC current", unit: "A", decimals: 2 },
    { field: "power_kw", label: "Real power", unit: "kW", decimals: 2 },
    { field: "ac_current_a", label: "AC current", unit: "A", decimals: 2 }
  ];

  // Secondary figures in the card footer.
  var EXTRA = [
    { field: "block_voltage_min_v", label: "Block min", unit: "V", decimals: 3 },
    { field: "block_voltage_max_v", label: "Block max", unit: "V", decimals: 3 },
    { field: "block_voltage_spread_v", label: "Spread ±", unit: "V", decimals: 3 },
    { field: "temperature_max_c", label: "Max temp.", unit: "°C", decimals: 1 }
  ];

  // Battery-room environment (system points) with the alarm rules that colour each item.
  var ENV = [
    { field: "ambient_temperature_c", label: "Ambient", name: "Ambient temperature", unit: "°C",
      decimals: 1, rules: ["system.ambient_high", "system.ambient_low"] },
    { field: "humidity_pct", label: "Humidity", name: "Relative humidity", unit: "% RH",
      decimals: 1, rules: ["system.humidity_high"] },
    { field: "hydrogen_pct", label: "Hydrogen", name: "Hydrogen", unit: "% vol", decimals: 2,
      rules: ["system.hydrogen_high"] }
  ];
  // Alarm counts (system points): coloured when not zero.
  var ENV_COUNTS = [
    { field: "alarm_count", label: "Alarms", level: "alarm" },
    { field: "warning_count", label: "Warnings", level: "warning" },
    { field: "unacknowledged_count", label: "Unacknowledged", level: "warning" }
  ];
  var LEVEL_RANK = { ok: 0, warning: 1, alarm: 2 };

  var RULES_POLL_MS = 60000;   // alarm levels for the environment tooltips
  var IO_POLL_MS = 3000;       // the stream does not carry I/O: poll /io
  var IO_OLD_MS = 12000;       // no /io answer for this long (wall clock): grey the panel
  // Display decimals of analog channels by kind.
  var IO_DECIMALS = { temperature: 1, humidity: 1, hydrogen: 3, analog_input: 2 };

  var page = {
    cards: new Map(),        // string number → card record
    layoutKey: "",           // string numbers + block counts the DOM was built for
    lastDataWall: 0,         // Date.now() of the last successful data update
    lastStreamWall: 0,       // Date.now() of the last stream snapshot applied
    streamDoc: null,         // the live state: the last snapshot with the deltas since applied
    lastPollWall: 0,
    polling: false,
    source: null,
    conn: "connecting",
    timeScale: 1,
    simulated: false,
    dataOldMs: DATA_OLD_MIN_MS,  // raised to the daemon's staleness limit in real time (/system)
    env: null,               // environment items (built once)
    ruleLevels: new Map(),   // "rule" or "rule/string" → worst active alarm level
    ruleLimits: new Map(),   // system rule id → {warning, alarm} from /alarms/rules
    io: { key: "", devices: new Map(), lastOkWall: 0, polling: false }
  };

  var $ = function (id) { return document.getElementById(id); };

  // ---------------------------------------------------------------- formatting

  function isNum(v) { return typeof v === "number" && isFinite(v); }

  function fmtNumber(v, decimals) {
    var s = v.toFixed(decimals);
    if (/^-0(\.0*)?$/.test(s)) s = s.slice(1);   // no "-0.00"
    return s;
  }

  // Display text of a value object: "—" for a missing/null value.
  function fmtValue(vo, decimals, suffix) {
    if (!vo || vo.value === null || vo.value === undefined) return "—";
    if (isNum(vo.value)) return fmtNumber(vo.value, decimals || 0) + (suffix || "");
    return String(vo.value);
  }

  function withUnit(text, unit) {
    return text === "—" ? text : text + " " + unit;
  }

  function fmtAge(s) {
    if (!isNum(s)) return "unknown";
    if (s < 1) return "< 1 s";
    if (s < 90) return Math.round(s) + " s";
    if (s < 90 * 60) return Math.round(s / 60) + " min";
    if (s < 48 * 3600) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }

  function qualityOf(vo) {
    if (!vo) return "not_present";
    return vo.quality || "not_present";
  }

  function qualityNote(vo) {
    var q = qualityOf(vo);
    var txt = "quality " + (QUALITY_TEXT[q] || q);
    if (vo && isNum(vo.age_s)) {
      txt += ", age " + fmtAge(vo.age_s) + (page.simulated ? " (simulated)" : "");
    } else {
      txt += ", no measurement time";
    }
    return txt;
  }

  // Marks an element with the quality of a value object: data-quality, grey when not ok.
  function applyQuality(el, vo, title) {
    var q = qualityOf(vo);
    var isNull = !vo || vo.value === null || vo.value === undefined;
    setAttr(el, "data-quality", q);
    el.classList.toggle("q-bad", q !== "ok" || isNull);
    el.classList.toggle("q-null", isNull);
    ["stale", "comm_lost", "invalid", "not_present"].forEach(function (k) {
      el.classList.toggle("q-" + k, q === k);
    });
    setAttr(el, "title", title + " — " + qualityNote(vo));
  }

  function setAttr(el, name, value) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function fmtServerTime(iso) {
    if (typeof iso !== "string") return "—";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  function levelFor(pct) {
    if (!isNum(pct) || pct < 1) return "off";
    if (pct <= 20) return "eco_plus";
    if (pct <= 40) return "eco";
    if (pct <= 60) return "normal";
    if (pct <= 80) return "power";
    return "boost";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---------------------------------------------------------------- building the DOM

  function buildCard(str) {
    var n = str.string;
    var card = el("section", "card");
    card.setAttribute("data-string", String(n));
    card.setAttribute("aria-labelledby", "string-" + n + "-name");

    var head = el("header", "card-head");
    var title = el("h2", "string-name", str.name || ("String " + n));
    title.id = "string-" + n + "-name";
    var mode = el("span", "mode-badge", "—");
    mode.setAttribute("data-field", "mode");
    var meta = el("span", "card-meta");
    head.appendChild(title);
    head.appendChild(mode);
    head.appendChild(meta);
    card.appendChild(head);

    var wrap = el("div", "table-wrap");
    var table = el("table", "blocks");
    table.setAttribute("data-string", String(n));
    var thead = el("thead");
    var hr = el("tr");
    BLOCK_COLUMNS.forEach(function (c) {
      var th = el("th", "col-" + c.field, c.label);
      th.setAttribute("scope", "col");
      if (c.title) th.title = c.title;
      hr.appendChild(th);
    });
    thead.appendChild(hr);
    table.appendChild(thead);
    var tbody = el("tbody");
    var rows = new Map();
    (str.blocks || []).forEach(function (b) {
      var row = buildRow(b.block);
      rows.set(b.block, row);
      tbody.appendChild(row.tr);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    card.appendChild(wrap);

    var dl = el("dl", "summary");
    dl.setAttribute("data-string", String(n));
    var metrics = {};
    SUMMARY.forEach(function (m) {
      var box = el("div", "metric");
      box.setAttribute("data-field", m.field);
      box.appendChild(el("dt", null, m.label));
      var dd = el("dd");
      var val = el("span", "val", "—");
      dd.appendChild(val);
      dd.appendChild(el("span", "unit", " " + m.unit));
      box.appendChild(dd);
      dl.appendChild(box);
      metrics[m.field] = { box: box, val: val, def: m };
    });
    card.appendChild(dl);

    var foot = el("div", "card-foot");
    var extras = {};
    EXTRA.forEach(function (m) {
      var item = el("span", "extra");
      item.setAttribute("data-field", m.field);
      item.appendChild(el("span", "extra-label", m.label + " "));
      var val = el("span", "val", "—");
      item.appendChild(val);
      item.appendChild(el("span", "unit", " " + m.unit));
      foot.appendChild(item);
      extras[m.field] = { box: item, val: val, def: m };
    });
    card.appendChild(foot);

    return { root: card, title: title, mode: mode, meta: meta, rows: rows,
      metrics: metrics, extras: extras };
  }

  function buildRow(blockNo) {
    var tr = el("tr");
    tr.setAttribute("data-block", String(blockNo));
    var cells = {};
    BLOCK_COLUMNS.forEach(function (c) {
      var td = el("td", "col-" + c.field);
      td.setAttribute("data-field", c.field);
      if (c.kind === "bar") {
        var bar = el("span", "eqbar");
        var fill = el("span", "eqfill lvl-off");
        bar.appendChild(fill);
        td.appendChild(bar);
        var lbl = el("span", "eqtext", "");
        td.appendChild(lbl);
        cells[c.field] = { td: td, fill: fill, label: lbl };
      } else if (c.kind === "dot") {
        var dot = el("span", "dot st-unknown");
        dot.setAttribute("role", "img");
        dot.setAttribute("aria-label", "unknown");
        td.appendChild(dot);
        cells[c.field] = { td: td, dot: dot };
      } else {
        td.textContent = c.field === "block" ? String(blockNo) : "—";
        cells[c.field] = { td: td };
      }
      tr.appendChild(td);
    });
    return { tr: tr, cells: cells };
  }

  // (Re)builds all cards when the set of strings or their block counts changed.
  function ensureLayout(strings) {
    var key = strings.map(function (s) {
      return s.string + ":" + (s.blocks || []).map(function (b) { return b.block; }).join(",");
    }).join("|");
    if (key === page.layoutKey) return;
    var container = $("strings");
    container.textContent = "";
    page.cards.clear();
    strings.forEach(function (s) {
      var card = buildCard(s);
      page.cards.set(s.string, card);
      container.appendChild(card.root);
    });
    if (strings.length === 0) {
      container.appendChild(el("p", "placeholder", "No battery strings configured."));
    }
    container.setAttribute("aria-busy", "false");
    ensureEnvStrings(strings);
    page.layoutKey = key;
  }

  // ---------------------------------------------------------------- updating

  function updateCard(card, str) {
    setText(card.title, str.name || ("String " + str.string));
    var meta = [];
    if (isNum(str.block_count)) meta.push(str.block_count + " blocks");
    if (str.module_type) meta.push(str.module_type);
    if (str.chemistry) meta.push(str.chemistry);
    if (isNum(str.capacity_ah)) meta.push(str.capacity_ah + " Ah");
    setText(card.meta, meta.join(" · "));

    var modeVal = str.mode && typeof str.mode.value === "string" ? str.mode.value : null;
    setText(card.mode, modeVal || "—");
    card.mode.className = "mode-badge mode-" + (modeVal || "none");
    applyQuality(card.mode, str.mode, "Mode: " + (modeVal || "—"));

    SUMMARY.forEach(function (m) {
      var rec = card.metrics[m.field];
      var vo = str[m.field];
      var text = fmtValue(vo, m.decimals);
      setText(rec.val, text);
      applyQuality(rec.box, vo, m.label + ": " + withUnit(text, m.unit));
    });
    EXTRA.forEach(function (m) {
      var rec = card.extras[m.field];
      var vo = str[m.field];
      var text = fmtValue(vo, m.decimals);
      setText(rec.val, text);
      applyQuality(rec.box, vo, m.label + " " + withUnit(text, m.unit));
    });

    (str.blocks || []).forEach(function (b) {
      var row = card.rows.get(b.block);
      if (row) updateRow(row, b);
    });
  }

  function updateRow(row, b) {
    var blockQ = b.quality || "not_present";
    setAttr(row.tr, "data-quality", blockQ);
    row.tr.classList.toggle("row-bad", blockQ !== "ok");

    var noCell = row.cells.block.td;
    setAttr(noCell, "data-quality", blockQ);
    var counts = "";
    if (b.comm_ok_count && b.comm_error_count) {
      counts = " · answers " + fmtValue(b.comm_ok_count, 0) +
        ", errors " + fmtValue(b.comm_error_count, 0);
    }
    setAttr(noCell, "title", "Block " + b.block + " — quality " +
      (QUALITY_TEXT[blockQ] || blockQ) + ", age " + fmtAge(b.age_s) + counts);

    BLOCK_COLUMNS.forEach(function (c) {
      if (c.field === "block") return;
      var cell = row.cells[c.field];
      if (c.kind === "bar") {
        updateBar(cell, b.equalization_pct, b.equalization_level);
      } else if (c.kind === "dot") {
        updateDot(cell, b.status);
      } else {
        var vo = b[c.field];
        var text = fmtValue(vo, c.decimals, c.suffix);
        setText(cell.td, text);
        applyQuality(cell.td, vo, c.name + ": " + withUnit(text.replace(/%$/, ""), c.unit));
      }
    });
  }

  function updateBar(cell, pctVo, levelVo) {
    var pct = pctVo && isNum(pctVo.value) ? Math.max(0, Math.min(100, pctVo.value)) : null;
    var level = levelVo && typeof levelVo.value === "string" && LEVEL_TEXT[levelVo.value]
      ? levelVo.value : levelFor(pct);
    var width = pct === null ? "0%" : fmtNumber(pct, 0) + "%";
    if (cell.fill.style.width !== width) cell.fill.style.width = width;
    var cls = "eqfill lvl-" + level;
    if (cell.fill.className !== cls) cell.fill.className = cls;
    setAttr(cell.td, "data-level", level);
    setText(cell.label, pct === null ? "—" : LEVEL_TEXT[level]);
    // The bar is as trustworthy as the worse of its two values.
    var vo = pctVo;
    if (qualityOf(levelVo) !== "ok" && qualityOf(pctVo) === "ok") vo = levelVo;
    applyQuality(cell.td, vo, "Equalization: " + LEVEL_TEXT[level] +
      (pct === null ? "" : ", " + fmtNumber(pct, 0) + " % duty"));
  }

  function updateDot(cell, vo) {
    var raw = vo && typeof vo.value === "string" && STATUS_TEXT[vo.value] ? vo.value : "unknown";
    // A status that is not fresh is not known: never show a stale green dot.
    var shown = qualityOf(vo) === "ok" ? raw : "unknown";
    var cls = "dot st-" + shown;
    if (cell.dot.className !== cls) cell.dot.className = cls;
    setAttr(cell.dot, "aria-label", shown);
    setAttr(cell.td, "data-status", shown);
    applyQuality(cell.td, vo, "Status: " + STATUS_TEXT[raw] +
      (shown !== raw ? " (last known, shown as unknown)" : ""));
  }

  // ---------------------------------------------------------------- environment

  function buildEnvItem(field, label, unit, stringNo) {
    var item = el("div", "env-item");
    item.setAttribute("data-field", field);
    if (stringNo !== undefined) item.setAttribute("data-string", String(stringNo));
    item.setAttribute("data-level", "ok");
    item.appendChild(el("span", "env-label", label));
    var val = el("span", "val", "—");
    item.appendChild(val);
    if (unit) item.appendChild(el("span", "unit", " " + unit));
    return { root: item, val: val };
  }

  function buildEnv() {
    var list = $("env-list");
    list.textContent = "";
    var env = { items: {}, counts: {}, els: new Map(), elsGroup: el("div", "env-group env-els") };
    var values = el("div", "env-group");
    ENV.forEach(function (d) {
      var rec = buildEnvItem(d.field, d.label, d.unit);
      rec.def = d;
      env.items[d.field] = rec;
      values.appendChild(rec.root);
    });
    list.appendChild(values);
    list.appendChild(env.elsGroup);
    var counts = el("div", "env-group env-counts");
    ENV_COUNTS.forEach(function (d) {
      var rec = buildEnvItem(d.field, d.label);
      rec.def = d;
      env.counts[d.field] = rec;
      counts.appendChild(rec.root);
    });
    list.appendChild(counts);
    page.env = env;
  }

  // One electrolyte item per string (hidden while its string has no level sensor).
  function ensureEnvStrings(strings) {
    var env = page.env;
    env.elsGroup.textContent = "";
    env.els.clear();
    strings.forEach(function (s) {
      var label = "Electrolyte " + (s.name || ("String " + s.string));
      var rec = buildEnvItem("electrolyte_level", label, "", s.string);
      rec.root.hidden = true;
      env.els.set(s.string, rec);
      env.elsGroup.appendChild(rec.root);
    });
  }

  // " · warning at 1 % vol, alarm at 2 % vol" for a system rule (from /alarms/rules).
  function limitsNote(rules) {
    return rules.map(function (id) {
      var lim = page.ruleLimits.get(id);
      if (!lim) return "";
      if (!lim.enabled) return " · rule " + id + " disabled";
      var u = lim.unit ? " " + lim.unit : "";
      return " · " + (lim.direction === "low" ? "low " : "") + "warning at " + lim.warning + u +
        ", alarm at " + lim.alarm + u;
    }).join("");
  }

  function worstLevel(keys) {
    var worst = "ok";
    keys.forEach(function (k) {
      var lvl = page.ruleLevels.get(k);
      if (lvl && LEVEL_RANK[lvl] > LEVEL_RANK[worst]) worst = lvl;
    });
    return worst;
  }

  // A not-present point hides its item; anything not fresh is greyed like the block values.
  function updateEnvItem(rec, vo, decimals, name, unit, note) {
    var q = qualityOf(vo);
    rec.root.hidden = q === "not_present";
    var text = fmtValue(vo, decimals);
    setText(rec.val, text);
    applyQuality(rec.root, vo, name + ": " + withUnit(text, unit || "").trim() + (note || ""));
  }

  function updateEnv(sys) {
    if (!sys || !page.env) return;
    ENV.forEach(function (d) {
      var rec = page.env.items[d.field];
      updateEnvItem(rec, sys[d.field], d.decimals, d.name, d.unit, limitsNote(d.rules));
    });
    ENV_COUNTS.forEach(function (d) {
      var rec = page.env.counts[d.field];
      var vo = sys[d.field];
      updateEnvItem(rec, vo, 0, d.label, "", "");
      var n = vo && isNum(vo.value) ? vo.value : 0;
      setAttr(rec.root, "data-level", n > 0 ? d.level : "ok");
    });
    updateEnvLevels();
  }

  function updateEnvStrings(strings) {
    if (!page.env) return;
    strings.forEach(function (s) {
      var rec = page.env.els.get(s.string);
      if (!rec) return;
      updateEnvItem(rec, s.electrolyte_level, 0, "Electrolyte level of " +
        (s.name || ("string " + s.string)) + " (pilot cell)", "", "");
    });
    updateEnvLevels();
  }

  // Colours the environment items by the active alarms of their rules.
  function updateEnvLevels() {
    if (!page.env) return;
    ENV.forEach(function (d) {
      setAttr(page.env.items[d.field].root, "data-level", worstLevel(d.rules));
    });
    page.env.els.forEach(function (rec, n) {
      setAttr(rec.root, "data-level", worstLevel(["string.electrolyte_low/" + n]));
    });
  }

  // Levels of the system-wide rules, for the environment tooltips (optional).
  function loadRuleLimits() {
    getJson("/alarms/rules").then(function (r) {
      var limits = new Map();
      (Array.isArray(r.system) ? r.system : []).forEach(function (rule) {
        if (rule && typeof rule.id === "string" && isNum(rule.warning) && isNum(rule.alarm)) {
          limits.set(rule.id, { warning: rule.warning, alarm: rule.alarm, unit: rule.unit || "",
            direction: rule.direction, enabled: rule.enabled !== false });
        }
      });
      page.ruleLimits = limits;
    }).catch(function () { /* tooltips only */ });
  }

  // ---------------------------------------------------------------- I/O panel

  // Display text and state word of a channel value.
  function ioValue(c) {
    if (c.value === null || c.value === undefined) return { text: "—", state: "none" };
    if (c.output) {
      if (c.pulse_until) return { text: "pulse", state: "pulse" };
      return c.value === true ? { text: "on", state: "on" } : { text: "off", state: "off" };
    }
    if (c.kind === "digital_input") {
      if (c.role === "breaker_status") {
        return c.value === true ? { text: "closed", state: "closed" } : { text: "open", state: "open" };
      }
      return c.value === true ? { text: "active", state: "active" }
        : { text: "inactive", state: "inactive" };
    }
    if (isNum(c.value)) {
      var d = IO_DECIMALS[c.kind] !== undefined ? IO_DECIMALS[c.kind] : 2;
      return { text: fmtNumber(c.value, d) + (c.unit ? " " + c.unit : ""), state: "value" };
    }
    return { text: String(c.value), state: String(c.value) };
  }

  function buildIoDevice(d) {
    var box = el("article", "io-device");
    box.setAttribute("data-device", d.id);
    var head = el("header", "io-head");
    var name = el("h3", "io-name", d.name || d.id);
    var meta = el("span", "io-meta", d.id + " · " + (d.type || "") +
      (d.transport ? " · " + d.transport : ""));
    var state = el("span", "io-state", "—");
    state.setAttribute("data-field", "state");
    head.appendChild(name);
    head.appendChild(state);
    head.appendChild(meta);
    box.appendChild(head);
    var wrap = el("div", "table-wrap");
    var table = el("table", "io-channels");
    table.setAttribute("data-device", d.id);
    var rows = new Map();
    (d.channels || []).forEach(function (c) {
      var tr = el("tr");
      tr.setAttribute("data-channel", c.id);
      tr.setAttribute("data-kind", c.kind || "");
      var tdCh = el("td", "io-ch", c.channel || c.id);
      tdCh.setAttribute("data-field", "channel");
      var tdName = el("td", "io-chname", c.name || "");
      tdName.setAttribute("data-field", "name");
      var tdVal = el("td", "io-val", "—");
      tdVal.setAttribute("data-field", "value");
      var tdQ = el("td", "io-q", "—");
      tdQ.setAttribute("data-field", "quality");
      tr.appendChild(tdCh);
      tr.appendChild(tdName);
      tr.appendChild(tdVal);
      tr.appendChild(tdQ);
      table.appendChild(tr);
      rows.set(c.id, { tr: tr, name: tdName, val: tdVal, q: tdQ });
    });
    wrap.appendChild(table);
    box.appendChild(wrap);
    return { root: box, name: name, state: state, rows: rows };
  }

  function renderIo(r) {
    var devices = Array.isArray(r.devices) ? r.devices : [];
    var io = page.io;
    var key = devices.map(function (d) {
      return d.id + ":" + (d.channels || []).map(function (c) { return c.id; }).join(",");
    }).join("|");
    var container = $("io-devices");
    if (key !== io.key) {
      container.textContent = "";
      io.devices.clear();
      devices.forEach(function (d) {
        var rec = buildIoDevice(d);
        io.devices.set(d.id, rec);
        container.appendChild(rec.root);
      });
      if (devices.length === 0) {
        container.appendChild(el("p", "placeholder", "No I/O devices configured."));
      }
      io.key = key;
    }
    devices.forEach(function (d) {
      var rec = io.devices.get(d.id);
      if (!rec) return;
      setText(rec.name, d.name || d.id);
      var st = typeof d.state === "string" ? d.state : "unknown";
      setText(rec.state, st.replace(/_/g, " "));
      setAttr(rec.root, "data-state", st);
      setAttr(rec.state, "title", "Device " + d.id + ": " + st +
        (d.error ? " — " + d.error : "") + " · last answer " + fmtServerTime(d.last_ok) +
        " · polls " + d.polls + ", failures " + d.failures);
      (d.channels || []).forEach(function (c) {
        var row = rec.rows.get(c.id);
        if (!row) return;
        setText(row.name, c.name || "");
        var v = ioValue(c);
        var q = c.quality || "not_present";
        setText(row.val, v.text);
        setAttr(row.val, "data-state", v.state);
        var extra = "";
        if (c.output && c.commanded !== null && c.commanded !== undefined) {
          extra += " · commanded " + (c.commanded ? "on" : "off") + (c.pending ? " (pending)" : "");
        }
        if (c.pulse_until) extra += " · pulse until " + fmtServerTime(c.pulse_until);
        if (c.raw !== undefined) extra += " · raw " + c.raw;
        if (c.error) extra += " · " + c.error;
        if (c.point) extra += " · feeds " + c.point;
        applyQuality(row.val, c, c.id + " " + (c.name || "") + ": " + v.text + extra);
        setText(row.q, QUALITY_TEXT[q] || q);
        setAttr(row.q, "data-quality", q);
        row.tr.classList.toggle("row-bad", q !== "ok");
      });
    });
    io.lastOkWall = Date.now();
    $("io").classList.remove("io-old");
    setAttr($("io"), "data-state", "ok");
    setText($("io-note"), "");
  }

  function pollIo() {
    var io = page.io;
    if (io.polling) return;
    io.polling = true;
    getJson("/io").then(renderIo).catch(function (err) {
      if (io.lastOkWall === 0) {
        setAttr($("io"), "data-state", "error");
        setText($("io-note"), "cannot load (" + err.message + ")");
      }
    }).then(function () { io.polling = false; });
  }

  function ioWatchdog() {
    var io = page.io;
    if (io.lastOkWall === 0) return;
    var since = Date.now() - io.lastOkWall;
    if (since > IO_OLD_MS) {
      $("io").classList.add("io-old");
      setAttr($("io"), "data-state", "old");
      setText($("io-note"), "not updated for " + Math.round(since / 1000) + " s");
    }
  }

  // Applies a full data set: strings with their blocks, and the server time it is valid for.
  // Returns false when the data set was dropped.
  function applyData(strings, iso, timeMs, pollStartedWall, system) {
    if (!Array.isArray(strings)) return false;
    // A REST answer that was overtaken by a stream snapshot is older than what is shown.
    if (pollStartedWall !== undefined && page.lastStreamWall > pollStartedWall) return false;
    if (pollStartedWall === undefined) page.lastStreamWall = Date.now();
    var t = isNum(timeMs) ? timeMs : Date.parse(iso);
    ensureLayout(strings);
    strings.forEach(function (s) {
      var card = page.cards.get(s.string);
      if (card) updateCard(card, s);
    });
    updateEnvStrings(strings);
    if (system) updateEnv(system);
    var st = $("server-time");
    setText(st, fmtServerTime(iso));
    if (typeof iso === "string") setAttr(st, "datetime", iso);
    if (isNum(t)) setAttr(st, "data-ms", String(t));
    page.lastDataWall = Date.now();
    document.body.classList.remove("data-old");
    hideNotice();
    return true;
  }

  // ---------------------------------------------------------------- connection state

  function setConn(state, title) {
    page.conn = state;
    var c = $("conn");
    setAttr(c, "data-state", state);
    setText($("conn-text"), state);
    setAttr(c, "title", title || state);
  }

  function showNotice(text) {
    var n = $("notice");
    setText(n, text);
    n.hidden = false;
  }

  function hideNotice() { $("notice").hidden = true; }

  function watchdog() {
    var sinceData = Date.now() - page.lastDataWall;
    if (page.lastDataWall > 0 && sinceData > page.dataOldMs) {
      document.body.classList.add("data-old");
      if (page.conn === "live") {
        setConn("reconnecting", "No data from the daemon for " + Math.round(sinceData / 1000) + " s");
      }
      showNotice("No data received for " + Math.round(sinceData / 1000) +
        " s — the values shown are out of date.");
    }
    if (page.conn !== "live" && Date.now() - page.lastPollWall > POLL_MS) {
      poll();
    }
    ioWatchdog();
  }

  // ---------------------------------------------------------------- REST

  function getJson(path) {
    return fetch(API + path, { cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error(path + ": HTTP " + r.status);
        return r.json();
      });
  }

  function loadSystem() {
    var started = Date.now();
    return getJson("/system").then(function (sys) {
      var site = sys.site || {};
      if (site.name) {
        setText($("site-name"), site.name);
        document.title = site.name + " — Equalis";
      }
      setText($("site-location"), site.location || "");
      // Environment values, unless a stream snapshot already brought newer ones.
      if (page.lastStreamWall <= started) updateEnv(sys);
      setText($("version"), sys.version || "");
      page.timeScale = isNum(sys.time_scale) ? sys.time_scale : 1;
      page.simulated = !!sys.simulated;
      // The stream only sends after a new sweep: without a fast time scale that may be every
      // few seconds. Page data is old when the daemon itself would call the values stale.
      var staleS = isNum(sys.stale_after_s) ? sys.stale_after_s
        : (isNum(sys.sweep_interval_s) ? 3 * sys.sweep_interval_s : 0);
      if (staleS > 0 && page.timeScale > 0) {
        page.dataOldMs = Math.max(DATA_OLD_MIN_MS, 1000 * staleS / page.timeScale + 2000);
      }
      var badge = $("sim-badge");
      if (page.simulated) {
        badge.textContent = page.timeScale !== 1 ? "simulated ×" + page.timeScale : "simulated";
        badge.title = "Demo plant: values come from the built-in simulator" +
          (page.timeScale !== 1 ? ", running " + page.timeScale + "× faster than real time" : "");
        badge.hidden = false;
      } else {
        badge.hidden = true;
      }
    }).catch(function () { /* the site name is cosmetic; data loading reports errors */ });
  }

  // One REST round: /strings, then the blocks of every string.
  function poll() {
    if (page.polling) return Promise.resolve();
    page.polling = true;
    var started = Date.now();
    page.lastPollWall = started;
    var sysReq = getJson("/system").catch(function () { return null; });
    return getJson("/strings").then(function (list) {
      var strings = list.strings || [];
      return Promise.all(strings.map(function (s) {
        return getJson("/strings/" + s.string + "/blocks").then(function (bl) {
          var copy = Object.assign({}, s);
          copy.blocks = bl.blocks || [];
          return copy;
        });
      })).then(function (full) {
        return sysReq.then(function (sys) { return [full, sys]; });
      }).then(function (res) {
        if (applyData(res[0], list.time, null, started, res[1]) && page.conn === "reconnecting") {
          setConn("polling", "Live stream unavailable; refreshing every " + POLL_MS / 1000 + " s");
        }
      });
    }).catch(function (err) {
      if (page.conn === "polling") {
        setConn("reconnecting", "Cannot reach the daemon (" + err.message + "); retrying…");
      }
      if (page.lastDataWall === 0) {
        showNotice("Cannot load battery data from the daemon (" + err.message + "). Retrying…");
      }
    }).then(function () {
      page.polling = false;
    });
  }

  // ---------------------------------------------------------------- alarms

  var ALARM_POLL_MS = 3000;

  function renderAlarms(list) {
    var ul = $("alarm-list");
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    list.forEach(function (a) {
      var li = el("li", "alarm-item");
      li.setAttribute("data-level", a.level);
      li.setAttribute("data-key", a.key);
      if (a.acknowledged) li.setAttribute("data-ack", "1");
      li.appendChild(el("span", "alarm-level", a.level));
      li.appendChild(el("span", "alarm-text", a.message));
      li.appendChild(el("time", "alarm-time", fmtServerTime(a.raised) +
        (a.acknowledged ? " · acknowledged" : "")));
      if (!a.acknowledged && typeof a.key === "string" && mayOperate()) {
        var ack = el("button", "alarm-ack", "Acknowledge");
        ack.type = "button";
        ack.setAttribute("data-key", a.key);
        ack.addEventListener("click", function () { acknowledge(a.key, ack); });
        li.appendChild(ack);
      }
      ul.appendChild(li);
    });
    $("alarms").setAttribute("data-count", String(list.length));
    setText($("alarm-count"), String(list.length));
    $("alarm-none").hidden = list.length > 0;
    var levels = new Map();
    list.forEach(function (a) {
      if (typeof a.rule !== "string" || !LEVEL_RANK[a.level]) return;
      var key = a.string ? a.rule + "/" + a.string : a.rule;
      var prev = levels.get(key);
      if (!prev || LEVEL_RANK[a.level] > LEVEL_RANK[prev]) levels.set(key, a.level);
    });
    page.ruleLevels = levels;
    updateEnvLevels();
  }

  // ---------------------------------------------------------------- account

  // Who is logged in (GET /api/v1/session): changes need an operator or admin; every change
  // carries the session's CSRF token.
  var ROLE_RANK = { viewer: 1, operator: 2, admin: 3 };
  var account = { user: null, role: null, csrf: null };

  function mayOperate() { return (ROLE_RANK[account.role] || 0) >= ROLE_RANK.operator; }

  // A JSON change request (which a page of another origin cannot send); resolves with the
  // parsed body or rejects with the server's message.
  function send(method, path, body) {
    var headers = { "Accept": "application/json", "Content-Type": "application/json" };
    if (account.csrf) headers["X-CSRF-Token"] = account.csrf;
    return fetch(API + path, { method: method, cache: "no-store", headers: headers,
                               credentials: "same-origin", body: JSON.stringify(body || {}) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          if (!r.ok) {
            throw new Error(b && b.error && b.error.message ? b.error.message : "HTTP " + r.status);
          }
          return b;
        });
      });
  }

  function showAccount(s) {
    account.user = s && s.authenticated ? s.user : null;
    account.role = s && s.authenticated ? s.role : null;
    account.csrf = s && s.csrf_token ? s.csrf_token : null;
    setText($("account-name"), account.user ? account.user + " (" + account.role + ")" : "not logged in");
    $("login-open").hidden = !!account.user;
    $("logout").hidden = !account.user;
    document.body.setAttribute("data-role", account.role || "anonymous");
    pollAlarms();
  }

  function loadAccount() {
    getJson("/session").then(showAccount).catch(function () { showAccount(null); });
  }

  function setupAccount() {
    var form = $("login-form");
    $("login-open").addEventListener("click", function () {
      form.hidden = !form.hidden;
      if (!form.hidden) $("login-user").focus();
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      setText($("login-error"), "");
      send("POST", "/session", { user: $("login-user").value, password: $("login-password").value })
        .then(function (s) {
          $("login-password").value = "";
          form.hidden = true;
          showAccount(s);
        })
        .catch(function (e) { setText($("login-error"), e.message); });
    });
    $("logout").addEventListener("click", function () {
      send("DELETE", "/session").then(function () { showAccount(null); })
        .catch(function () { showAccount(null); });
    });
    loadAccount();
  }

  // POST /alarms/ack: the reason of a refusal is shown on the button.
  function acknowledge(key, button) {
    button.disabled = true;
    send("POST", "/alarms/ack?key=" + encodeURIComponent(key), {})
      .then(function () { pollAlarms(); })
      .catch(function (e) {
        button.disabled = false;
        button.title = "Not acknowledged: " + e.message;
        button.setAttribute("data-error", e.message);
      });
  }

  function pollAlarms() {
    getJson("/alarms").then(function (r) { renderAlarms(r.alarms || []); })
      .catch(function () { /* shown as stale by the connection badge */ });
  }

  // ---------------------------------------------------------------- stream

  // Live updates come as one "snapshot" (the whole state) and then "delta" messages that hold
  // only what changed since the message before (docs/api.md, "Live updates"); the page keeps
  // the snapshot and applies each delta to it.
  var QUALITY_ORDER = ["ok", "stale", "comm_lost", "invalid", "not_present"];
  var MEASURED = ["voltage_v", "temperature_c", "ri_mohm"];

  function setAge(vo, nowMs) {
    if (vo && typeof vo === "object" && "quality" in vo) {
      vo.age_s = vo.time ? (nowMs - Date.parse(vo.time)) / 1000 : null;
    }
  }

  // Ages follow the document's time; a block's quality and age are those of its worst and
  // newest measured value, as the daemon computes them.
  function refreshDerived(doc) {
    var now = doc.time_ms;
    Object.keys(doc.system || {}).forEach(function (k) { setAge(doc.system[k], now); });
    (doc.strings || []).forEach(function (st) {
      Object.keys(st).forEach(function (k) { setAge(st[k], now); });
      (st.blocks || []).forEach(function (b) {
        var worst = 0;
        var newest = 0;
        Object.keys(b).forEach(function (k) { setAge(b[k], now); });
        MEASURED.forEach(function (f) {
          var vo = b[f];
          if (!vo) return;
          worst = Math.max(worst, QUALITY_ORDER.indexOf(vo.quality));
          if (vo.time) newest = Math.max(newest, Date.parse(vo.time));
        });
        b.quality = QUALITY_ORDER[worst];
        b.age_s = newest > 0 ? (now - newest) / 1000 : null;
      });
    });
  }

  function applyDelta(doc, d) {
    doc.time = d.time;
    doc.time_ms = d.time_ms;
    Object.keys(d.system || {}).forEach(function (k) { doc.system[k] = d.system[k]; });
    (d.strings || []).forEach(function (ds) {
      var st = doc.strings[ds.string - 1];
      if (!st) return;
      Object.keys(ds).forEach(function (k) {
        if (k !== "string" && k !== "blocks" && k !== "blocks_time") st[k] = ds[k];
      });
      var times = ds.blocks_time || {};
      var fields = Object.keys(times);
      if (fields.length) {
        st.blocks.forEach(function (b) {
          fields.forEach(function (f) { if (b[f]) b[f].time = times[f]; });
        });
      }
      (ds.blocks || []).forEach(function (db) {
        var b = st.blocks[db.block - 1];
        if (!b) return;
        Object.keys(db).forEach(function (k) {
          if (k === "block") return;
          // Merged: a block point lists what changed (value, quality, and its time when that
          // is not the field's blocks_time).
          var vo = b[k] || (b[k] = {});
          Object.keys(db[k]).forEach(function (f) { vo[f] = db[k][f]; });
        });
      });
    });
    refreshDerived(doc);
  }

  function showStream(doc) {
    if (applyData(doc.strings, doc.time, doc.time_ms, undefined, doc.system) &&
        page.conn !== "live") {
      setConn("live", "Receiving live updates");
    }
  }

  function connectStream() {
    if (!window.EventSource) {
      setConn("polling", "This browser has no EventSource; polling every " + POLL_MS / 1000 + " s");
      return;
    }
    var es = new EventSource(API + "/stream");
    page.source = es;
    es.addEventListener("snapshot", function (ev) {
      try {
        page.streamDoc = JSON.parse(ev.data);
      } catch (e) {
        page.streamDoc = null;
        return;
      }
      showStream(page.streamDoc);
    });
    es.addEventListener("delta", function (ev) {
      try {
        if (!page.streamDoc) throw new Error("a delta before any snapshot");
        applyDelta(page.streamDoc, JSON.parse(ev.data));
      } catch (e) {
        // The state held here is no longer the daemon's: connect again for a new snapshot.
        page.streamDoc = null;
        es.close();
        page.source = null;
        setTimeout(connectStream, RECONNECT_MS);
        return;
      }
      showStream(page.streamDoc);
    });
    es.addEventListener("error", function () {
      if (page.source !== es) return;
      if (page.conn !== "polling") {
        setConn("reconnecting", "Connection to the daemon lost; reconnecting…");
      }
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. HTTP error): start over ourselves.
        es.close();
        page.source = null;
        setTimeout(connectStream, RECONNECT_MS);
      }
    });
  }

  function start() {
    setConn("connecting", "Connecting to the daemon…");
    setupAccount();
    buildEnv();
    loadSystem();
    loadRuleLimits();
    setInterval(loadRuleLimits, RULES_POLL_MS);
    poll();
    connectStream();
    pollAlarms();
    setInterval(pollAlarms, ALARM_POLL_MS);
    pollIo();
    setInterval(pollIo, IO_POLL_MS);
    setInterval(watchdog, WATCHDOG_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
