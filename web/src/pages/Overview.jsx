// The overview: one health tile per string (worst block and why, spread, temperatures,
// equalization, protection, breaker, mode, charge), a heat map of every block for a chosen
// quantity, the battery room, and the alarm summary. One click on the worst block opens it.
import { useState } from "preact/hooks";
import { StatusMark } from "../components/StatusMark.jsx";
import { Value } from "../components/Value.jsx";
import { alarms, groupAlarms } from "../lib/alarms.js";
import { worstBlock } from "../lib/findings.js";
import { fmtPoint, isNum, unitOf, withUnit } from "../lib/format.js";
import { channels, useIo } from "../lib/io.js";
import { live } from "../lib/live.js";
import { points } from "../lib/points.js";
import { route, setQuery } from "../lib/router.js";
import { useStore } from "../lib/store.js";

const STATE_TEXT = {
  normal: "normal",
  suspect: "suspect",
  countdown: "trip countdown",
  tripped: "tripped",
  reduced: "charger reduced",
};

function breakerOf(io, stringNo) {
  const c = channels(io.devices).find((ch) => ch.role === "breaker_status" && ch.string === stringNo);
  if (!c) return null;
  if (c.quality !== "ok") return { text: "unknown", level: "unknown" };
  return c.value ? { text: "closed", level: "ok" } : { text: "open", level: "alarm" };
}

function StringTile({ s, alarmList, ambient, io }) {
  const worst = worstBlock(s, alarmList);
  const prot = s.protection_state ? s.protection_state.value : null;
  const protLevel = prot === "tripped" || prot === "countdown" ? "alarm" : prot === "suspect" || prot === "reduced" ? "warning" : "ok";
  const tmax = s.temperature_max_c && isNum(s.temperature_max_c.value) ? s.temperature_max_c.value : null;
  const dT = tmax !== null && ambient !== null ? tmax - ambient : null;
  const breaker = breakerOf(io, s.string);
  const status = worst ? worst.status : "ok";
  return (
    <section class={`card tile tile-${status}`} aria-labelledby={`tile-${s.string}`} data-string={s.string}>
      <div class="tile-head">
        <h2 id={`tile-${s.string}`}>
          <a href={`/battery/${s.string}`}>{s.name || `String ${s.string}`}</a>
        </h2>
        <StatusMark status={status} />
      </div>
      <p class="tile-worst">
        {worst ? (
          <>
            Worst: <a href={`/strings/${s.string}/blocks/${worst.block.block}`}>block {worst.block.block}</a> —{" "}
            {worst.findings.length ? worst.findings[0].text : worst.status}
            {worst.findings.length > 1 ? ` (+${worst.findings.length - 1} more)` : ""}
          </>
        ) : (
          "All blocks ok."
        )}
      </p>
      <dl class="tile-facts">
        <div>
          <dt>Mode</dt>
          <dd>{s.mode ? s.mode.value : "—"}</dd>
        </div>
        <div>
          <dt>State of charge</dt>
          <dd>
            <Value vo={s.charge_avg_pct} scope="string" field="charge_avg_pct" />
          </dd>
        </div>
        <div>
          <dt>Voltage</dt>
          <dd>
            <Value vo={s.voltage_v} scope="string" field="voltage_v" />
          </dd>
        </div>
        <div>
          <dt>Current</dt>
          <dd>
            <Value vo={s.current_a} scope="string" field="current_a" />
          </dd>
        </div>
        <div>
          <dt>Block spread ±</dt>
          <dd>
            <Value vo={s.block_voltage_spread_v} scope="string" field="block_voltage_spread_v" />
          </dd>
        </div>
        <div>
          <dt>Max. temperature</dt>
          <dd>
            <Value vo={s.temperature_max_c} scope="string" field="temperature_max_c" />
            {dT !== null ? <span class="sub"> (ΔT {dT >= 0 ? "+" : ""}{dT.toFixed(1)} K to room)</span> : null}
          </dd>
        </div>
        <div>
          <dt>Equalization</dt>
          <dd>
            {s.equalization_state ? s.equalization_state.value.replace("_", " ") : "—"}
            {s.equalization_power_w && isNum(s.equalization_power_w.value) ? `, ${withUnit(fmtPoint(s.equalization_power_w, "string", "equalization_power_w"), unitOf("string", "equalization_power_w"))}` : ""}
          </dd>
        </div>
        <div>
          <dt>Protection</dt>
          <dd>
            <StatusMark status={protLevel} label={false} /> {prot ? STATE_TEXT[prot] || prot : "—"}
          </dd>
        </div>
        <div>
          <dt>Breaker</dt>
          <dd>{breaker ? breaker.text : "not wired"}</dd>
        </div>
      </dl>
      <p class="tile-links">
        <a href={`/battery/${s.string}`}>Blocks</a> · <a href={`/strings/${s.string}/pattern`}>Voltage pattern</a> · <a href={`/discharges?string=${s.string}`}>Discharges</a>
      </p>
    </section>
  );
}

