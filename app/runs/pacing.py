"""Pause, step and slow motion for a run training alone: three numbers in shared memory per worker, set by
the pool (the web process) and read by the worker before each minibatch, as the stop flag is.

control[0]: 1 while paused; control[1]: steps asked for by hand and not yet taken; control[2]: steps per
second (0: as fast as it goes). The trainer asks `Pacer.__call__` before each minibatch (trainer.GO, STEP or
TOO_LONG); a paused run holds its worker, so it is ended after PLAYGROUND_PAUSE_TIMEOUT_S. A paused run
waits on a semaphore that the pool raises after each change (`wake`), so a Step is taken at once.
"""

import contextlib
import time

PAUSED, STEPS, RATE = 0, 1, 2
POLL_S = 0.01  # how often a paused run without a wake-up looks at its control: a Step lands within this
WAIT_S = 0.1  # with one (the pool raises it after each change), how often it still looks on its own


def limit_minutes(timeout_s: float) -> str:
    """The pause limit as the paused note and the ending's message both quote it ("10", "0.017")."""
    return f"{timeout_s / 60:.2g}"


def new_wake(context):
    """A worker's wake-up: the pool raises it after it changes the worker's control, and a paused run
    waits on it instead of sleeping, so a Step is taken at once rather than at the next look. Bounded at
    one and never held by anyone, so a worker that dies cannot block the web process on it."""
    semaphore = context.BoundedSemaphore(1)
    semaphore.acquire()
    return semaphore


def wake(semaphore) -> None:
    with contextlib.suppress(ValueError):  # raised already: the worker will look anyway
        semaphore.release()


def reset(control) -> None:
    with control.get_lock():
        control[PAUSED], control[STEPS], control[RATE] = 0.0, 0.0, 0.0


def state(control) -> dict:
    with control.get_lock():
        rate = control[RATE]
        return {"paused": bool(control[PAUSED]), "steps_per_second": rate or None}


def pause(control) -> None:
    with control.get_lock():
        control[PAUSED] = 1.0


def resume(control) -> None:
    with control.get_lock():
        control[PAUSED], control[STEPS] = 0.0, 0.0


def step(control) -> None:
    """One more minibatch, then paused again (a running run is paused first)."""
    with control.get_lock():
        control[PAUSED] = 1.0
        control[STEPS] += 1.0


def set_rate(control, steps_per_second: float | None) -> None:
    with control.get_lock():
        control[RATE] = float(steps_per_second or 0.0)


class Pacer:
    """The worker's side: waits while paused (or to keep the rate) and says how the next minibatch goes."""

    def __init__(
        self, control, should_stop, timeout_s: float, set_threads=None, threads: int = 1, wake=None
    ):  # fmt: skip
        from app.training.trainer import GO, STEP, TOO_LONG  # the worker's side: torch is loaded there

        self.go, self.step_turn, self.too_long = GO, STEP, TOO_LONG
        self.control, self.should_stop, self.timeout_s = control, should_stop, timeout_s
        self.limit_minutes = limit_minutes(timeout_s)
        self.last_step = 0.0
        self.set_threads, self.threads, self.using = set_threads, threads, threads
        self.wake = wake

    def rest(self, seconds: float) -> None:
        """Wait `seconds`, or less when the pool changes the control (with a wake-up)."""
        if self.wake is None:
            time.sleep(seconds)
        else:
            self.wake.acquire(timeout=seconds)

    def __call__(self) -> str:
        """GO, STEP or TOO_LONG. A step by hand trains on one torch thread (`set_threads(1)`), the run
        gets its own `threads` back once it goes on: a parallel region waits for its slowest thread, and
        the worker runs at nice 10, so with another process busy on the second core, a Step's minibatch
        and pictures on two threads took 60-400 ms instead of 2-5 (bench/pace.md)."""
        turn = self.next_turn()
        self.use_threads(1 if turn == self.step_turn else self.threads)
        return turn

    def use_threads(self, count: int) -> None:
        if self.set_threads is not None and count != self.using:
            self.set_threads(count)
            self.using = count

    def next_turn(self) -> str:
        paused_since = None
        while self.control[PAUSED] and not self.should_stop():
            with self.control.get_lock():
                if self.control[STEPS] >= 1:
                    self.control[STEPS] -= 1.0
                    self.last_step = time.monotonic()
                    return self.step_turn
            paused_since = paused_since or time.monotonic()
            if time.monotonic() - paused_since > self.timeout_s:
                return self.too_long
            self.rest(POLL_S if self.wake is None else WAIT_S)
        self.keep_rate()
        return self.go

    def keep_rate(self) -> None:
        rate = self.control[RATE]
        if rate > 0:
            wait = self.last_step + 1.0 / rate - time.monotonic()
            while wait > 0 and not self.should_stop() and not self.control[PAUSED]:
                self.rest(min(wait, POLL_S * 5))
                wait = self.last_step + 1.0 / rate - time.monotonic()
        self.last_step = time.monotonic()
