// Light or dark theme: the viewer's choice (kept in this browser), else the system's.
// public/theme.js sets it before the first paint; this keeps it and the switch in step.
import { createStore } from "./store.js";

export const theme = createStore(document.documentElement.getAttribute("data-theme") || "light");

export function setTheme(t) {
  document.documentElement.setAttribute("data-theme", t);
  try {
    localStorage.setItem("equalis.theme", t);
  } catch {
    /* storage unavailable: the choice lasts this page */
  }
  theme.set(t);
}

// The value of a CSS custom property of the current theme ("--alarm" → "#c4202b"), for drawing
// on a canvas; `fallback` when it is not set.
export function cssVar(name, fallback = "") {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}
