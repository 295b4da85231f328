/* Shared by the pages: colours, number formatting and a uPlot chart that follows its box's width. */
(function () {
  "use strict";

  // Okabe-Ito colours: told apart by most colour-blind readers and on a washed-out projector.
  const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7f6a00", "#000000",
    "#999999", "#882255"];

  function fmt(x, digits) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    const abs = Math.abs(Number(x));
    const text = abs !== 0 && (abs < 1e-4 || abs >= 1e6)
      ? Number(x).toExponential((digits || 3) - 1)
      : Number(x).toPrecision(digits || 3);
    const parts = text.split("e");
    if (parts[0].includes(".")) parts[0] = parts[0].replace(/0+$/, "").replace(/\.$/, "");
    return parts.join("e");
  }

  function pct(x) {
    return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%";
  }

  function chartWidth(box) {
    return Math.max(220, Math.floor(box.clientWidth || 320));
  }

  /* A line chart in `box`.
     spec: {xLabel, yLabel, series: [{label, color, points, dash}], logY, yRange: [min, max] | null, height} */
  function lineChart(box, spec, data) {
    const height = spec.height || 260;
    const yScale = spec.logY ? { distr: 3 } : {};
    if (!spec.logY && spec.yRange) yScale.range = spec.yRange;
    if (!spec.logY && !spec.yRange) yScale.range = (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1];
    const opts = {
      width: chartWidth(box),
      height: height,
      scales: { x: { time: false }, y: yScale },
      axes: [
        { label: spec.xLabel, labelSize: 24, font: "14px system-ui, sans-serif", labelFont: "bold 14px system-ui, sans-serif" },
        { label: spec.yLabel, labelSize: 24, size: 64, font: "14px system-ui, sans-serif", labelFont: "bold 14px system-ui, sans-serif" },
      ],
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false } },
      series: [{ label: spec.xLabel }].concat(spec.series.map((s, i) => ({
        label: s.label,
        stroke: s.color || PALETTE[i % PALETTE.length],
        width: 2.5,
        dash: s.dash,
        spanGaps: true,
        points: { show: s.points === undefined ? false : s.points, size: 7 },
        value: (u, v) => (v === null || v === undefined ? "–" : fmt(v, 4)),
      }))),
    };
    // uPlot's default labels round small log-axis ticks (1e-4) to "0"
    if (spec.logY) opts.axes[1].values = (u, ticks) => ticks.map((v) => fmt(v, 2));
    const chart = new uPlot(opts, data, box);
    const observer = new ResizeObserver(() => {
      if (!document.body.contains(box)) { observer.disconnect(); return; }
      const width = chartWidth(box);
      if (width !== chart.width) chart.setSize({ width: width, height: height });
    });
    observer.observe(box);
    chart.stopFollowing = () => observer.disconnect();
    return chart;
  }

  /* About `count` round tick values (1, 2 or 5 times a power of ten apart) from min to max. */
  function niceTicks(min, max, count) {
    const span = max - min;
    if (!(span > 0) || !Number.isFinite(span)) return [min];
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const err = raw / mag;
    const step = mag * (err >= 7.5 ? 10 : err >= 3.5 ? 5 : err >= 1.5 ? 2 : 1);
    const ticks = [];
    for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
    return ticks;
  }

  /* Size a canvas to its CSS width (at least minWidth), sharp on high-DPI screens; height(width) gives
     the CSS height. Returns the 2-D context, cleared, in CSS pixels. */
  function prepareCanvas(canvas, height, minWidth) {
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(minWidth || 200, Math.floor(canvas.clientWidth || 400));
    const h = Math.round(height(width));
    canvas.style.height = h + "px";
    const pw = Math.round(width * dpr);
    const ph = Math.round(h * dpr);
    if (canvas.width !== pw) canvas.width = pw;
    if (canvas.height !== ph) canvas.height = ph;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, h);
    return { ctx: ctx, width: width, height: h };
  }

  /* Positive values only (a log axis cannot show zero or less). */
  function positive(values) {
    return values.map((v) => (v === null || v === undefined ? v : Math.max(v, 1e-12)));
  }

  function fixed(x) {
    return x === null || x === undefined ? "–" : Number(x).toFixed(3);
  }

  /* The page's interface strings (the "js." catalog entries, in the visitor's language), read once from
     <script type="application/json" id="i18n">. tr("key", {name: value}) fills in {name} placeholders;
     a key the page did not send comes back as the fallback, or the key itself. */
  let catalog = null;
  function tr(key, values, fallback) {
    if (catalog === null) {
      const node = document.getElementById("i18n");
      try { catalog = node ? JSON.parse(node.textContent) : {}; } catch (e) { catalog = {}; }
    }
    let text = catalog["js." + key];
    if (text === undefined) text = fallback === undefined ? key : fallback;
    return String(text).replace(/\{(\w+)\}/g, (whole, name) => (values && name in values ? String(values[name]) : whole));
  }

  window.pg = {
    tr: tr, fixed: fixed, PALETTE: PALETTE, fmt: fmt, pct: pct, lineChart: lineChart, positive: positive,
    niceTicks: niceTicks, prepareCanvas: prepareCanvas,
  };
})();
