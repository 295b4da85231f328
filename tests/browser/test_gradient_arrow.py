"""Stepping a linear regression by hand in a real browser: each Step moves the point on the loss map one
SGD step, and an arrow at the point shows the gradient step, downhill."""

from playwright.sync_api import expect

HOOK = "window.playground.insights"
ARROW_RGB = (204, 121, 167)  # insights.js ARROW_RGB, #cc79a7


def arrow_of_step(page, step: int) -> dict:
    """The hook's arrow once the map with the arrow of step `step` or later has been drawn. A long wait:
    the worker runs niced, and on a busy machine a step by hand has taken over 10 s to come back."""
    page.wait_for_function(
        f"() => {{ const a = {HOOK}.arrow; return a && a.px && a.step >= {step}; }}", timeout=60_000
    )
    return page.evaluate(f"{HOOK}.arrow")


def pixel_at(page, css_xy: list[float]) -> list[int]:
    """The canvas's colour at a point given in CSS pixels (the canvas is drawn at devicePixelRatio)."""
    return page.locator("#landscape").evaluate(
        """(c, [x, y]) => { const k = c.width / c.clientWidth;
                            const at = [Math.round(x * k), Math.round(y * k)];
                            const d = c.getContext('2d').getImageData(at[0], at[1], 1, 1).data;
                            return [d[0], d[1], d[2]]; }""",
        css_xy,
    )


def by_hand_points(page, run_id: str) -> list[dict]:
    """The run's linear snapshots of steps taken by hand, as the server recorded them."""
    events = page.request.get(f"/api/runs/{run_id}/export.json").json()["events"]
    return [e["data"] for e in events if e.get("by_hand") and e.get("kind") == "linear"]


def test_each_step_moves_the_point_and_draws_the_gradient_arrow_at_it(page):
    page.goto("/play/linreg?lang=en&epochs=200&batch_size=1")
    page.locator("#train").click()
    run_id = page.locator("[data-run-panel]").get_attribute("data-run-id")
    try:
        page.wait_for_function("() => window.playground.points > 3", timeout=60_000)
        page.locator("#play-pause").click()
        expect(page.locator("#pace-controls")).to_have_attribute("data-paused", "true")
        page.wait_for_timeout(500)  # what the run sent before it stopped has arrived
        assert page.evaluate(f"{HOOK}.arrow") is None  # no arrow before a step by hand
        expect(page.locator("#landscape-legend")).not_to_contain_text("gradient step")
        start = page.evaluate(f"{HOOK}.path.at(-1)")

        page.locator("#step-once").click()
        first = arrow_of_step(page, 1)
        assert first["from"] != start and page.evaluate(f"{HOOK}.path.at(-1)") == first["from"]
        # Exactly one step: the path reaches the new point from where this step began (w_before), even
        # when the run had moved on from the path's last point before the pause took hold.
        path = page.evaluate(f"{HOOK}.path")
        began = by_hand_points(page, run_id)[0]["w_before"]
        assert path[path.index(first["from"]) - 1] == began
        drawn = page.evaluate(f"{HOOK}.drawn.arrow")

        page.locator("#step-once").click()
        second = arrow_of_step(page, first["step"] + 1)
        assert second["step"] == first["step"] + 1  # one click, one step
        assert second["from"] != first["from"]  # the point moved ...
        path = page.evaluate(f"{HOOK}.path")
        assert path[-1] == second["from"] and first["from"] in path[-3:]  # ... from the first step's point
        assert page.evaluate(f"{HOOK}.drawn.arrow") > drawn

        # The arrow: along -gradient, downhill, drawn from the point with a length that stays visible.
        step = [t - f for t, f in zip(second["to"], second["from"], strict=True)]
        gradient = second["gradient"]
        assert step[0] * gradient[0] + step[1] * gradient[1] < 0
        px = second["px"]
        length = ((px["to"][0] - px["from"][0]) ** 2 + (px["to"][1] - px["from"][1]) ** 2) ** 0.5
        assert 29.5 <= length <= 120.5
        dx, dy = px["to"][0] - px["from"][0], px["to"][1] - px["from"][1]
        assert (dx > 0) == (step[0] > 0) and (dy < 0) == (step[1] > 0)  # canvas y grows downwards
        colour = pixel_at(page, px["shaft"])
        assert all(abs(c - e) <= 40 for c, e in zip(colour, ARROW_RGB, strict=True)), colour
        expect(page.locator("#landscape-legend")).to_contain_text("gradient step")
        assert "gradient step" in page.locator("#landscape").get_attribute("aria-label")

        # Resumed, the run moves on and the arrow goes: it belonged to the step taken by hand.
        page.locator("#play-pause").click()
        expect(page.locator("#pace-controls")).to_have_attribute("data-paused", "false")
        page.wait_for_function(f"() => {HOOK}.arrow === null", timeout=60_000)
        expect(page.locator("#landscape-legend")).not_to_contain_text("gradient step")
    finally:
        page.request.delete(f"/api/runs/{run_id}")
