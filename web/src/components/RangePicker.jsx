// Time range of a chart page: preset spans ending now (plant time) or a custom from/to in local
// time. The choice lives in the page's query string, so a link or a reload keeps it.
import { useState } from "preact/hooks";
import { fromInputLocal, toInputLocal } from "../lib/format.js";
import { RANGES } from "../lib/history.js";
import { setQuery } from "../lib/router.js";

export function RangePicker({ range, extra = {} }) {
  const [from, setFrom] = useState(toInputLocal(range.from));
  const [to, setTo] = useState(toInputLocal(range.to));
  const [error, setError] = useState("");
  const apply = (ev) => {
    ev.preventDefault();
    const f = fromInputLocal(from);
    const t = fromInputLocal(to);
    if (f === null || t === null || t <= f) {
      setError("Choose a start before the end.");
      return;
    }
    setError("");
    setQuery({ ...extra, from: f, to: t });
  };
  return (
    <form class="range-bar" onSubmit={apply} aria-label="Time range">
      {RANGES.map(([key, label]) => (
        <button key={key} type="button" aria-pressed={range.key === key ? "true" : "false"} onClick={() => setQuery({ ...extra, range: key })}>
          {label}
        </button>
      ))}
      <label>
        From <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
      </label>
      <label>
        To <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
      </label>
      <button type="submit" aria-pressed={range.key === "custom" ? "true" : "false"}>
        Show
      </button>
      <span role="alert" class="error">
        {error}
      </span>
    </form>
  );
}
