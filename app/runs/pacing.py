"""Pause, step and slow motion for a run training alone: three numbers in shared memory per worker, set by
the pool (the web process) and read by the worker before each minibatch, as the stop flag is.

control[0]: 1 while paused; control[1]: steps asked for by hand and not yet taken; control[2]: steps per
second (0: as fast as it goes). The trainer asks `Pacer.__call__` before each minibatch (trainer.GO, STEP or
TOO_LONG); a paused run holds its worker, so it is ended after PLAYGROUND_PAUSE_TIMEOUT_S.
"""

import time

PAUSED, STEPS, RATE = 0, 1, 2
POLL_S = 0.01  # how often a paused run looks at its control: a Step lands within about this


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

    def __init__(self, control, should_stop, timeout_s: float):
        self.control, self.should_stop, self.timeout_s = control, should_stop, timeout_s
        self.limit_minutes = f"{timeout_s / 60:.2g}"
        self.last_step = 0.0

    def __call__(self) -> str:
        from app.training.trainer import GO, STEP, TOO_LONG

        paused_since = None
        while self.control[PAUSED] and not self.should_stop():
            with self.control.get_lock():
                if self.control[STEPS] >= 1:
                    self.control[STEPS] -= 1.0
                    self.last_step = time.monotonic()
                    return STEP
            paused_since = paused_since or time.monotonic()
            if time.monotonic() - paused_since > self.timeout_s:
                return TOO_LONG
            time.sleep(POLL_S)
        self.keep_rate()
        return GO

    def keep_rate(self) -> None:
        rate = self.control[RATE]
        if rate > 0:
            wait = self.last_step + 1.0 / rate - time.monotonic()
            while wait > 0 and not self.should_stop() and not self.control[PAUSED]:
                time.sleep(min(wait, POLL_S * 5))
                wait = self.last_step + 1.0 / rate - time.monotonic()
        self.last_step = time.monotonic()
