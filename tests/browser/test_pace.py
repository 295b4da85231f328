"""The live panel's pace controls in a real browser: pause, a step with the right arrow, Space to resume."""

from playwright.sync_api import expect


def test_pause_step_with_the_keyboard_and_resume(page):
    page.goto("/play/mlp?dataset=spiral&epochs=200&batch_size=4&hidden_units=16")
    page.locator("#train").click()
    page.wait_for_function("() => window.playground.points > 3", timeout=60_000)
    page.locator("#play-pause").click()
    expect(page.locator("#pace-controls")).to_have_attribute("data-paused", "true")
    page.wait_for_timeout(500)
    before = page.evaluate("window.playground.points")
    page.wait_for_timeout(800)
    assert page.evaluate("window.playground.points") == before  # paused: the curve stands still
    page.evaluate("document.activeElement && document.activeElement.blur()")  # keys go to the page
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => window.playground.points > {before}", timeout=30_000)
    page.wait_for_timeout(500)
    # one step, then paused again: its own point, and the regular one when that step closes a window
    assert page.evaluate("window.playground.points") in (before + 1, before + 2)
    page.keyboard.press(" ")
    expect(page.locator("#pace-controls")).to_have_attribute("data-paused", "false")
    page.wait_for_function(f"() => window.playground.points > {before + 5}", timeout=30_000)
    page.locator("#cancel").click()
