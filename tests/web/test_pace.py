"""Pause, step, resume and slow motion on a real server: only your run, and a paused run ends in time."""

import time

import httpx

from tests.server import running_server

LONG = {"model": "mlp", "dataset": "spiral", "epochs": 200, "batch_size": 4, "hidden_units": 16}


def events(client: httpx.Client, run_id: str) -> list[dict]:
    return client.get(f"/api/runs/{run_id}/export.json").json()["events"]


def steps(client, run_id, by_hand: bool) -> list[int]:
    return [
        e["step"] for e in events(client, run_id) if e["type"] == "step" and bool(e.get("by_hand")) == by_hand
    ]


def running(client: httpx.Client, spec: dict) -> str:
    run_id = client.post("/api/runs", json=spec).json()["id"]
    deadline = time.monotonic() + 60
    while not steps(client, run_id, by_hand=False):
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    return run_id


def test_pause_step_resume_and_speed(server):
    owner = httpx.Client(base_url=server.base, timeout=30)
    run_id = running(owner, LONG)
    try:
        paused_stepped_and_slowed(server, owner, run_id)
    finally:
        owner.delete(f"/api/runs/{run_id}")  # a paused run would hold a worker for the next tests


def paused_stepped_and_slowed(server, owner: httpx.Client, run_id: str) -> None:
    paused = owner.post(f"/api/runs/{run_id}/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    time.sleep(0.3)  # the step under way when the pause came may still finish
    still = steps(owner, run_id, by_hand=False)
    time.sleep(1.0)
    assert steps(owner, run_id, by_hand=False) == still  # nothing moves while paused

    assert owner.post(f"/api/runs/{run_id}/step").json()["paused"] is True
    time.sleep(0.5)
    by_hand = steps(owner, run_id, by_hand=True)
    assert len(by_hand) == 1 and by_hand[0] > 0
    # one minibatch only: a regular step event comes with it just when that step closes its window
    assert steps(owner, run_id, by_hand=False) in (still, still + by_hand)
    pictures = [e for e in events(owner, run_id) if e["type"] == "snapshot" and e.get("by_hand")]
    assert len(pictures) == 1 and pictures[0]["kind"] == "boundary"
    regular_before_resume = len(steps(owner, run_id, by_hand=False))

    other = httpx.Client(base_url=server.base, timeout=30)
    assert other.post(f"/api/runs/{run_id}/resume").status_code == 403  # only the owner
    refused = other.post(f"/play/runs/{run_id}/pace/resume")
    assert refused.status_code == 200 and "Resume" in refused.text  # the controls as they stand
    assert owner.get(f"/api/runs/{run_id}").json()["status"] == "running"
    assert (
        owner.post(f"/api/runs/{run_id}/speed", json={"steps_per_second": 4}).json()["steps_per_second"] == 4
    )
    assert owner.post(f"/api/runs/{run_id}/resume").json()["paused"] is False
    time.sleep(2.0)
    moved = len(steps(owner, run_id, by_hand=False)) - regular_before_resume
    assert 1 <= moved <= 10  # slow motion: about 4 steps a second (a step event per 1-2 steps)
    assert owner.post(f"/api/runs/{run_id}/speed", json={"steps_per_second": 0}).status_code == 422


def test_a_run_that_shares_a_cohort_cannot_pause_and_says_why(server):
    owner = httpx.Client(base_url=server.base, timeout=30)
    race = owner.post("/api/races", json={"base": LONG, "vary": "lr", "values": [0.1, 0.2]}).json()
    lane = race["runs"][0]["id"]
    running_deadline = time.monotonic() + 60
    while owner.get(f"/api/runs/{lane}").json()["status"] != "running":
        assert time.monotonic() < running_deadline
        time.sleep(0.1)
    refused = owner.post(f"/api/runs/{lane}/pause")
    assert refused.status_code == 409 and "together" in refused.json()["detail"]
    for run in race["runs"]:
        owner.delete(f"/api/runs/{run['id']}")


def test_a_run_paused_too_long_ends_with_a_message(tmp_path):
    with running_server(tmp_path, workers=1, worker_threads=1, pause_timeout_s=1) as live:
        live.wait_ready_workers(1)
        owner = httpx.Client(base_url=live.base, timeout=30)
        run_id = running(owner, LONG)
        controls = owner.post(f"/play/runs/{run_id}/pace/pause").text  # the page's button
        assert "at most 0.017 minutes" in controls  # the server's limit, as the ending will say it
        deadline = time.monotonic() + 30
        while (run := owner.get(f"/api/runs/{run_id}").json())["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        finished = events(owner, run_id)[-1]
        assert run["status"] == "cancelled" and finished["code"] == "paused_too_long"
        assert "worker" in finished["message"]
        zh = owner.get(f"/runs/{run_id}?lang=zh").text
        assert "暂停超过了" in zh


def test_the_queue_says_when_a_paused_run_holds_a_worker(server):
    owner = httpx.Client(base_url=server.base, timeout=30)
    started = [running(owner, LONG)]
    owner.post(f"/api/runs/{started[0]}/pause")
    try:
        started.append(running(owner, LONG | {"seed": 1}))  # the second worker
        waiting = owner.post("/api/runs", json=LONG | {"seed": 2}).json()["id"]
        started.append(waiting)
        status = owner.get(f"/play/runs/{waiting}/status").text
        assert "queued at position 1" in status, status
        assert "1 of the server&#39;s workers held by a paused run" in status
    finally:
        for run_id in started:
            owner.delete(f"/api/runs/{run_id}")
