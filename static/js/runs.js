/* The runs list (the Compare button) and the compare page (overlaid curves). */
(function () {
  "use strict";

  function setUpList() {
    const form = document.getElementById("compare-form");
    if (!form) return;
    const min = Number(form.dataset.min);
    const max = Number(form.dataset.max);
    const button = document.getElementById("compare");
    const hint = document.getElementById("compare-hint");
    function update() {
      const chosen = form.querySelectorAll("input[name=ids]:checked").length;
      button.disabled = chosen < min || chosen > max;
      hint.textContent = chosen > max
        ? window.pg.tr("compare_too_many", { n: chosen, max: max })
        : window.pg.tr("compare_hint", { n: chosen, min: min, max: max });
    }
    form.addEventListener("change", update);
    update();
  }

  function setUpCompare() {
    const dataNode = document.getElementById("compare-data");
    if (!dataNode) return;
    const runs = JSON.parse(dataNode.textContent);
    const P = window.pg.PALETTE;
    const colour = (i) => P[i % P.length];
    document.querySelectorAll(".swatch[data-series]").forEach((node) => {
      node.style.background = colour(Number(node.dataset.series));
    });

    const xSelect = document.getElementById("compare-x");
    const logBox = document.getElementById("compare-log-y");
    const lossBox = document.getElementById("compare-chart");
    const accBox = document.getElementById("compare-acc-chart");
    const useAcc = runs.some((run) => run.epochs.some((row) => row[1] !== null && row[1] !== undefined));
    document.getElementById("compare-acc-title").textContent = useAcc ? window.pg.tr("acc_per_epoch") : window.pg.tr("loss_per_epoch");
    const series = runs.map((run, i) => ({ label: run.label, color: colour(i) }));
    let lossChart = null;
    let accChart = null;

    function lossData() {
      const byEpoch = xSelect.value === "epoch";
      const tables = runs.map((run) => {
        const per = run.steps_per_epoch || 1;
        const xs = run.steps.map((row) => (byEpoch ? Number((row[0] / per).toFixed(6)) : row[0]));
        const ys = run.steps.map((row) => row[1]);
        return [xs, logBox.checked ? window.pg.positive(ys) : ys];
      });
      return tables.length ? uPlot.join(tables) : [[]];
    }

    function accData() {
      const column = useAcc ? 1 : 2;
      const tables = runs.map((run) => {
        const ys = run.epochs.map((row) => row[column]);
        return [run.epochs.map((row) => row[0]), !useAcc && logBox.checked ? window.pg.positive(ys) : ys];
      });
      return uPlot.join(tables);
    }

    function draw() {
      if (lossChart) { lossChart.stopFollowing(); lossChart.destroy(); }
      if (accChart) { accChart.stopFollowing(); accChart.destroy(); }
      lossChart = window.pg.lineChart(lossBox, {
        xLabel: window.pg.tr(xSelect.value === "epoch" ? "epoch" : "axis_step"), yLabel: window.pg.tr("training_loss"),
        logY: logBox.checked, series: series, height: 340, x: xSelect.value === "epoch" ? "fraction" : "whole",
      }, lossData());
      accChart = window.pg.lineChart(accBox, {
        xLabel: window.pg.tr("epoch"), yLabel: window.pg.tr(useAcc ? "test_accuracy" : "test_loss"),
        logY: !useAcc && logBox.checked, yRange: useAcc ? [0, 1] : null, height: 300, y: useAcc ? "percent" : "number",
        series: series.map((s) => Object.assign({ points: true }, s)),
      }, accData());
    }
    xSelect.addEventListener("change", draw);
    logBox.addEventListener("change", draw);
    draw();
  }

  function setUp() { setUpList(); setUpCompare(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
