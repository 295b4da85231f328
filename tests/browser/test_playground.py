"""A learner's path through the playground, in a real browser."""

import math
import re
from urllib.parse import parse_qs, urlparse

import httpx
from playwright.sync_api import expect


def set_log_slider(page, lr):
    """Set the log slider as a drag ends: a new value, then input and change events."""
    page.locator("#lr-slider").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true}));"
        " el.dispatchEvent(new Event('change', {bubbles: true})); }",
        str(math.log10(lr)),
    )


def test_train_shows_the_curve_the_epoch_rows_and_the_result(page):
    page.goto("/play/softmax?dataset=digits&batch_size=32&epochs=4")
    set_log_slider(page, 0.3)
    expect(page.locator("#lr-value")).to_contain_text("0.3")
    page.locator("#train").click()
    expect(page.locator("#epoch-rows tr")).to_have_count(4, timeout=60_000)
    expect(page.locator("#final-result")).to_contain_text(re.compile(r"Final test accuracy \d+(\.\d)?%"))
    assert page.evaluate("window.playground.points") > 5
    assert page.locator("#loss-chart canvas").count() >= 1
    test_acc = page.locator("#epoch-rows tr").last.locator("td").nth(3).inner_text()  # e.g. "94.4%"
    assert float(test_acc.rstrip("%")) > 85


def test_a_slider_moved_before_the_script_ran_is_the_rate_sent(page, server):
    """A slow phone: the learner drags the rate before play.js has run. The value sent must follow the
    slider, not the one the page was written with (a class student once trained at the preset's 10)."""
    script = httpx.get(f"{server.base}/static/js/play.js").text
    held = "window.runPlayJs = () => {" + script + "};"
    page.route("**/static/js/play.js", lambda route: route.fulfill(body=held, content_type="text/javascript"))
    page.goto("/play/softmax?dataset=digits&lr=0.1")
    set_log_slider(page, 0.5)  # no listener yet: only the slider moves
    expect(page.locator("#lr")).to_have_value("0.1")
    page.evaluate("window.runPlayJs()")
    expect(page.locator("#lr")).to_have_value("0.5")
    expect(page.locator("#lr-value")).to_have_text("0.5")


def test_an_untouched_slider_keeps_the_rate_the_page_was_written_with(page):
    page.goto("/play/softmax?dataset=digits&lr=0.123")  # three digits: more than the slider shows
    expect(page.locator("#lr")).to_have_value("0.123")


def test_cancel_stops_a_run(page):
    page.goto("/play/mlp?dataset=digits&batch_size=8&epochs=50&hidden_units=512")
    page.locator("#train").click()
    expect(page.locator("#status")).to_contain_text("running", timeout=30_000)
    page.wait_for_function("() => window.playground.points > 2")
    page.locator("#cancel").click()
    expect(page.locator("#status")).to_contain_text("cancelled", timeout=30_000)
    assert page.locator("#epoch-rows tr").count() < 50


def test_a_copied_link_restores_every_control(page):
    page.goto("/play/mlp")
    page.locator("#f-hidden_units").fill("64")
    page.locator("#f-hidden_layers").fill("2")
    page.locator("#f-activation").select_option("tanh")
    page.locator("#f-epochs").fill("7")
    set_log_slider(page, 0.05)
    page.locator("#copy-link").click()
    link = page.evaluate("navigator.clipboard.readText()")
    query = parse_qs(urlparse(link).query)
    assert query["hidden_units"] == ["64"] and query["activation"] == ["tanh"] and query["epochs"] == ["7"]
    page.goto(link)
    expect(page.locator("#f-hidden_units")).to_have_value("64")
    expect(page.locator("#f-hidden_layers")).to_have_value("2")
    expect(page.locator("#f-activation")).to_have_value("tanh")
    expect(page.locator("#f-epochs")).to_have_value("7")
    expect(page.locator("#lr-value")).to_contain_text("0.05")


def test_a_bad_value_shows_what_to_change(page):
    page.goto("/play/linreg")
    page.locator("#f-batch_size").evaluate("el => { el.removeAttribute('max'); el.value = '100000'; }")
    page.locator("#train").click()
    expect(page.get_by_text(re.compile("batch_size: must be between 1 and 8192"))).to_be_visible()


def test_the_runs_page_overlays_two_runs(page, server):
    page.goto("/")  # the browser's visitor identity, which the runs page lists runs for
    identity = {c["name"]: c["value"] for c in page.context.cookies() if c["name"] == "d2l_visitor"}
    client = httpx.Client(base_url=server.base, cookies=identity, timeout=60)
    ids = []
    for lr in (0.01, 0.5):
        run = client.post("/api/runs", json={"model": "softmax", "dataset": "blobs", "lr": lr, "epochs": 3})
        ids.append(run.json()["id"])
    for run_id in ids:
        with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            for _ in response.iter_lines():
                pass
    page.goto("/runs")
    for run_id in ids:
        page.locator(f"input[type=checkbox][value='{run_id}']").check()
    page.get_by_role("button", name=re.compile("compare", re.I)).click()
    expect(page.locator("#compare-chart")).to_be_visible()
    legend = page.locator("#compare-chart .u-legend").first
    expect(legend).to_contain_text("0.01")
    expect(legend).to_contain_text("0.5")


def test_an_exercise_answered_wrong_then_right_updates_the_feedback_and_score(page):
    from app.exercises.content import load_sections

    section = load_sections()[0]
    item = next(i for i in section.items if i.kind == "choice")
    wrong = next(c.id for c in item.choices if c.id != item.answer)
    page.goto(f"/exercises/{section.id}?lang=en")
    expect(page.locator("#score")).to_contain_text(f"0 / {len(section.items)}")
    article = page.locator(f"#item-{item.id}")
    article.locator(f"input[value='{wrong}']").check()
    article.get_by_role("button", name="Check").click()
    expect(article.locator("[data-verdict]")).to_have_attribute("data-verdict", "wrong")
    expect(page.locator("#score")).to_contain_text(f"0 / {len(section.items)}")
    article.locator(f"input[value='{item.answer}']").check()
    article.get_by_role("button", name="Check").click()
    expect(article.locator("[data-verdict]")).to_have_attribute("data-verdict", "right")
    expect(page.locator("#score")).to_contain_text(f"1 / {len(section.items)}")


def test_exercise_formulas_are_typeset_with_katex(page):
    page.goto("/exercises/mlp?lang=en")
    expect(page.locator("main .katex").first).to_be_visible()
    assert "\\sigma" not in page.locator("main").inner_text()  # no raw TeX left on the page


def test_switching_language_keeps_the_settings_moved_on_the_page(page):
    page.goto("/play/mlp?lang=en")
    page.locator("#f-hidden_units").fill("48")
    page.locator("#f-hidden_units").dispatch_event("change")
    page.locator(".lang-switch a[lang=zh]").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh")
    expect(page.locator("#f-hidden_units")).to_have_value("48")
