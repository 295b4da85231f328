"""A race in a real browser: one click, three labelled curves growing on one chart."""

from playwright.sync_api import expect


def test_a_race_draws_three_labelled_curves_growing_on_one_chart(page):
    page.goto("/play/linreg?epochs=8&batch_size=1&race_vary=lr&race_values=0.003,0.01,0.03#race")
    expect(page.locator("#race")).to_have_attribute("open", "")
    page.locator("#race-start").click()
    page.wait_for_url("**/races/*")
    legend = page.locator("#race-chart .u-legend .u-series .u-label")
    for label in ("lr = 0.003", "lr = 0.01", "lr = 0.03"):
        expect(legend.filter(has_text=label)).to_have_count(1)
    page.wait_for_function("() => window.race.points().some((n) => n > 3)", timeout=60_000)
    early = sum(page.evaluate("window.race.points()"))
    page.wait_for_function(
        f"() => window.race.points().reduce((a, b) => a + b, 0) > {early + 20}", timeout=60_000
    )
    expect(page.locator("body")).to_have_attribute("data-race-finished", "true", timeout=90_000)
    assert all(n > 20 for n in page.evaluate("window.race.points()"))  # every lane drew its curve
    expect(page.locator("#race-lanes [data-status]")).to_have_text(["done", "done", "done"])
    assert page.locator("#race-chart canvas").count() >= 1
