"""Live tensor demos for the exercise pages, computed by real torch in a process of their own.

The web process never imports torch, and a training worker may be busy for minutes; this small
spawned process answers one demo at a time within milliseconds. If it dies or hangs, the next call
starts a fresh one.
"""

import asyncio
import multiprocessing
from multiprocessing.connection import Connection

TIMEOUT_S = 30.0  # generous: the first call also pays for importing torch


def serve_demos(requests: Connection) -> None:
    from app.training.demos import DemoInputError, run_demo

    while True:
        try:
            name, params = requests.recv()
        except EOFError:
            return
        try:
            requests.send(("ok", run_demo(name, params)))
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


class DemoProcess:
    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._process = None
        self._connection: Connection | None = None
        self._lock = asyncio.Lock()

    def _start(self) -> None:
        ours, theirs = self._context.Pipe()
        self._process = self._context.Process(
            target=serve_demos, args=(theirs,), daemon=True, name="d2l-demos"
        )
        self._process.start()
        theirs.close()
        self._connection = ours

    def _ask(self, name: str, params: dict) -> tuple[str, object]:
        if self._process is None or not self._process.is_alive():
            self._start()
        self._connection.send((name, params))
        if not self._connection.poll(TIMEOUT_S):
            self.close()
            raise TimeoutError(f"the demo {name!r} took too long and was stopped")
        return self._connection.recv()

    async def run(self, name: str, params: dict) -> dict:
        """The demo's result; DemoInputRefused for input the learner should change."""
        async with self._lock:
            status, payload = await asyncio.to_thread(self._ask, name, params)
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
