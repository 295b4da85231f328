"""Charts that read on a projector, in a real browser: every chart of the run views has numeric x ticks and
labelled axes, log axes are labelled at powers of ten (1-2-5 where the axis spans under two decades) with no
"-" labels, labels do not crowd at 1920x1080 and 150% zoom, and in Chinese nothing the JavaScript wrote on a
chart or picture is English.

What a chart draws is read twice: from the labels the page records on each uPlot element (data-x-ticks,
data-y-label, ...) and from the text actually drawn on its canvases, caught by wrapping fillText before
any page script runs.
"""

import json
import math
import re

import httpx
import pytest
from playwright.sync_api import expect

# Every fillText on a canvas is kept on that canvas (canvas.__texts); clearing the whole canvas, as a redraw
# does, starts its list afresh.
RECORD_CANVAS_TEXT = """
(() => {
  const proto = CanvasRenderingContext2D.prototype;
  const fillText = proto.fillText;
  const clearRect = proto.clearRect;
  proto.fillText = function (text) {
    (this.canvas.__texts = this.canvas.__texts || []).push(String(text));
    return fillText.apply(this, arguments);
  };
  proto.clearRect = function (x, y) {
    if (x <= 0 && y <= 0) this.canvas.__texts = [];
    return clearRect.apply(this, arguments);
  };
})();
"""

CHARTS = """(root) => Array.from(document.querySelectorAll(root + ' .uplot')).map((el) => ({
  box: el.parentElement.id,
  xLabel: el.dataset.xLabel, yLabel: el.dataset.yLabel,
  xTicks: JSON.parse(el.dataset.xTicks || '[]'), yTicks: JSON.parse(el.dataset.yTicks || '[]'),
  xSplits: JSON.parse(el.dataset.xSplits || '[]'), ySplits: JSON.parse(el.dataset.ySplits || '[]'),
  xRange: JSON.parse(el.dataset.xRange || '[]'), yRange: JSON.parse(el.dataset.yRange || '[]'),
  plot: JSON.parse(el.dataset.plotSize || '[0, 0]'),
  logY: el.dataset.logY === 'true',
  drawn: Array.from(el.querySelectorAll('canvas')).flatMap((c) => c.__texts || []),
  legend: Array.from(el.querySelectorAll('.u-legend .u-label')).map((n) => n.textContent),
}))"""

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")


def log_tick_value(label: str) -> float:
    """ "0.01", "10⁻⁵" or "2×10⁻⁵" as a number."""
    if "10" in label and any(c in label for c in "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"):
        mantissa, _, power = label.rpartition("10")
        return float(mantissa.rstrip("×") or 1) * 10 ** int(power.translate(SUPERSCRIPT))
    return float(label)


def is_power_of_ten(value: float) -> bool:
    return abs(math.log10(value) - round(math.log10(value))) < 1e-9


def is_one_two_five(value: float) -> bool:
    mantissa = value / 10 ** math.floor(math.log10(value) + 1e-9)
    return any(abs(mantissa - m) < 1e-6 for m in (1, 2, 5))


def charts(page, root: str) -> list[dict]:
    found = page.evaluate(CHARTS, root)
    assert found, f"no chart under {root}"
    return found


def check_axes(chart: dict) -> None:
    """Numeric x ticks, both axes labelled, each label really drawn, no "-" or date-like text."""
    name = chart["box"]
    for text in chart["drawn"]:
        assert text.strip() not in ("-", "–", "—"), f"{name}: a dash drawn as a tick label"
        assert "/" not in text and ":" not in text, f"{name}: {text!r} reads like a date or a time"
    assert chart["xLabel"] and chart["yLabel"], f"{name}: an axis without a label"
    assert chart["xLabel"] in chart["drawn"] and chart["yLabel"] in chart["drawn"], f"{name}: label not drawn"
    assert len(chart["xTicks"]) >= 2, f"{name}: x ticks {chart['xTicks']}"
    for tick in chart["xTicks"]:
        assert NUMBER.match(tick), f"{name}: x tick {tick!r} is not a number"
        assert tick in chart["drawn"], f"{name}: x tick {tick!r} recorded but not drawn"
    for tick in chart["yTicks"]:
        assert tick in chart["drawn"], f"{name}: y tick {tick!r} recorded but not drawn"
    if chart["logY"]:
        check_log_axis(chart)


def check_log_axis(chart: dict) -> None:
    name = chart["box"]
    values = [log_tick_value(t) for t in chart["yTicks"]]
    assert len(values) >= 2, f"{name}: log axis with ticks {chart['yTicks']}"
    low, high = chart["yRange"]
    decades = math.log10(high / low)
    for value, tick in zip(values, chart["yTicks"], strict=True):
        assert is_one_two_five(value), f"{name}: log tick {tick!r} is not 1, 2 or 5 times a power of ten"
        if decades > 2 + 1e-6:
            assert is_power_of_ten(value), f"{name}: {tick!r} labelled on an axis of {decades:.1f} decades"


