/* A race: 2-4 runs that differ in one control, drawn live on one chart from one multiplexed stream. */
(function () {
  "use strict";

  function setUp() {
    const dataNode = document.getElementById("race-data");
    if (!dataNode) return;
    const race = JSON.parse(dataNode.textContent);
    const useAcc = JSON.parse(document.getElementById("race-metric").textContent) === "acc";
    const P = window.pg.PALETTE;
    const lanes = race.runs.map((run, i) => ({
      label: run.label, color: P[i % P.length], perEpoch: 1, steps: [], epochs: [], status: null,
      row: document.querySelector(`#race-lanes tr[data-lane="${i}"]`),
    }));
    document.querySelectorAll(".swatch[data-series]").forEach((node) => {
      node.style.background = P[Number(node.dataset.series) % P.length];
    });
    const logBox = document.getElementById("race-log-y");
    const series = lanes.map((lane) => ({ label: lane.label, color: lane.color }));
    let lossChart = null;
    let epochChart = null;
    let pending = false;

    function table(points, logY) {
      const ys = points.map((p) => p[1]);
      return [points.map((p) => p[0]), logY ? window.pg.positive(ys) : ys];
    }
    function joined(tables) {
      const filled = tables.filter((t) => t[0].length);
      if (!filled.length) return [[]].concat(tables.map(() => []));
      return uPlot.join(tables.map((t) => (t[0].length ? t : [[filled[0][0][0]], [null]])));
    }
    function build() {
      if (lossChart) { lossChart.stopFollowing(); lossChart.destroy(); }
      if (epochChart) { epochChart.stopFollowing(); epochChart.destroy(); }
      lossChart = window.pg.lineChart(document.getElementById("race-chart"), {
        // the loss the lanes minimise: cross-entropy for classifiers (raced on accuracy), squared error for linreg
        xLabel: window.pg.tr("epoch"), yLabel: window.pg.tr(useAcc ? "axis_cross_entropy" : "axis_squared_loss"),
        logY: logBox.checked,
        series: series, height: 340, x: "fraction",
      }, joined(lanes.map((lane) => table(lane.steps, logBox.checked))));
      epochChart = window.pg.lineChart(document.getElementById("race-epoch-chart"), {
        xLabel: window.pg.tr("epoch"), yLabel: window.pg.tr(useAcc ? "test_accuracy" : "test_loss"),
        logY: !useAcc && logBox.checked, yRange: useAcc ? [0, 1] : null, height: 280, y: useAcc ? "percent" : "number",
        series: series.map((s) => Object.assign({ points: true }, s)),
      }, joined(lanes.map((lane) => table(lane.epochs, !useAcc && logBox.checked))));
    }
    function redraw() {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        lossChart.setData(joined(lanes.map((lane) => table(lane.steps, logBox.checked))));
        epochChart.setData(joined(lanes.map((lane) => table(lane.epochs, !useAcc && logBox.checked))));
      });
    }
    function statusText(status) {
      const names = {
        queued: window.pg.tr("status_queued"), running: window.pg.tr("status_running"),
        done: window.pg.tr("status_done"), cancelled: window.pg.tr("status_cancelled"),
        diverged: window.pg.tr("status_diverged"), failed: window.pg.tr("status_failed"),
        interrupted: window.pg.tr("status_interrupted"),
      };
      return names[status] || status;
    }
    function showStatus(lane, status, result) {
      const badge = lane.row.querySelector("[data-status]");
      badge.textContent = statusText(status);
      badge.className = "badge " + status;
      if (result !== undefined) lane.row.querySelector("[data-result]").textContent = result;
    }

    const handlers = {
      started(lane, e) {
        lane.perEpoch = e.steps_per_epoch || 1;
        lane.steps = [];
        lane.epochs = [[0, useAcc ? e.initial_test_acc : e.initial_test_loss]];
        showStatus(lane, "running");
      },
      step(lane, e) { lane.steps.push([e.step / lane.perEpoch, e.loss]); },
      epoch(lane, e) {
        lane.epochs.push([e.epoch, useAcc ? e.test_acc : e.test_loss]);
        lane.row.querySelector("[data-result]").textContent = useAcc
          ? window.pg.pct(e.test_acc) : window.pg.fmt(e.test_loss, 4);
      },
      finished(lane, e) { lane.status = e.status; showStatus(lane, e.status); },
    };
    build();
    logBox.addEventListener("change", build);
    const source = new EventSource(race.events_url);
    Object.keys(handlers).forEach((type) => {
      source.addEventListener(type, (message) => {
        const event = JSON.parse(message.data);
        handlers[type](lanes[event.lane], event);
        redraw();
        if (lanes.every((lane) => ["done", "cancelled", "diverged", "failed", "interrupted"].includes(lane.status))) {
          source.close();
          document.body.dataset.raceFinished = "true";
        }
      });
    });
    window.race = { lanes: lanes, points: () => lanes.map((lane) => lane.steps.length) };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
