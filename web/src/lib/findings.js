// Why a block is not green, in words, and which of its cells is the culprit: its active alarms
// (each names the point it watches) and, without an alarm, the analysis' own warning (a block
// whose voltage in float is far from the string's target). Shared by the overview, the battery
// table and the block page.
import { blockAlarms, LEVEL_RANK, ruleOf } from "./alarms.js";
import { isNum, QUALITY_TEXT } from "./format.js";

const RULE_FIELD = {
  "block.voltage_v": "voltage_v",
  "block.temperature_c": "temperature_c",
  "block.ri_mohm": "ri_mohm",
  "block.ri_rise_pct": "ri_mohm",
};

// [{field, level, text}] worst first; empty for a green block.
export function blockFindings(block, string, alarmList) {
  const out = [];
  blockAlarms(alarmList, string.string, block.block).forEach((a) => {
    const rule = ruleOf(a);
    let field = rule ? RULE_FIELD[rule.point] || null : null;
    if (!field && a.rule.includes("temperature")) field = "temperature_c";
    if (!field && a.rule.includes("voltage")) field = "voltage_v";
    if (!field && a.rule.includes("ri")) field = "ri_mohm";
    out.push({ field, level: a.level, text: a.message.replace(/^String \d+, block \d+: /, ""), alarm: a });
  });
  const status = block.status ? block.status.value : "unknown";
  if (status === "unknown") {
    out.push({ field: null, level: "unknown", text: `no valid measurement (${QUALITY_TEXT[block.quality] || block.quality})` });
  } else if (status === "warning" && out.length === 0) {
    const v = block.voltage_v && block.voltage_v.value;
    const target = string.target_voltage_v && string.target_voltage_v.value;
    if (isNum(v) && isNum(target) && target > 0) {
      const pct = ((v - target) / target) * 100;
      out.push({
        field: "voltage_v",
        level: "warning",
        text: `voltage ${v.toFixed(2)} V is ${Math.abs(pct).toFixed(1)} % ${pct > 0 ? "above" : "below"} the target ${target.toFixed(2)} V in float`,
      });
    } else {
      out.push({ field: "voltage_v", level: "warning", text: "voltage far from the string's target in float" });
    }
  }
  out.sort((x, y) => (LEVEL_RANK[y.level] ?? 0.5) - (LEVEL_RANK[x.level] ?? 0.5));
  return out;
}

const STATUS_RANK = { unknown: 0.5, ok: 0, warning: 1, alarm: 2 };

// The worst block of a string, and why: {block, status, findings} or null when all are green.
export function worstBlock(string, alarmList) {
  let best = null;
  (string.blocks || []).forEach((b) => {
    const status = b.status ? b.status.value : "unknown";
    const rank = STATUS_RANK[status] ?? 0;
    if (rank === 0) return;
    if (!best || rank > best.rank) best = { block: b, status, rank };
  });
  if (!best) return null;
  return { ...best, findings: blockFindings(best.block, string, alarmList) };
}

// The level a cell shows: the worst finding on that field.
export function cellLevel(findings, field) {
  let level = null;
  findings.forEach((f) => {
    if (f.field === field && (!level || (LEVEL_RANK[f.level] || 0) > (LEVEL_RANK[level] || 0))) level = f.level;
  });
  return level;
}
