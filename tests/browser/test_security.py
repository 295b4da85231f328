"""The Content-Security-Policy breaks nothing, and the app's own htmx forms pass the cross-site check."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_playground import set_log_slider

# Recorded before any of the page's own scripts run, so a violation during loading is caught too.
LISTEN_FOR_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " at " +
                           e.sourceFile + ":" + e.lineNumber);
});
"""

PAGES = [
    "/",
    "/play/linreg",
    "/play/softmax",
    "/play/mlp?activation=sigmoid&hidden_layers=2",
    "/runs",
    "/exercises",
    "/exercises/linreg",
    "/exercises/mlp",
]


@pytest.fixture
def watched(page):
    """The page, with every console message, page error and refused write recorded in `page.problems`."""
    page.problems = []
    page.add_init_script(LISTEN_FOR_VIOLATIONS)
    page.on(
        "console", lambda m: m.type in ("error", "warning") and page.problems.append(f"{m.type}: {m.text}")
    )
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    page.on("response", lambda r: r.status in (403, 413) and page.problems.append(f"{r.status} {r.url}"))
    return page


def assert_clean(page, where):
    violations = page.evaluate("window.__violations")
    assert violations == [], (where, violations)
    assert page.problems == [], (where, page.problems)


@pytest.mark.parametrize("path", PAGES)
def test_each_page_loads_with_no_policy_violation(watched, path):
    response = watched.goto(path)
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    watched.wait_for_load_state("load")
    watched.wait_for_function("() => document.readyState === 'complete' && window.htmx !== undefined")
    if path == "/exercises/mlp":
        expect(watched.locator("main .katex").first).to_be_visible()  # KaTeX typeset under the policy
    watched.wait_for_timeout(300)  # deferred scripts and the first htmx requests settle
    assert_clean(watched, path)


def test_a_run_page_and_the_compare_page_load_cleanly(watched, server):
    ids = []
    for lr in (0.1, 0.5):
        spec = {"model": "softmax", "dataset": "blobs", "epochs": 2, "lr": lr}
        ids.append(server.client.post("/api/runs", json=spec).json()["id"])
    for run_id in ids:
        with server.client.stream("GET", f"/api/runs/{run_id}/events") as stream:
            for _ in stream.iter_lines():
                pass
    for path in (f"/runs/{ids[0]}", f"/runs/compare?ids={ids[0]}&ids={ids[1]}"):
        assert watched.goto(path).status == 200
        watched.wait_for_timeout(300)
        assert_clean(watched, path)


def test_the_playground_form_trains_under_the_policy(watched):
    """Train is an htmx POST: the browser sends Origin and Sec-Fetch-Site, and the run goes through; then
    the live panel fills from the event stream with the chart and the fitted line."""
    watched.goto("/play/linreg?lang=en&epochs=3&n_examples=200")
    set_log_slider(watched, 0.1)
    with watched.expect_request(lambda r: r.method == "POST" and r.url.endswith("/play/linreg/runs")) as sent:
        watched.locator("#train").click()
    assert sent.value.all_headers().get("origin") == watched.url.split("/play")[0]  # a real same-origin check
    expect(watched.locator("#status")).to_contain_text("done", timeout=60_000)
    expect(watched.locator("#epoch-rows tr")).to_have_count(3)
    expect(watched.locator("#final-result")).to_be_visible()
    assert watched.evaluate("window.playground.points") > 0
    assert_clean(watched, "after training")


def test_an_exercise_check_and_a_cancel_pass_the_check(watched):
    """Two more of the app's own htmx writes: checking an answer and cancelling a run."""
    from app.exercises.content import load_sections

    section = load_sections()[0]
    item = next(i for i in section.items if i.kind == "choice")
    watched.goto(f"/exercises/{section.id}?lang=en")
    article = watched.locator(f"#item-{item.id}")
    article.locator(f"input[value='{item.answer}']").check()
    article.get_by_role("button", name="Check").click()
    expect(article.locator("[data-verdict]")).to_have_attribute("data-verdict", "right")
    watched.goto("/play/mlp?lang=en&dataset=digits&batch_size=8&epochs=50&hidden_units=256")
    watched.locator("#train").click()
    expect(watched.locator("#status")).to_contain_text("running", timeout=30_000)
    watched.locator("#cancel").click()
    expect(watched.locator("#status")).to_contain_text("cancelled", timeout=30_000)
    assert_clean(watched, "after the check and the cancel")


def test_a_cross_site_form_cannot_start_a_run(browser, server):
    """A page on another site posts the playground's form to it: the browser says where the form came from,
    and the server refuses before any route runs."""
    context = browser.new_context()
    form = (
        f'<form method="post" action="{server.base}/play/linreg/runs"><input name="epochs" value="1">'
        '<button id="go">go</button></form>'
    )
    context.route("http://evil.example/**", lambda route: route.fulfill(body=form, content_type="text/html"))
    try:
        page = context.new_page()
        page.goto("http://evil.example/form")
        with page.expect_response(lambda r: r.url.endswith("/play/linreg/runs")) as answer:
            page.locator("#go").click()
        assert answer.value.status == 403
        assert answer.value.request.all_headers().get("origin") == "http://evil.example"
        page.wait_for_load_state()
        assert "another site" in page.locator("body").inner_text()
    finally:
        context.close()
