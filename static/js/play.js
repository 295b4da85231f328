/* The playground form: the log-scale learning-rate slider, the URL kept in step with the form, Copy link,
   each number checked on the page (with the server's own sentences), the 2-D sets' data controls and
   Regenerate, and Train again asking before it replaces your live run; after Train, focus moves to the
   new run's status line. */
(function () {
  "use strict";

  /* 10^v rounded to two significant digits: the slider lands on 0.03, 0.1, 0.5 rather than 0.0302. */
  function lrFromSlider(v) {
    return Number(Math.pow(10, Number(v)).toPrecision(2));
  }

  function syncUrl(form) {
    if ("classMode" in form.dataset) return; // a class's page keeps its own address
    const data = new FormData(form);
    data.delete("replace");
    const codePanel = document.getElementById("code-panel"); // its fold stays in the address (code_panel.js)
    if (codePanel) data.set("code", codePanel.open ? "1" : "0");
    const query = new URLSearchParams(data).toString();
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

  /* The problem with one number field, in the sentence the server would answer with, or "". */
  function numberProblem(input) {
    const raw = input.value.trim();
    const say = (kind) => (input.dataset[kind] || "").replace("{got}", "'" + raw + "'");
    if (/^[+-]?(inf(inity)?|nan)$/i.test(raw)) return say("problemFinite");
    const value = raw === "" ? NaN : Number(raw);
    if (!Number.isFinite(value)) return say("problemNumber");
    if ("whole" in input.dataset && !Number.isInteger(value)) return say("problemNumber");
    const low = Number(input.dataset.low), high = Number(input.dataset.high);
    const tooLow = "lowOpen" in input.dataset ? value <= low : value < low;
    // a whole number written 1e3 or 32.0 is read as 1000 or 32, here as on the server
    const shown = "whole" in input.dataset ? String(value) : raw;
    if (tooLow || value > high) return (input.dataset.problemRange || "").replace("{got}", "'" + shown + "'");
    return "";
  }

  function showProblem(input) {
    const problem = numberProblem(input);
    const line = document.getElementById(input.id + "-problem");
    line.textContent = problem;
    line.hidden = !problem;
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    return problem;
  }

  /* Every number field checked; the first bad one gets focus. True when all are fine. */
  function formIsValid(form) {
    const bad = Array.from(form.querySelectorAll("[data-check-number]")).filter((input) => showProblem(input));
    if (bad.length) bad[0].focus();
    return bad.length === 0;
  }

  /* Your run still training in the live panel (its id), or null. */
  function liveRunId() {
    const panel = document.querySelector("#live [data-run-panel]:not([data-finished])");
    return panel ? panel.dataset.runId : null;
  }

  /* Before a new run or race starts from this form: numbers checked here, then, when a run of yours
     is still training on this page, one question; yes sends its id as `replace` (the server cancels it). */
  function beforeStart(event) {
    const form = event.target.closest("form#settings");
    if (!form || event.detail.verb !== "post") return;
    if (!formIsValid(form)) { event.preventDefault(); return; }
    const replacing = liveRunId();
    document.getElementById("replace").value = "";
    if (!replacing) return;
    event.preventDefault();
    if (window.confirm(window.pg.tr("replace_run_confirm"))) {
      document.getElementById("replace").value = replacing;
      event.detail.issueRequest(true);
    }
  }

  /* A new run panel: its status line gets focus (and so comes into view), and is announced politely. */
  function focusNewRun(event) {
    if (!event.detail.target || event.detail.target.id !== "live") return;
    const status = document.querySelector("#live #status");
    if (status) status.focus();
  }

  /* Choosing another dataset moves the controls you have not touched to that pair's defaults, and says
     which; a control counts as touched once you change it, or when the link set it to something else
     than the defaults of the dataset the page opened with. */
  function followDataset(form) {
    const source = document.getElementById("pair-defaults");
    const pairs = source ? JSON.parse(source.textContent) : {};
    const select = document.getElementById("f-dataset");
    if (!select || !pairs.defaults) return;
    const touched = new Set();
    const opened = pairs.defaults[select.value] || {};
    new URLSearchParams(location.search).forEach((value, name) => {
      if (name in opened && Number(value) !== opened[name]) touched.add(name);
    });
    form.addEventListener("input", (event) => {
      const name = event.target.id === "lr-slider" ? "lr" : event.target.name;
      if (name && name !== "dataset") touched.add(name);
    });
    const note = document.getElementById("defaults-note");
    select.addEventListener("change", () => {
      const moved = [];
      Object.entries(pairs.defaults[select.value] || {}).forEach(([name, value]) => {
        if (touched.has(name)) return;
        if (setControl(name, value)) moved.push(pairs.labels[name] || name);
      });
      note.hidden = moved.length === 0;
      note.textContent = moved.length ? window.pg.tr("defaults_moved")
        .replace("{names}", moved.join(", ")).replace("{dataset}", select.selectedOptions[0].value) : "";
      syncUrl(form);
    });
  }

  /* The 2-D sets' data controls (noise, points, test share, data seed) shown only while a 2-D set is
     chosen: the image sets ignore them. Their values stay in the form, and so in the link. */
  function followToy2d(form) {
    const box = document.getElementById("toy2d-controls");
    const select = document.getElementById("f-dataset");
    if (!box || !select) return;
    const sets = box.dataset.toy2dSets.split(" ");
    const show = () => { box.hidden = !sets.includes(select.value); };
    select.addEventListener("change", show);
    show();
    const regenerate = document.getElementById("regenerate");
    const seed = document.getElementById("f-data_seed");
    if (!regenerate || !seed) return;
    regenerate.addEventListener("click", () => {
      seed.value = String(newDataSeed(Number(seed.value)));
      showProblem(seed);
      syncUrl(form);
    });
  }

  /* A random data seed from 1 to 2^31 - 1 (0 would mean "the run's seed"), never the current one. */
  function newDataSeed(current) {
    const draw = new Uint32Array(1);
    let seed = current;
    while (seed === current) {
      window.crypto.getRandomValues(draw);
      seed = 1 + (draw[0] % 2147483647);
    }
    return seed;
  }

  /* Sets one control of the form; true when its value changed. */
  function setControl(name, value) {
    if (name === "lr") {
      const lr = document.getElementById("lr");
      if (Number(lr.value) === value) return false;
      lr.value = String(value);
      document.getElementById("lr-value").textContent = String(value);
      document.getElementById("lr-slider").value = String(Math.log10(value));
      return true;
    }
    const input = document.getElementById("f-" + name);
    if (!input || Number(input.value) === value) return false;
    input.value = String(value);
    return true;
  }

  /* What the whole page needs once; setUpForm again whenever a new form is swapped in (a class's teacher
     pushed another preset). */
  function setUp() {
    const form = document.getElementById("settings");
    if (!form) return;
    document.body.addEventListener("htmx:confirm", beforeStart);
    document.body.addEventListener("htmx:afterSwap", focusNewRun);
    document.body.addEventListener("htmx:afterSwap", (event) => {
      const swapped = event.detail.target && event.detail.target.querySelector("form#settings");
      if (swapped) setUpForm(swapped);
    });
    // Fashion-MNIST downloaded from this page: its menu entry can be chosen now
    document.body.addEventListener("fashion-mnist-ready", () => {
      document.querySelectorAll("#settings option[data-missing]").forEach((option) => {
        option.disabled = false;
        option.textContent = option.dataset.label;
        option.removeAttribute("data-missing");
      });
    });
    setUpForm(form);
  }

  function setUpForm(form) {
    const slider = document.getElementById("lr-slider");
    const shown = document.getElementById("lr-value");
    const lr = document.getElementById("lr");

    function followSlider() {
      const value = lrFromSlider(slider.value);
      lr.value = String(value);
      shown.textContent = String(value);
      slider.setAttribute("aria-valuetext", window.pg.tr("learning_rate") + " " + value);
    }
    slider.addEventListener("input", followSlider);
    // moved before this script ran (a slow phone) or put back by the browser: the value sent follows it;
    // an untouched slider sits within half a step (0.005) of the value the page was written with
    if (Math.abs(Number(slider.value) - Number(slider.defaultValue)) > 0.006) followSlider();

    // naive_softmax exists only in the scratch code: switch it off while "concise" is chosen.
    const naive = document.getElementById("f-naive_softmax");
    function impl() {
      const checked = form.querySelector("input[name=impl]:checked");
      return checked ? checked.value : "scratch";
    }
    function followImpl() {
      if (!naive || "locked" in naive.dataset) return;
      naive.disabled = impl() === "concise";
      if (naive.disabled) naive.checked = false;
    }
    followImpl();
    if (document.getElementById("notices")) syncUrl(form); // drop the invalid values from the address

    form.querySelectorAll("[data-check-number]").forEach((input) => {
      input.addEventListener("change", () => showProblem(input));
      input.addEventListener("blur", () => showProblem(input));
    });
    followDataset(form);
    followToy2d(form);

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
    if (copy) copy.addEventListener("click", () => {
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
