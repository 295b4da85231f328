/* See inside training: the loss landscape of linear regression with the path of (w1, w2), the health of an
MLP's hidden layers, and a classifier's confusion matrix.

live.js owns the run's event stream; for each panel it asks window.pgInsights.create(panelElement) for a
viewer and hands it the events (started, step, snapshot, finished) as they arrive, then calls draw() at most
every 50 ms. Each view's section stays hidden until its first data arrives.

A linear-regression step taken by hand (Pause, then Step) brings a linear snapshot with the point before and
after that one step (w_before, w), the gradient of the map's loss at w and the step -lr x gradient from there
(next_step): the map then shows the point highlighted with an arrow downhill along that step.

For tests: window.playground.insights = {path, landscapes, healthPoints, layers, confusion, finished, drawn,
arrow}; arrow is null or {step, from: [w1, w2], to: from + next_step, gradient, px: {from, to, shaft} in CSS
pixels of the canvas, clamped} and drawn.arrow counts the maps drawn with it.
*/
(function () {
  "use strict";

  // viridis: dark (low loss) to bright (high loss); even steps in lightness, readable in grey and on projectors
  const RAMP = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"]
    .map((hex) => { const n = parseInt(hex.slice(1), 16); return [(n >> 16) & 255, (n >> 8) & 255, n & 255]; });
  const BANDS = 12; // colour bands (and contour lines between them) over the log-loss range
  const LOG_SPAN = 8; // at most 8 decades of loss are told apart; lower is drawn as the lowest band
  const MAX_DOTS = 400;
  const ARROW_MIN_PX = 30; // the gradient step's arrow: never shorter, so a tiny step still shows its direction
  const ARROW_MAX_PX = 120; // nor longer (at most 40% of the map), so a huge one stays on the map
  const ARROW_HEAD_PX = 11;
  const ARROW_RGB = "#cc79a7"; // Okabe-Ito reddish purple: absent from the viridis map and from the path
  const DIAGONAL_RGB = [0, 158, 115]; // Okabe-Ito green: right
  const MISTAKE_RGB = [213, 94, 0]; // Okabe-Ito vermillion: wrong

  function ramp(t) {
    const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(x));
    const f = x - i;
    return [0, 1, 2].map((k) => Math.round(RAMP[i][k] + (RAMP[i + 1][k] - RAMP[i][k]) * f));
  }

  const niceTicks = window.pg.niceTicks;

  const prepare = (canvas, height) => window.pg.prepareCanvas(canvas, height, 240);

  function point(w) {
    return "(" + w.map((v) => window.pg.fmt(v, 3)).join(", ") + ")";
  }

  /* "180" or "3.2": a ratio as a learner reads it. */
  function ratioText(r) {
    return r >= 10 ? String(Math.round(r)) : r.toFixed(1);
  }

  /* Colour-bar labels: 4200 rather than 4.2e+3, 0.0014 as it is, 3.1×10⁻⁷ rather than 3.1e-7. */
  function lossLabel(v) {
    return v >= 100 && v < 1e6 ? String(Math.round(v)) : window.pg.sci(v, 2);
  }

  // --- the loss landscape: a banded log-colour map, contour lines by marching squares ------------------
  /* Loss grid -> levels t in [0, 1] (log-scaled; NaN where the loss is not a finite number). */
  function levels(data) {
    const G = data.size;
    const logs = new Float64Array(G * G);
    let hi = -Infinity;
    let lo = Infinity;
    for (let r = 0; r < G; r++) {
      for (let c = 0; c < G; c++) {
        const v = Number(data.loss[r][c]);
        const lv = Number.isFinite(v) ? Math.log10(Math.max(v, 1e-300)) : NaN;
        logs[r * G + c] = lv;
        if (Number.isFinite(lv)) { hi = Math.max(hi, lv); lo = Math.min(lo, lv); }
      }
    }
    lo = Math.max(lo, hi - LOG_SPAN);
    const span = hi - lo;
    const t = new Float64Array(G * G);
    for (let i = 0; i < t.length; i++) {
      t[i] = Number.isFinite(logs[i]) ? (span > 0 ? Math.min(1, Math.max(0, (logs[i] - lo) / span)) : 0.5) : NaN;
    }
    return { G: G, t: t, lo: lo, hi: hi };
  }

  /* Contour segments of level v on the grid, in unit coordinates (x right, y up), as [x0, y0, x1, y1]. */
  function contours(grid, v) {
    const { G, t } = grid;
    const segments = [];
    const at = (r, c) => t[r * G + c];
    for (let r = 0; r < G - 1; r++) {
      for (let c = 0; c < G - 1; c++) {
        // corners counter-clockwise from bottom-left; edge k runs from corner k to corner k+1
        const corners = [[c, r], [c + 1, r], [c + 1, r + 1], [c, r + 1]];
        const values = corners.map(([x, y]) => at(y, x));
        if (values.some((x) => Number.isNaN(x))) continue;
        const crossings = [];
        for (let k = 0; k < 4; k++) {
          const a = values[k];
          const b = values[(k + 1) % 4];
          if ((a < v) === (b < v)) { crossings.push(null); continue; }
          const f = (v - a) / (b - a);
          const [x0, y0] = corners[k];
          const [x1, y1] = corners[(k + 1) % 4];
          crossings.push([(x0 + (x1 - x0) * f) / (G - 1), (y0 + (y1 - y0) * f) / (G - 1)]);
        }
        const found = crossings.filter(Boolean);
        if (found.length === 2) {
          segments.push([found[0][0], found[0][1], found[1][0], found[1][1]]);
        } else if (found.length === 4) { // a saddle: the centre's side decides which corners are cut off
          const centre = values.reduce((s, x) => s + x, 0) / 4;
          const pairs = (centre < v) === (values[0] < v) ? [[0, 1], [2, 3]] : [[3, 0], [1, 2]];
          pairs.forEach(([i, j]) => segments.push([crossings[i][0], crossings[i][1], crossings[j][0], crossings[j][1]]));
        }
      }
    }
    return segments;
  }

  /* The banded colour map as a side x side canvas (bilinear between grid points). */
  function heatImage(grid, side) {
    const { G, t } = grid;
    const off = document.createElement("canvas");
    off.width = side; off.height = side;
    const octx = off.getContext("2d");
    const image = octx.createImageData(side, side);
    const colours = [];
    for (let k = 0; k < BANDS; k++) colours.push(ramp((k + 0.5) / BANDS));
    for (let py = 0; py < side; py++) {
      const gy = ((side - 1 - py) / (side - 1)) * (G - 1); // row 0 of the grid is the bottom (w2 = min)
      const r = Math.min(G - 2, Math.floor(gy));
      const fy = gy - r;
      for (let px = 0; px < side; px++) {
        const gx = (px / (side - 1)) * (G - 1);
        const c = Math.min(G - 2, Math.floor(gx));
        const fx = gx - c;
        const v = (t[r * G + c] * (1 - fx) + t[r * G + c + 1] * fx) * (1 - fy)
          + (t[(r + 1) * G + c] * (1 - fx) + t[(r + 1) * G + c + 1] * fx) * fy;
        const at = (py * side + px) * 4;
        const rgb = Number.isNaN(v) ? [200, 200, 200] : colours[Math.min(BANDS - 1, Math.floor(v * BANDS))];
        image.data[at] = rgb[0]; image.data[at + 1] = rgb[1]; image.data[at + 2] = rgb[2]; image.data[at + 3] = 255;
      }
    }
    octx.putImageData(image, 0, 0);
    return off;
  }

  // --- one run's views -------------------------------------------------------------------------------
  class Insights {
    constructor(el) {
      this.el = el;
      this.reset();
      const canvas = el.querySelector("#landscape");
      if (canvas) {
        let lastWidth = 0;
        const observer = new ResizeObserver(() => {
          if (!document.body.contains(el)) { observer.disconnect(); return; }
          if (canvas.clientWidth !== lastWidth) {
            lastWidth = canvas.clientWidth;
            if (this.landscape) this.drawLandscape();
          }
        });
        observer.observe(canvas);
      }
    }

    reset() {
      this.started = null;
      this.path = [];
      this.b = null;
      this.arrow = null; // {step, from, gradient, next} after a step by hand in linear regression
      this.landscape = null;
      this.grid = null;
      this.heat = null;
      this.lines = null;
      this.health = null; // {x: steps, grad: [per layer], share: [per layer]}
      this.confusion = null;
      this.dirty = { landscape: false, health: false, confusion: false };
      window.playground = window.playground || {};
      this.hook = window.playground.insights = {
        path: this.path, landscapes: 0, healthPoints: 0, layers: 0, confusion: null, finished: false,
        arrow: null, drawn: { landscape: 0, health: 0, confusion: 0, arrow: 0 },
      };
    }

    show(id) {
      const section = this.el.querySelector(id);
      if (section && section.hidden) section.hidden = false;
      return section;
    }

    on_started(event) {
      if (this.started) {
        this.destroyCharts();
        this.reset();
      }
      this.started = event;
    }

    on_step(event) {
      const layers = event.layers;
      if (!layers || !layers.length || !this.el.querySelector("#ins-health")) return;
      if (!this.health || this.health.grad.length !== layers.length) {
        this.health = { x: [], grad: layers.map(() => []), share: layers.map(() => []) };
      }
      const dead = !this.saturating();
      this.health.x.push(event.step);
      layers.forEach((layer, i) => {
        this.health.grad[i].push(layer.grad_norm);
        this.health.share[i].push(dead ? layer.dead : layer.saturated);
      });
      this.hook.healthPoints = this.health.x.length;
      this.hook.layers = layers.length;
      this.show("#ins-health");
      this.dirty.health = true;
    }

    on_snapshot(event) {
      if (event.kind === "linear") {
        const data = event.data;
        const last = this.path[this.path.length - 1];
        if (data.w_before && !(last && last[0] === data.w_before[0] && last[1] === data.w_before[1])) {
          this.path.push(data.w_before.slice()); // where a step by hand began: the dot moves by exactly that step
        }
        this.path.push(data.w.slice());
        this.b = data.b;
        this.followArrow(event);
        this.dirty.landscape = true;
      } else if (event.kind === "landscape") {
        if (!this.el.querySelector("#ins-landscape")) return;
        this.landscape = event;
        this.grid = levels(event.data);
        this.heat = null;
        this.lines = null;
        this.hook.landscapes += 1;
        this.show("#ins-landscape");
        this.dirty.landscape = true;
      } else if (event.kind === "confusion") {
        if (!this.el.querySelector("#ins-confusion")) return;
        this.confusion = event;
        this.hook.confusion = event.data.matrix;
        this.show("#ins-confusion");
        this.dirty.confusion = true;
      }
    }

    /* A step by hand's snapshot sets the arrow; a later step's snapshot without one (the run resumed) ends it.
       The regular snapshot of the same step, when that step is also a step event, leaves it. */
    followArrow(event) {
      const data = event.data;
      if (data.gradient && data.next_step) {
        this.arrow = { step: event.step, from: data.w.slice(), gradient: data.gradient.slice(), next: data.next_step.slice() };
      } else if (this.arrow && event.step > this.arrow.step) {
        this.arrow = null;
      } else {
        return;
      }
      const a = this.arrow;
      this.hook.arrow = a ? {
        step: a.step, from: a.from.slice(), to: [a.from[0] + a.next[0], a.from[1] + a.next[1]], gradient: a.gradient.slice(),
        px: null, clamped: null,
      } : null;
    }

    on_finished() {
      this.hook.finished = true;
    }

    receive(type, event) {
      const handler = this["on_" + type];
      if (handler) handler.call(this, event);
    }

    draw() {
      if (this.dirty.landscape && this.landscape) { this.dirty.landscape = false; this.drawLandscape(); }
      if (this.dirty.health && this.health) { this.dirty.health = false; this.drawHealth(); }
      if (this.dirty.confusion && this.confusion) { this.dirty.confusion = false; this.drawConfusion(); }
    }

    saturating() {
      const activation = this.started && this.started.spec ? this.started.spec.activation : "relu";
      return activation === "sigmoid" || activation === "tanh";
    }

    // --- the loss landscape and the path of (w1, w2) --------------------------------------------------
    drawLandscape() {
      const canvas = this.el.querySelector("#landscape");
      if (!canvas || !this.landscape) return;
      const data = this.landscape.data;
      const [x0, x1, y0, y1] = data.extent;
      const narrow = (canvas.clientWidth || 400) < 420;
      const m = narrow ? { l: 44, r: 72, t: 12, b: 46 } : { l: 54, r: 78, t: 12, b: 46 };
      let side = 0;
      const { ctx, width } = prepare(canvas, (w) => {
        side = Math.max(140, Math.min(w - m.l - m.r, 520));
        return side + m.t + m.b;
      });
      const grid = this.grid;

      // the map
      if (!this.heat || this.heat.width !== side) this.heat = heatImage(grid, side);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(this.heat, m.l, m.t, side, side);
      if (!this.lines) {
        this.lines = [];
        for (let k = 1; k < BANDS; k++) this.lines.push({ level: k / BANDS, segments: contours(grid, k / BANDS) });
      }
      ctx.lineWidth = 1;
      this.lines.forEach(({ level, segments }) => {
        ctx.strokeStyle = level < 0.5 ? "rgba(255, 255, 255, 0.45)" : "rgba(20, 20, 20, 0.35)";
        ctx.beginPath();
        segments.forEach(([ax, ay, bx, by]) => {
          ctx.moveTo(m.l + ax * side, m.t + side - ay * side);
          ctx.lineTo(m.l + bx * side, m.t + side - by * side);
        });
        ctx.stroke();
      });

      // axes
      const sx = (w1) => m.l + ((w1 - x0) / (x1 - x0)) * side;
      const sy = (w2) => m.t + side - ((w2 - y0) / (y1 - y0)) * side;
      ctx.font = "13px system-ui, sans-serif";
      ctx.fillStyle = "#222";
      ctx.strokeStyle = "#555";
      ctx.textAlign = "center";
      niceTicks(x0, x1, 5).forEach((v) => {
        ctx.beginPath(); ctx.moveTo(sx(v), m.t + side); ctx.lineTo(sx(v), m.t + side + 5); ctx.stroke();
        ctx.fillText(window.pg.sci(v, 3), sx(v), m.t + side + 18);
      });
      ctx.textAlign = "right";
      niceTicks(y0, y1, 5).forEach((v) => {
        ctx.beginPath(); ctx.moveTo(m.l - 5, sy(v)); ctx.lineTo(m.l, sy(v)); ctx.stroke();
        ctx.fillText(window.pg.sci(v, 3), m.l - 8, sy(v) + 4);
      });
      ctx.font = "bold 14px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText("w1", m.l + side / 2, m.t + side + 38);
      ctx.save();
      ctx.translate(14, m.t + side / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText("w2", 0, 0);
      ctx.restore();
      ctx.strokeStyle = "#666";
      ctx.strokeRect(m.l - 0.5, m.t - 0.5, side + 1, side + 1);

      // colour bar: the loss, log-scaled
      const barX = m.l + side + 14;
      for (let k = 0; k < BANDS; k++) {
        const rgb = ramp((k + 0.5) / BANDS);
        ctx.fillStyle = "rgb(" + rgb.join(",") + ")";
        const top = m.t + side - ((k + 1) / BANDS) * side;
        ctx.fillRect(barX, top, 12, side / BANDS + 0.5);
      }
      ctx.strokeStyle = "#666";
      ctx.strokeRect(barX - 0.5, m.t - 0.5, 13, side + 1);
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillStyle = "#222";
      ctx.textAlign = "left";
      if (Number.isFinite(grid.hi)) {
        ctx.fillText(lossLabel(Math.pow(10, grid.hi)), barX + 17, m.t + 10);
        ctx.fillText(lossLabel(Math.pow(10, grid.lo)), barX + 17, m.t + side);
      }
      ctx.save();
      ctx.translate(barX + 32, m.t + side / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "center";
      ctx.fillText(window.pg.tr("loss_log_scale"), 0, 0);
      ctx.restore();

      // the path, the best w
      ctx.save();
      ctx.beginPath();
      ctx.rect(m.l, m.t, side, side);
      ctx.clip();
      const LIMIT = 1e5; // canvas coordinates stay finite however far a diverging path runs
      const clampPx = (v) => Math.max(-LIMIT, Math.min(LIMIT, v));
      const pts = this.path.map((w) => (Number.isFinite(w[0]) && Number.isFinite(w[1])
        ? [clampPx(sx(w[0])), clampPx(sy(w[1]))] : null));
      const trace = () => {
        ctx.beginPath();
        let open = false;
        pts.forEach((p) => {
          if (!p) { open = false; return; }
          if (open) ctx.lineTo(p[0], p[1]); else { ctx.moveTo(p[0], p[1]); open = true; }
        });
        ctx.stroke();
      };
      ctx.lineJoin = "round";
      ctx.strokeStyle = "rgba(0, 0, 0, 0.7)"; ctx.lineWidth = 4.5; trace();
      ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 2; trace();
      const every = Math.max(1, Math.ceil(pts.length / MAX_DOTS));
      ctx.fillStyle = "#ffffff";
      ctx.strokeStyle = "#111";
      ctx.lineWidth = 1;
      pts.forEach((p, i) => {
        if (!p || i % every) return;
        ctx.beginPath(); ctx.arc(p[0], p[1], 2.6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      });
      const best = data.best_w;
      const cross = (x, y, size, color, lineWidth) => {
        ctx.strokeStyle = color; ctx.lineWidth = lineWidth;
        ctx.beginPath();
        ctx.moveTo(x - size, y - size); ctx.lineTo(x + size, y + size);
        ctx.moveTo(x - size, y + size); ctx.lineTo(x + size, y - size);
        ctx.stroke();
      };
      const first = pts.find(Boolean);
      if (first) { // the start: a hollow ring
        ctx.lineWidth = 5; ctx.strokeStyle = "#111";
        ctx.beginPath(); ctx.arc(first[0], first[1], 7, 0, 2 * Math.PI); ctx.stroke();
        ctx.lineWidth = 2.5; ctx.strokeStyle = "#ffffff";
        ctx.beginPath(); ctx.arc(first[0], first[1], 7, 0, 2 * Math.PI); ctx.stroke();
      }
      const last = [...pts].reverse().find(Boolean);
      if (last) { // now: a filled orange dot
        ctx.fillStyle = "#e69f00"; ctx.strokeStyle = "#111"; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(last[0], last[1], 7, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      }
      cross(sx(best[0]), sy(best[1]), 8, "#ffffff", 6); // last, so a path that arrived does not hide it
      cross(sx(best[0]), sy(best[1]), 8, "#d55e00", 3);
      const arrow = this.arrow ? this.drawArrow(ctx, sx, sy, side) : null; // on top: a step by hand is about it
      ctx.restore();

      // the words: which b the map is for, the marks, the same for a screen reader
      const fmt = (v) => window.pg.fmt(v, 3);
      const now = this.path.length ? this.path[this.path.length - 1] : null;
      const bText = data.b_fixed
        ? window.pg.tr("ins_map_b_fixed", { b: fmt(data.b) })
        : window.pg.tr("ins_map_b_current", { b: fmt(data.b), step: this.landscape.step });
      const marks = window.pg.tr("ins_marks", { w: now ? now.map(fmt).join(", ") : "–", best: best.map(fmt).join(", ") });
      const legend = this.el.querySelector("#landscape-legend");
      if (legend) {
        const line1 = document.createElement("span");
        line1.className = "landscape-b";
        line1.textContent = bText;
        const line2 = document.createElement("span");
        line2.className = "landscape-marks";
        line2.textContent = marks;
        legend.replaceChildren(line1, line2);
        if (arrow) {
          const line3 = document.createElement("span");
          line3.className = "landscape-arrow";
          line3.textContent = arrow.text + (arrow.clamped ? " " + window.pg.tr("grad_not_to_scale") : "");
          const line4 = document.createElement("span");
          line4.className = "landscape-arrow-note";
          line4.textContent = window.pg.tr("grad_note");
          legend.append(line3, line4);
        }
      }
      canvas.setAttribute("aria-label", bText + ". " + window.pg.tr("ins_landscape_label", {
        x0: fmt(x0), x1: fmt(x1), y0: fmt(y0), y1: fmt(y1), n: this.path.length,
        w: now ? now.map(fmt).join(", ") : "–", best: best.map(fmt).join(", "),
      }) + (arrow ? ". " + arrow.text : ""));
      canvas.dataset.pathPoints = String(this.path.length);
      canvas.dataset.width = String(width);
      this.hook.drawn.landscape += 1;
    }

    /* The point of a step by hand, ringed, and an arrow from it along -lr x gradient: the step's length on the
       map, held between ARROW_MIN_PX and ARROW_MAX_PX. Returns what the legend and the test hook say of it. */
    drawArrow(ctx, sx, sy, side) {
      const a = this.arrow;
      const fx = sx(a.from[0]);
      const fy = sy(a.from[1]);
      if (!Number.isFinite(fx) || !Number.isFinite(fy)) return null;
      ctx.lineWidth = 6; ctx.strokeStyle = "#111";
      ctx.beginPath(); ctx.arc(fx, fy, 12, 0, 2 * Math.PI); ctx.stroke();
      ctx.lineWidth = 3; ctx.strokeStyle = "#ffffff";
      ctx.beginPath(); ctx.arc(fx, fy, 12, 0, 2 * Math.PI); ctx.stroke();
      const dx = sx(a.from[0] + a.next[0]) - fx;
      const dy = sy(a.from[1] + a.next[1]) - fy;
      const length = Math.hypot(dx, dy);
      const fmt = (v) => window.pg.fmt(v, 3);
      const text = window.pg.tr("grad_step", { w: a.from.map(fmt).join(", "), step: a.next.map(fmt).join(", ") });
      if (!(length > 0) || !Number.isFinite(length)) return { text: text, clamped: false }; // at the bottom: no way down
      const shown = Math.max(ARROW_MIN_PX, Math.min(length, ARROW_MAX_PX, 0.4 * side));
      const ux = dx / length;
      const uy = dy / length;
      const tip = [fx + ux * shown, fy + uy * shown];
      const base = [tip[0] - ux * ARROW_HEAD_PX, tip[1] - uy * ARROW_HEAD_PX];
      const start = [fx + ux * 14, fy + uy * 14]; // from the ring's edge, so the dot stays readable
      const head = () => {
        ctx.beginPath();
        ctx.moveTo(tip[0], tip[1]);
        ctx.lineTo(base[0] - uy * 7, base[1] + ux * 7);
        ctx.lineTo(base[0] + uy * 7, base[1] - ux * 7);
        ctx.closePath();
      };
      ctx.lineCap = "round";
      ctx.strokeStyle = "#111"; ctx.lineWidth = 7;
      ctx.beginPath(); ctx.moveTo(start[0], start[1]); ctx.lineTo(base[0], base[1]); ctx.stroke();
      ctx.lineWidth = 3; head(); ctx.stroke();
      ctx.strokeStyle = ARROW_RGB; ctx.fillStyle = ARROW_RGB; ctx.lineWidth = 3.5;
      ctx.beginPath(); ctx.moveTo(start[0], start[1]); ctx.lineTo(base[0], base[1]); ctx.stroke();
      head(); ctx.fill();
      ctx.lineCap = "butt";
      const clamped = shown !== length;
      if (this.hook.arrow) {
        this.hook.arrow.px = { from: [fx, fy], to: tip, shaft: [(start[0] + base[0]) / 2, (start[1] + base[1]) / 2] };
        this.hook.arrow.clamped = clamped;
      }
      this.hook.drawn.arrow += 1;
      return { text: text, clamped: clamped };
    }

    // --- layer health: gradient norm (log) and the saturated or dead share, one line per hidden layer ----
    drawHealth() {
      const h = this.health;
      const n = h.grad.length;
      if (!this.gradChart || this.chartLayers !== n) {
        this.destroyCharts();
        const P = window.pg.PALETTE;
        const series = h.grad.map((_, i) => ({ label: window.pg.tr("ins_layer", { n: i + 1 }), color: P[i % P.length], points: true }));
        const gradBox = this.el.querySelector("#health-grad");
        const shareBox = this.el.querySelector("#health-share");
        // one line per hidden layer, its points marked: gradient norms on a log axis, shares in percent
        this.gradChart = window.pg.lineChart(gradBox, {
          xLabel: window.pg.tr("axis_step"), yLabel: window.pg.tr("ins_grad_norm"), logY: true, series: series,
          height: 240, pointSize: 5,
        }, this.gradData());
        this.shareChart = window.pg.lineChart(shareBox, {
          xLabel: window.pg.tr("axis_step"),
          yLabel: window.pg.tr(this.saturating() ? "ins_share_saturated" : "ins_share_dead"),
          yRange: [0, 1], y: "percent", series: series, height: 240, pointSize: 5,
        }, this.shareData());
        this.chartLayers = n;
      } else {
        this.gradChart.setData(this.gradData());
        this.shareChart.setData(this.shareData());
      }
      const summary = this.el.querySelector("#health-summary");
      if (summary) summary.textContent = this.healthSummary();
      this.hook.drawn.health += 1;
    }

    gradData() {
      return [this.health.x].concat(this.health.grad.map((values) => window.pg.positive(values)));
    }

    shareData() {
      return [this.health.x].concat(this.health.share);
    }

    destroyCharts() {
      [this.gradChart, this.shareChart].forEach((chart) => {
        if (chart) { chart.stopFollowing(); chart.destroy(); }
      });
      this.gradChart = this.shareChart = null;
    }

    healthSummary() {
      const h = this.health;
      const n = h.grad.length;
      const at = h.x.length - 1;
      const parts = [];
      if (n >= 2) {
        const first = h.grad[0][at];
        const last = h.grad[n - 1][at];
        if (first > 0 && last > 0) {
          const r = last / first;
          if (r >= 2) parts.push(window.pg.tr("ins_grad_smaller", { ratio: ratioText(r), last: n }));
          else if (r <= 0.5) parts.push(window.pg.tr("ins_grad_larger", { ratio: ratioText(1 / r), last: n }));
          else parts.push(window.pg.tr("ins_grad_similar", { last: n }));
        }
      }
      const list = h.share.map((values, i) => window.pg.tr("ins_layer", { n: i + 1 }) + " " + window.pg.pct(values[at])).join(", ");
      parts.push(this.saturating()
        ? window.pg.tr("ins_share_now_saturated", { list: list })
        : window.pg.tr("ins_share_now_dead", { list: list }));
      return parts.join(" ");
    }

    // --- the confusion matrix ---------------------------------------------------------------------------
    drawConfusion() {
      const table = this.el.querySelector("#confusion");
      if (!table) return;
      const matrix = this.confusion.data.matrix;
      const K = matrix.length;
      const given = (this.started && this.started.class_names) || [];
      const names = matrix.map((_, i) => (given.length === K && given[i] !== "" ? window.pg.className(given[i]) : String(i)));
      const rowTotals = matrix.map((row) => row.reduce((s, x) => s + x, 0));
      const total = rowTotals.reduce((s, x) => s + x, 0);

      const cell = (tag, text, attrs) => {
        const node = document.createElement(tag);
        node.textContent = text;
        Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
        return node;
      };
      const head = document.createElement("tr");
      const corner = cell("th", "", { scope: "col", class: "corner" });
      corner.append(cell("span", window.pg.tr("ins_predicted"), { class: "corner-predicted" }),
        cell("span", window.pg.tr("ins_true"), { class: "corner-true" }));
      head.append(corner);
      names.forEach((name) => head.append(cell("th", name, { scope: "col" })));
      head.append(cell("th", window.pg.tr("ins_class_acc"), { scope: "col", class: "class-acc" }));
      table.tHead.replaceChildren(head);

      const rows = matrix.map((row, i) => {
        const tr = document.createElement("tr");
        tr.append(cell("th", names[i], { scope: "row" }));
        row.forEach((count, j) => {
          const share = rowTotals[i] ? count / rowTotals[i] : 0;
          const td = cell("td", String(count), {
            "data-count": String(count),
            title: window.pg.tr("ins_cell_title", { truth: names[i], predicted: names[j], count: count, share: window.pg.pct(share) }),
          });
          if (i === j) td.classList.add("diagonal");
          if (count > 0) {
            // at most 0.7 of the colour over white, so the dark numbers keep a 4.5:1 contrast
            const alpha = 0.1 + 0.6 * share;
            td.style.background = "rgba(" + (i === j ? DIAGONAL_RGB : MISTAKE_RGB).join(",") + "," + alpha.toFixed(3) + ")";
          } else {
            td.classList.add("zero");
          }
          tr.append(td);
        });
        tr.append(cell("td", rowTotals[i] ? window.pg.pct(row[i] / rowTotals[i]) : "–", { class: "class-acc" }));
        return tr;
      });
      table.tBodies[0].replaceChildren(...rows);
      table.caption.textContent = window.pg.tr("ins_confusion_caption", { n: total, epoch: this.confusion.epoch });

      // the most confused pair: the largest off-diagonal share of its row
      let worst = null;
      matrix.forEach((row, i) => row.forEach((count, j) => {
        if (i === j || !count || !rowTotals[i]) return;
        const share = count / rowTotals[i];
        if (!worst || share > worst.share || (share === worst.share && count > worst.count)) worst = { i, j, share, count };
      }));
      const summary = this.el.querySelector("#confusion-summary");
      if (summary) {
        summary.textContent = worst
          ? window.pg.tr("ins_confused", { truth: names[worst.i], predicted: names[worst.j], share: window.pg.pct(worst.share) })
          : window.pg.tr("ins_no_confusion");
      }
      this.hook.drawn.confusion += 1;
    }
  }

  window.pgInsights = { create: (el) => new Insights(el) };
})();
