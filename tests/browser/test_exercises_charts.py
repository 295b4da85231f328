"""The exercise pages in a real browser: the activations demo as three labelled panels on numeric axes,
its numbers rounded and its raw arrays folded away, and the grader saying which answer forms it reads."""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

ITEM = "#item-quiz6-activations"  # the first item of /exercises/mlp, with the activations demo
THREE_CHARTS = f"() => document.querySelectorAll('{ITEM} .activation-chart .uplot').length === 3"
# What uPlot drew on each panel: the tick labels it computed, the axis labels, the y range, the legend.
PANELS = """els => els.map(el => ({
  curve: el.closest('.activation-panel').dataset.curve,
  xTicks: el.uplot.axes[0]._values, yTicks: el.uplot.axes[1]._values,
  xLabel: el.uplot.axes[0].label, yLabel: el.uplot.axes[1].label,
  yMin: el.uplot.scales.y.min, yMax: el.uplot.scales.y.max,
  legend: [...el.querySelectorAll('.u-legend .u-label')].map(l => l.textContent),
}))"""


def run_activations_demo(page, lang: str) -> list[dict]:
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"/exercises/mlp?lang={lang}")
    item = page.locator(ITEM)
    item.locator("details.demo > summary").click()
    item.locator("details.demo form button[type=submit]").click()
    page.wait_for_function(THREE_CHARTS)
    assert not errors, errors
    return page.locator(f"{ITEM} .activation-chart").evaluate_all(PANELS)


def test_the_activations_demo_draws_three_labelled_panels_on_numeric_axes(page):
    panels = run_activations_demo(page, "en")
    assert [panel["curve"] for panel in panels] == ["relu", "sigmoid", "tanh"]
    for panel in panels:
        ticks = panel["xTicks"] + panel["yTicks"]
        assert ticks and not [tick for tick in ticks if "/" in tick or ":" in tick], panel  # no dates
        assert [float(tick.replace("−", "-")) for tick in panel["xTicks"]] == sorted(
            float(tick.replace("−", "-")) for tick in panel["xTicks"]
        )
        assert float(panel["xTicks"][0]) >= -8 and float(panel["xTicks"][-1]) <= 8
        assert panel["xLabel"] == "x" and panel["yLabel"] == "f(x) and its derivative"
        assert panel["legend"] == ["x", f"{panel['curve']}(x)", "derivative (autograd)"]
    relu, sigmoid, tanh = panels  # each its own y range: ReLU's 8 no longer flattens the others
    assert relu["yMax"] >= 8 and sigmoid["yMax"] <= 1.5 and tanh["yMin"] >= -1.5 and tanh["yMax"] <= 1.5


def test_the_demo_shows_no_float_noise_and_folds_its_raw_arrays(page):
    run_activations_demo(page, "en")
    result = page.locator(f"{ITEM} .demo-result")
    assert not re.search(r"e-1\d", result.evaluate("el => el.outerHTML"))  # no -4.440892e-16, drawn or shown
    assert not re.search(r"e-1\d", page.locator("main").text_content())
    folded = result.locator("details.demo-numbers")
    expect(folded).to_have_count(1)
    assert folded.evaluate("el => el.open") is False
    for curve in ("x", "relu", "sigmoid_grad", "tanh_grad"):
        expect(folded.locator(f"tr[data-row='{curve}']")).to_have_count(1)
        expect(result.locator(f"tr[data-row='{curve}']")).to_have_count(1)  # nowhere but in the fold
        expect(folded.locator(f"tr[data-row='{curve}']")).to_be_hidden()
    expect(result.locator("tr[data-row='check']")).to_be_visible()
    folded.locator("summary").click()
    expect(folded.locator("tr[data-row='tanh']")).to_be_visible()
    expect(folded.locator("tr[data-row='tanh'] td code").first).to_contain_text(
        "tensor("
    )  # 81 numbers: torch's excerpt


def test_the_panels_speak_chinese_on_a_chinese_page(page):
    panels = run_activations_demo(page, "zh")
    for panel in panels:
        assert panel["xLabel"] == "x" and panel["yLabel"] == "f(x) 及其导数"
        assert panel["legend"][-1] == "导数(自动求导)"
    expect(page.locator(f"{ITEM} details.demo-numbers > summary")).to_have_text("图背后的数(x 和每条曲线)")


def test_an_answer_the_grader_cannot_read_gets_the_forms_it_accepts(page):
    page.goto("/exercises/mlp?lang=en")
    item = page.locator("#item-quiz7-weight-count")
    item.get_by_label("Your answer").fill("7 1")
    item.get_by_role("button", name="Check").click()
    feedback = item.locator("[data-verdict]")
    expect(feedback).to_have_attribute("data-verdict", "unreadable")
    expect(feedback).to_contain_text("I cannot read this answer.")
    expect(feedback.locator("li code").first).to_have_text("1234567")
    item.get_by_label("Your answer").fill("65 546 000")
    item.get_by_role("button", name="Check").click()
    expect(feedback).to_have_attribute("data-verdict", "right")


AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
SERIOUS = """async () => (await axe.run(document, { resultTypes: ["violations"] })).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }))"""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_demos_charts_and_feedback_leave_no_serious_accessibility_violation(browser, server, lang):
    """axe-core (vendored by tests/browser/test_accessibility.py) on /exercises/mlp after every demo ran,
    the numbers were unfolded and one answer could not be read."""
    context = browser.new_context(
        base_url=server.base, bypass_csp=True, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    try:
        page.goto(f"/exercises/mlp?lang={lang}")
        for demo in page.locator("details.demo").all():
            demo.locator("summary").click()
            demo.locator("form button[type=submit]").click()
        page.wait_for_function(THREE_CHARTS)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.demo-result')].every(r => r.children.length)"
        )
        page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        item = page.locator("#item-quiz7-weight-count")
        item.locator("input[name=answer]").fill("7 1")
        item.locator("button[type=submit]").click()
        expect(item.locator("[data-verdict]")).to_have_attribute("data-verdict", "unreadable")
        page.evaluate(AXE)
        violations = page.evaluate(SERIOUS)
    finally:
        context.close()
    assert not violations, json.dumps(violations, indent=1, ensure_ascii=False)
