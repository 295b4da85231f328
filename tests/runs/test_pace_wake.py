"""The worker's side of a Step, made prompt (bench/pace.md): the pool's wake-up ends a paused run's wait
at once, a step by hand trains on one torch thread, and the worker's start-up heap is out of the garbage
collector's reach."""

import gc
import multiprocessing
import threading
import time

from app.runs import pacing
from app.training.trainer import GO, STEP

CONTEXT = multiprocessing.get_context("spawn")


def test_a_step_wakes_a_paused_run_at_once_not_at_its_next_look(monkeypatch):
    monkeypatch.setattr(pacing, "WAIT_S", 30.0)  # it would look on its own only after 30 s
    control, wake = CONTEXT.Array("d", 3), pacing.new_wake(CONTEXT)
    pacer = pacing.Pacer(control, lambda: False, timeout_s=60, wake=wake)
    pacing.pause(control)
    turns = []
    waiting = threading.Thread(target=lambda: turns.append(pacer()))
    waiting.start()
    time.sleep(0.2)
    started = time.monotonic()
    pacing.step(control)
    pacing.wake(wake)
    waiting.join(timeout=10)
    assert turns == [STEP] and time.monotonic() - started < 10


def test_wake_ups_do_not_pile_up():
    wake = pacing.new_wake(CONTEXT)
    assert not wake.acquire(timeout=0)
    for _ in range(5):
        pacing.wake(wake)
    assert wake.acquire(timeout=0) and not wake.acquire(timeout=0)


def test_a_step_by_hand_trains_on_one_thread_and_the_run_gets_its_threads_back():
    control, calls = CONTEXT.Array("d", 3), []
    pacer = pacing.Pacer(control, lambda: False, timeout_s=5, set_threads=calls.append, threads=2)
    assert pacer() == GO and calls == []
    pacing.step(control)
    assert pacer() == STEP and calls == [1]
    pacing.step(control)
    assert pacer() == STEP and calls == [1]  # already one: not asked again
    pacing.resume(control)
    assert pacer() == GO and calls == [1, 2]


def test_the_workers_warm_up_freezes_its_start_up_heap():
    from app.runs.worker import warm_up

    try:
        warm_up()
        assert gc.get_freeze_count() > 10_000  # torch and the training code: no full collection walks them
    finally:
        gc.unfreeze()
