"""When the run store cannot write (a full disk, a folder turned read-only) nothing is lost silently:
the run in flight ends `failed` with a message, /readyz says not ready, new runs get 503 with a
message in the visitor's language, and nothing claims `done` that the store does not hold.

The data directory is a small tmpfs the test mounts (root is needed, as on the development machine
and CI)."""

import contextlib
import os
import sqlite3
import subprocess
import time

import httpx
import pytest

from app.runs.store import RunStore
from tests.server import running_server, wait_status

BUSY_RUN = {"model": "linreg", "n_examples": 10_000, "batch_size": 10, "step_events_per_epoch": 1000}
FINISHED = {"done", "cancelled", "diverged", "failed", "interrupted"}


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs at tmp_path/disk, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)])
    if mounted.returncode != 0:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("could not mount a tmpfs (this test needs root)")
        pytest.skip("could not mount a tmpfs (this test needs root)")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk) -> None:
    """Write until the disk is full."""
    with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()


def assert_refuses_runs_in_both_languages(live) -> None:
    ready = live.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["database_writable"] is False
    refused = live.client.post("/api/runs", json={"model": "linreg", "epochs": 1})
    assert refused.status_code == 503 and "cannot save runs" in refused.json()["detail"]
    zh = live.client.post("/api/runs", json={"model": "linreg"}, headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 503 and "无法保存" in zh.json()["detail"]
    form = {"lr": "0.03", "batch_size": "10", "epochs": "1", "true_w": "book", "seed": "0", "impl": "scratch"}
    page = live.client.post("/play/linreg/runs", data=form, headers={"HX-Request": "true"})
    assert page.status_code == 503 and "cannot save runs" in page.text


def test_a_full_disk_fails_the_run_with_a_message_and_refuses_new_runs(small_disk):
    with running_server(small_disk, workers=1, worker_threads=1) as live:
        live.wait_ready_workers(1)
        assert live.client.get("/readyz").status_code == 200
        run_id = live.client.post("/api/runs", json=BUSY_RUN | {"epochs": 40}).json()["id"]
        wait_status(live.client, run_id, {"running"})
        fill(small_disk)
        assert wait_status(live.client, run_id, FINISHED) == "failed"
        with httpx.stream("GET", f"{live.base}/api/runs/{run_id}/events", timeout=30) as stream:
            last = [line for line in stream.iter_lines() if line.startswith("data:")][-1]
        assert "could not save this run" in last and "store_failed" in last
        assert_refuses_runs_in_both_languages(live)
        (small_disk / "filler").unlink()
        deadline = time.monotonic() + 10
        while live.client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the store can write again, but /readyz still says no"
            time.sleep(0.2)
        cookies = dict(live.client.cookies)
    with running_server(small_disk, workers=1, worker_threads=1) as live:
        live.client.cookies.update(cookies)
        after = live.client.get(f"/api/runs/{run_id}").json()
        assert after["status"] in ("failed", "interrupted"), "never `done`: the store did not keep it whole"


def test_a_read_only_data_directory_refuses_runs_with_a_message(small_disk, tmp_path):
    """A server started on a data directory it cannot write: alive, not ready, runs refused with a
    message, finished runs still served."""
    store = RunStore(f"sqlite:///{small_disk / 'runs.sqlite3'}")
    store.add("earlier", {"model": "linreg", "epochs": 1})
    store.finish("earlier", [{"type": "finished", "status": "done", "message": "trained 1 epochs"}])
    store.engine.dispose()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        env = {"PLAYGROUND_DATA_DIR": str(small_disk)}
        with running_server(logs, extra_env=env, workers=1, worker_threads=1) as live:
            assert live.client.get("/healthz").status_code == 200, "alive, only not ready"
            assert_refuses_runs_in_both_languages(live)
            assert live.client.get("/api/runs/earlier").json()["status"] == "done"
            refused = live.client.post("/api/classes", json={"title": "Week 3"})  # classes cannot be kept
            assert refused.status_code == 503 and "read-only" in refused.json()["detail"]
            assert live.client.get("/classes/ABCDEF", headers={"Accept": "text/html"}).status_code == 503
            assert "Traceback" not in live.log()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)


def test_a_class_run_the_class_cannot_record_is_cancelled_not_left_outside_it(tmp_path):
    """The database refuses the board's lane (a real SQLite error, raised by a trigger): the student gets
    503 with a message, and the run that was already queued is cancelled rather than trained unseen."""
    with running_server(tmp_path, workers=1, worker_threads=1) as live:
        teacher = httpx.Client(base_url=live.base, timeout=30)
        code = teacher.post("/api/classes", json={"title": "Week 3", "preset": "softmax"}).json()["code"]
        student = httpx.Client(base_url=live.base, timeout=30)
        assert student.post(f"/api/classes/{code}/students", json={"name": "Ada"}).status_code == 201
        database = sqlite3.connect(tmp_path / "runs.sqlite3")
        database.execute(
            "CREATE TRIGGER no_lane BEFORE INSERT ON class_events WHEN NEW.type = 'run' "
            "BEGIN SELECT RAISE(ABORT, 'no lane today'); END"
        )
        database.commit()
        database.close()
        refused = student.post(f"/api/classes/{code}/runs", json={})
        assert refused.status_code == 503 and refused.json()["detail"]
        [run] = student.get("/api/runs").json()
        assert wait_status(student, run["id"], FINISHED) == "cancelled"
