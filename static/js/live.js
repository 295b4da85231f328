/* A run's live panel: charts and the model's picture, drawn from the run's JSON events.

htmx-ext-sse opens the page's one EventSource (sse-connect on the panel) and swaps the HTML fragments
(status line, epoch rows). This script borrows that same EventSource when the extension reports it open
(htmx:sseOpen, detail.source) and listens to the JSON events: started, step, epoch, snapshot, finished.

Snapshots are routed by kind: "linear", "boundary" and "images" feed the model's picture; every event also
goes to the see-inside views (static/js/insights.js, loaded first as window.pgInsights), which draw the
loss landscape ("landscape" snapshots and the path of "linear" ones), layer health (step events' layers)
and the confusion matrix ("confusion" snapshots).
*/
(function () {
  "use strict";

  const EVENT_TYPES = ["started", "step", "epoch", "snapshot", "finished"];
  const PICTURE_KINDS = new Set(["linear", "boundary", "images"]);
  const panels = new WeakMap();
  const hookedSources = new WeakSet();
  window.playground = { points: 0 };

  function panelFor(el) {
    let panel = panels.get(el);
    if (!panel) {
      panel = new Panel(el);
      panels.set(el, panel);
    }
    return panel;
  }

  function panelsIn(root) {
    if (!root || !root.querySelectorAll) return [];
    const found = Array.from(root.querySelectorAll("[data-run-panel]"));
    if (root.matches && root.matches("[data-run-panel]")) found.unshift(root);
    return found;
  }

  document.addEventListener("htmx:load", (e) => panelsIn(e.target).forEach(panelFor));

  document.addEventListener("htmx:sseOpen", (e) => {
    const source = e.detail && e.detail.source;
    const el = e.target.closest && e.target.closest("[data-run-panel]");
    if (!source || !el || hookedSources.has(source)) return;
    hookedSources.add(source);
    const panel = panelFor(el);
    EVENT_TYPES.forEach((type) => source.addEventListener(type, (message) => panel.receive(type, message)));
  });

  // Should the extension ever reconnect with a new EventSource, the server replays from the start:
  // skip the HTML fragments this panel has already shown (a fragment's lastEventId is the event before it).
  document.addEventListener("htmx:sseBeforeMessage", (e) => {
    const el = e.target.closest && e.target.closest("[data-run-panel]");
    const panel = el && panels.get(el);
    if (panel && Number(e.detail.lastEventId || 0) < panel.lastSeq) e.preventDefault();
  });

  // --- drawing helpers ------------------------------------------------------------------------------
  function hexToRgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  const CLASS_RGB = window.pg.PALETTE.map(hexToRgb);
  const RIGHT = "#1a7f37";
  const WRONG = "#c62828";

  function mix(a, b, t) {
    return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
  }

  const prepare = (canvas, height) => window.pg.prepareCanvas(canvas, height, 200);

  const niceTicks = window.pg.niceTicks;

  function grayImage(pixels, w, h) {
    const image = new ImageData(w, h);
    for (let i = 0; i < pixels.length; i++) {
      image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = pixels[i];
      image.data[4 * i + 3] = 255;
    }
    return image;
  }

  // --- one run's panel ---------------------------------------------------------------------------------
  class Panel {
    constructor(el) {
      this.el = el;
      this.model = el.dataset.model;
      this.classifier = this.model !== "linreg";
      this.lastSeq = 0;
      this.started = null;
      this.snapshot = null;
      this.lastEpoch = null;
      this.steps = [[], []];
      this.epochs = [[], [], []]; // epoch, train (acc or loss), test (acc or loss)
      const toggle = el.querySelector("#log-y");
      this.logY = Boolean(toggle && toggle.checked);
      this.timer = null;
      this.offscreen = document.createElement("canvas");
      this.canvas = el.querySelector("#picture");
      window.playground.points = 0;
      this.insights = window.pgInsights ? window.pgInsights.create(el) : null;

      if (toggle) {
        toggle.addEventListener("change", () => {
          this.logY = toggle.checked;
          this.makeCharts();
        });
      }
      this.makeCharts();
      let lastWidth = 0;
      this.pictureObserver = new ResizeObserver(() => {
        if (!document.body.contains(el)) { this.pictureObserver.disconnect(); return; }
        const width = this.canvas ? this.canvas.clientWidth : 0;
        if (width !== lastWidth) { lastWidth = width; this.drawPicture(); }
      });
      if (this.canvas) this.pictureObserver.observe(this.canvas);
    }

    makeCharts() {
      if (this.lossChart) { this.lossChart.stopFollowing(); this.lossChart.destroy(); }
      if (this.accChart) { this.accChart.stopFollowing(); this.accChart.destroy(); }
      const P = window.pg.PALETTE;
      const tr = window.pg.tr;
      // the loss this model minimises, named on the y axis: squared error for regression, cross-entropy otherwise
      const lossName = tr(this.classifier ? "axis_cross_entropy" : "axis_squared_loss");
      this.lossChart = window.pg.lineChart(this.el.querySelector("#loss-chart"), {
        xLabel: tr("axis_step"), yLabel: lossName, logY: this.logY,
        series: [{ label: tr("train_loss"), color: P[0] }],
      }, this.lossData());
      this.accChart = window.pg.lineChart(this.el.querySelector("#acc-chart"), this.classifier
        ? {
          xLabel: tr("epoch"), yLabel: tr("accuracy"), yRange: [0, 1], y: "percent",
          series: [{ label: tr("train_acc"), color: P[0], points: true }, { label: tr("test_acc"), color: P[1], points: true }],
        }
        : {
          xLabel: tr("epoch"), yLabel: lossName, logY: this.logY,
          series: [{ label: tr("train_loss"), color: P[0], points: true }, { label: tr("test_loss"), color: P[1], points: true }],
        }, this.accData());
    }

    lossData() {
      return this.logY ? [this.steps[0], window.pg.positive(this.steps[1])] : this.steps;
    }

    accData() {
      const [x, a, b] = this.epochs;
      return this.logY && !this.classifier ? [x, window.pg.positive(a), window.pg.positive(b)] : [x, a, b];
    }

    /* One JSON event from the stream; events already seen (by their id) are skipped. */
    receive(type, message) {
      const seq = Number(message.lastEventId || 0);
      if (seq && seq <= this.lastSeq) return;
      if (seq) this.lastSeq = seq;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      this["on_" + type](event);
      this.tellInsights(type, event);
    }

    /* The see-inside views get every event too; a fault there must not stop the charts and the picture. */
    tellInsights(type, event) {
      if (!this.insights) return;
      try {
        this.insights.receive(type, event);
      } catch (err) {
        console.error("insights:", err);
      }
    }

    on_started(event) {
      this.started = event;
      this.startedAt = performance.now();
      this.steps = [[], []];
      this.epochs = [[0], [null], [this.classifier ? event.initial_test_acc : event.initial_test_loss]];
      window.playground.points = 0;
      const preview = event.preview || {};
      if (preview.kind === "images") {
        const [h, w] = preview.shape;
        this.images = preview.pixels.map((pixels) => grayImage(pixels, w, h));
      }
      if (preview.kind === "scatter") this.buildWeightsTable();
      if (preview.kind === "points") { this.buildClassLegend(); this.buildPointsToggle(); }
      this.schedule();
    }

    on_step(event) {
      this.steps[0].push(event.step);
      this.steps[1].push(event.loss);
      window.playground.points = this.steps[0].length;
      this.showProgress(event);
      this.schedule();
    }

    on_epoch(event) {
      this.lastEpoch = event;
      this.epochs[0].push(event.epoch);
      this.epochs[1].push(this.classifier ? event.train_acc : event.train_loss);
      this.epochs[2].push(this.classifier ? event.test_acc : event.test_loss);
      this.schedule();
    }

    on_snapshot(event) {
      if (PICTURE_KINDS.has(event.kind)) this.snapshot = event; // landscape, confusion: insights.js draws them
      this.schedule();
    }

    on_finished(event) {
      this.el.setAttribute("data-finished", "");
      const result = this.el.querySelector("#final-result");
      if (result) {
        result.textContent = this.resultText(event);
        result.className = "final-result " + event.status;
        result.hidden = false;
      }
      this.draw();
    }

    resultText(event) {
      const last = this.lastEpoch;
      if (event.status !== "done" || !last) {
        const key = "finish_" + event.code; // the trainer's sentence in the page's language, where it has a code
        const message = event.code ? window.pg.tr(key, event.params, event.message) : event.message;
        const status = window.pg.tr("status_" + event.status, null, event.status);
        return message ? window.pg.tr("result_status", { status: status, message: message }) : status;
      }
      let text;
      if (last.test_acc !== null && last.test_acc !== undefined) {
        text = window.pg.tr("result_acc", { acc: window.pg.pct(last.test_acc) });
        if (last.train_acc !== null && last.train_acc !== undefined) text += window.pg.tr("result_train_acc", { acc: window.pg.pct(last.train_acc) });
      } else {
        text = window.pg.tr("result_loss", { test: window.pg.fmt(last.test_loss, 3), train: window.pg.fmt(last.train_loss, 3) });
      }
      return window.pg.tr("result_after", { text: text, epochs: last.epoch });
    }

    /* "epoch x of y, about N s left" after the status line that the started event put in place. */
    showProgress(event) {
      const node = this.el.querySelector("#status [data-progress]");
      if (!node || !this.started) return;
      let text = window.pg.tr("progress_epoch", { epoch: event.epoch, epochs: this.started.spec.epochs });
      const elapsed = (performance.now() - this.startedAt) / 1000;
      if (event.step >= 3 && elapsed > 1 && this.started.total_steps > event.step) {
        const left = (elapsed / event.step) * (this.started.total_steps - event.step);
        text += window.pg.tr("progress_left", { s: Math.max(1, Math.round(left)) });
      }
      node.textContent = text;
    }

    /* Redraw at most every 50 ms: a replay delivers hundreds of events at once. */
    schedule() {
      if (this.timer === null) this.timer = window.setTimeout(() => this.draw(), 50);
    }

    draw() {
      if (this.timer !== null) { window.clearTimeout(this.timer); this.timer = null; }
      this.lossChart.setData(this.lossData());
      this.accChart.setData(this.accData());
      this.drawPicture();
      if (this.insights) {
        try {
          this.insights.draw();
        } catch (err) {
          console.error("insights:", err);
        }
      }
    }

    drawPicture() {
      if (!this.started || !this.canvas) return;
      const preview = this.started.preview || {};
      if (preview.kind === "scatter") this.drawScatter(preview);
      else if (preview.kind === "points") this.drawBoundary(preview);
      else if (preview.kind === "images") this.drawImages(preview);
    }

    setCaption(text) {
      const caption = this.el.querySelector("#picture-caption");
      if (caption) caption.textContent = text;
      this.canvas.setAttribute("aria-label", text);
    }

    // --- linear regression: the data, the fitted line (or predictions), true vs learned weights ----------
    buildWeightsTable() {
      const body = this.el.querySelector("#weights tbody");
      if (!body) return;
      const spec = this.started.spec;
      const rows = spec.true_w.map((w, i) => ["w" + (i + 1), w]).concat([["b", spec.true_b]]);
      body.replaceChildren(...rows.map(([name, value], i) => {
        const tr = document.createElement("tr");
        const th = document.createElement("th");
        th.scope = "row";
        th.textContent = name;
        const truth = document.createElement("td");
        truth.textContent = window.pg.fixed(value);
        const learned = document.createElement("td");
        learned.dataset.learned = i < spec.true_w.length ? "w" + i : "b";
        learned.textContent = "–";
        tr.append(th, truth, learned);
        return tr;
      }));
    }

    updateWeightsTable(data) {
      this.el.querySelectorAll("#weights [data-learned]").forEach((cell) => {
        const key = cell.dataset.learned;
        cell.textContent = window.pg.fixed(key === "b" ? data.b : data.w[Number(key.slice(1))]);
      });
    }

    drawScatter(preview) {
      const { ctx, width, height } = prepare(this.canvas, (w) => Math.min(w * 0.72, 420));
      const X = preview.X;
      const Y = preview.y;
      if (!X.length) return;
      const dims = X[0].length;
      const xs = X.map((row) => row[0]);
      let [xmin, xmax] = [Math.min(...xs), Math.max(...xs)];
      let [ymin, ymax] = [Math.min(...Y), Math.max(...Y)];
      const xpad = (xmax - xmin) * 0.06 || 1;
      const ypad = (ymax - ymin) * 0.08 || 1;
      xmin -= xpad; xmax += xpad; ymin -= ypad; ymax += ypad;
      const m = { l: 52, r: 12, t: 12, b: 44 };
      const sx = (x) => m.l + ((x - xmin) / (xmax - xmin)) * (width - m.l - m.r);
      const sy = (y) => height - m.b - ((y - ymin) / (ymax - ymin)) * (height - m.t - m.b);

      ctx.font = "13px system-ui, sans-serif";
      ctx.fillStyle = "#333";
      ctx.strokeStyle = "#ddd";
      ctx.lineWidth = 1;
      ctx.textAlign = "center";
      niceTicks(xmin, xmax, 6).forEach((t) => {
        ctx.beginPath(); ctx.moveTo(sx(t), m.t); ctx.lineTo(sx(t), height - m.b); ctx.stroke();
        ctx.fillText(window.pg.sci(t, 3), sx(t), height - m.b + 16);
      });
      ctx.textAlign = "right";
      niceTicks(ymin, ymax, 5).forEach((t) => {
        ctx.beginPath(); ctx.moveTo(m.l, sy(t)); ctx.lineTo(width - m.r, sy(t)); ctx.stroke();
        ctx.fillText(window.pg.sci(t, 3), m.l - 6, sy(t) + 4);
      });
      ctx.textAlign = "center";
      ctx.fillText(dims === 1 ? "x" : window.pg.tr("x_first_feature"), (m.l + width - m.r) / 2, height - 8);
      ctx.save();
      ctx.translate(14, (m.t + height - m.b) / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText("y", 0, 0);
      ctx.restore();

      ctx.save();
      ctx.beginPath();
      ctx.rect(m.l, m.t, width - m.l - m.r, height - m.t - m.b);
      ctx.clip();
      ctx.fillStyle = "rgba(80, 80, 80, 0.45)";
      X.forEach((row, i) => { ctx.beginPath(); ctx.arc(sx(row[0]), sy(Y[i]), 3, 0, 2 * Math.PI); ctx.fill(); });

      const spec = this.started.spec;
      const snap = this.snapshot && this.snapshot.kind === "linear" ? this.snapshot.data : null;
      const P = window.pg.PALETTE;
      if (dims === 1) {
        const line = (w, b, color, dash, lineWidth) => {
          ctx.strokeStyle = color; ctx.setLineDash(dash); ctx.lineWidth = lineWidth;
          ctx.beginPath(); ctx.moveTo(sx(xmin), sy(w * xmin + b)); ctx.lineTo(sx(xmax), sy(w * xmax + b)); ctx.stroke();
        };
        line(spec.true_w[0], spec.true_b, P[1], [8, 6], 2.5);
        if (snap) line(snap.w[0], snap.b, P[0], [], 3.5);
        ctx.setLineDash([]);
      } else if (snap) {
        ctx.fillStyle = P[0];
        X.forEach((row) => {
          const yhat = row.reduce((sum, x, j) => sum + x * snap.w[j], snap.b);
          ctx.beginPath(); ctx.arc(sx(row[0]), sy(yhat), 2.5, 0, 2 * Math.PI); ctx.fill();
        });
      }
      ctx.restore();
      ctx.strokeStyle = "#888";
      ctx.lineWidth = 1;
      ctx.strokeRect(m.l + 0.5, m.t + 0.5, width - m.l - m.r - 1, height - m.t - m.b - 1);

      // legend
      ctx.font = "13px system-ui, sans-serif";
      ctx.textAlign = "left";
      const items = [[window.pg.tr("picture_data"), "rgba(80,80,80,0.7)", "dot"]];
      if (dims === 1) items.push([window.pg.tr("true_line"), P[1], "dash"], [window.pg.tr("learned_line"), P[0], "line"]);
      else items.push([window.pg.tr("picture_prediction"), P[0], "dot"]);
      let lx = m.l + 8;
      items.forEach(([label, color, shape]) => {
        ctx.fillStyle = "rgba(255,255,255,0.85)";
        ctx.fillRect(lx - 4, m.t + 2, ctx.measureText(label).width + 30, 20);
        ctx.fillStyle = color; ctx.strokeStyle = color; ctx.lineWidth = 3;
        if (shape === "dot") { ctx.beginPath(); ctx.arc(lx + 6, m.t + 12, 4, 0, 2 * Math.PI); ctx.fill(); }
        else { ctx.setLineDash(shape === "dash" ? [5, 3] : []); ctx.beginPath(); ctx.moveTo(lx, m.t + 12); ctx.lineTo(lx + 14, m.t + 12); ctx.stroke(); ctx.setLineDash([]); }
        ctx.fillStyle = "#222";
        ctx.fillText(label, lx + 20, m.t + 17);
        lx += ctx.measureText(label).width + 38;
      });

      if (snap) this.updateWeightsTable(snap);
      const fmt = window.pg.fixed;
      this.setCaption(snap
        ? window.pg.tr("linreg_caption", {
          w: snap.w.map(fmt).join(", "), b: fmt(snap.b), tw: spec.true_w.map(fmt).join(", "), tb: fmt(spec.true_b),
          step: this.snapshot.step,
        })
        : window.pg.tr("linreg_data", { x: dims === 1 ? "x" : window.pg.tr("first_feature") }));
    }

    // --- 2-D sets: class probabilities over the plane, the training and test points on top ----------------
    buildClassLegend() {
      const legend = this.el.querySelector("#picture-legend");
      if (!legend) return;
      legend.replaceChildren(...this.started.class_names.map((name, i) => {
        const li = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = window.pg.PALETTE[i % window.pg.PALETTE.length];
        li.append(swatch, document.createTextNode(window.pg.tr("class_legend", { name: window.pg.className(name) })));
        return li;
      }));
    }

    /* Under the legend: which dots are training and which test points, and a box that shows or hides
       the test points (shown at first). */
    buildPointsToggle() {
      const legend = this.el.querySelector("#picture-legend");
      if (!legend || !this.started.preview.X_train) return;
      const note = document.createElement("li");
      note.className = "points-note";
      note.textContent = window.pg.tr("points_legend");
      legend.append(note);
      let box = this.el.querySelector("#show-test-points");
      if (!box) {
        const label = document.createElement("label");
        label.className = "check points-toggle";
        box = document.createElement("input");
        box.type = "checkbox";
        box.id = "show-test-points";
        box.checked = true;
        label.append(box, document.createTextNode(" " + window.pg.tr("show_test_points")));
        const item = document.createElement("li");
        item.append(label);
        legend.append(item);
        box.addEventListener("change", () => this.schedule());
      }
      this.showTestPoints = () => box.checked;
    }

    /* One dot: training points small with a white rim, test points larger with a dark ring. */
    drawDot(ctx, x, y, label, isTest) {
      ctx.fillStyle = window.pg.PALETTE[label % window.pg.PALETTE.length];
      ctx.strokeStyle = isTest ? "#1b1b1b" : "#ffffff";
      ctx.lineWidth = isTest ? 2 : 1;
      ctx.beginPath(); ctx.arc(x, y, isTest ? 5 : 3.5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    }

    drawBoundary(preview) {
      const { ctx, width, height } = prepare(this.canvas, (w) => Math.min(w, 460));
      const [x0, x1, y0, y1] = preview.extent;
      const classes = Math.max(this.started.class_names.length, 2);
      const snap = this.snapshot && this.snapshot.kind === "boundary" ? this.snapshot.data : null;
      if (snap) {
        const probs = snap.probs;
        const G = probs.length;
        const off = this.offscreen;
        off.width = G; off.height = G;
        const octx = off.getContext("2d");
        const image = octx.createImageData(G, G);
        const white = [255, 255, 255];
        for (let r = 0; r < G; r++) {
          for (let c = 0; c < G; c++) {
            const p = probs[r][c];
            let best = 0;
            for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
            const confidence = Math.min(1, Math.max(0, (p[best] - 1 / classes) / (1 - 1 / classes)));
            const rgb = mix(white, CLASS_RGB[best % CLASS_RGB.length], 0.12 + 0.6 * confidence);
            const at = ((G - 1 - r) * G + c) * 4; // probs rows go from y_min upward; images go downward
            image.data[at] = rgb[0]; image.data[at + 1] = rgb[1]; image.data[at + 2] = rgb[2]; image.data[at + 3] = 255;
          }
        }
        octx.putImageData(image, 0, 0);
        // grid point i sits at x0 + i (x1 - x0) / (G - 1): put pixel centres there
        const cw = width / (G - 1);
        const ch = height / (G - 1);
        ctx.imageSmoothingEnabled = true;
        ctx.drawImage(off, -cw / 2, -ch / 2, width + cw, height + ch);
      } else {
        ctx.fillStyle = "#f2f3f5";
        ctx.fillRect(0, 0, width, height);
      }
      const sx = (x) => ((x - x0) / (x1 - x0)) * width;
      const sy = (y) => height - ((y - y0) / (y1 - y0)) * height;
      const train = preview.X_train || [];
      train.forEach((point, i) => this.drawDot(ctx, sx(point[0]), sy(point[1]), preview.labels_train[i], false));
      const showTest = this.showTestPoints ? this.showTestPoints() : true;
      const test = showTest ? preview.X : [];
      let right = 0;
      test.forEach((point, i) => {
        const label = preview.labels[i];
        this.drawDot(ctx, sx(point[0]), sy(point[1]), label, true);
        if (snap) right += this.predictAt(snap.probs, preview.extent, point) === label ? 1 : 0;
      });
      window.playground.drawn = { train: train, test: test }; // what the map shows, for the tests
      ctx.strokeStyle = "#888";
      ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
      this.setCaption(this.regionsCaption(snap, showTest, right, preview));
    }

    /* The map in words: how many test points lie in their class's region, or, with the test points
       hidden, how many training points are drawn. */
    regionsCaption(snap, showTest, right, preview) {
      const train = (preview.X_train || []).length;
      if (!train) {
        return snap
          ? window.pg.tr("regions_caption", { step: this.snapshot.step, right: right, n: preview.X.length })
          : window.pg.tr("regions_empty");
      }
      if (!snap) return showTest ? window.pg.tr("regions_empty_points") : window.pg.tr("regions_empty_train");
      if (showTest) {
        return window.pg.tr("regions_caption", { step: this.snapshot.step, right: right, n: preview.X.length });
      }
      return window.pg.tr("regions_caption_train", { step: this.snapshot.step, n_train: train });
    }

    predictAt(probs, extent, point) {
      const G = probs.length;
      const c = Math.round(((point[0] - extent[0]) / (extent[1] - extent[0])) * (G - 1));
      const r = Math.round(((point[1] - extent[2]) / (extent[3] - extent[2])) * (G - 1));
      const p = probs[Math.min(G - 1, Math.max(0, r))][Math.min(G - 1, Math.max(0, c))];
      let best = 0;
      for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
      return best;
    }

    // --- image sets: test images with true and predicted labels; softmax's weights as templates ---------
    drawImages(preview) {
      const [h, w] = preview.shape;
      const n = this.images.length;
      const names = this.started.class_names.map(window.pg.className);
      const width0 = Math.max(200, Math.floor(this.canvas.clientWidth || 400));
      const cols = width0 < 420 ? 4 : 6;
      const cell = width0 / cols;
      const side = cell - 14;
      const rowHeight = side + 44;
      const rows = Math.ceil(n / cols);
      const { ctx } = prepare(this.canvas, () => rows * rowHeight);
      const snap = this.snapshot && this.snapshot.kind === "images" ? this.snapshot.data : null;
      const predicted = snap ? snap.predicted : null;
      const off = this.offscreen;
      off.width = w; off.height = h;
      const octx = off.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.font = "13px system-ui, sans-serif";
      ctx.textAlign = "center";
      let right = 0;
      this.images.forEach((image, i) => {
        const x = (i % cols) * cell + 7;
        const y = Math.floor(i / cols) * rowHeight + 4;
        octx.putImageData(image, 0, 0);
        ctx.drawImage(off, x, y, side, side);
        const label = preview.labels[i];
        const centre = x + side / 2;
        if (predicted) {
          const ok = predicted[i] === label;
          right += ok ? 1 : 0;
          ctx.strokeStyle = ok ? RIGHT : WRONG;
          ctx.lineWidth = 3;
          ctx.strokeRect(x - 1.5, y - 1.5, side + 3, side + 3);
          ctx.fillStyle = ok ? RIGHT : WRONG;
          ctx.font = "bold 13px system-ui, sans-serif";
          ctx.fillText((ok ? "✓ " : "✗ ") + names[predicted[i]], centre, y + side + 17, cell - 4);
          ctx.font = "12px system-ui, sans-serif";
          ctx.fillStyle = "#555";
          if (!ok) ctx.fillText(window.pg.tr("true_label") + names[label], centre, y + side + 33, cell - 4);
        } else {
          ctx.fillStyle = "#333";
          ctx.fillText(names[label], centre, y + side + 17, cell - 4);
        }
      });
      this.setCaption(predicted
        ? window.pg.tr("images_caption", { right: right, n: n, step: this.snapshot.step })
        : window.pg.tr("images_empty"));
      if (snap && snap.templates) this.drawTemplates(snap.templates, preview.shape);
    }

    drawTemplates(templates, shape) {
      const box = this.el.querySelector("#templates-box");
      const canvas = this.el.querySelector("#templates");
      if (!box || !canvas) return;
      box.hidden = false;
      const [h, w] = shape;
      const names = this.started.class_names.map(window.pg.className);
      const width0 = Math.max(200, Math.floor(canvas.clientWidth || 400));
      const cols = 5;
      const cell = width0 / cols;
      const side = cell - 12;
      const rowHeight = side + 26;
      const { ctx } = prepare(canvas, () => Math.ceil(templates.length / cols) * rowHeight);
      const off = document.createElement("canvas");
      off.width = w; off.height = h;
      const octx = off.getContext("2d");
      const white = [255, 255, 255];
      const red = [178, 24, 43];
      const blue = [33, 102, 172];
      ctx.imageSmoothingEnabled = false;
      ctx.font = "13px system-ui, sans-serif";
      ctx.textAlign = "center";
      templates.forEach((weights, k) => {
        const scale = Math.max(1e-12, ...weights.map(Math.abs));
        const image = octx.createImageData(w, h);
        weights.forEach((v, i) => {
          const t = v / scale;
          const rgb = t >= 0 ? mix(white, red, t) : mix(white, blue, -t);
          image.data[4 * i] = rgb[0]; image.data[4 * i + 1] = rgb[1]; image.data[4 * i + 2] = rgb[2]; image.data[4 * i + 3] = 255;
        });
        octx.putImageData(image, 0, 0);
        const x = (k % cols) * cell + 6;
        const y = Math.floor(k / cols) * rowHeight + 2;
        ctx.drawImage(off, x, y, side, side);
        ctx.strokeStyle = "#999";
        ctx.lineWidth = 1;
        ctx.strokeRect(x - 0.5, y - 0.5, side + 1, side + 1);
        ctx.fillStyle = "#222";
        ctx.fillText(names[k] || String(k), x + side / 2, y + side + 17, cell - 4);
      });
    }
  }
})();

/* Keyboard for a live run's pace controls: Space pauses and resumes, the right arrow takes one step.
   Keys typed into a field, a menu or on a focused button keep their usual meaning. */
(function () {
  "use strict";
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, button, a, [contenteditable]")) return;
    const id = event.key === " " ? "play-pause" : event.key === "ArrowRight" ? "step-once" : null;
    const button = id && document.getElementById(id);
    if (!button) return;
    event.preventDefault();
    button.click();
  });
})();
