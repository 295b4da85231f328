"""Live tensor demos for the exercise pages, computed by real torch in a process of their own.

The web process never imports torch, and a training worker may be busy for minutes; this small
spawned process answers one demo at a time within milliseconds. Each call is bounded in time: it
waits at most `wait_s` for its turn (DemosBusy past that) and `timeout_s` for its demo; a demo past
its time has its process killed and a fresh one started at once (DemoTooSlow), so the next call
works. Starting the process (importing torch) is bounded separately, by `startup_s`. If the process
dies, the next call starts a fresh one.
"""

import asyncio
import multiprocessing
import threading
from multiprocessing.connection import Connection

DEMO_TIMEOUT_S = 5.0  # one demo within app/training/demos.py's input bounds takes milliseconds
WAIT_FOR_TURN_S = 5.0  # behind other visitors' demos
STARTUP_TIMEOUT_S = 60.0  # importing torch on a busy two-core server


def serve_demos(requests: Connection, limits: dict) -> None:
    """Says "ready" once torch is imported, then answers (name, params) requests until the pipe closes."""
    from app.training.demos import DemoInputError, DemoLimits, run_demo

    bounds = DemoLimits(**limits)
    requests.send(("ready", None))
    while True:
        try:
            name, params = requests.recv()
        except EOFError:
            return
        try:
            requests.send(("ok", run_demo(name, params, bounds)))
        except DemoInputError as error:
            requests.send(("bad input", (str(error), error.code, error.params)))
        except Exception as error:  # a bug in a demo must not take the process down
            requests.send(("error", f"{type(error).__name__}: {error}"))


class DemoInputRefused(ValueError):
    """The learner's input cannot be used; the message says what to change. `code` and `params` name
    the kind of problem and its values (demos.INPUT_PROBLEMS), for translations."""

    def __init__(self, message: str, code: str = "", params: dict | None = None):
        super().__init__(message)
        self.code, self.params = code, params or {}


class DemoTooSlow(Exception):
    """The demo ran past its time and was stopped; the demo process was replaced."""

    def __init__(self, seconds: float):
        super().__init__(f"the demo took longer than {seconds:g} s and was stopped")
        self.seconds = seconds


class DemosBusy(Exception):
    """Other demos kept the demo process busy for longer than a visitor waits for a turn."""

    def __init__(self, seconds: float):
        super().__init__(f"the demos stayed busy for {seconds:g} s; try again in a moment")
        self.seconds = seconds


class DemoProcess:
    """The web's handle on the demo process. `limits` overrides fields of demos.DemoLimits (the web
    never imports that module: it imports torch); tests lower the time bounds or raise the limits."""

    def __init__(
        self,
        timeout_s: float = DEMO_TIMEOUT_S,
        wait_s: float = WAIT_FOR_TURN_S,
        startup_s: float = STARTUP_TIMEOUT_S,
        limits: dict | None = None,
    ) -> None:
        self.timeout_s, self.wait_s, self.startup_s = timeout_s, wait_s, startup_s
        self._limits = dict(limits or {})
        self._context = multiprocessing.get_context("spawn")
        self._process = None
        self._connection: Connection | None = None
        self._ready = False
        self._turn = asyncio.Lock()  # visitors queue here, on the event loop, not in threads
        self._exchange = threading.Lock()  # one request and its answer on the pipe at a time

    async def run(self, name: str, params: dict) -> dict:
        """The demo's result; DemoInputRefused for input the learner should change, DemosBusy when no
        turn came within `wait_s`, DemoTooSlow when the demo ran past `timeout_s`."""
        try:
            async with asyncio.timeout(self.wait_s):
                await self._turn.acquire()
        except TimeoutError:
            raise DemosBusy(self.wait_s) from None
        try:
            status, payload = await asyncio.to_thread(self._ask, name, params)
        finally:
            self._turn.release()
        if status == "bad input":
            raise DemoInputRefused(*payload)
        if status != "ok":
            raise RuntimeError(payload)
        return payload

    def close(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
            self._process = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._ready = False

    # Below: blocking calls, made in a thread (asyncio.to_thread), never on the event loop.

    def _ask(self, name: str, params: dict) -> tuple[str, object]:
        with self._exchange:
            self._wait_until_ready()
            try:
                self._connection.send((name, params))
                answered = self._connection.poll(self.timeout_s)
                answer = self._connection.recv() if answered else None
            except (EOFError, OSError) as error:  # the process died during the demo
                self.close()
                raise RuntimeError(f"the demo process stopped during {name!r}") from error
            if answer is None:
                self._restart()
                raise DemoTooSlow(self.timeout_s)
            return answer

    def _wait_until_ready(self) -> None:
        if self._process is None or not self._process.is_alive():
            self._start()
        if self._ready:
            return
        try:
            started = self._connection.poll(self.startup_s)
            if started:
                self._connection.recv()  # ("ready", None)
        except (EOFError, OSError) as error:
            self.close()
            raise RuntimeError("the demo process stopped while starting") from error
        if not started:
            self.close()
            raise DemoTooSlow(self.startup_s)
        self._ready = True

    def _start(self) -> None:
        self.close()  # whatever is left of a dead process: its pipe
        ours, theirs = self._context.Pipe()
        self._process = self._context.Process(
            target=serve_demos, args=(theirs, self._limits), daemon=True, name="d2l-demos"
        )
        self._process.start()
        theirs.close()
        self._connection = ours

    def _restart(self) -> None:
        """Kill a process stuck in a demo and start the next at once: it imports torch while the
        visitor reads the message, so the next demo need not wait for it."""
        self.close()
        self._start()
