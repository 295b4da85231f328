/* The network drawn neuron by neuron: an MLP on a 2-D set, from the run's `neurons` snapshots.

Columns left to right: the inputs x1 and x2, each hidden layer's drawn units (each a small map of the unit's
activation over the plane, dark low, bright high), and the output's decision map. Lines between columns are
weights: blue positive, orange negative, wider for larger. Pointing at a unit (or focusing it, or tapping it)
shows it larger with the weights that feed it.

The server sends (app/training/snapshots.py neurons_data): grid_size, extent, sizes, layers (per hidden
layer: size, units, chosen, maps, incoming, bias), outgoing and probs. A unit is marked data-unit="L.U":
hidden layer L and unit U of that layer, both counted from 1.

For tests: window.playground.neurons = {snapshots, shown} (snapshots received, the unit shown enlarged).
*/
(function () {
  "use strict";

  const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"] // viridis, low to high
    .map((hex) => { const n = parseInt(hex.slice(1), 16); return [(n >> 16) & 255, (n >> 8) & 255, n & 255]; });
  const POSITIVE = "#0072b2"; // Okabe-Ito blue
  const NEGATIVE = "#d55e00"; // Okabe-Ito vermillion
  const tr = (key, values) => window.pg.tr(key, values);
  const testState = { snapshots: 0, shown: null };

  /* live.js may set window.playground after this script ran: hang the test hook on it each time. */
  function publish() {
    window.playground = window.playground || {};
    window.playground.neurons = testState;
  }

  function ramp(t) {
    const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(x));
    const f = x - i;
    return [0, 1, 2].map((k) => Math.round(RAMP[i][k] + (RAMP[i + 1][k] - RAMP[i][k]) * f));
  }

  function classRgb(c) {
    const hex = window.pg.PALETTE[c % window.pg.PALETTE.length];
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  function rangeOf(map) {
    let lo = Infinity;
    let hi = -Infinity;
    map.forEach((row) => row.forEach((v) => { lo = Math.min(lo, v); hi = Math.max(hi, v); }));
    return [lo, hi];
  }

  /* A G x G map (rows from the bottom of the plane up) onto a G x G canvas; CSS scales it. */
  function paint(canvas, G, colourAt) {
    canvas.width = G;
    canvas.height = G;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(G, G);
    for (let r = 0; r < G; r++) {
      for (let c = 0; c < G; c++) {
        const rgb = colourAt(r, c);
        const i = ((G - 1 - r) * G + c) * 4;
        image.data[i] = rgb[0]; image.data[i + 1] = rgb[1]; image.data[i + 2] = rgb[2]; image.data[i + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  function paintUnit(canvas, map) {
    const [lo, hi] = rangeOf(map);
    const span = hi - lo || 1;
    paint(canvas, map.length, (r, c) => ramp((map[r][c] - lo) / span));
  }

  function paintOutput(canvas, probs) {
    const colours = probs[0][0].map((_, c) => classRgb(c));
    paint(canvas, probs.length, (r, c) => {
      const p = probs[r][c];
      const rgb = [0, 0, 0];
      p.forEach((share, k) => { for (let j = 0; j < 3; j++) rgb[j] += share * colours[k][j]; });
      return rgb.map((v) => Math.round(255 - (255 - v) * 0.8)); // a little lighter, as the boundary picture
    });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  class NeuronView {
    constructor(figure) {
      this.figure = figure;
      this.net = figure.querySelector(".neurons-net");
      this.detail = figure.querySelector(".neuron-detail");
      this.data = null;
      this.shape = "";
      this.shown = null; // "L.U" of the unit drawn large
      this.pinned = false;
      window.addEventListener("resize", () => this.drawEdges());
    }

    update(data) {
      this.data = data;
      testState.snapshots += 1;
      publish();
      const shape = JSON.stringify([data.sizes, data.layers.map((layer) => layer.units)]);
      if (shape !== this.shape) { this.shape = shape; this.build(); }
      this.figure.hidden = false;
      data.layers.forEach((layer, l) => layer.units.forEach((unit, i) => {
        const canvas = this.net.querySelector('[data-unit="' + (l + 1) + "." + (unit + 1) + '"] canvas');
        if (canvas) paintUnit(canvas, layer.maps[i]);
      }));
      paintOutput(this.net.querySelector(".neuron-output canvas"), data.probs);
      this.drawEdges();
      if (this.shown) this.show(this.shown);
    }

    /* The columns and their units: rebuilt only when the units drawn change. */
    build() {
      const data = this.data;
      this.net.replaceChildren();
      this.edges = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      this.edges.setAttribute("class", "neurons-edges");
      this.edges.setAttribute("aria-hidden", "true");
      this.net.appendChild(this.edges);
      const columns = el("div", "neurons-columns");
      const inputs = el("div", "neurons-col");
      inputs.appendChild(el("h4", "", tr("neurons_inputs")));
      for (let k = 0; k < data.sizes[0]; k++) inputs.appendChild(el("div", "neuron-input", "x" + (k + 1)));
      columns.appendChild(inputs);
      data.layers.forEach((layer, l) => {
        const column = el("div", "neurons-col");
        column.appendChild(el("h4", "", tr("neurons_layer", { n: l + 1 })));
        if (layer.chosen) {
          column.appendChild(el("p", "neurons-note", tr("neurons_chosen", { shown: layer.units.length, size: layer.size })));
        }
        layer.units.forEach((unit) => column.appendChild(this.unitButton(l + 1, unit + 1)));
        columns.appendChild(column);
      });
      const output = el("div", "neurons-col");
      output.appendChild(el("h4", "", tr("neurons_output")));
      const box = el("div", "neuron-output");
      box.appendChild(el("canvas"));
      output.appendChild(box);
      columns.appendChild(output);
      this.net.appendChild(columns);
      if (this.shown && !this.net.querySelector('[data-unit="' + this.shown + '"]')) this.hide(true);
    }

    unitButton(layer, unit) {
      const key = layer + "." + unit;
      const button = el("button", "neuron");
      button.type = "button";
      button.dataset.unit = key;
      button.setAttribute("aria-label", tr("neurons_unit", { layer: layer, unit: unit }));
      button.appendChild(el("canvas"));
      button.addEventListener("mouseenter", () => this.show(key));
      button.addEventListener("focus", () => this.show(key));
      button.addEventListener("mouseleave", () => this.hide(false));
      button.addEventListener("blur", () => this.hide(false));
      button.addEventListener("click", () => { this.pinned = !(this.pinned && this.shown === key); this.show(key); });
      return button;
    }

    /* The centre of each drawn node, in the net's own coordinates, column by column. */
    centres() {
      const origin = this.net.getBoundingClientRect();
      return Array.from(this.net.querySelectorAll(".neurons-col")).map((column) =>
        Array.from(column.querySelectorAll(".neuron-input, .neuron, .neuron-output")).map((node) => {
          const box = node.getBoundingClientRect();
          return [box.left - origin.left + box.width / 2, box.top - origin.top + box.height / 2, box.width / 2];
        }));
    }

    /* One line per weight between drawn units; the last hidden layer's lines to the output are grey,
    as wide as the unit's outgoing weights together. */
    drawEdges() {
      if (!this.data || !this.edges || this.figure.hidden) return;
      const data = this.data;
      const svg = this.edges;
      svg.replaceChildren();
      const columns = this.net.querySelector(".neurons-columns");
      svg.setAttribute("width", columns.offsetWidth);
      svg.setAttribute("height", columns.offsetHeight);
      const at = this.centres();
      const line = (from, to, weight, scale, colour) => {
        const path = document.createElementNS("http://www.w3.org/2000/svg", "line");
        path.setAttribute("x1", from[0] + from[2]); path.setAttribute("y1", from[1]);
        path.setAttribute("x2", to[0] - to[2]); path.setAttribute("y2", to[1]);
        path.setAttribute("stroke", colour || (weight >= 0 ? POSITIVE : NEGATIVE));
        path.setAttribute("stroke-width", (0.4 + 3.6 * Math.abs(weight) / scale).toFixed(2));
        path.setAttribute("stroke-opacity", "0.75");
        svg.appendChild(path);
      };
      data.layers.forEach((layer, l) => {
        const scale = Math.max(1e-9, ...layer.incoming.flat().map(Math.abs));
        layer.incoming.forEach((row, i) => row.forEach((w, j) => line(at[l][j], at[l + 1][i], w, scale)));
      });
      const last = data.layers.length;
      const strength = data.layers[last - 1].units.map((_, j) => Math.hypot(...data.outgoing.map((row) => row[j])));
      const top = Math.max(1e-9, ...strength);
      strength.forEach((s, j) => line(at[last][j], at[last + 1][0], s, top, "#6b7280"));
    }

    show(key) {
      const data = this.data;
      if (!data) return;
      const [layer, unit] = key.split(".").map(Number);
      const drawn = data.layers[layer - 1];
      const i = drawn ? drawn.units.indexOf(unit - 1) : -1;
      if (i < 0) return;
      this.shown = key;
      testState.shown = key;
      publish();
      this.net.querySelectorAll(".neuron").forEach((b) => b.classList.toggle("shown", b.dataset.unit === key));
      const from = layer === 1
        ? drawn.incoming[i].map((_, j) => "x" + (j + 1))
        : data.layers[layer - 2].units.map((u) => tr("neurons_unit", { layer: layer - 1, unit: u + 1 }));
      const [lo, hi] = rangeOf(drawn.maps[i]);
      this.detail.replaceChildren();
      const canvas = el("canvas", "neuron-large");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", tr("neurons_range", { lo: window.pg.fmt(lo, 3), hi: window.pg.fmt(hi, 3) }));
      paintUnit(canvas, drawn.maps[i]);
      const text = el("div", "neuron-detail-text");
      text.appendChild(el("h4", "", tr("neurons_unit", { layer: layer, unit: unit })));
      text.appendChild(el("p", "help", tr("neurons_range", { lo: window.pg.fmt(lo, 3), hi: window.pg.fmt(hi, 3) })));
      const table = el("table", "neuron-weights");
      table.appendChild(el("caption", "", tr("neurons_incoming")));
      const body = el("tbody");
      const row = (name, value) => {
        const tr_ = el("tr");
        tr_.appendChild(el("th", "", name)).setAttribute("scope", "row");
        const cell = tr_.appendChild(el("td", value < 0 ? "negative" : "positive", window.pg.fixed(value)));
        cell.dataset.weight = String(value);
        body.appendChild(tr_);
      };
      drawn.incoming[i].forEach((w, j) => row(from[j], w));
      row(tr("neurons_bias"), drawn.bias[i]);
      table.appendChild(body);
      text.appendChild(table);
      this.detail.append(canvas, text);
      this.detail.hidden = false;
      this.place(key);
    }

    /* Beside the unit, over the network: to its right, else to its left, else just below it; never over
    the unit itself (the card takes no pointer events either, so it cannot steal the hover). */
    place(key) {
      const button = this.net.querySelector('[data-unit="' + key + '"]');
      if (!button) return;
      const frame = this.figure.getBoundingClientRect();
      const unit = button.getBoundingClientRect();
      const width = this.detail.offsetWidth;
      let left = unit.right - frame.left + 8;
      let top = unit.top - frame.top - 8;
      if (left + width > frame.width) left = unit.left - frame.left - 8 - width;
      if (left < 0) {
        left = Math.min(Math.max(0, unit.left - frame.left), Math.max(0, frame.width - width));
        top = unit.bottom - frame.top + 8;
      }
      this.detail.style.left = left + "px";
      this.detail.style.top = Math.max(0, top) + "px";
    }

    hide(always) {
      if (this.pinned && !always) return;
      this.pinned = false;
      this.shown = null;
      testState.shown = null;
      this.detail.hidden = true;
      this.net.querySelectorAll(".neuron.shown").forEach((b) => b.classList.remove("shown"));
    }
  }

  const views = new WeakMap();
  const hooked = new WeakSet();

  document.addEventListener("htmx:sseOpen", (e) => {
    const source = e.detail && e.detail.source;
    const panel = e.target.closest && e.target.closest("[data-run-panel]");
    const figure = panel && panel.querySelector("[data-neurons]");
    if (!source || !figure || hooked.has(source)) return;
    hooked.add(source);
    if (!views.has(figure)) views.set(figure, new NeuronView(figure));
    const view = views.get(figure);
    let lastSeq = 0;
    source.addEventListener("snapshot", (message) => {
      const seq = Number(message.lastEventId || 0);
      if (seq && seq <= lastSeq) return; // a replay after a reconnection
      if (seq) lastSeq = seq;
      let event;
      try { event = JSON.parse(message.data); } catch (err) { return; }
      if (event.kind === "neurons") view.update(event.data);
    });
  });
})();
