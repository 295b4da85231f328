"""Each lesson preset, trained for real, shows its lesson; a mistake's contrast run shows the right way."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.training.lessons import LESSONS, Expect, lessons_for
from app.training.specs import parse_spec

from .helpers import last_epoch, one_thread, run, snapshots  # noqa: F401 (one_thread: autouse)

CATALOG = Path(__file__).parents[2] / "app" / "web" / "messages_lessons.yaml"


def misses(events, spec: dict, expect: Expect) -> list[str]:
    """What the run did not show of `expect` (empty: it showed all of it)."""
    finished, epochs = events[-1], [event for event in events if event.type == "epoch"]
    test_acc = epochs[-1].test_acc if epochs else None
    found = []
    if finished.status != expect.status:
        found.append(f"ended {finished.status}: {finished.message}")
    if expect.code and finished.code != expect.code:
        found.append(f"ending {finished.code}, not {expect.code}")
    if expect.test_acc_at_least is not None and not (test_acc or 0) >= expect.test_acc_at_least:
        found.append(f"test accuracy {test_acc} < {expect.test_acc_at_least}")
    if expect.test_acc_below is not None and not (test_acc is not None and test_acc < expect.test_acc_below):
        found.append(f"test accuracy {test_acc} not below {expect.test_acc_below}")
    if expect.w_error_above is not None or expect.w_error_below is not None:
        error = w_error(events, spec)
        if expect.w_error_above is not None and not error > expect.w_error_above:
            found.append(f"w within {error:.3g} of the truth")
        if expect.w_error_below is not None and not error < expect.w_error_below:
            found.append(f"w {error:.3g} from the truth")
    return found


def w_error(events, spec: dict) -> float:
    """Largest |w_i - true_w_i| of the last linear snapshot."""
    w = snapshots(events, "linear")[-1].data["w"]
    true_w = parse_spec(spec).true_w
    return max(abs(a - b) for a, b in zip(w, true_w, strict=True))


@pytest.mark.parametrize("key", list(LESSONS))
def test_each_lesson_shows_its_lesson(data_dir, key):
    lesson = LESSONS[key]
    events = run(data_dir, **lesson.spec)
    assert not misses(events, lesson.spec, lesson.expect), misses(events, lesson.spec, lesson.expect)
    if lesson.contrast is not None:
        contrast = lesson.contrast_spec()
        right_way = run(data_dir, **contrast)
        assert not misses(right_way, contrast, lesson.contrast_expect), misses(
            right_way, contrast, lesson.contrast_expect
        )


def test_the_check_can_fail(data_dir):
    """The spiral's MLP with the book's batch of 256 does not reach the lesson's figure."""
    lesson = LESSONS["mlp_bends_spiral"]
    spec = lesson.spec | {"batch_size": 256, "epochs": 10}
    events = run(data_dir, **spec)
    assert last_epoch(events).test_acc < 0.95 and misses(events, spec, lesson.expect)


def test_every_lesson_parses_and_is_offered_on_its_models_page():
    assert set(LESSONS) == {
        "mlp_bends_spiral",
        "softmax_cannot",
        "naive_softmax_overflows",
        "skip_zero_grad",
        "broadcast_bug",
        "sigmoid_vs_relu",
        "lr_too_high",
    }
    for lesson in LESSONS.values():
        parse_spec(lesson.spec, strict=True)
        if lesson.contrast is not None:
            parse_spec(lesson.contrast_spec(), strict=True)
            assert lesson.contrast_expect is not None
        assert lesson in lessons_for(lesson.model)


def test_every_lesson_has_a_title_and_a_statement_in_both_languages():
    catalog = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    expected = {f"lesson.{key}.{part}" for key in LESSONS for part in ("title", "shows")}
    assert set(catalog) == expected
    for texts in catalog.values():
        assert set(texts) == {"en", "zh"} and all(text.strip() for text in texts.values())


def test_the_web_can_read_lessons_and_defaults_without_torch():
    code = (
        "import sys, app.training.lessons, app.training.defaults, app.training.specs; "
        "sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
