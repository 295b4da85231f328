"""Pause, step and slow motion as the trainer sees them: a `pace` asked before each minibatch."""

import multiprocessing
import threading
import time

from app.runs import pacing
from app.training.events import without_timing
from app.training.specs import parse_spec
from app.training.trainer import GO, STEP, TOO_LONG, train

SPEC = {"model": "mlp", "dataset": "spiral", "epochs": 2, "hidden_units": 16}


def events_of(tmp_path, pace=None) -> list[dict]:
    return [without_timing(e) for e in train(parse_spec(SPEC), data_dir=tmp_path, device="cpu", pace=pace)]


def test_a_run_stepped_by_hand_gives_the_events_of_a_run_straight_through(tmp_path):
    turns = iter([GO, GO, STEP, STEP, GO, STEP])
    stepped = events_of(tmp_path, pace=lambda: next(turns, GO))
    by_hand = [e for e in stepped if e.get("by_hand")]
    assert [e["type"] for e in by_hand] == [
        "step",
        "snapshot",
    ] * 3  # each step asked for: its loss, a picture
    assert [e["step"] for e in by_hand if e["type"] == "step"] == [3, 4, 6]
    assert [e for e in stepped if not e.get("by_hand")] == events_of(tmp_path)  # the rest: identical


def test_a_pause_past_the_limit_ends_the_run_with_a_message(tmp_path):
    turns = iter([GO, GO, TOO_LONG])
    events = events_of(tmp_path, pace=lambda: next(turns, GO))
    assert events[-1]["status"] == "cancelled" and events[-1]["code"] == "paused_too_long"
    assert "paused at step 2" in events[-1]["message"]


def test_the_pacer_waits_while_paused_takes_one_step_per_request_and_keeps_the_rate():
    control = multiprocessing.get_context("spawn").Array("d", 3)
    pacer = pacing.Pacer(control, lambda: False, timeout_s=5)
    assert pacer() == GO
    pacing.pause(control)
    threading.Timer(0.2, pacing.step, args=(control,)).start()
    started = time.monotonic()
    assert pacer() == STEP and time.monotonic() - started >= 0.15  # it waited for the Step
    threading.Timer(0.1, pacing.resume, args=(control,)).start()
    assert pacer() == GO
    pacing.set_rate(control, 10)
    started = time.monotonic()
    for _ in range(5):
        pacer()
    assert 0.35 <= time.monotonic() - started < 1.0  # 10 steps a second
    pacing.set_rate(control, None)
    pacing.pause(control)
    assert pacing.Pacer(control, lambda: False, timeout_s=0.1)() == TOO_LONG
    assert pacing.state(control) == {"paused": True, "steps_per_second": None}
