"""See inside training, in a real browser: the loss landscape with the path of (w1, w2), the health of an
MLP's hidden layers and the confusion matrix, live on the playground and replayed on a run's own page."""

from playwright.sync_api import expect

FINISHED = "() => window.playground.insights && window.playground.insights.finished"


def train_and_wait(page, url: str) -> str:
    """Open a playground, press Train, wait until the panel has taken the run's last event; the run's id."""
    page.goto(url)
    page.locator("#train").click()
    page.wait_for_function(FINISHED, timeout=60_000)
    return page.locator("[data-run-panel]").get_attribute("data-run-id")


def events_of(server, run_id: str) -> list[dict]:
    export = server.client.get(f"/api/runs/{run_id}/export.json")
    assert export.status_code == 200
    return export.json()["events"]


def snapshots(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == "snapshot" and e["kind"] == kind]


def canvas_has_ink(page, selector: str) -> bool:
    """Something other than transparent pixels in the middle of the canvas."""
    return page.locator(selector).evaluate(
        """c => { const [w, h] = [c.width / 3, c.height / 3];
                  const d = c.getContext('2d').getImageData(w, h, w, h).data;
                  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; }"""
    )


def test_linear_regression_draws_the_landscape_and_the_whole_path(page, server):
    run_id = train_and_wait(page, "/play/linreg?lang=en")
    events = events_of(server, run_id)
    path = [e["data"]["w"] for e in snapshots(events, "linear")]
    landscapes = snapshots(events, "landscape")
    assert len(path) > 10 and landscapes

    section = page.locator("#ins-landscape")
    expect(section).to_be_visible()
    hook = page.evaluate("window.playground.insights")
    assert hook["path"] == path
    assert hook["landscapes"] == len(landscapes) and hook["drawn"]["landscape"] > 0
    expect(page.locator("#landscape")).to_have_attribute("data-path-points", str(len(path)))
    assert canvas_has_ink(page, "#landscape")
    expect(page.locator("#landscape-legend")).to_contain_text(f"b = {landscapes[-1]['data']['b']:.3g}")
    assert "w1" in page.locator("#landscape").get_attribute("aria-label")
    # A landscape or confusion snapshot must not replace the picture's: the fitted weights stay shown.
    expect(page.locator("#picture-caption")).to_contain_text("Learned w")
    assert page.locator("#ins-health").count() == 0 and page.locator("#ins-confusion").count() == 0

    # The run's own page replays the run through the same script.
    page.goto(f"/runs/{run_id}?lang=en")
    page.wait_for_function(FINISHED, timeout=30_000)
    expect(page.locator("#ins-landscape")).to_be_visible()
    assert page.evaluate("window.playground.insights.path") == path


def test_a_deep_sigmoid_mlp_shows_layer_health_and_the_confusion_matrix(page, server):
    url = "/play/mlp?lang=en&dataset=digits&hidden_layers=3&activation=sigmoid&epochs=2"
    run_id = train_and_wait(page, url)
    events = events_of(server, run_id)
    started = events[0]
    assert started["type"] == "started"
    steps_with_layers = [e for e in events if e["type"] == "step" and e.get("layers")]
    assert steps_with_layers and all(len(e["layers"]) == 3 for e in steps_with_layers)

    expect(page.locator("#ins-health")).to_be_visible()
    hook = page.evaluate("window.playground.insights")
    assert hook["layers"] == 3 and hook["healthPoints"] == len(steps_with_layers)
    for chart in ("#health-grad", "#health-share"):
        legend = page.locator(f"{chart} .u-legend")
        for n in (1, 2, 3):
            expect(legend).to_contain_text(f"layer {n}")
        assert page.locator(f"{chart} canvas").count() >= 1
    expect(page.locator("#health-summary")).to_contain_text("layer 1")

    expect(page.locator("#ins-confusion")).to_be_visible()
    rows = page.locator("#confusion tbody tr")
    expect(rows).to_have_count(10)
    counts = page.locator("#confusion tbody td[data-count]").evaluate_all(
        "cells => cells.map(c => Number(c.dataset.count))"
    )
    assert len(counts) == 100 and sum(counts) == started["n_test"]
    assert hook["confusion"] == snapshots(events, "confusion")[-1]["data"]["matrix"]
    caption = f"{started['n_test']} test examples after epoch 2"
    expect(page.locator("#confusion caption")).to_contain_text(caption)
    expect(page.locator("#confusion-summary")).to_contain_text("predicted as")
    expect(page.locator("#picture-caption")).to_contain_text("predicted right")
    assert page.locator("#ins-landscape").count() == 0

    # Replayed on the run's page, in Chinese.
    page.goto(f"/runs/{run_id}?lang=zh")
    page.wait_for_function(FINISHED, timeout=30_000)
    expect(page.locator("#confusion tbody tr")).to_have_count(10)
    expect(page.locator("#confusion-summary")).to_contain_text("被预测成")
    expect(page.locator("#health-grad .u-legend")).to_contain_text("第 3 层")


def test_a_view_without_data_stays_hidden(page):
    """One feature: no landscape to draw, so its section never shows; the picture still draws the line."""
    train_and_wait(page, "/play/linreg?lang=en&true_w=line&epochs=1")
    expect(page.locator("#ins-landscape")).to_be_hidden()
    assert page.evaluate("window.playground.insights.landscapes") == 0
    expect(page.locator("#picture-caption")).to_contain_text("Learned w")
