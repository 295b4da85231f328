"""A race whose lanes share their minibatches trains them side by side, as one cohort: all lanes run at
once and the race's one stream interleaves their step events."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.server import running_server
from tests.web.test_race import race_stream, wait_finished

BASE = {"model": "softmax", "dataset": "digits", "epochs": 10, "batch_size": 32}
RATES = [0.01, 0.1, 0.5, 1.0]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One worker, as on this 2-core machine by default: lanes side by side can only be one cohort."""
    with running_server(tmp_path_factory.mktemp("race-cohort"), workers=1, worker_threads=1) as live:
        live.wait_ready_workers(1)
        yield live


def test_four_learning_rates_run_at_the_same_time_and_interleave(server):
    created = server.client.post("/api/races", json={"base": BASE, "vary": "lr", "values": RATES})
    assert created.status_code == 201, created.text
    race_id = created.json()["id"]
    reader = ThreadPoolExecutor(1)
    live = reader.submit(race_stream, server, race_id)  # read as it trains, to the end
    running = {}
    for _ in range(200):  # all four lanes `running` together, none of them queued behind another
        lanes = server.client.get(f"/api/races/{race_id}").json()["runs"]
        running = {lane["status"] for lane in lanes}
        if running == {"running"}:
            break
    assert running == {"running"}
    wait_finished(server, race_id)
    events = [json.loads(message["data"]) for message in live.result(timeout=60)]
    reader.shutdown()
    steps = [event["lane"] for event in events if event["type"] == "step"]
    first = {lane: steps.index(lane) for lane in range(4)}
    last = {lane: len(steps) - 1 - steps[::-1].index(lane) for lane in range(4)}
    # side by side: every lane's first step comes before every other lane's last (one after another,
    # lane 0 would end before lane 1 began)
    assert all(first[j] < last[i] for i in range(4) for j in range(4)), (first, last)
    assert [e["status"] for e in events if e["type"] == "finished"] == ["done"] * 4


def test_runs_that_would_share_a_cohort_still_count_against_their_visitors_limit(server):
    """Cohorts are how runs train, not a way past the per-visitor limit: three sharing runs in flight,
    the fourth is refused (429) though it would have joined them."""
    visitor = httpx.Client(base_url=server.base, timeout=60)
    slow = BASE | {"epochs": 60, "batch_size": 8}
    run_ids = [visitor.post("/api/runs", json=slow | {"lr": lr}).json()["id"] for lr in (0.01, 0.02, 0.03)]
    fourth = visitor.post("/api/runs", json=slow | {"lr": 0.04})
    assert fourth.status_code == 429 and "Retry-After" in fourth.headers
    for run_id in run_ids:
        assert visitor.delete(f"/api/runs/{run_id}").status_code == 202
