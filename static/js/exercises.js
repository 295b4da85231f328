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

// The activations demo: relu, sigmoid, tanh and their autograd derivatives on one uPlot chart.
document.body.addEventListener("htmx:afterSwap", (event) => {
  const box = event.detail.target.querySelector("[data-activations]");
  if (!box || typeof uPlot === "undefined") return;
  const d = JSON.parse(box.dataset.activations);
  const names = ["relu", "relu_grad", "sigmoid", "sigmoid_grad", "tanh", "tanh_grad"];
  const colours = ["#0b6bcb", "#0b6bcb", "#e08a00", "#e08a00", "#1a7f37", "#1a7f37"];
  const series = [{ label: "x" }].concat(names.map((n, i) => ({ label: n, stroke: colours[i], dash: n.endsWith("_grad") ? [6, 4] : undefined })));
  new uPlot({ width: Math.min(640, box.clientWidth || 640), height: 280, series: series }, [d.x].concat(names.map((n) => d[n])), box);
});