def check_spacing(chart: dict, min_x: float = 40, min_y: float = 24) -> None:
    """Neighbouring tick labels at least min_x / min_y CSS pixels apart."""
    width, height = chart["plot"]
    x0, x1 = chart["xRange"]
    xs = [(v - x0) / (x1 - x0) * width for v in chart["xSplits"]] if x1 > x0 else []
    y0, y1 = chart["yRange"]
    if chart["logY"]:
        ys = [math.log10(v / y0) / math.log10(y1 / y0) * height for v in chart["ySplits"]]
    else:
        ys = [(v - y0) / (y1 - y0) * height for v in chart["ySplits"]] if y1 > y0 else []
    for positions, least, axis in ((xs, min_x, "x"), (ys, min_y, "y")):
        gaps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
        assert all(g >= least for g in gaps), f"{chart['box']}: {axis} labels {min(gaps):.0f} px apart"


def train_through_the_page(page, url: str) -> None:
    page.goto(url)
    page.locator("#train").click()
    expect(page.locator("[data-run-panel][data-finished]")).to_have_count(1, timeout=120_000)
    page.wait_for_timeout(300)  # the last redraw (at most 50 ms after the last event)


@pytest.fixture
def recording_page(page):
    page.add_init_script(RECORD_CANVAS_TEXT)
    return page


