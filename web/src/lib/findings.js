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
  "block.ri_rise_25c_pct": "ri_mohm",
  "block.health_state": "soh_pct",
  "block.weak_warning": "soh_pct",
};

// The cell an alarm without a threshold rule (thermal runaway, …) points at, by the words of its
// rule's name after the scope ("string.thermal_runaway" must not read as Ri: "string" holds "ri").
function fieldOfRuleName(ruleId) {
  const words = ruleId.split(".").slice(1).join("_").split("_");
  if (words.includes("temperature") || words.includes("thermal")) return "temperature_c";
  if (words.includes("voltage")) return "voltage_v";
  if (words.includes("ri")) return "ri_mohm";
  return null;
}

// The note of a block whose status turned red or yellow in a state version newer than the alarm
// list the page holds: the list is read again at once (alarms.js), this stands for the moment.
export const PENDING_TEXT = "alarm raised; reading the alarm list";

// [{field, level, text}] worst first; empty for a green block.
export function blockFindings(block, string, alarmList) {
  const out = [];
  blockAlarms(alarmList, string.string, block.block).forEach((a) => {
    const rule = ruleOf(a);
    const field = (rule && RULE_FIELD[rule.point]) || fieldOfRuleName(a.rule);
    out.push({ field, level: a.level, text: a.message.replace(/^String \d+, block \d+: /, ""), alarm: a });
  });
  const status = block.status ? block.status.value : "unknown";
  if (status === "unknown") {
    out.push({ field: null, level: "unknown", text: `no valid measurement (${QUALITY_TEXT[block.quality] || block.quality})` });
  } else if (status === "alarm" && out.length === 0) {
    out.push({ field: null, level: "alarm", text: PENDING_TEXT, pending: true });
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

// Lexicographic "a > b" of two equally long arrays of numbers.
function greater(a, b) {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return a[i] > b[i];
  return false;
}

// The worst block of a string, and why: {block, status, findings} or null when all are green.
// Ranked by the worse of the block's status and its own alarms; between equals, a block with a
// safety alarm (thermal runaway, protection) comes first, then the one with more alarms.
export function worstBlock(string, alarmList) {
  let best = null;
  (string.blocks || []).forEach((b) => {
    const status = b.status ? b.status.value : "unknown";
    let rank = STATUS_RANK[status] ?? 0;
    const own = blockAlarms(alarmList, string.string, b.block);
    own.forEach((a) => {
      rank = Math.max(rank, LEVEL_RANK[a.level] || 0);
    });
    if (rank === 0) return;
    const safety = own.some((a) => /runaway|thermal|protection/.test(a.rule)) ? 1 : 0;
    const score = [rank, safety, own.length];
    if (!best || greater(score, best.score)) best = { block: b, status: rank >= 2 ? "alarm" : rank >= 1 ? "warning" : status, rank, score };
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
