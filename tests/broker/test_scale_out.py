"""Scale-out on loopback: two web replicas, two Celery workers, one Redis.

Runs submitted to either replica are trained by either worker; each run's stream reads the same,
complete and in order, from both replicas (also live, resuming on the other replica with
Last-Event-ID); cancel works across replicas; a SIGKILLed worker's run ends failed within the
heartbeat timeout while the others finish; a redelivered task never trains a run twice.
"""

import json
import os
import signal
import time

import httpx
from celery import Celery

from app.runs.broker import keys
from app.runs.broker.celery_app import TASK_NAME
from app.runs.log import id_order
from tests.server import read_sse

from .conftest import ADMIN_TOKEN, HEARTBEAT_TIMEOUT_S

SHORT = {"model": "linreg", "epochs": 2, "n_examples": 500, "batch_size": 25}
LONG = {
    "model": "mlp",
    "dataset": "digits",
    "epochs": 200,
    "batch_size": 1,
    "hidden_units": 512,
    "hidden_layers": 3,
}


def submit(web, spec: dict) -> str:
    response = web.client.post("/api/runs", json=spec)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def status(web, run_id: str) -> str:
    return web.client.get(f"/api/runs/{run_id}").json()["status"]


def wait_for(web, run_id: str, wanted: set[str], timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while (now := status(web, run_id)) not in wanted:
        assert time.monotonic() < deadline, f"run {run_id} still {now!r}, wanted {wanted}"
        time.sleep(0.1)
    return now


def stream(web, run_id: str, last_event_id: str | None = None, stop_after: int | None = None) -> list[dict]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    url = f"{web.base}/api/runs/{run_id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        return [m for m in read_sse(response, stop_after) if "id" in m]


def assert_complete(messages: list[dict], epochs: int) -> None:
    ids = [id_order(m["id"]) for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "stream ids must increase"
    kinds = [m["event"] for m in messages]
    assert kinds[0] == "started" and kinds[-1] == "finished" and kinds.count("finished") == 1
    assert kinds.count("epoch") == epochs
    assert json.loads(messages[-1]["data"])["status"] == "done"


def test_ten_runs_on_two_workers_read_the_same_from_either_replica(cluster):
    a, b = cluster.webs
    run_ids = [submit((a, b)[i % 2], SHORT | {"seed": i}) for i in range(10)]
    for run_id in run_ids:
        assert wait_for(b, run_id, {"done", "failed", "cancelled", "diverged"}) == "done"
    trainers = set()
    for run_id in run_ids:
        from_a, from_b = stream(a, run_id), stream(b, run_id)
        assert from_a == from_b
        assert_complete(from_a, SHORT["epochs"])
        trainers.add(cluster.redis.get(keys.owner(run_id)))
    assert len(trainers) == 2, f"both workers should have trained runs, saw {trainers}"
    assert {r["status"] for r in a.client.get("/api/runs").json() if r["id"] in run_ids} == {"done"}


def test_a_live_stream_resumes_on_the_other_replica(cluster):
    """Read part of a running stream from one replica, reconnect to the other with Last-Event-ID."""
    a, b = cluster.webs
    spec = {"model": "linreg", "epochs": 6, "n_examples": 20_000, "batch_size": 10}
    run_id = submit(a, spec)
    first = stream(a, run_id, stop_after=15)
    assert first[0]["event"] == "started"
    rest = stream(b, run_id, last_event_id=first[-1]["id"])
    assert_complete(first + rest, spec["epochs"])
    assert first + rest == stream(a, run_id) == stream(b, run_id)


def test_cancel_through_the_other_replica(cluster):
    a, b = cluster.webs
    running = [submit(a, LONG), submit(a, LONG | {"seed": 1})]
    for run_id in running:
        wait_for(a, run_id, {"running"})
    queued = submit(a, SHORT)  # both workers are busy: it waits
    assert a.client.get(f"/api/runs/{queued}").json()["position"] == 1
    b.client.cookies.update(dict(a.client.cookies))  # the same visitor, now on the other replica
    assert b.client.delete(f"/api/runs/{queued}").status_code == 202
    assert wait_for(a, queued, {"cancelled"}, timeout=5) == "cancelled"
    for run_id in running:
        started = time.monotonic()
        assert b.client.delete(f"/api/runs/{run_id}").status_code == 202
        assert wait_for(a, run_id, {"cancelled"}, timeout=10) == "cancelled"
        assert time.monotonic() - started < 5
    assert cluster.redis.get(keys.owner(queued)) == b"cancelled"  # no worker ever trained it
    finished = json.loads(stream(b, queued)[-1]["data"])
    assert finished["status"] == "cancelled"


def test_a_redelivered_run_is_not_trained_twice(cluster):
    """If the broker ever hands a finished run out again, the claim key makes the worker skip it."""
    a, _ = cluster.webs
    run_id = submit(a, SHORT)
    wait_for(a, run_id, {"done"})
    before = cluster.redis.xlen(keys.stream(run_id))
    Celery(broker=cluster.broker_url).send_task(TASK_NAME, args=[run_id, SHORT], queue="cpu")
    deadline = time.monotonic() + 20
    while not any(f"run {run_id} was already taken" in w.log() for w in cluster.workers):
        assert time.monotonic() < deadline, "no worker took the redelivered task"
        time.sleep(0.1)
    assert cluster.redis.xlen(keys.stream(run_id)) == before


def test_a_race_that_shares_is_one_cohort_task_with_each_lane_in_its_own_stream(cluster):
    """Three learning rates of one softmax setup go to the workers as one cohort task: the lanes start
    on one worker at once, and each lane's stream, read from the other replica, is whole."""
    a, b = cluster.webs
    base = {"model": "softmax", "dataset": "blobs", "epochs": 3, "batch_size": 16}
    race = a.client.post("/api/races", json={"base": base, "vary": "lr", "values": [0.1, 0.5, 1.0]}).json()
    run_ids = [run["id"] for run in race["runs"]]
    for run_id in run_ids:
        assert wait_for(b, run_id, {"done"}) == "done"
    workers = {cluster.redis.get(keys.owner(run_id)) for run_id in run_ids}
    assert len(workers) == 1  # one task took all three
    for run_id in run_ids:
        assert_complete(stream(b, run_id), epochs=3)


def test_waiting_runs_that_share_go_with_the_first_one_a_worker_takes(cluster):
    """Both workers busy; a run of another kind, then four runs that share, each its own task. When a
    worker frees, it takes the other run first (it was queued first), then the first sharing run and
    with it the other three: one worker trains all four as one cohort, their own tasks find them taken."""
    a, b = cluster.webs
    busy = [submit(a, LONG | {"seed": 11}), submit(a, LONG | {"seed": 12})]
    for run_id in busy:
        wait_for(a, run_id, {"running"})
    first = submit(a, SHORT)
    shared = {"model": "softmax", "dataset": "xor", "epochs": 3, "batch_size": 16}
    sharing = [submit(b, shared | {"lr": lr}) for lr in (0.05, 0.1, 0.5, 1.0)]
    assert a.client.delete(f"/api/runs/{busy[0]}").status_code == 202
    for run_id in [first, *sharing]:
        assert wait_for(a, run_id, {"done"}) == "done"
    assert a.client.delete(f"/api/runs/{busy[1]}").status_code == 202
    trainers = {cluster.redis.get(keys.owner(run_id)) for run_id in sharing}
    assert len(trainers) == 1 and cluster.redis.get(keys.owner(first)) in trainers
    for run_id in sharing:
        assert_complete(stream(b, run_id), epochs=3)
    skipped = sum(w.log().count("was already taken or cancelled") for w in cluster.workers)
    assert skipped >= 3  # the three joined runs' own tasks came later and were skipped


def test_a_killed_worker_fails_its_run_within_the_timeout_and_others_finish(cluster):
    a, b = cluster.webs
    doomed = submit(a, LONG)
    wait_for(a, doomed, {"running"})
    survivors = [submit(b, SHORT | {"seed": 100 + i}) for i in range(3)]
    owner = cluster.redis.get(keys.owner(doomed)).decode()
    pid = int(owner.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert wait_for(b, doomed, {"failed", "done", "cancelled"}, timeout=HEARTBEAT_TIMEOUT_S + 10) == "failed"
    elapsed = time.monotonic() - killed_at
    assert elapsed < HEARTBEAT_TIMEOUT_S + 3, f"took {elapsed:.1f} s to notice"
    finished = json.loads(stream(a, doomed)[-1]["data"])
    assert "no heartbeat" in finished["message"] and finished["code"] == "worker_lost"
    for run_id in survivors:
        assert wait_for(a, run_id, {"done", "failed"}, timeout=60) == "done"


def test_metrics_and_readiness_count_across_replicas(cluster):
    a, b = cluster.webs
    ready = {"ready": True, "database": True, "database_writable": True, "broker": True}
    assert a.client.get("/readyz").json() == ready
    run_id = submit(a, {"model": "linreg", "epochs": 3, "n_examples": 20_000, "batch_size": 10})
    wait_for(a, run_id, {"running"})
    with httpx.stream("GET", f"{b.base}/api/runs/{run_id}/events", timeout=60) as response:
        messages = read_sse(response)
        next(messages)
        assert gauge(b, "playground_sse_clients") == 1 and gauge(a, "playground_runs_running") >= 1
        assert [m for m in messages if "id" in m][-1]["event"] == "finished"  # read to the end of the run
    everyones = a.client.get(
        "/api/runs", params={"limit": 500}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    done = [r for r in everyones.json() if r["status"] == "done"]
    assert (
        gauge(a, 'playground_runs_finished{status="done"}')
        == len(done)
        == gauge(b, 'playground_runs_finished{status="done"}')
    )
    assert gauge(b, "playground_step_delivery_seconds_count") > 0  # the live viewer's step events


def gauge(web, name: str) -> float:
    for line in web.client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def test_the_pages_work_on_the_broker_backend(cluster):
    """The playground form on one replica, the run's page and the runs list on the other."""
    a, b = cluster.webs
    form = {"lr": "0.03", "batch_size": "10", "epochs": "2", "true_w": "book"}
    panel = a.client.post("/play/linreg/runs", data=form)
    assert panel.status_code == 200 and "data-run-id" in panel.text
    run_id = panel.text.split('data-run-id="', 1)[1].split('"', 1)[0]
    assert wait_for(b, run_id, {"done"}) == "done"
    page = b.client.get(f"/runs/{run_id}")
    assert page.status_code == 200 and "epoch-rows" in page.text
    assert run_id in b.client.get("/runs").text
    race = b.client.post("/api/races", json={"base": SHORT, "vary": "lr", "values": [0.01, 0.1]}).json()
    lanes = [json.loads(m["data"])["lane"] for m in stream_race(a, race["id"]) if m["event"] == "finished"]
    assert sorted(lanes) == [0, 1]  # a race started on one replica streams whole from the other


def stream_race(web, race_id: str) -> list[dict]:
    with httpx.stream("GET", f"{web.base}/api/races/{race_id}/events", timeout=60) as response:
        return [m for m in read_sse(response) if "id" in m]
