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
      el.textContent = (document.documentElement.lang === "zh" ? "已答对 " : "Right so far: ") + done + " / " + el.dataset.total;
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
})();
