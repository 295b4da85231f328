"""A demo that runs too long is stopped and its process replaced; a visitor waits a bounded time for a
turn; the event loop keeps running while a demo computes. The demo process is real: its limits are
raised (`repeats`) so that grad_accumulation would run for hours, and its time bounds are lowered."""

import asyncio
import time

import pytest

from app.runs.demo_process import DemoProcess, DemosBusy, DemoTooSlow

FOR_HOURS = {"calls": 10**9}  # backward() a billion times: tens of microseconds each


def slow_demos(timeout_s: float, wait_s: float = 5.0) -> DemoProcess:
    return DemoProcess(timeout_s=timeout_s, wait_s=wait_s, limits={"repeats": 10**9})


async def ticks_during(work, interval_s: float = 0.05) -> tuple[object, int]:
    """What `work` returned or raised, and how often the event loop woke a sleeper meanwhile."""
    task = asyncio.ensure_future(work)
    ticks = 0
    while not task.done():
        await asyncio.sleep(interval_s)
        ticks += 1
    return (task.exception() or task.result()), ticks


def test_a_demo_past_its_time_is_stopped_and_the_next_demo_works():
    async def scenario():
        demos = slow_demos(timeout_s=0.5)
        try:
            await demos.run("data_iter", {"n": 4})  # started: torch imported, outside the time bound
            first_pid = demos._process.pid
            started = time.monotonic()
            outcome, ticks = await ticks_during(demos.run("grad_accumulation", FOR_HOURS))
            waited = time.monotonic() - started
            replaced = demos._process.pid != first_pid and demos._process.is_alive()
            after = await demos.run("squared_loss", {"y_hat": "2.33 1.07 1.23", "y": "3.14 0.98 1.32"})
            return outcome, waited, ticks, replaced, after
        finally:
            demos.close()

    outcome, waited, ticks, replaced, after = asyncio.run(scenario())
    assert isinstance(outcome, DemoTooSlow) and outcome.seconds == 0.5
    assert waited < 2.5, waited  # 0.5 s, then a kill and a spawn
    assert ticks >= 5, ticks  # the loop kept turning while the demo computed
    assert replaced
    assert after["mean"] == pytest.approx(0.11205, abs=1e-6)


def test_a_visitor_waits_for_a_turn_at_most_wait_s():
    async def scenario():
        demos = slow_demos(timeout_s=1.5, wait_s=0.3)
        try:
            await demos.run("data_iter", {"n": 4})
            slow = asyncio.ensure_future(demos.run("grad_accumulation", FOR_HOURS))
            await asyncio.sleep(0.05)  # the slow demo holds the turn
            started = time.monotonic()
            with pytest.raises(DemosBusy):
                await demos.run("data_iter", {"n": 4})
            turned_away_after = time.monotonic() - started
            with pytest.raises(DemoTooSlow):
                await slow
            return turned_away_after, await demos.run("data_iter", {"n": 20, "batch_size": 4})
        finally:
            demos.close()

    turned_away_after, after = asyncio.run(scenario())
    assert 0.25 < turned_away_after < 1.0, turned_away_after
    assert after["starts"] == [0, 4, 8, 12, 16]