// Heat map quantities: how a block's colour (0…1 on a sequential scale) is found.
const HEAT = {
  deviation: {
    label: "Voltage vs. target",
    field: "voltage_v",
    value: (b, s) => (isNum(b.voltage_v?.value) && isNum(s.target_voltage_v?.value) ? b.voltage_v.value - s.target_voltage_v.value : null),
    text: (v) => `${v >= 0 ? "+" : ""}${v.toFixed(3)} V from target`,
    diverging: true,
  },
  temperature: { label: "Temperature", field: "temperature_c", value: (b) => b.temperature_c?.value ?? null, text: (v) => `${v.toFixed(1)} °C` },
  ri: { label: "Internal resistance", field: "ri_mohm", value: (b) => b.ri_mohm?.value ?? null, text: (v) => `${v.toFixed(2)} mΩ` },
  equalization: { label: "Equalization", field: "equalization_pct", value: (b) => b.equalization_pct?.value ?? null, text: (v) => `${v.toFixed(0)} % equalization` },
};

function HeatMap({ strings, quantity }) {
  const q = HEAT[quantity] || HEAT.deviation;
  let lo = Infinity;
  let hi = -Infinity;
  strings.forEach((s) =>
    (s.blocks || []).forEach((b) => {
      const v = q.value(b, s);
      if (isNum(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }),
  );
  if (q.diverging) {
    const m = Math.max(Math.abs(lo), Math.abs(hi), 1e-6);
    lo = -m;
    hi = m;
  }
  const span = hi > lo ? hi - lo : 1;
  return (
    <div class="heatmap" data-quantity={quantity}>
      {strings.map((s) => (
        <div key={s.string} class="heat-row">
          <span class="heat-label">{s.string}</span>
          <ul class="heat-cells" aria-label={`String ${s.string}: ${q.label.toLowerCase()} of every block`}>
            {(s.blocks || []).map((b) => {
              const v = q.value(b, s);
              const ok = isNum(v) && b.quality === "ok";
              const step = ok ? Math.max(0, Math.min(8, Math.round(((v - lo) / span) * 8))) : null;
              const label = `Block ${b.block}: ${ok ? q.text(v) : "no valid value"}`;
              return (
                <li key={b.block}>
                  <a
                    href={`/strings/${s.string}/blocks/${b.block}`}
                    class={`heat-cell ${step === null ? "heat-none" : `heat-${q.diverging ? "d" : "s"}${step}`}`}
                    aria-label={label}
                    title={label}
                  />
                </li>
              );
            })}
          </ul>
        </div>
      ))}
      <p class="heat-scale">
        {isNum(lo) && isNum(hi) && lo !== Infinity ? (
          <>
            <span class={`heat-key heat-${q.diverging ? "d" : "s"}0`} aria-hidden="true" /> {q.text(lo)} … {q.text(hi)}{" "}
            <span class={`heat-key heat-${q.diverging ? "d" : "s"}8`} aria-hidden="true" />
          </>
        ) : (
          "no values"
        )}
      </p>
    </div>
  );
}

function Room({ sys, strings, io }) {
  const doors = channels(io.devices).filter((c) => c.kind === "digital_input" && /door/i.test(c.name || ""));
  return (
    <section class="card room" aria-labelledby="room-title">
      <h2 id="room-title">Battery room</h2>
      <dl class="tile-facts">
        {[
          ["ambient_temperature_c", "Ambient"],
          ["humidity_pct", "Humidity"],
          ["hydrogen_pct", "Hydrogen"],
        ].map(([f, label]) => (
          <div key={f}>
            <dt>{label}</dt>
            <dd>
              <Value vo={sys[f]} scope="system" field={f} />
            </dd>
          </div>
        ))}
        {strings.map((s) => (
          <div key={s.string}>
            <dt>Electrolyte, string {s.string}</dt>
            <dd>{!s.electrolyte_level || s.electrolyte_level.quality === "not_present" ? "no sensor" : s.electrolyte_level.value ?? "—"}</dd>
          </div>
        ))}
        {doors.map((d) => (
          <div key={d.id}>
            <dt>{d.name}</dt>
            <dd class={d.quality !== "ok" ? "q-bad" : ""}>{d.quality !== "ok" ? "unknown" : d.value ? "open" : "closed"}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function AlarmSummary({ list, strings }) {
  const groups = groupAlarms(list, (n) => (strings.find((s) => s.string === n)?.blocks || []).length);
  return (
    <section class="card alarm-summary" aria-labelledby="alarm-summary-title">
      <h2 id="alarm-summary-title">
        Alarms <a href="/alarms">all</a>
      </h2>
      {groups.length === 0 ? (
        <p>No active alarms.</p>
      ) : (
        <ul class="group-list">
          {groups.slice(0, 6).map((g) => (
            <li key={g.id} data-level={g.level}>
              <StatusMark status={g.level} label={false} /> <strong>{g.string ? `String ${g.string}` : "System"}</strong>: {g.alarms.length > 1 ? `${g.alarms.length} × ` : ""}
              {g.alarms[0].message.replace(/^String \d+(, block \d+)?: /, "")}
              {g.unacknowledged ? <span class="sub"> · {g.unacknowledged} unacknowledged</span> : null}
              {g.cause ? <span class="cause"> — {g.cause}</span> : null}
            </li>
          ))}
          {groups.length > 6 ? (
            <li>
              <a href="/alarms">{groups.length - 6} more groups</a>
            </li>
          ) : null}
        </ul>
      )}
    </section>
  );
}

export default function Overview() {
  const { doc } = useStore(live);
  const a = useStore(alarms);
  const r = useStore(route);
  const io = useIo();
  useStore(points);
  const [, force] = useState(0);
  if (!doc) return <p class="placeholder">Loading battery data…</p>;
  const strings = doc.strings || [];
  const sys = doc.system || {};
  const ambient = sys.ambient_temperature_c && isNum(sys.ambient_temperature_c.value) ? sys.ambient_temperature_c.value : null;
  const quantity = r.search.get("heat") || "deviation";
  return (
    <div class="page overview">
      <h1 class="page-title">Overview</h1>
      <div class="tiles">
        {strings.map((s) => (
          <StringTile key={s.string} s={s} alarmList={a.list} ambient={ambient} io={io} />
        ))}
      </div>
      <div class="overview-lower">
        <section class="card heat" aria-labelledby="heat-title">
          <div class="card-head">
            <h2 id="heat-title">Blocks</h2>
            <label>
              Colour by{" "}
              <select
                value={quantity}
                onChange={(ev) => {
                  setQuery({ heat: ev.currentTarget.value });
                  force((n) => n + 1);
                }}
              >
                {Object.entries(HEAT).map(([k, v]) => (
                  <option key={k} value={k}>
                    {v.label}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <HeatMap strings={strings} quantity={quantity} />
        </section>
        <Room sys={sys} strings={strings} io={io} />
        <AlarmSummary list={a.list} strings={strings} />
      </div>
    </div>
  );
}
