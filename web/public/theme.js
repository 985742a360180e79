// Sets the colour theme before the first paint (no flash of the wrong theme): the choice stored
// by the theme switch, else the system's preference. A file of its own: the pages' Content
// Security Policy allows no inline script.
(function () {
  var t = null;
  try {
    t = localStorage.getItem("equalis.theme");
  } catch (e) {
    /* storage unavailable: follow the system */
  }
  if (t !== "light" && t !== "dark") {
    t = window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  document.documentElement.setAttribute("data-theme", t);
})();