@pytest.fixture
def projector_page(browser, server):
    """1920x1080 at 150% zoom: a 1280x720 CSS-pixel viewport drawn at 1.5 device pixels each."""
    context = browser.new_context(
        base_url=server.base, viewport={"width": 1280, "height": 720}, device_scale_factor=1.5
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.add_init_script(RECORD_CANVAS_TEXT)
    yield page
    context.close()


def test_a_finished_mlp_run_has_numeric_labelled_axes_on_every_chart(projector_page):
    page = projector_page
    settings = "dataset=blobs&epochs=2&hidden_layers=2&activation=sigmoid&lang=en"
    train_through_the_page(page, "/play/mlp?" + settings)
    page.locator("#log-y").check()
    expect(page.locator("#loss-chart .uplot")).to_have_attribute("data-log-y", "true")
    page.wait_for_timeout(200)
    found = {chart["box"]: chart for chart in charts(page, "#live-panel")}
    assert {"loss-chart", "acc-chart", "health-grad", "health-share"} <= set(found)
    assert found["health-grad"]["logY"]
    for chart in found.values():
        check_axes(chart)
        check_spacing(chart)
    assert found["acc-chart"]["yTicks"][-1] == "100%"  # accuracy reads in percent

    # the run's own page replays the finished run into the same charts
    run_id = page.locator("[data-run-panel]").get_attribute("data-run-id")
    page.goto(f"/runs/{run_id}?lang=en")
    expect(page.locator("[data-run-panel][data-finished]")).to_have_count(1)
    page.wait_for_function("() => document.querySelectorAll('#live-panel .uplot[data-x-ticks]').length >= 4")
    for chart in charts(page, "#live-panel"):
        check_axes(chart)


def test_a_squared_loss_over_many_decades_is_labelled_at_powers_of_ten_only(recording_page):
    page = recording_page
    train_through_the_page(page, "/play/linreg?epochs=3&lang=en")  # linear regression: log y from the start
    loss = next(c for c in charts(page, "#live-panel") if c["box"] == "loss-chart")
    assert loss["logY"]
    low, high = loss["yRange"]
    assert math.log10(high / low) > 2, f"the loss spans only {low}..{high}: pick a run that falls further"
    check_axes(loss)
    assert all(is_power_of_ten(log_tick_value(t)) for t in loss["yTicks"]), loss["yTicks"]
    assert not any(t.strip() in ("-", "–") for t in loss["drawn"])


def visitor_client(page, server) -> httpx.Client:
    page.goto("/")  # the browser's visitor identity, which owns the runs made through this client
    identity = {c["name"]: c["value"] for c in page.context.cookies() if c["name"] == "d2l_visitor"}
    return httpx.Client(base_url=server.base, cookies=identity, timeout=60)


def finished_runs(client: httpx.Client, specs: list[dict]) -> list[str]:
    ids = [client.post("/api/runs", json=spec).json()["id"] for spec in specs]
    for run_id in ids:
        with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            for _ in response.iter_lines():
                pass
    return ids


def test_the_compare_page_has_numeric_labelled_axes_by_epoch_and_by_step(projector_page, server):
    page = projector_page
    client = visitor_client(page, server)
    base = {"model": "softmax", "dataset": "blobs", "epochs": 3, "batch_size": 16}
    ids = finished_runs(client, [base | {"lr": 0.01}, base | {"lr": 1.0}])
    page.goto("/runs/compare?" + "&".join(f"ids={i}" for i in ids) + "&lang=en")
    for x_axis in ("epoch", "step"):
        page.locator("#compare-x").select_option(x_axis)
        for log in (False, True):
            page.locator("#compare-log-y").set_checked(log)
            page.wait_for_timeout(150)
            found = charts(page, "main")
            assert len(found) == 2
            for chart in found:
                check_axes(chart)
                check_spacing(chart)
            assert found[0]["logY"] is log


def test_a_race_has_numeric_labelled_axes(recording_page):
    page = recording_page
    page.goto(
        "/play/softmax?dataset=blobs&epochs=2&batch_size=16&race_vary=lr&race_values=0.01,1&lang=en#race"
    )
    page.locator("#race-start").click()
    page.wait_for_url("**/races/*")
    expect(page.locator("body")).to_have_attribute("data-race-finished", "true", timeout=90_000)
    page.locator("#race-log-y").check()
    page.wait_for_timeout(200)
    found = charts(page, "main")
    assert len(found) == 2
    for chart in found:
        check_axes(chart)


# --- Chinese: what the JavaScript writes on charts and pictures -------------------------------------------

# ASCII words a Chinese page may show: code names, the book's names, units of the trade
ALLOWED = {
    "relu", "sigmoid", "tanh", "softmax", "lr", "mlp", "linreg", "naive_softmax", "zero_grad", "exp", "inf",
    "nan", "fashion", "mnist", "cpu", "cuda", "log",
}  # fmt: skip
WORD = re.compile(r"[A-Za-z][A-Za-z_]+")
NUMBER_WITH_EXPONENT = re.compile(r"\d(\.\d+)?e[+-]?\d+")

JS_WRITTEN = """(root) => {
  const panel = document.querySelector(root);
  const texts = [];
  panel.querySelectorAll('canvas').forEach((c) => {
    texts.push(...(c.__texts || []), c.getAttribute('aria-label') || '');
  });
  panel.querySelectorAll('.uplot').forEach((el) => texts.push(el.dataset.xLabel, el.dataset.yLabel));
  panel.querySelectorAll('.u-legend .u-label').forEach((n) => texts.push(n.textContent));
  ['#final-result', '#picture-caption', '#picture-legend', '#landscape-legend', '#health-summary',
   '#confusion', '#confusion-summary', '#compare-acc-title'].forEach((sel) => {
    const node = panel.querySelector(sel);
    if (node) texts.push(node.textContent);
  });
  panel.querySelectorAll('#confusion [title]').forEach((n) => texts.push(n.getAttribute('title')));
  return texts.filter(Boolean);
}"""


def english_words(texts: list[str]) -> set[str]:
    found = set()
    for text in texts:
        for word in WORD.findall(NUMBER_WITH_EXPONENT.sub(" ", text)):
            if word.lower() not in ALLOWED:
                found.add(word)
    return found


def test_in_chinese_the_charts_and_pictures_of_a_run_have_no_english(recording_page):
    page = recording_page
    settings = "dataset=circles&epochs=2&hidden_layers=2&activation=sigmoid&lang=zh"
    train_through_the_page(page, "/play/mlp?" + settings)
    page.locator("#log-y").check()
    page.wait_for_timeout(200)
    texts = page.evaluate(JS_WRITTEN, "#live-panel")
    assert any("类别" in t for t in texts)  # the picture's class legend, in Chinese
    assert any("外圈" in t or "内圈" in t for t in texts)  # and its class names
    assert english_words(texts) == set(), texts


def test_in_chinese_a_diverged_linear_regression_reads_in_chinese(recording_page):
    page = recording_page
    train_through_the_page(page, "/play/linreg?lr=10&epochs=3&lang=zh")
    result = page.locator("#final-result")
    expect(result).to_contain_text("发散")
    texts = page.evaluate(JS_WRITTEN, "#live-panel")
    assert any("数据" in t for t in texts)  # the scatter's legend
    assert english_words(texts) == set(), texts


def test_in_chinese_the_compare_page_has_no_english(recording_page, server):
    page = recording_page
    client = visitor_client(page, server)
    base = {"model": "softmax", "dataset": "blobs", "epochs": 2}
    ids = finished_runs(client, [base | {"lr": 0.05}, base | {"lr": 0.5}])
    page.goto("/runs/compare?" + "&".join(f"ids={i}" for i in ids) + "&lang=zh")
    page.locator("#compare-log-y").check()
    page.wait_for_timeout(200)
    texts = page.evaluate(JS_WRITTEN, "main")
    assert english_words(texts) == set(), texts
    assert json.dumps(texts, ensure_ascii=False).count("迭代周期") >= 2
