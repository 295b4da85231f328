"""A real uvicorn server in a subprocess on 127.0.0.1, for SSE, worker and browser tests."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(data_dir: Path, command=None, extra_env: dict | None = None, **settings):
    """Start `uvicorn app.main:app` (or `command`, given the port), wait until /healthz answers (at most
    60 s), stop it afterwards. `settings` become PLAYGROUND_* variables."""
    port = free_port()
    env = os.environ | {
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "PLAYGROUND_FASHION_MNIST_MIRRORS": '["http://127.0.0.1:9/"]',
        **(extra_env or {}),
    }
    env |= {f"PLAYGROUND_{key.upper()}": str(value) for key, value in settings.items()}
    uvicorn = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    uvicorn.append(
        "--no-access-log"
    )  # as `d2l-playground serve` runs it: the log is written on the event loop
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        command(port) if command else uvicorn,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process)
        yield Server(base, process, data_dir)
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_healthy(base: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("server did not become healthy in time")


class Server:
    def __init__(self, base: str, process: subprocess.Popen, data_dir: Path):
        self.base, self.process, self.data_dir = base, process, data_dir
        self.client = httpx.Client(base_url=base, timeout=30)

    def log(self) -> str:
        return (self.data_dir / "server.log").read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The training workers: spawned children of the server that are not multiprocessing's tracker."""
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        pids = []
        for pid in children.stdout.split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                pids.append(int(pid))
        return pids

    def wait_ready_workers(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.get("/healthz").json()["workers_ready"] >= count:
                return
            time.sleep(0.2)
        raise TimeoutError("workers did not start")


def wait_status(client: httpx.Client, run_id: str, wanted, timeout: float = 60) -> str:
    """Poll a run until its status is one of `wanted`; that status."""
    deadline = time.monotonic() + timeout
    while (status := client.get(f"/api/runs/{run_id}").json()["status"]) not in wanted:
        assert time.monotonic() < deadline, f"run {run_id} stayed {status}"
        time.sleep(0.05)
    return status


def read_sse(response: httpx.Response, stop_after: int | None = None):
    """Parse a text/event-stream into dicts {event, id, data}; stop after `stop_after` messages with an id."""
    message: dict = {}
    with_id = 0
    for line in response.iter_lines():
        if line == "":
            if message.get("data") is not None or message.get("event"):
                yield message
                if "id" in message:
                    with_id += 1
                    if stop_after is not None and with_id >= stop_after:
                        return
            message = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            message["data"] = value if "data" not in message else message["data"] + "\n" + value
        elif field in ("event", "id"):
            message[field] = value
