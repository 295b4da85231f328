"""A newcomer's and a teacher's first minutes: Train in view, the run in view after it, one run at a
time, and the page's own words for a bad number, the same words the server uses."""

import html

import httpx
import pytest

# (width, height, zoom): a laptop, a projector, and the projector at 150% (what the page lays out in)
SCREENS = [(1366, 768, 1), (1920, 1080, 1), (1920, 1080, 1.5)]
PHONE = {"width": 390, "height": 844}
PAGES = [
    "/",
    "/play/linreg",
    "/play/softmax",
    "/play/mlp",
    "/runs",
    "/exercises",
    "/exercises/linreg",
    "/exercises/softmax",
    "/exercises/mlp",
    "/docs",
    "/no/such/page",
]
LONG_RUN = "epochs=200&batch_size=4&dataset=digits"  # trains for minutes unless cancelled


def in_viewport(page, selector: str) -> bool:
    return page.evaluate(
        """(selector) => {
            const box = document.querySelector(selector).getBoundingClientRect();
            return box.top >= 0 && box.bottom <= window.innerHeight && box.left >= 0
                && box.right <= window.innerWidth;
        }""",
        selector,
    )


@pytest.mark.parametrize(("width", "height", "zoom"), SCREENS)
def test_train_is_in_the_first_screen_and_the_run_comes_into_view_with_focus(
    browser, server, width, height, zoom
):
    viewport = {"width": round(width / zoom), "height": round(height / zoom)}  # 150%: fewer CSS pixels
    context = browser.new_context(base_url=server.base, viewport=viewport, device_scale_factor=zoom)
    page = context.new_page()
    try:
        page.goto("/play/softmax?dataset=blobs&epochs=2")
        assert in_viewport(page, "#train")
        page.locator("#train").click()
        page.wait_for_selector("#live #status")
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'status'")
        assert in_viewport(page, "#status")
        assert page.get_attribute("#status", "aria-live") == "polite"
    finally:
        context.close()


def test_a_phone_never_scrolls_sideways(browser, server):
    context = browser.new_context(base_url=server.base, viewport=PHONE, is_mobile=True)
    page = context.new_page()
    try:
        page.goto("/play/softmax?dataset=blobs&epochs=2")  # a finished run's page too
        page.locator("#train").click()
        page.wait_for_selector("#live [data-run-panel][data-finished]", timeout=60_000)
        run_page = "/runs/" + page.get_attribute("#live [data-run-panel]", "data-run-id")
        for path in [*PAGES, run_page]:
            page.goto(path)
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
    finally:
        context.close()


def run_status(server, page, run_id: str) -> str:
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return httpx.get(f"{server.base}/api/runs/{run_id}", cookies=cookies).json()["status"]


def test_a_second_train_asks_then_replaces_the_first_run(page, server):
    page.goto(f"/play/softmax?{LONG_RUN}")
    page.locator("#train").click()
    page.wait_for_function("() => (document.querySelector('#status') || {}).textContent?.includes('cpu')")
    first = page.get_attribute("#live [data-run-panel]", "data-run-id")

    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.locator("#train").click()
    page.wait_for_timeout(500)
    assert len(questions) == 1
    assert page.get_attribute("#live [data-run-panel]", "data-run-id") == first  # "no" keeps it
    assert run_status(server, page, first) == "running"

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#train").click()
    page.wait_for_function(
        "(first) => { const p = document.querySelector('#live [data-run-panel]');"
        " return p && p.dataset.runId !== first; }",
        arg=first,
    )
    second = page.get_attribute("#live [data-run-panel]", "data-run-id")
    for _ in range(50):
        if run_status(server, page, first) == "cancelled":
            break
        page.wait_for_timeout(200)
    assert run_status(server, page, first) == "cancelled"
    page.locator("#cancel").click()  # leave the workers free for the next tests
    page.wait_for_function("() => document.querySelector('#live [data-run-panel][data-finished]')")
    assert run_status(server, page, second) == "cancelled"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_bad_number_is_named_on_the_page_in_the_servers_words(page, server, lang):
    page.goto(f"/play/mlp?lang={lang}")
    sent = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    for field, value in [("batch_size", "0"), ("epochs", "1e3"), ("hidden_units", "2.5")]:
        page.fill(f"#f-{field}", value)
        page.locator("#train").click()
        problem = page.locator(f"#f-{field}-problem")
        problem.wait_for(state="visible")
        assert page.evaluate("() => document.activeElement.id") == f"f-{field}"
        answer = httpx.post(
            f"{server.base}/play/mlp/runs?lang={lang}", data={field: value}, headers={"HX-Request": "true"}
        )
        assert answer.status_code == 422
        assert problem.inner_text() in html.unescape(answer.text)  # the same sentence, word for word
        page.goto(f"/play/mlp?lang={lang}")
    assert not sent  # nothing reached the server from the page


def test_a_whole_number_written_1e3_is_taken_by_the_page_and_the_server(page, server):
    page.goto("/play/softmax?dataset=blobs")
    page.fill("#f-epochs", "2e0")
    page.fill("#f-batch_size", "3.2e1")
    page.locator("#train").click()
    page.wait_for_selector("#live [data-run-panel]")
    run_id = page.get_attribute("#live [data-run-panel]", "data-run-id")
    spec = httpx.get(f"{server.base}/api/runs/{run_id}").json()["spec"]
    assert (spec["epochs"], spec["batch_size"]) == (2, 32)
