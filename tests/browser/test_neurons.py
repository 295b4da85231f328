"""The network drawn neuron by neuron, in a real browser: an MLP on spiral with the view on draws its units,
and pointing at a unit shows its map larger with the weights that feed it."""

from playwright.sync_api import expect

FINISHED = "() => window.playground.insights && window.playground.insights.finished"
URL = "/play/mlp?lang=en&dataset=spiral&hidden_units=8&hidden_layers=2&epochs=3&neurons=on"


def neurons_snapshots(server, run_id: str) -> list[dict]:
    export = server.client.get(f"/api/runs/{run_id}/export.json")
    assert export.status_code == 200
    return [e for e in export.json()["events"] if e["type"] == "snapshot" and e["kind"] == "neurons"]


def canvas_has_ink(locator) -> bool:
    return locator.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; }"""
    )


def test_the_network_is_drawn_and_a_unit_grows_when_pointed_at(page, server):
    page.goto(URL)
    expect(page.locator("#f-neurons")).to_be_checked()  # the switch came from the URL
    page.locator("#train").click()
    page.wait_for_function(FINISHED, timeout=60_000)
    run_id = page.locator("[data-run-panel]").get_attribute("data-run-id")
    drawings = neurons_snapshots(server, run_id)
    assert len(drawings) == 4  # at the start and after each of the 3 epochs

    figure = page.get_by_test_id("neurons")
    expect(figure).to_be_visible()
    assert "hidden unit" in figure.get_attribute("aria-label")
    expect(figure.locator("figcaption")).to_contain_text("The network, neuron by neuron")
    assert page.evaluate("window.playground.neurons.snapshots") == len(drawings)
    units = figure.locator("[data-unit]")
    expect(units).to_have_count(16)
    assert units.first.get_attribute("data-unit") == "1.1" and units.last.get_attribute("data-unit") == "2.8"
    assert canvas_has_ink(units.first.locator("canvas"))
    assert canvas_has_ink(figure.locator(".neuron-output canvas"))
    assert figure.locator(".neurons-edges line").count() == 2 * 8 + 8 * 8 + 8  # inputs, between, to output

    detail = page.get_by_test_id("neuron-detail")
    expect(detail).to_be_hidden()
    unit = figure.locator('[data-unit="2.3"]')
    unit.hover()
    expect(detail).to_be_visible()
    expect(detail).to_contain_text("layer 2, unit 3")
    small = unit.locator("canvas").bounding_box()
    large = detail.locator("canvas").bounding_box()
    assert large["width"] >= 4 * small["width"]
    assert canvas_has_ink(detail.locator("canvas"))
    weights = detail.locator("tbody tr")
    expect(weights).to_have_count(8 + 1)  # one from each unit of layer 1, and the bias
    expected = drawings[-1]["data"]["layers"][1]["incoming"][2]
    shown = [float(v) for v in detail.locator("td").evaluate_all("cells => cells.map(c => c.dataset.weight)")]
    assert shown[:8] == expected

    page.mouse.move(5, 5)  # pointing away puts it back
    expect(detail).to_be_hidden()
    figure.locator('[data-unit="1.1"]').focus()  # the keyboard reaches it too
    expect(detail).to_contain_text("layer 1, unit 1")
    expect(detail.locator("tbody tr")).to_have_count(2 + 1)

    # The run's own page replays the same drawings.
    page.goto(f"/runs/{run_id}?lang=en")
    page.wait_for_function(FINISHED, timeout=30_000)
    expect(page.get_by_test_id("neurons").locator("[data-unit]")).to_have_count(16)


def test_without_the_switch_there_is_no_network_figure(page, server):
    page.goto(URL.replace("&neurons=on", "").replace("epochs=3", "epochs=1"))
    page.locator("#train").click()
    page.wait_for_function(FINISHED, timeout=60_000)
    assert page.get_by_test_id("neurons").count() == 0
