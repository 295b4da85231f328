/* The playground form: the log-scale learning-rate slider, the URL kept in step with the form, Copy link. */
(function () {
  "use strict";

  /* 10^v rounded to two significant digits: the slider lands on 0.03, 0.1, 0.5 rather than 0.0302. */
  function lrFromSlider(v) {
    return Number(Math.pow(10, Number(v)).toPrecision(2));
  }

  function syncUrl(form) {
    const query = new URLSearchParams(new FormData(form)).toString();
    history.replaceState(history.state, "", location.pathname + (query ? "?" + query : ""));
    // the language links keep the settings too
    document.querySelectorAll(".lang-switch a[lang]").forEach((link) => {
      link.search = "?" + (query ? query + "&" : "") + "lang=" + link.lang;
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain http on a classroom network has no Clipboard API: fall back to a selected text field.
    return new Promise((resolve, reject) => {
      const field = document.createElement("textarea");
      field.value = text;
      field.setAttribute("readonly", "");
      field.style.position = "fixed";
      field.style.opacity = "0";
      document.body.appendChild(field);
      field.select();
      const ok = document.execCommand("copy");
      field.remove();
      (ok ? resolve : reject)();
    });
  }

  function setUp() {
    const form = document.getElementById("settings");
    if (!form) return;
    const slider = document.getElementById("lr-slider");
    const shown = document.getElementById("lr-value");
    const lr = document.getElementById("lr");

    slider.addEventListener("input", () => {
      const value = lrFromSlider(slider.value);
      lr.value = String(value);
      shown.textContent = String(value);
      slider.setAttribute("aria-valuetext", window.pg.tr("learning_rate") + " " + value);
    });

    // naive_softmax exists only in the scratch code: switch it off while "concise" is chosen.
    const naive = document.getElementById("f-naive_softmax");
    function impl() {
      const checked = form.querySelector("input[name=impl]:checked");
      return checked ? checked.value : "scratch";
    }
    function followImpl() {
      if (!naive) return;
      naive.disabled = impl() === "concise";
      if (naive.disabled) naive.checked = false;
    }
    followImpl();
    if (document.getElementById("notices")) syncUrl(form); // drop the invalid values from the address

    form.addEventListener("input", () => { followImpl(); syncUrl(form); });
    form.addEventListener("change", () => { followImpl(); syncUrl(form); });

    // The Race box: a chosen control brings its suggested values; a preset link (#race) opens the box.
    const raceBox = document.getElementById("race");
    const raceVary = document.getElementById("race-vary");
    if (raceBox && location.hash === "#race") raceBox.open = true;
    if (raceVary) {
      raceVary.addEventListener("change", () => {
        document.getElementById("race-values").value = raceVary.selectedOptions[0].dataset.suggested;
        syncUrl(form);
      });
    }

    const copy = document.getElementById("copy-link");
    const feedback = document.getElementById("copy-feedback");
    copy.addEventListener("click", () => {
      syncUrl(form);
      copyText(location.href).then(
        () => { feedback.textContent = window.pg.tr("link_copied"); },
        () => { feedback.textContent = window.pg.tr("copy_failed"); },
      );
      window.setTimeout(() => { feedback.textContent = ""; }, 4000);
    });

    const formula = document.getElementById("formula");
    if (formula && window.renderMathInElement) {
      window.renderMathInElement(formula, {
        delimiters: [{ left: "\\(", right: "\\)", display: false }],
        throwOnError: false,
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
