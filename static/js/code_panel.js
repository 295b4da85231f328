/* The code panel's fold kept in the address (?code=1 open, ?code=0 folded), so a copied link opens the
   page as it was; the language links keep it too. A class's page keeps its own address. */
(function () {
  "use strict";

  function keepInAddress(panel) {
    if (document.querySelector("form#settings[data-class-mode]")) return;
    const query = new URLSearchParams(location.search);
    query.set("code", panel.open ? "1" : "0");
    const search = query.toString();
    history.replaceState(history.state, "", location.pathname + "?" + search + location.hash);
    query.delete("lang");
    const rest = query.toString();
    document.querySelectorAll(".lang-switch a[lang]").forEach((link) => {
      link.search = "?" + (rest ? rest + "&" : "") + "lang=" + link.lang;
    });
  }

  function setUp() {
    const panel = document.getElementById("code-panel");
    if (panel) panel.addEventListener("toggle", () => keepInAddress(panel));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
