/* Shared by the pages: colours, number formatting, the catalog's words, and a uPlot chart that follows its
   box's width with numeric, labelled axes (a log axis labelled at powers of ten). */
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

  // --- axes that read on a projector ------------------------------------------------------------------
  const FONT = "14px system-ui, sans-serif";
  const LABEL_FONT = "bold 14px system-ui, sans-serif";
  const GRID = "rgba(0, 0, 0, 0.09)";
  const MIN_GAP_Y = 34; // CSS pixels between two labels on a y axis, at least
  // tick steps for an x axis of whole steps or epochs, and for one of fractional epochs
  const WHOLE_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 1e4, 2e4, 2.5e4, 5e4,
    1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];
  const FRACTION_INCRS = [0.25, 0.5].concat(WHOLE_INCRS);
  const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" };

  /* A number on an x axis: 12, 2.5, 10000 (never a date, never "1,000"). */
  function axisNumber(v) {
    return v === null || v === undefined ? "" : String(Number(Number(v).toFixed(6)));
  }

  /* A tick on a log axis, 1, 2 or 5 times a power of ten: 0.001 ... 10000 written out, beyond that 10⁻⁵ or 2×10⁻⁵. */
  function logNumber(v) {
    if (v === null || v === undefined || !(v > 0)) return "";
    const exponent = Math.floor(Math.log10(v) + 1e-9);
    const mantissa = Math.round(v / Math.pow(10, exponent));
    if (exponent >= -3 && exponent <= 4) return String(Number(v.toPrecision(2)));
    const power = "10" + String(exponent).split("").map((c) => SUPERSCRIPT[c]).join("");
    return mantissa === 1 ? power : mantissa + "×" + power;
  }

  /* A value as a chart shows it: like fmt, but 1.2×10⁻⁵ where fmt would write 1.2e-5. */
  function sci(v, digits) {
    const text = fmt(v, digits);
    const parts = text.split("e");
    if (parts.length !== 2) return text;
    const power = "10" + String(Number(parts[1])).split("").map((c) => SUPERSCRIPT[c]).join("");
    return parts[0] === "1" ? power : parts[0] + "×" + power;
  }

  function isPowerOfTen(v) {
    const e = Math.log10(v);
    return Math.abs(e - Math.round(e)) < 1e-9;
  }

  /* The nearest of 1, 2, 5 times a power of ten at or below v (down) or at or above it (up). */
  function roundLog(v, up) {
    const power = Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
    const m = v / power;
    const steps = up ? [1, 2, 5, 10] : [5, 2, 1];
    const found = up ? steps.find((s) => s >= m - 1e-9) : steps.find((s) => s <= m + 1e-9);
    return Number((found * power).toPrecision(2));
  }

  /* A log axis's range: whole decades when the data spans two or more, else the nearest 1-2-5 values
     around it, so a loss going from 1.1 to 0.9 is not drawn as a flat line at the foot of 0.1 to 10. */
  function logRange(u, min, max) {
    if (!(max > 0)) return [0.1, 10];
    if (!(min > 0)) min = max / 100;
    if (max / min > 100) {
      return [Math.pow(10, Math.floor(Math.log10(min) + 1e-9)), Math.pow(10, Math.ceil(Math.log10(max) - 1e-9))];
    }
    let lo = roundLog(min, false);
    let hi = roundLog(max, true);
    if (lo === hi) { lo = roundLog(min * 0.9, false); hi = roundLog(max * 1.1, true); }
    return [lo, hi];
  }

  /* The ticks of a log axis from min to max: the powers of ten (every second or third one where they would
     crowd), or 1, 2 and 5 times them where the axis spans less than two decades. */
  function logSplits(u, axisIdx, min, max) {
    const lo = Math.ceil(Math.log10(min) - 1e-9);
    const hi = Math.floor(Math.log10(max) + 1e-9);
    const height = u.bbox && u.bbox.height ? u.bbox.height / (uPlot.pxRatio || 1) : 200;
    const perDecade = height / Math.max(1e-9, Math.log10(max) - Math.log10(min));
    const inside = (v) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9);
    if (Math.log10(max / min) < 2 + 1e-6) {
      const ticks = [];
      for (let e = lo - 1; e <= hi; e++) {
        [1, 2, 5].forEach((m) => { const v = Number((m * Math.pow(10, e)).toPrecision(2)); if (inside(v)) ticks.push(v); });
      }
      const crowded = ticks.some((v, i) => i > 0 && Math.log10(v / ticks[i - 1]) * perDecade < MIN_GAP_Y);
      if (!crowded) return ticks;
      const ends = [ticks[0], ticks[ticks.length - 1]];
      const decades = ticks.filter(isPowerOfTen);
      return decades.length >= 2 ? decades : Array.from(new Set(decades.concat(ends))).sort((a, b) => a - b);
    }
    const every = [1, 2, 3, 4, 5, 10, 20].find((k) => k * perDecade >= MIN_GAP_Y) || 50;
    const ticks = [];
    for (let e = lo; e <= hi; e++) if (e % every === 0) ticks.push(Number(Math.pow(10, e).toPrecision(1)));
    return ticks;
  }

  /* The width an axis needs for its longest label (uPlot asks again once it knows the labels). */
  function axisSize(u, values, axisIdx, cycleNum) {
    const axis = u.axes[axisIdx];
    if (cycleNum > 1 && axis._size) return axis._size;
    const longest = (values || []).reduce((a, v) => (v && String(v).length > a.length ? String(v) : a), "");
    u.ctx.font = axis.font[0];
    const text = longest ? u.ctx.measureText(longest).width / (uPlot.pxRatio || 1) : 0;
    return Math.max(44, Math.ceil(text + 18));
  }

  /* What the axes show, as the last draw left them, on the chart's element (for tests and curious readers):
     data-x-label, data-y-label; data-x-ticks, data-y-ticks (JSON: the labels drawn, with data-x-splits and
     data-y-splits the values they stand for); data-log-y; data-y-range, data-x-range (JSON [min, max]);
     data-plot-size (JSON [width, height] of the plotting area, CSS pixels). */
  function recordAxes(u, spec, shown) {
    const set = (name, value) => { u.root.dataset[name] = typeof value === "string" ? value : JSON.stringify(value); };
    const ratio = uPlot.pxRatio || 1;
    set("xLabel", spec.xLabel || "");
    set("yLabel", spec.yLabel || "");
    set("xTicks", shown[0].map((t) => t.label));
    set("yTicks", shown[1].map((t) => t.label));
    set("xSplits", shown[0].map((t) => t.value));
    set("ySplits", shown[1].map((t) => t.value));
    set("logY", spec.logY ? "true" : "false");
    set("xRange", [u.scales.x.min, u.scales.x.max]);
    set("yRange", [u.scales.y.min, u.scales.y.max]);
    set("plotSize", [Math.round(u.bbox.width / ratio), Math.round(u.bbox.height / ratio)]);
  }

  /* How a y value reads: "percent" (0.25 -> 25%) or a plain number. */
  function yFormatter(kind) {
    if (kind === "percent") return (v) => (v === null || v === undefined ? "–" : String(Math.round(v * 1000) / 10) + "%");
    return (v) => sci(v, 4);
  }

  /* A line chart in `box`, numeric axes with their labels.
     spec: {xLabel, yLabel, series: [{label, color, points, dash}], logY, yRange: [min, max] | null, height,
            x: "whole" (steps, epochs: whole-number ticks, the default) | "fraction" (epochs part-way through),
            y: "percent" | "number" (the default), pointSize} */
  function lineChart(box, spec, data) {
    const height = spec.height || 260;
    const yScale = spec.logY ? { distr: 3, range: logRange } : {};
    if (!spec.logY && spec.yRange) yScale.range = spec.yRange;
    if (!spec.logY && !spec.yRange) yScale.range = (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1];
    const yValue = yFormatter(spec.y);
    const shown = [[], []];
    const remember = (axisIdx, splits, labels) => {
      shown[axisIdx] = splits.map((v, i) => ({ value: v, label: labels[i] })).filter((t) => t.label !== null && t.label !== "");
      return labels;
    };
    const xAxis = {
      label: spec.xLabel, labelSize: 24, font: FONT, labelFont: LABEL_FONT, space: 72,
      incrs: spec.x === "fraction" ? FRACTION_INCRS : WHOLE_INCRS,
      grid: { stroke: GRID, width: 1 },
      values: (u, splits) => remember(0, splits, splits.map(axisNumber)),
    };
    const yAxis = {
      label: spec.yLabel, labelSize: 24, font: FONT, labelFont: LABEL_FONT, space: MIN_GAP_Y, size: axisSize,
      grid: { stroke: GRID, width: 1 },
      values: (u, splits) => remember(1, splits, splits.map((v) => (v === null || v === undefined ? "" : spec.y === "percent" ? yValue(v) : sci(v, 3)))),
    };
    if (spec.logY) {
      yAxis.splits = logSplits;
      yAxis.filter = (u, splits) => splits; // every split we chose is labelled (uPlot's default thins them to "-")
      yAxis.values = (u, splits) => remember(1, splits, splits.map(logNumber));
      yAxis.grid = { stroke: GRID, width: 1, filter: (u, splits) => splits.map((v) => (v !== null && isPowerOfTen(v) ? v : null)) };
      yAxis.ticks = { size: 6, stroke: "rgba(0, 0, 0, 0.35)", width: 1 };
    }
    const opts = {
      width: chartWidth(box),
      height: height,
      scales: { x: { time: false }, y: yScale },
      axes: [xAxis, yAxis],
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: { draw: [(u) => recordAxes(u, spec, shown)] },
      series: [{ label: spec.xLabel, value: (u, v) => (v === null || v === undefined ? "–" : axisNumber(v)) }].concat(spec.series.map((s, i) => ({
        label: s.label,
        stroke: s.color || PALETTE[i % PALETTE.length],
        width: 2.5,
        dash: s.dash,
        spanGaps: true,
        points: { show: s.points === undefined ? false : s.points, size: spec.pointSize || 7 },
        value: (u, v) => (v === null || v === undefined ? "–" : yValue(v)),
      }))),
    };
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

  /* A class's name as the page's language has it: Fashion-MNIST's "ankle boot", the circles' "inner";
     digits and letters stay as they are. */
  function className(name) {
    const key = "class_" + String(name).toLowerCase().replace(/[^a-z0-9]+/g, "_");
    return tr(key, null, String(name));
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
    niceTicks: niceTicks, prepareCanvas: prepareCanvas, className: className, logNumber: logNumber, sci: sci,
  };
})();
