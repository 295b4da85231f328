// Progress and score per section, kept in this browser (localStorage): an item counts once answered right.
(function () {
  const KEY = "d2l-exercises-right";
  const load = () => new Set(JSON.parse(localStorage.getItem(KEY) || "[]"));
  const save = (set) => localStorage.setItem(KEY, JSON.stringify([...set]));

  function showScores() {
    const right = load();
    document.querySelectorAll("[data-score-section]").forEach((el) => {
      const section = el.dataset.scoreSection;
      const done = [...right].filter((id) => id.startsWith(section + ":")).length;
      el.textContent = el.dataset.label + " " + done + " / " + el.dataset.total;
    });
  }

  document.body.addEventListener("htmx:afterSwap", (event) => {
    const verdict = event.detail.target.querySelector("[data-verdict]");
    const section = document.querySelector("#score")?.dataset.scoreSection;
    if (!verdict || !section) return;
    const right = load();
    const id = section + ":" + verdict.dataset.item;
    if (verdict.dataset.verdict === "right") right.add(id);
    save(right);
    showScores();
  });
  showScores();

  // Formulas written as \( ... \) in the content are typeset by the vendored KaTeX, also in feedback.
  const MATH = { delimiters: [{ left: "\\(", right: "\\)", display: false }, { left: "\\[", right: "\\]", display: true }], throwOnError: false };
  const typeset = (root) => window.renderMathInElement && window.renderMathInElement(root, MATH);
  typeset(document.querySelector("main"));
  document.body.addEventListener("htmx:afterSwap", (event) => typeset(event.detail.target));
})();

// The activations demo: one panel per function (relu, sigmoid, tanh), each with its autograd derivative,
// on a numeric x axis (uPlot would read x as dates without time: false) and a y range of its own, so
// ReLU's scale never flattens sigmoid and tanh. Labels arrive translated in the fragment's data-* attributes.
(function () {
  const HEIGHT = 220;
  const FUNCTION_COLOUR = "#0b57a4";
  const DERIVATIVE_COLOUR = "#b3261e";
  const shown = (v) => (v === null || v === undefined ? "–" : String(Number(Number(v).toPrecision(4))));
  const widthOf = (el) => Math.max(220, el.clientWidth || 300);

  function drawPanel(panel, curves, labels) {
    const name = panel.dataset.curve;
    const target = panel.querySelector(".activation-chart");
    const options = {
      width: widthOf(target),
      height: HEIGHT,
      scales: { x: { time: false }, y: { auto: true } },
      axes: [{ label: labels.x }, { label: labels.y, size: 56 }],
      series: [
        { label: labels.x, value: (u, v) => shown(v) },
        { label: name + "(x)", stroke: FUNCTION_COLOUR, width: 2, value: (u, v) => shown(v) },
        { label: labels.derivative, stroke: DERIVATIVE_COLOUR, width: 2, dash: [6, 4], value: (u, v) => shown(v) },
      ],
    };
    target.replaceChildren();
    target.uplot = new uPlot(options, [curves.x, curves[name], curves[name + "_grad"]], target);
  }

  document.body.addEventListener("htmx:afterSwap", (event) => {
    const box = event.detail.target.querySelector("[data-activations]");
    if (!box || typeof uPlot === "undefined") return;
    const curves = JSON.parse(box.dataset.activations);
    const labels = { x: box.dataset.xLabel, y: box.dataset.yLabel, derivative: box.dataset.derivativeLabel };
    box.querySelectorAll(".activation-panel").forEach((panel) => drawPanel(panel, curves, labels));
  });

  window.addEventListener("resize", () => {
    document.querySelectorAll(".activation-chart").forEach((target) => {
      if (target.uplot) target.uplot.setSize({ width: widthOf(target), height: HEIGHT });
    });
  });
})();
