/* The teacher's board: one stream (the class log and every student's run as a lane) drawn as a loss chart
   of every student, a leaderboard, the counts, the diverged students grouped by their settings and the
   quiz's answers.

   The stream starts from the beginning of the class, so a board opened late replays everything it missed
   and ends up where a board open from the start would be. A student may train several runs: the board
   shows each student's latest, and events of their older runs are ignored.

   Names and answers are the students' own text: they go into the page as text (textContent), never as
   HTML. Hooks for tests and readers: window.board, the leaderboard rows' data-student / data-run-id /
   data-status, #board-chart's data-curves and data-spotlight, #quiz-bars [data-answer][data-count]. */
(function () {
  "use strict";

  const FINISHED = ["done", "cancelled", "diverged", "failed", "interrupted"];
  const THIN = 1.5; // a student's line, CSS pixels
  const BOLD = 5; // the spotlighted student's line
  const DIMMED = "66"; // the other lines' alpha (hex) while someone is spotlighted

  const pg = window.pg;

  function readJson(id, fallback) {
    const node = document.getElementById(id);
    if (!node) return fallback;
    try { return JSON.parse(node.textContent); } catch (e) { return fallback; }
  }

  /* A message's JSON. A diverged run may send NaN or Infinity, which Python writes bare and JSON.parse
     refuses: those become null (a point the chart skips). */
  function parseData(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      return JSON.parse(text.replace(/([:[,])\s*(-?Infinity|NaN)(?=\s*[,\]}])/g, "$1null"));
    }
  }

  function finite(v) {
    return typeof v === "number" && Number.isFinite(v);
  }

  /* Text with `code` between backticks, added to `node` as text and <code> elements (never as HTML). */
  function appendWithCode(node, text) {
    String(text).split("`").forEach((part, i) => {
      if (!part) return;
      if (i % 2 === 1) {
        const code = document.createElement("code");
        code.textContent = part;
        node.appendChild(code);
      } else {
        node.appendChild(document.createTextNode(part));
      }
    });
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* A setting's value as the board writes it: 0.1, 1000, 1e-7, true, relu. */
  function settingText(value) {
    if (typeof value === "number") return String(Number(value.toPrecision(6)));
    return String(value);
  }

  function statusText(status) {
    return pg.tr("status_" + status, null, status);
  }

  function listOfNames(names) {
    return names.join(pg.tr("board_names_separator", null, ", "));
  }

  // --- the loss chart ---------------------------------------------------------------------------------
  /* Every student's loss per step on one uPlot chart (x: epochs, fractional; y: log loss). uPlot wants
     one x array shared by all series: `xs` holds every x seen, sorted, and each student's column holds
     their loss at those x (null elsewhere, bridged by spanGaps). A point at an x already known, or past
     the last one, costs O(1) (O(students) for a new last x); only an x falling between known ones makes
     the next draw rebuild the columns from the students' points. */
  class LossChart {
    constructor(box, useAcc) {
      this.box = box;
      this.useAcc = useAcc;
      this.xs = [];
      this.xAt = new Map();
      this.columns = [];
      this.students = []; // by series slot
      this.newSlots = [];
      this.rebuild = false;
      this.spotlight = null;
      this.build();
    }

    build() {
      if (this.chart) { this.chart.stopFollowing(); this.chart.destroy(); }
      this.chart = pg.lineChart(this.box, {
        xLabel: pg.tr("epoch"),
        yLabel: pg.tr(this.useAcc ? "axis_cross_entropy" : "axis_squared_loss"),
        logY: true, series: [], height: 420, x: "fraction",
      }, [[]]);
      this.newSlots = this.students.map((s, i) => i);
      this.draw();
    }

    seriesOptions(slot) {
      const student = this.students[slot];
      return {
        label: student.name,
        stroke: () => this.colour(slot),
        width: this.spotlight === student ? BOLD : THIN,
        spanGaps: true,
        points: { show: false },
        value: (u, v) => (v === null || v === undefined ? "–" : pg.sci(v, 4)),
      };
    }

    colour(slot) {
      const base = this.students[slot].colour;
      return this.spotlight && this.spotlight !== this.students[slot] ? base + DIMMED : base;
    }

    addStudent(student) {
      student.slot = this.students.length;
      student.colour = pg.PALETTE[student.slot % pg.PALETTE.length];
      this.students.push(student);
      this.columns.push(new Array(this.xs.length).fill(null));
      this.newSlots.push(student.slot);
    }

    /* The student's curve starts again (a new run): their column empties. */
    clear(student) {
      this.columns[student.slot].fill(null);
    }

    add(student, x, y) {
      if (!finite(x) || !finite(y)) return;
      const value = Math.max(y, 1e-12); // a log axis shows no zero
      const at = this.xAt.get(x);
      if (at !== undefined) {
        this.columns[student.slot][at] = value;
      } else if (!this.xs.length || x > this.xs[this.xs.length - 1]) {
        this.xAt.set(x, this.xs.length);
        this.xs.push(x);
        this.columns.forEach((column, slot) => column.push(slot === student.slot ? value : null));
      } else {
        this.rebuild = true;
      }
    }

    rebuildColumns() {
      const seen = new Set();
      this.students.forEach((s) => s.points.forEach((p) => seen.add(p[0])));
      this.xs = Array.from(seen).sort((a, b) => a - b);
      this.xAt = new Map(this.xs.map((x, i) => [x, i]));
      this.columns = this.students.map((s) => {
        const column = new Array(this.xs.length).fill(null);
        s.points.forEach((p) => { column[this.xAt.get(p[0])] = Math.max(p[1], 1e-12); });
        return column;
      });
      this.rebuild = false;
    }

    setSpotlight(student) {
      this.spotlight = student;
      this.chart.series.forEach((series, i) => {
        if (i > 0) series.width = this.students[i - 1] === student ? BOLD : THIN;
      });
      this.box.dataset.spotlight = student ? String(student.number) : "";
      this.chart.redraw(false, false);
    }

    draw() {
      if (this.rebuild) this.rebuildColumns();
      this.newSlots.forEach((slot) => this.chart.addSeries(this.seriesOptions(slot), slot + 1));
      this.newSlots = [];
      this.chart.setData([this.xs].concat(this.columns));
      this.box.dataset.series = String(this.students.length);
      this.box.dataset.curves = String(this.students.filter((s) => s.points.length).length);
    }

    /* What is drawn, per student (tests and curious readers): their name, line width and points. */
    describe() {
      return this.students.map((s, i) => ({
        student: s.number, name: s.name, width: this.chart.series[i + 1].width, points: s.points.length,
        bold: this.chart.series[i + 1].width === BOLD,
      }));
    }
  }

  // --- the board ---------------------------------------------------------------------------------------
  function setUp() {
    const board = readJson("board-data", null);
    if (!board || !window.pg) return;
    const items = readJson("quiz-items", {});
    const labels = {};
    (board.unlocked || []).forEach((u) => { labels[u.name] = u.label; });
    document.querySelectorAll("#push-form input[name='unlocked'][data-label]").forEach((box) => {
      if (!(box.value in labels)) labels[box.value] = box.dataset.label;
    });
    const state = {
      metric: board.metric === "loss" ? "loss" : "acc",
      students: new Map(), // student number -> {number, name, slot, colour, run, points, row}
      lanes: [], // lane -> the run it draws
      quiz: { item: (board.quiz || {}).item || null, revealed: Boolean((board.quiz || {}).revealed) },
      answers: new Map(), // item -> Map(student number -> answer)
      spotlight: null,
      ended: board.status !== "open",
    };
    const chart = new LossChart(document.getElementById("board-chart"), state.metric === "acc");
    const tbody = document.querySelector("#leaderboard tbody");
    const groupsBox = document.getElementById("diverged-groups");
    let pending = false;
    let dirty = { chart: false, table: false, quiz: true };

    function schedule(what) {
      dirty[what] = true;
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        const now = dirty;
        dirty = { chart: false, table: false, quiz: false };
        if (now.chart) chart.draw();
        if (now.table) drawTable();
        if (now.quiz) drawQuiz();
      });
    }

    function studentOf(number, name) {
      let student = state.students.get(number);
      if (!student) {
        student = { number: number, name: String(name), run: null, points: [], row: null };
        state.students.set(number, student);
        chart.addStudent(student);
        schedule("chart");
      }
      return student;
    }

    // --- the class log ---------------------------------------------------------------------------
    const classEvents = {
      joined(e) { studentOf(e.student, e.name); schedule("table"); },
      run(e) {
        const student = studentOf(e.student, e.name);
        const run = {
          student: student, runId: e.run_id, lane: e.lane, settings: e.settings || {}, status: "queued",
          perEpoch: 1, result: null,
        };
        state.lanes[e.lane] = run;
        student.run = run;
        student.points = [];
        chart.clear(student);
        if (state.spotlight === student) showSpotlight(student);
        schedule("chart");
        schedule("table");
      },
      preset(e) {
        const model = e.spec && e.spec.model;
        const metric = model === "linreg" ? "loss" : "acc";
        if (model && metric !== state.metric) {
          state.metric = metric;
          chart.useAcc = metric === "acc";
          chart.build(); // the y axis names the other loss
        }
        showPreset(e.preset, e.unlocked || []);
        schedule("table");
      },
      quiz(e) {
        state.quiz = { item: e.item, revealed: false };
        schedule("quiz");
      },
      answered(e) {
        if (!state.answers.has(e.item)) state.answers.set(e.item, new Map());
        state.answers.get(e.item).set(e.student, String(e.answer));
        studentOf(e.student, e.name);
        schedule("quiz");
      },
      reveal(e) {
        if (e.item === state.quiz.item) state.quiz.revealed = true;
        schedule("quiz");
      },
      ended() { showEnded(); },
    };

    // --- the students' runs (lanes) ----------------------------------------------------------------
    /* The run a lane event belongs to, if it is still its student's latest. */
    function latest(e) {
      const run = state.lanes[e.lane];
      return run && run.student.run === run ? run : null;
    }

    const laneEvents = {
      started(run, e) {
        run.perEpoch = e.steps_per_epoch || 1;
        if (run.status === "queued") run.status = "running";
        schedule("table");
      },
      step(run, e) {
        if (!finite(e.loss) || !finite(e.step)) return;
        const x = e.step / run.perEpoch;
        run.student.points.push([x, e.loss]);
        chart.add(run.student, x, e.loss);
        schedule("chart");
      },
      epoch(run, e) {
        run.result = { epoch: e.epoch, acc: finite(e.test_acc) ? e.test_acc : null, loss: finite(e.test_loss) ? e.test_loss : null };
        if (run.status === "queued") run.status = "running";
        schedule("table");
      },
      finished(run, e) {
        run.status = e.status || "done";
        schedule("table");
      },
    };

    // --- the leaderboard ---------------------------------------------------------------------------
    function resultValue(run) {
      if (!run || !run.result) return null;
      const value = state.metric === "acc" ? run.result.acc : run.result.loss;
      return finite(value) ? value : null;
    }

    /* 0: a result, 1: none yet (or none to show), 2: diverged (last). */
    function group(student) {
      if (student.run && student.run.status === "diverged") return 2;
      return resultValue(student.run) === null ? 1 : 0;
    }

    function ordered() {
      const sign = state.metric === "acc" ? -1 : 1;
      return Array.from(state.students.values()).sort((a, b) => {
        const ga = group(a), gb = group(b);
        if (ga !== gb) return ga - gb;
        if (ga === 0) {
          const diff = sign * (resultValue(a.run) - resultValue(b.run));
          if (diff !== 0) return diff;
        }
        return a.number - b.number;
      });
    }

    function newRow(student) {
      const row = make("tr");
      row.dataset.student = String(student.number);
      const rank = make("td", "rank num");
      const nameCell = make("td", "name");
      const swatch = make("span", "swatch");
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.background = student.colour;
      const button = make("button", "spotlight-button", student.name);
      button.type = "button";
      button.setAttribute("aria-pressed", "false");
      button.title = pg.tr("board_spotlight", { name: student.name }, "Spotlight");
      button.addEventListener("click", (event) => { event.stopPropagation(); spotlight(student); });
      const who = make("span", "who");
      who.append(swatch, button);
      nameCell.appendChild(who);
      const settings = make("td", "settings-cell");
      const statusCell = make("td", "status-cell");
      statusCell.appendChild(make("span", "badge"));
      const result = make("td", "result num");
      row.append(rank, nameCell, settings, statusCell, result);
      row.addEventListener("click", () => spotlight(student));
      student.row = row;
      return row;
    }

    function fillRow(student, rank) {
      const row = student.row || newRow(student);
      const run = student.run;
      const cells = row.children;
      setText(cells[0], rank === null ? "–" : String(rank));
      if (rank === null) delete row.dataset.rank; else row.dataset.rank = String(rank);
      if (run) {
        row.dataset.runId = run.runId;
        row.dataset.status = run.status;
      } else {
        delete row.dataset.runId;
        row.dataset.status = "joined";
      }
      const settings = run ? Object.keys(run.settings).map((name) => `${labels[name] || name} = ${settingText(run.settings[name])}`) : [];
      showSettings(cells[2], settings);
      const badge = cells[3].firstChild;
      const status = run ? run.status : "joined";
      const badgeClass = "badge " + status;
      if (badge.className !== badgeClass) badge.className = badgeClass;
      setText(badge, run ? statusText(status) : pg.tr("board_no_run", null, "no run yet"));
      const value = resultValue(run);
      const shown = value === null || status === "diverged" ? "–" : state.metric === "acc" ? pg.pct(value) : pg.fmt(value, 4);
      setText(cells[4], shown);
      if (value === null) delete cells[4].dataset.value; else cells[4].dataset.value = String(value);
      const spotlit = state.spotlight === student;
      row.classList.toggle("spotlit", spotlit);
      cells[1].querySelector(".spotlight-button").setAttribute("aria-pressed", spotlit ? "true" : "false");
      return row;
    }

    /* "lr = 0.1, batch_size = 64": each setting kept on one line. */
    function showSettings(cell, settings) {
      if (cell.dataset.shown === settings.join("\n")) return;
      cell.dataset.shown = settings.join("\n");
      cell.replaceChildren();
      settings.forEach((text, i) => {
        if (i) cell.appendChild(document.createTextNode(", "));
        cell.appendChild(make("span", "setting", text));
      });
    }

    function setText(node, text) {
      if (node.textContent !== text) node.textContent = text;
    }

    function drawTable() {
      let rank = 0;
      const rows = ordered().map((student) => fillRow(student, group(student) === 0 ? ++rank : null));
      const focused = tbody.contains(document.activeElement) ? document.activeElement : null;
      rows.forEach((row, i) => { if (tbody.children[i] !== row) tbody.insertBefore(row, tbody.children[i] || null); });
      // a row that moved lost the keyboard's focus: give it back
      if (focused && document.activeElement !== focused) focused.focus({ preventScroll: true });
      drawCounts();
      drawGroups();
    }

    function drawCounts() {
      const runs = Array.from(state.students.values()).map((s) => s.run).filter(Boolean);
      const count = (statuses) => runs.filter((run) => statuses.includes(run.status)).length;
      const counts = {
        joined: state.students.size,
        training: count(["queued", "running"]),
        done: count(["done"]),
        diverged: count(["diverged"]),
      };
      Object.keys(counts).forEach((name) => {
        const dd = document.querySelector(`#board-counts dd[data-count="${name}"]`);
        if (dd) setText(dd, String(counts[name]));
      });
    }

    // --- the diverged students, grouped by their settings -------------------------------------------
    /* One sentence per unlocked setting for the diverged students: for a number, the smallest value that
       diverged and the largest that finished below it ("lr ≥ 3 diverged: Ana, Bo" when every finished
       run from there up diverged); for other settings, the values that diverged. */
    function groupSentences() {
      const runs = Array.from(state.students.values()).map((s) => s.run).filter((run) => run && FINISHED.includes(run.status));
      const diverged = runs.filter((run) => run.status === "diverged");
      if (!diverged.length) return [];
      const names = (list) => listOfNames(list.map((run) => run.student.name));
      const settingNames = Array.from(new Set(diverged.flatMap((run) => Object.keys(run.settings))));
      const sentences = settingNames.map((name) => {
        const label = labels[name] || name;
        const hit = diverged.filter((run) => name in run.settings);
        if (hit.every((run) => finite(run.settings[name]))) return numberSentence(name, label, hit, runs);
        return valueSentence(name, label, hit);
      });
      return sentences.length ? sentences : [pg.tr("board_diverged_plain", { count: diverged.length, students: names(diverged) })];
    }

    function numberSentence(name, label, hit, runs) {
      const names = (list) => listOfNames(list.map((run) => run.student.name));
      const smallest = Math.min.apply(null, hit.map((run) => run.settings[name]));
      const done = runs.filter((run) => run.status === "done" && finite(run.settings[name]));
      const below = done.filter((run) => run.settings[name] < smallest).map((run) => run.settings[name]);
      const allAbove = !done.some((run) => run.settings[name] >= smallest);
      const sorted = hit.slice().sort((a, b) => a.settings[name] - b.settings[name] || a.student.number - b.student.number);
      let text = allAbove
        ? pg.tr("board_diverged_from", { setting: label, value: settingText(smallest), students: names(sorted) })
        : pg.tr("board_diverged_at", {
          setting: label, count: hit.length, students: names(sorted),
          values: listOfNames(Array.from(new Set(sorted.map((run) => settingText(run.settings[name]))))),
        });
      if (below.length) {
        text += pg.tr("board_largest_fine", { setting: label, value: settingText(Math.max.apply(null, below)) });
      }
      return text;
    }

    function valueSentence(name, label, hit) {
      const byValue = new Map();
      hit.forEach((run) => {
        const value = settingText(run.settings[name]);
        if (!byValue.has(value)) byValue.set(value, []);
        byValue.get(value).push(run.student.name);
      });
      return Array.from(byValue.entries()).map(([value, names]) =>
        pg.tr("board_diverged_at", { setting: label, values: value, count: names.length, students: listOfNames(names) })).join(" ");
    }

    function drawGroups() {
      const sentences = groupSentences();
      const shown = Array.from(groupsBox.children).map((node) => node.textContent);
      if (shown.length === sentences.length && shown.every((text, i) => text === sentences[i])) return;
      groupsBox.replaceChildren(...sentences.map((text) => {
        const node = make("p", "diverged-group", text);
        node.dataset.testid = "diverged-group";
        return node;
      }));
    }

    // --- the quiz ----------------------------------------------------------------------------------
    // Formulas written \( ... \) in the questions are typeset by the vendored KaTeX, as on /exercises.
    const MATH = { delimiters: [{ left: "\\(", right: "\\)", display: false }], throwOnError: false };
    const typeset = (root) => window.renderMathInElement && window.renderMathInElement(root, MATH);
    typeset(document.getElementById("quiz-items-list"));

    function drawQuiz() {
      const question = document.getElementById("quiz-question");
      const answered = document.getElementById("quiz-answered");
      const bars = document.getElementById("quiz-bars");
      if (!question || !answered || !bars) return;
      const item = state.quiz.item ? items[state.quiz.item] : null;
      if (!item) {
        question.replaceChildren();
        delete question.dataset.item;
        question.textContent = state.quiz.item ? state.quiz.item : pg.tr("board_no_question", null, "");
        answered.textContent = "";
        bars.replaceChildren();
        return;
      }
      if (question.dataset.item !== state.quiz.item) {
        question.dataset.item = state.quiz.item;
        question.replaceChildren();
        appendWithCode(question, item.question);
        typeset(question);
      }
      const answers = state.answers.get(state.quiz.item) || new Map();
      let text = pg.tr("board_answered", { count: answers.size, total: state.students.size });
      if (state.quiz.revealed) text += " " + pg.tr("board_revealed");
      answered.textContent = text;
      bars.dataset.item = state.quiz.item;
      bars.dataset.revealed = state.quiz.revealed ? "true" : "false";
      bars.replaceChildren(...answerBars(item, answers));
    }

    /* A bar per choice (in the item's order, even at 0), or per distinct answer (most given first). */
    function answerBars(item, answers) {
      const counts = new Map();
      answers.forEach((answer) => counts.set(answer, (counts.get(answer) || 0) + 1));
      let rows;
      if (item.choices && item.choices.length) {
        rows = item.choices.map((c) => ({ answer: c.id, label: `${c.id}) ${c.text}`, count: counts.get(c.id) || 0 }));
        counts.forEach((count, answer) => {
          if (!item.choices.some((c) => c.id === answer)) rows.push({ answer: answer, label: answer, count: count });
        });
      } else {
        rows = Array.from(counts.entries()).map(([answer, count]) => ({ answer: answer, label: answer, count: count }))
          .sort((a, b) => b.count - a.count || a.answer.localeCompare(b.answer));
      }
      const most = Math.max(1, ...rows.map((r) => r.count));
      return rows.map((r) => {
        const bar = make("div", "quiz-bar");
        bar.dataset.answer = r.answer;
        bar.dataset.count = String(r.count);
        const label = make("span", "quiz-bar-label");
        appendWithCode(label, r.label);
        const track = make("span", "quiz-bar-track");
        track.setAttribute("aria-hidden", "true");
        const fill = make("span", "quiz-bar-fill");
        fill.style.width = (100 * r.count / most).toFixed(1) + "%";
        track.appendChild(fill);
        const count = make("span", "quiz-bar-count", String(r.count));
        bar.append(label, track, count);
        return bar;
      });
    }

    // --- spotlight, preset, end --------------------------------------------------------------------
    function spotlight(student) {
      state.spotlight = student;
      chart.setSpotlight(student);
      schedule("table");
      showSpotlight(student);
    }

    function showSpotlight(student) {
      const box = document.getElementById("spotlight");
      if (!student.run || !box || !window.htmx) return;
      box.dataset.student = String(student.number);
      box.dataset.runId = student.run.runId;
      const url = `${board.spotlight_url}?run=${encodeURIComponent(student.run.runId)}`;
      window.htmx.ajax("GET", url, { target: "#spotlight", swap: "innerHTML" }).then(() => {
        if (box.getBoundingClientRect().top > window.innerHeight) box.scrollIntoView({ block: "start" });
      });
    }

    function showPreset(key, unlocked) {
      const option = document.querySelector(`#push-preset option[value="${CSS.escape(String(key))}"]`);
      const preset = document.getElementById("board-preset");
      if (preset && option) preset.textContent = option.textContent;
      const names = document.getElementById("board-unlocked");
      if (!names) return;
      names.replaceChildren();
      unlocked.forEach((name, i) => {
        if (i) names.appendChild(document.createTextNode(", "));
        names.appendChild(make("code", "", name));
      });
      if (!unlocked.length) names.textContent = pg.tr("board_nothing_unlocked", null, "–");
    }

    function showEnded() {
      state.ended = true;
      document.body.dataset.classEnded = "true";
      ["end-class", "push", "ask"].forEach((id) => {
        const button = document.getElementById(id);
        if (button) button.disabled = true;
      });
      const notice = document.getElementById("board-ended");
      if (notice) notice.hidden = false;
    }

    // --- the stream --------------------------------------------------------------------------------
    if (state.ended) showEnded();
    schedule("quiz");
    schedule("table");
    const connection = document.getElementById("board-connection");
    const source = new EventSource(board.events_url);
    Object.keys(classEvents).forEach((type) => {
      source.addEventListener(type, (message) => classEvents[type](parseData(message.data)));
    });
    Object.keys(laneEvents).forEach((type) => {
      source.addEventListener(type, (message) => {
        const event = parseData(message.data);
        const run = latest(event);
        if (run) laneEvents[type](run, event);
      });
    });
    source.addEventListener("open", () => { if (connection) connection.hidden = true; });
    source.addEventListener("error", () => {
      if (!connection) return;
      connection.textContent = pg.tr("board_reconnecting");
      connection.hidden = false;
    });

    window.board = {
      source: source,
      students: () => ordered().map((s) => ({
        student: s.number, name: s.name, run_id: s.run ? s.run.runId : null, status: s.run ? s.run.status : null,
        result: resultValue(s.run), points: s.points.length,
      })),
      series: () => chart.describe(),
      spotlight: (number) => { const s = state.students.get(number); if (s) spotlight(s); },
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
