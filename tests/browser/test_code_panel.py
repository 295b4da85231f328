"""The code that is running, in Chromium: the panel under the playground follows the form (scratch or
concise, a pitfall's line before and after), folds away, and the address remembers the fold."""

from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import AXE, RUN_AXE, VIEWPORT


def query_of(page) -> dict:
    return {name: values[0] for name, values in parse_qs(urlparse(page.url).query).items()}


def test_the_code_follows_the_form_and_the_fold_stays_in_the_address(page):
    page.goto("/play/linreg")
    panel, body = page.locator("#code-panel"), page.locator("#code-body")
    expect(panel).to_have_attribute("open", "")
    expect(body).to_contain_text("def squared_loss(y_hat, y, broadcast_bug=False):")
    expect(body).not_to_contain_text("nn.Linear")

    with page.expect_response(lambda r: "/code-panel?" in r.url and "impl=concise" in r.url):
        page.locator("input[name=impl][value=concise]").check()
    expect(body).to_contain_text("nn.Linear")
    expect(body).to_contain_text("d2l 3.3")
    expect(body).not_to_contain_text("def squared_loss(")

    page.locator("#f-broadcast_bug").check()
    switched_on = page.locator(".code-pitfalls-on")
    expect(switched_on).to_contain_text("broadcast_bug")
    expect(switched_on.locator(".code-before code")).to_have_text("target = y.view(y_hat.shape)")
    expect(switched_on.locator(".code-after code")).to_have_text("target = y.view(-1)")
    expect(body.locator(".hll")).to_contain_text("y.view(-1) if self.spec.broadcast_bug")
    page.locator("#f-broadcast_bug").uncheck()
    expect(switched_on).to_have_count(0)

    page.locator("#code-panel > summary").click()
    expect(panel).not_to_have_attribute("open", "")
    page.wait_for_function("() => new URLSearchParams(location.search).get('code') === '0'")
    assert query_of(page)["impl"] == "concise"  # the form's settings stay beside it
    page.locator("#f-epochs").fill("4")  # the form writing the address keeps the fold
    page.wait_for_function("() => new URLSearchParams(location.search).get('epochs') === '4'")
    assert query_of(page)["code"] == "0"
    page.reload()
    expect(panel).not_to_have_attribute("open", "")
    expect(page.locator("input[name=impl][value=concise]")).to_be_checked()
    page.locator("#code-panel > summary").click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('code') === '1'")
    assert "code=1" in page.locator('.lang-switch a[lang="zh"]').get_attribute("href")


def test_naive_softmax_shows_its_line_and_leaves_with_concise(page):
    page.goto("/play/softmax?dataset=blobs&naive_softmax=on")
    switched_on = page.locator(".code-pitfalls-on")
    expect(switched_on.locator(".code-after code")).to_have_text("log_y_hat = torch.log(softmax(O))")
    page.locator("input[name=impl][value=concise]").check()  # the form switches naive_softmax off
    expect(page.locator("#code-body")).to_contain_text("nn.CrossEntropyLoss")
    expect(switched_on).to_have_count(0)
    expect(page.locator(".code-problem")).to_have_count(0)


def test_a_runs_page_keeps_the_code_folded_until_asked(page, server):
    run_id = server.client.post("/api/runs", json={"model": "mlp", "dataset": "blobs", "epochs": 1}).json()[
        "id"
    ]
    page.goto(f"/runs/{run_id}")
    panel = page.locator("#code-panel")
    expect(panel).not_to_have_attribute("open", "")
    page.locator("#code-panel > summary").click()
    expect(panel.locator("#code-body")).to_contain_text("def relu(")
    page.wait_for_function("() => new URLSearchParams(location.search).get('code') === '1'")


@pytest.mark.parametrize(
    "path",
    [
        "/play/linreg?broadcast_bug=on&skip_zero_grad=on&lang=en",
        "/play/mlp?naive_softmax=on&dataset=spiral&lang=zh",
        "/play/softmax?impl=concise&lang=zh",
    ],
)
def test_the_open_panel_has_no_serious_accessibility_violation(browser, server, path):
    """axe-core on the panel with its pitfalls switched on and every folded pitfall opened: the code's
    colours on their backgrounds (the marked lines', the diff rows') keep their contrast."""
    context = browser.new_context(base_url=server.base, bypass_csp=True, viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        page.evaluate("document.querySelectorAll('#code-panel details').forEach((d) => { d.open = true; })")
        page.evaluate(AXE)
        violations = page.evaluate(RUN_AXE)
    finally:
        context.close()
    assert violations == [], violations


def test_a_class_playground_keeps_the_teachers_locked_pitfall_and_follows_a_pushed_preset(page, server):
    teacher = httpx.Client(base_url=server.base, timeout=30)
    created = teacher.post(
        "/api/classes", json={"title": "3.2", "preset": "lesson:broadcast_bug", "unlocked": ["impl"]}
    )
    code = created.json()["code"]
    page.request.post(f"/api/classes/{code}/students", data={"name": "Ada"})
    page.goto(f"/classes/{code}")
    page.locator("#code-panel > summary").click()
    body = page.locator("#code-body")
    expect(body.locator(".code-pitfalls-on")).to_contain_text("broadcast_bug")
    page.locator("input[name=impl][value=concise]").check()  # the locked, disabled switch is still sent
    expect(body).to_contain_text("nn.Linear")
    expect(body.locator(".code-pitfalls-on")).to_contain_text("broadcast_bug")
    assert teacher.post(f"/classes/{code}/push", data={"preset": "mlp", "unlocked": "lr"}).status_code == 200
    expect(body).to_contain_text("def relu(", timeout=15_000)  # the new form brought the new model
    expect(body.locator(".code-pitfalls-on")).to_have_count(0)
    teacher.close()
