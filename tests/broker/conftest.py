"""A real scale-out deployment on loopback: redis-server, Celery worker processes, two web replicas.

redis-server comes from Debian's package (scripts/test.sh installs it); each test module gets its own
on a free port, with persistence off. Workers and web replicas share one SQLite run store.
"""

import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import redis

from tests.server import free_port, running_server, stop

HEARTBEAT_TIMEOUT_S = 3.0


@contextmanager
def redis_server(directory: Path):
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: scripts/test.sh installs it with apt-get"
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class Worker:
    """One `d2l-playground worker` process (Celery, solo pool)."""

    def __init__(self, name: str, env: dict, log_path: Path):
        self.name, self.log_path = name, log_path
        self.log_file = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker", "--name", f"{name}@test"],
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log_path.read_bytes():
            assert self.process.poll() is None, f"{self.name} exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"{self.name} not ready:\n{self.log()}"
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            stop(self.process)
        self.log_file.close()


ADMIN_TOKEN = "cluster-admin-token"


class Cluster:
    def __init__(self, broker_url: str, webs: list, workers: list[Worker]):
        self.broker_url, self.webs, self.workers = broker_url, webs, workers
        self.redis = redis.Redis.from_url(broker_url)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    with ExitStack() as stack:
        broker_url = stack.enter_context(redis_server(root))
        settings = {
            "broker_url": broker_url,
            "database_url": f"sqlite:///{root / 'runs.sqlite3'}",
            "heartbeat_timeout_s": str(HEARTBEAT_TIMEOUT_S),
            "worker_threads": "1",
            "secret_key": "one-key-for-every-replica",  # a visitor is the same visitor on either replica
            "max_runs_per_visitor": "100",
            "admin_token": ADMIN_TOKEN,
        }
        env = os.environ | {f"PLAYGROUND_{key.upper()}": value for key, value in settings.items()}
        workers = []
        for number in (1, 2):
            data_dir = root / f"worker{number}"
            data_dir.mkdir()
            worker_env = env | {"PLAYGROUND_DATA_DIR": str(data_dir)}
            workers.append(Worker(f"w{number}", worker_env, data_dir / "worker.log"))
            stack.callback(workers[-1].stop)
        webs = []
        for number in (1, 2):
            data_dir = root / f"web{number}"
            data_dir.mkdir()
            webs.append(stack.enter_context(running_server(data_dir, **settings)))
        for worker in workers:
            worker.wait_ready()
        yield Cluster(broker_url, webs, workers)
