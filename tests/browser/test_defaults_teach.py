"""Defaults that teach, in the browser: a playground with only its dataset chosen and Train pressed shows
the lesson, and each lesson preset, one click away, shows what it says it shows.

The server here has Fashion-MNIST-format files on disk (generated, small), so the Fashion-MNIST pair
trains at the book's defaults too.
"""

import httpx
import pytest

from app.training.lessons import LESSONS
from tests.server import running_server
from tests.training.helpers import write_fashion_like_files

# (model, dataset, test accuracy at least, below): the figures for untouched defaults
UNTOUCHED = [
    ("mlp", "spiral", 0.95, None),
    ("mlp", "xor", 0.95, None),
    ("mlp", "circles", 0.95, None),
    ("softmax", "spiral", None, 0.70),
    ("softmax", "digits", 0.90, None),
    ("mlp", "digits", 0.95, None),
    ("softmax", "fashion-mnist", 0.85, None),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("defaults")
    write_fashion_like_files(data_dir, n_train=2560, n_test=500)
    with running_server(data_dir, workers=2, worker_threads=1) as live:
        live.wait_ready_workers(2)
        yield live


def train_untouched(page, server, path: str) -> dict:
    """Open the page, press Train, wait for the end; the run as the API describes it, with its events."""
    page.goto(path)
    page.locator("#train").click()
    page.wait_for_selector("#live [data-run-panel][data-finished]", timeout=120_000)
    run_id = page.get_attribute("#live [data-run-panel]", "data-run-id")
    run = httpx.get(f"{server.base}/api/runs/{run_id}").json()
    run["events"] = httpx.get(f"{server.base}/api/runs/{run_id}/export.json").json()["events"]
    return run


@pytest.mark.parametrize(("model", "dataset", "at_least", "below"), UNTOUCHED)
def test_untouched_defaults_show_the_lesson(page, server, model, dataset, at_least, below):
    run = train_untouched(page, server, f"/play/{model}?dataset={dataset}")
    accuracy = run["epochs"][-1]["test_acc"]
    assert run["status"] == "done" and run["spec"]["dataset"] == dataset
    assert at_least is None or accuracy >= at_least
    assert below is None or accuracy < below


def test_the_page_opens_on_the_dataset_on_disk_with_its_defaults(page):
    page.goto("/play/softmax")
    assert page.input_value("#f-dataset") == "fashion-mnist"  # on disk here, so 'auto' is it
    assert (page.input_value("#f-batch_size"), page.input_value("#lr")) == ("256", "0.1")


def test_choosing_a_dataset_moves_only_the_controls_you_left(page):
    page.goto("/play/mlp?dataset=fashion-mnist")
    page.fill("#f-epochs", "7")
    page.dispatch_event("#f-epochs", "input")
    page.select_option("#f-dataset", "spiral")
    assert page.input_value("#f-batch_size") == "16"  # spiral's default
    assert page.input_value("#f-epochs") == "7"  # yours stays
    assert "spiral" in page.inner_text("#defaults-note")


@pytest.mark.parametrize("key", list(LESSONS))
def test_each_lesson_preset_shows_its_lesson(page, server, key):
    lesson = LESSONS[key]
    page.goto(f"/play/{lesson.model}")
    page.locator(f".lessons a[href*='lesson={key}']").click()
    page.wait_for_selector("#lesson-shown")
    run = train_untouched(page, server, page.url)
    expect = lesson.expect
    assert run["status"] == expect.status
    if expect.code:
        assert run["events"][-1]["code"] == expect.code
    accuracy = run["epochs"][-1]["test_acc"] if run["epochs"] else None
    if expect.test_acc_at_least is not None:
        assert accuracy >= expect.test_acc_at_least
    if expect.test_acc_below is not None:
        assert accuracy < expect.test_acc_below
    if expect.w_error_above is not None or expect.w_error_below is not None:
        fits = [e for e in run["events"] if e["type"] == "snapshot" and e["kind"] == "linear"]
        learned, true_w = fits[-1]["data"]["w"], run["spec"]["true_w"]
        error = max(abs(a - b) for a, b in zip(learned, true_w, strict=True))
        assert expect.w_error_above is None or error > expect.w_error_above
        assert expect.w_error_below is None or error < expect.w_error_below
