// Equalis status page: one card per battery string with a block table and the string summary.
// Plain JavaScript, no dependencies. Data comes from the daemon's REST API (initial load and
// fallback polling) and its Server-Sent Events stream (/api/v1/stream, live updates).
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

  var page = {
    cards: new Map(),        // string number → card record
    layoutKey: "",           // string numbers + block counts the DOM was built for
    lastDataWall: 0,         // Date.now() of the last successful data update
    lastStreamWall: 0,       // Date.now() of the last stream snapshot applied
    lastPollWall: 0,
    polling: false,
    source: null,
    conn: "connecting",
    timeScale: 1,
    simulated: false,
    dataOldMs: DATA_OLD_MIN_MS   // raised to the daemon's staleness limit in real time (/system)
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

  // Applies a full data set: strings with their blocks, and the server time it is valid for.
  // Returns false when the data set was dropped.
  function applyData(strings, iso, timeMs, pollStartedWall) {
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
    return getJson("/system").then(function (sys) {
      var site = sys.site || {};
      if (site.name) {
        setText($("site-name"), site.name);
        document.title = site.name + " — Equalis";
      }
      setText($("site-location"), site.location || "");
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
    return getJson("/strings").then(function (list) {
      var strings = list.strings || [];
      return Promise.all(strings.map(function (s) {
        return getJson("/strings/" + s.string + "/blocks").then(function (bl) {
          var copy = Object.assign({}, s);
          copy.blocks = bl.blocks || [];
          return copy;
        });
      })).then(function (full) {
        if (applyData(full, list.time, null, started) && page.conn === "reconnecting") {
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
      ul.appendChild(li);
    });
    $("alarms").setAttribute("data-count", String(list.length));
    setText($("alarm-count"), String(list.length));
    $("alarm-none").hidden = list.length > 0;
  }

  function pollAlarms() {
    getJson("/alarms").then(function (r) { renderAlarms(r.alarms || []); })
      .catch(function () { /* shown as stale by the connection badge */ });
  }

  // ---------------------------------------------------------------- stream

  function connectStream() {
    if (!window.EventSource) {
      setConn("polling", "This browser has no EventSource; polling every " + POLL_MS / 1000 + " s");
      return;
    }
    var es = new EventSource(API + "/stream");
    page.source = es;
    es.addEventListener("snapshot", function (ev) {
      var snap;
      try {
        snap = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (applyData(snap.strings, snap.time, snap.time_ms) && page.conn !== "live") {
        setConn("live", "Receiving live updates");
      }
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
    loadSystem();
    poll();
    connectStream();
    pollAlarms();
    setInterval(pollAlarms, ALARM_POLL_MS);
    setInterval(watchdog, WATCHDOG_MS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
