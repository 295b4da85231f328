"""axe-core (npm axe-core, vendored under tests/browser/vendor with its licence) finds no serious or
critical accessibility violation on the home page, each playground, the runs page, a run's page and an
exercise page, in both languages.

The pages forbid scripts they did not ship (CSP), so the test's browser context bypasses CSP to add axe.
"""

import json
from pathlib import Path

import httpx
import pytest

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
VIEWPORT = {"width": 1280, "height": 900}
PAGES = [
    "/",
    "/play/linreg",
    "/play/softmax",
    "/play/mlp",
    "/runs",
    "/exercises",
    "/exercises/mlp",
    "/classes/new",
]
RUN_AXE = """async () => {
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
}"""


def serious_violations(browser, server, path: str) -> list[dict]:
    context = browser.new_context(base_url=server.base, bypass_csp=True, viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.evaluate(AXE)
        return page.evaluate(RUN_AXE)
    finally:
        context.close()


@pytest.fixture(scope="module")
def finished_run(server) -> str:
    visitor = httpx.Client(base_url=server.base, timeout=60)
    spec = {"model": "softmax", "dataset": "blobs", "epochs": 1}
    run_id = visitor.post("/api/runs", json=spec).json()["id"]
    for _ in range(300):
        if visitor.get(f"/api/runs/{run_id}").json()["status"] not in ("queued", "running"):
            break
        visitor.get("/healthz")
    return run_id


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("path", PAGES)
def test_no_serious_violation(browser, server, path, lang):
    violations = serious_violations(browser, server, f"{path}?lang={lang}")
    assert not violations, json.dumps(violations, indent=1, ensure_ascii=False)


def test_a_finished_runs_page_has_no_serious_violation(browser, server, finished_run):
    violations = serious_violations(browser, server, f"/runs/{finished_run}")
    assert not violations, json.dumps(violations, indent=1)


def test_a_live_panel_after_train_has_no_serious_violation(browser, server):
    context = browser.new_context(base_url=server.base, bypass_csp=True, viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto("/play/softmax?dataset=blobs&epochs=2")
        page.locator("#train").click()
        page.wait_for_selector("[data-run-panel][data-finished]", timeout=60_000)
        page.evaluate(AXE)
        violations = page.evaluate(RUN_AXE)
    finally:
        context.close()
    assert not violations, json.dumps(violations, indent=1)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_class_board_and_a_students_page_have_no_serious_violation(browser, server, lang):
    teacher = httpx.Client(base_url=server.base, timeout=60)
    code = teacher.post("/api/classes", json={"title": "Week 3", "unlocked": ["lr"]}).json()["code"]
    teacher.post(f"/api/classes/{code}/students", json={"name": "Ana"})
    teacher.post(f"/classes/{code}/quiz", data={"item": "gather-picks"})
    for path in (f"/classes/{code}/board", f"/classes/{code}", f"/classes/{code}/summary"):
        context = browser.new_context(base_url=server.base, bypass_csp=True, viewport=VIEWPORT)
        context.add_cookies([{"name": k, "value": v, "url": server.base} for k, v in teacher.cookies.items()])
        page = context.new_page()
        try:
            page.goto(f"{path}?lang={lang}")
            page.wait_for_load_state("networkidle")
            page.evaluate(AXE)
            violations = page.evaluate(RUN_AXE)
        finally:
            context.close()
        assert not violations, (path, json.dumps(violations, indent=1, ensure_ascii=False))
