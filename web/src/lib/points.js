// The point catalogue (GET /api/v1/points): the one source of names, units and decimals. Pages
// never copy a unit or a number of decimals; they ask here by scope and REST field.
import { getJson } from "./api.js";
import { createStore } from "./store.js";

export const points = createStore(new Map());

export async function loadPoints() {
  try {
    const r = await getJson("/points");
    const m = new Map();
    (r.points || []).forEach((p) => m.set(`${p.scope}.${p.field}`, p));
    points.set(m);
  } catch {
    /* retried by the next page load; values then show without units */
  }
}

// {unit, decimals, description, values} of a point; a neutral default while not loaded.
export function point(scope, field) {
  return points.get().get(`${scope}.${field}`) || { unit: "", decimals: 2, description: field };
}
