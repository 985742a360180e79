// UPS and charger: whether the strings are on mains (float / charge) or on battery (discharge),
// the charger's set-point against the measured string voltage, the recent outages with their
// time on battery, and the runtime on battery (the controller's string.runtime_s, from each
// block's capacity and charge, docs/analysis.md). The UPS's own data (load, input voltage,
// runtime it reports) joins this page when a UPS is connected (NUT).
import { RuntimeItem } from "../components/Runtime.jsx";
import { Time } from "../components/Time.jsx";
import { StatusMark } from "../components/StatusMark.jsx";
import { Value } from "../components/Value.jsx";
import { fmtDuration, isNum } from "../lib/format.js";
import { useDischarges } from "../lib/history.js";
import { live, usePlantNow } from "../lib/live.js";
import { points } from "../lib/points.js";
import { useStore } from "../lib/store.js";

const DAY_MS = 86400e3;

export default function Ups() {
  const { doc } = useStore(live);
  useStore(points);
  const now = usePlantNow(0);
  const strings = doc && now !== null ? doc.strings.map((s) => s.string) : [];
  const outages = useDischarges(strings, (now ?? 0) - 30 * DAY_MS, now ?? 0);
  if (!doc) return <p class="placeholder">Loading…</p>;
  const onBattery = doc.strings.filter((s) => s.mode && s.mode.value === "discharge");
  return (
    <div class="page ups-page">
      <h1 class="page-title">UPS and charger</h1>
      <section class="card" aria-labelledby="mains-title">
        <h2 id="mains-title">Mains</h2>
        <p class="mains-state" data-state={onBattery.length ? "on_battery" : "on_mains"}>
          <StatusMark status={onBattery.length ? "alarm" : "ok"} label={false} />{" "}
          {onBattery.length ? `On battery: ${onBattery.map((s) => `string ${s.string}`).join(", ")} discharging` : "On mains: no string is discharging"}
        </p>
      </section>
      <div class="tiles">
        {doc.strings.map((s) => {
          const v = s.voltage_v && isNum(s.voltage_v.value) ? s.voltage_v.value : null;
          const dev = s.charger_deviation_pct && isNum(s.charger_deviation_pct.value) ? s.charger_deviation_pct.value : null;
          const setpoint = v !== null && dev !== null ? v / (1 + dev / 100) : null;
          return (
            <section key={s.string} class="card" aria-labelledby={`ups-${s.string}`} data-string={s.string}>
              <h2 id={`ups-${s.string}`}>{s.name || `String ${s.string}`}</h2>
              <dl class="tile-facts">
                <div>
                  <dt>Mode</dt>
                  <dd>{s.mode ? s.mode.value : "—"}</dd>
                </div>
                <div>
                  <dt>Measured voltage</dt>
                  <dd>
                    <Value vo={s.voltage_v} scope="string" field="voltage_v" />
                  </dd>
                </div>
                <div>
                  <dt>Charger set-point</dt>
                  <dd>{setpoint !== null ? `${setpoint.toFixed(2)} V` : "— (only in float)"}</dd>
                </div>
                <div>
                  <dt>Deviation from set-point</dt>
                  <dd>
                    <Value vo={s.charger_deviation_pct} scope="string" field="charger_deviation_pct" />
                  </dd>
                </div>
                <div>
                  <dt>Current</dt>
                  <dd>
                    <Value vo={s.current_a} scope="string" field="current_a" />
                  </dd>
                </div>
                <div>
                  <dt>State of charge</dt>
                  <dd>
                    <Value vo={s.charge_avg_pct} scope="string" field="charge_avg_pct" />
                  </dd>
                </div>
                <RuntimeItem s={s} />
              </dl>
            </section>
          );
        })}
      </div>
      <p class="sub">
        Runtime: while on battery, the time until the first block reaches the end voltage at the present load; on mains, the autonomy at the mean load of the last outage. From each
        block's capacity, charge and temperature and the manufacturer's rate table; an aged string's figure is only as good as its measured level (a capacity test or a discharge to the
        end voltage, see Analysis in the documentation).
      </p>
      <section class="card" aria-labelledby="outages-title">
        <h2 id="outages-title">Outages in the last 30 days</h2>
        {outages.error ? <p class="error">{outages.error}</p> : null}
        {!outages.list && !outages.error ? <p class="sub">Loading…</p> : null}
        {outages.list && outages.list.length === 0 ? <p>No outage recorded.</p> : null}
        {outages.list && outages.list.length ? (
          <table class="data-table">
            <thead>
              <tr>
                <th scope="col">Start</th>
                <th scope="col">String</th>
                <th scope="col" class="num">
                  Time on battery
                </th>
                <th scope="col" class="num">
                  Charge out [Ah]
                </th>
                <th scope="col">
                  <span class="visually-hidden">Open</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {outages.list.map((d) => (
                <tr key={`${d.string}-${d.id}`}>
                  <td>
                    <Time t={d.start_ms} />
                  </td>
                  <td>{d.string}</td>
                  <td class="num">{d.end_ms ? fmtDuration(d.duration_s) : `${fmtDuration(d.duration_s)} (running)`}</td>
                  <td class="num">{isNum(d.ah_out) ? d.ah_out.toFixed(1) : "—"}</td>
                  <td>
                    <a href={`/discharges/${d.string}/${d.id}`}>Discharge view</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </div>
  );
}
