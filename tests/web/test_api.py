"""The runs API and its event stream, against a real uvicorn with real worker processes."""

import json
import os
import re
import signal
import time

import httpx

from tests.server import read_sse

LONG_RUN = {"model": "mlp", "dataset": "digits", "batch_size": 16, "epochs": 8, "hidden_units": 128}


def events_of(server, run_id, after=None, stop_after=None):
    headers = {"Last-Event-ID": str(after)} if after is not None else {}
    with server.client.stream("GET", f"/api/runs/{run_id}/events", headers=headers, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_sse(response, stop_after))


def json_events(messages):
    return [(int(m["id"]), json.loads(m["data"])) for m in messages if "id" in m]


def wait_status(server, run_id, wanted, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = server.client.get(f"/api/runs/{run_id}").json()["status"]
        if status in wanted:
            return status
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} stayed {status}")


def test_create_read_and_stream_a_run(server):
    created = server.client.post("/api/runs", json={"model": "linreg", "epochs": 2})
    assert created.status_code == 201
    run = created.json()
    assert run["status"] in ("queued", "running") and run["events_url"] == f"/api/runs/{run['id']}/events"
    events = json_events(events_of(server, run["id"]))
    assert [seq for seq, _ in events] == list(range(1, len(events) + 1))
    assert events[0][1]["type"] == "started" and events[-1][1]["type"] == "finished"
    assert events[-1][1]["status"] == "done"
    detail = server.client.get(f"/api/runs/{run['id']}").json()
    assert detail["status"] == "done" and len(detail["epochs"]) == 2


def test_fragments_precede_their_events(server):
    run_id = server.client.post("/api/runs", json={"model": "linreg", "epochs": 2}).json()["id"]
    messages = events_of(server, run_id)
    names = [m.get("event") for m in messages]
    first_epoch = names.index("epoch")
    assert names[first_epoch - 1] == "epoch-row" and "id" not in messages[first_epoch - 1]
    assert "<tr" in messages[first_epoch - 1]["data"]
    assert names[-2:] == ["status", "finished"]


def test_reconnecting_with_last_event_id_gets_every_event_once_in_order(server):
    run_id = server.client.post("/api/runs", json=LONG_RUN).json()["id"]
    first = json_events(events_of(server, run_id, stop_after=5))  # then the client drops
    assert [seq for seq, _ in first] == [1, 2, 3, 4, 5]
    rest = json_events(events_of(server, run_id, after=first[-1][0]))
    seqs = [seq for seq, _ in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    assert rest[-1][1]["type"] == "finished"
    replay = json_events(events_of(server, run_id))  # a finished run replays in full, then closes
    assert replay == first + rest


def test_a_finished_run_replays_identically(server):
    run_id = server.client.post(
        "/api/runs", json={"model": "softmax", "dataset": "blobs", "epochs": 2}
    ).json()["id"]
    live = events_of(server, run_id)
    assert events_of(server, run_id) == live


def test_a_run_with_large_pictures_is_stored_while_it_trains_not_all_at_its_end(server):
    """A chunk goes to the store once its encoded events reach CHUNK_BYTES, not only at CHUNK_EVENTS:
    the run's end then packs a short tail, and its `finished` is not held up behind a large write."""
    from app.runs.service import CHUNK_BYTES
    from app.runs.store import CHUNK_EVENTS, RunStore

    spec = {"model": "softmax", "dataset": "spiral", "epochs": 8, "n_examples": 1000}
    run_id = server.client.post("/api/runs", json=spec).json()["id"]
    live = events_of(server, run_id)
    stored = list(RunStore(f"sqlite:///{server.data_dir / 'runs.sqlite3'}").chunks(run_id))
    assert [event for chunk in stored for _, event in chunk] == [event for _, event in json_events(live)]
    sizes = [len(json.dumps(event, separators=(",", ":"))) for _, event in json_events(live)]
    assert len(sizes) < CHUNK_EVENTS and sum(sizes) > 4 * CHUNK_BYTES
    tail = sum(len(json.dumps(event, separators=(",", ":"))) for _, event in stored[-1])
    assert len(stored) >= 4 and tail <= CHUNK_BYTES + max(sizes)  # not the whole run packed at its end


def test_bad_specs_are_refused_with_readable_problems(server):
    response = server.client.post("/api/runs", json={"model": "mlp", "lr": 0, "activation": "swish"})
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert "lr: must be between 0 (exclusive) and 1000 (got 0)" in problems
    assert any(p.startswith("activation:") for p in problems)
    assert server.client.get("/api/runs/nope").status_code == 404


def test_cancel_a_running_run(server):
    run_id = server.client.post("/api/runs", json=LONG_RUN).json()["id"]
    wait_status(server, run_id, {"running"})
    events_of(server, run_id, stop_after=3)
    assert server.client.delete(f"/api/runs/{run_id}").status_code == 202
    assert wait_status(server, run_id, {"cancelled", "done"}) == "cancelled"


def test_cancel_a_queued_run_and_see_queue_positions(server):
    blockers = [server.client.post("/api/runs", json=LONG_RUN).json()["id"] for _ in range(2)]
    waiting = [server.client.post("/api/runs", json={"model": "linreg"}).json() for _ in range(2)]
    assert [w["position"] for w in waiting] == [1, 2]
    server.client.delete(f"/api/runs/{waiting[0]['id']}")
    assert wait_status(server, waiting[0]["id"], {"cancelled"}) == "cancelled"
    assert server.client.get(f"/api/runs/{waiting[1]['id']}").json()["position"] == 1
    for run_id in blockers:
        server.client.delete(f"/api/runs/{run_id}")
    assert wait_status(server, waiting[1]["id"], {"done"}) == "done"


def test_a_killed_worker_fails_its_run_and_is_replaced(server):
    run_id = server.client.post("/api/runs", json={**LONG_RUN, "epochs": 40}).json()["id"]
    wait_status(server, run_id, {"running"})
    events_of(server, run_id, stop_after=3)
    for pid in server.worker_pids():  # the busy one among them: SIGKILL, no chance to clean up
        os.kill(pid, signal.SIGKILL)
    assert wait_status(server, run_id, {"failed", "done", "cancelled"}) == "failed"
    finished = json_events(events_of(server, run_id))[-1][1]
    assert "worker process" in finished["message"] and "died" in finished["message"]
    assert finished["code"] == "worker_died" and finished["params"]["exit_code"] == -signal.SIGKILL
    epochs = server.client.get(f"/api/runs/{run_id}").json()["epochs"]
    assert finished["epochs_done"] == len(epochs), "the ending counts the epochs the run did train"
    server.wait_ready_workers(2)
    next_run = server.client.post("/api/runs", json={"model": "linreg", "epochs": 1}).json()["id"]
    assert wait_status(server, next_run, {"done", "failed"}) == "done"


def test_openapi_docs_are_served(server):
    assert server.client.get("/docs").status_code == 200
    assert "/api/runs" in server.client.get("/openapi.json").json()["paths"]


def test_exports(server):
    run_id = server.client.post("/api/runs", json={"model": "linreg", "epochs": 2}).json()["id"]
    wait_status(server, run_id, {"done"})
    lines = server.client.get(f"/api/runs/{run_id}/export.csv").text.splitlines()
    preamble = [line for line in lines if line.startswith("# ")]
    table = lines[len(preamble) :]
    assert preamble[:2] == [f"# run: {run_id}", "# status: done"]  # a saved file says what it holds
    assert any(line.startswith("# ending: ") for line in preamble)
    assert {'# model: "linreg"', "# epochs: 2", "# lr: 0.03", "# true_w: [2.0, -3.4]"} <= set(preamble)
    assert table[0].startswith("kind,epoch,step,loss") and sum(r.startswith("epoch,") for r in table) == 2
    exported = server.client.get(f"/api/runs/{run_id}/export.json").json()
    assert list(exported)[:4] == ["id", "spec", "status", "ending"]  # settings and ending come first
    assert exported["ending"]["status"] == "done" and exported["ending"]["params"]["epochs"] == 2
    assert exported["status"] == "done" and exported["events"][-1]["type"] == "finished"


def test_a_full_queue_answers_429(tmp_path):
    from tests.server import running_server

    with running_server(tmp_path, workers=1, queue_limit=1) as live:
        live.wait_ready_workers(1)
        codes = [live.client.post("/api/runs", json=LONG_RUN).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        refused = live.client.post("/api/runs", json=LONG_RUN).json()
        assert "waiting" in refused["detail"]
        assert isinstance(httpx.get(live.base + "/healthz").json(), dict)


def test_runs_survive_a_restart_and_cut_off_runs_show_interrupted(tmp_path):
    from tests.server import running_server

    with running_server(tmp_path, workers=1) as live:
        live.wait_ready_workers(1)
        done_id = live.client.post("/api/runs", json={"model": "linreg", "epochs": 2}).json()["id"]
        wait_status(live, done_id, {"done"})
        before = events_of(live, done_id)
        cut_id = live.client.post("/api/runs", json=LONG_RUN).json()["id"]
        wait_status(live, cut_id, {"running"})
        identity = dict(live.client.cookies)
    with running_server(tmp_path, workers=1) as live:
        live.client.cookies.update(identity)  # the same visitor: the signing key is kept in the data dir
        assert events_of(live, done_id) == before
        assert live.client.get(f"/api/runs/{cut_id}").json()["status"] == "interrupted"
        listed = {run["id"]: run["status"] for run in live.client.get("/api/runs").json()}
        assert listed[done_id] == "done" and listed[cut_id] == "interrupted"


def test_ready_and_metrics_on_the_embedded_backend(server):
    ready = server.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "ready": True,
        "database": True,
        "database_writable": True,
        "broker": True,
    }
    run_id = server.client.post("/api/runs", json={"model": "linreg", "epochs": 2}).json()["id"]
    assert len(events_of(server, run_id)) > 5  # one viewer read the whole stream
    deadline = time.monotonic() + 5
    while not re.search(
        r"^playground_sse_clients 0\.0$", metrics := server.client.get("/metrics").text, re.M
    ):
        assert time.monotonic() < deadline, "departed viewers are still counted"  # their generators must end
        time.sleep(0.1)
    finished = re.search(r'^playground_runs_finished\{status="done"\} (\S+)$', metrics, re.M)
    assert finished and float(finished.group(1)) >= 1
    assert "playground_runs_queued" in metrics and "playground_step_delivery_seconds_count" in metrics


def test_the_linreg_playground_offers_the_fixed_b_landscape(server):
    page = server.client.get("/play/linreg?landscape_fix_b=on").text
    assert re.search(r'id="f-landscape_fix_b"[^>]*checked', page)
    form = {"lr": "0.03", "batch_size": "10", "epochs": "1", "true_w": "book", "landscape_fix_b": "on"}
    started = server.client.post("/play/linreg/runs", data=form)
    run_id = re.search(r'data-run-id="(\w+)"', started.text).group(1)
    assert server.client.get(f"/api/runs/{run_id}").json()["spec"]["landscape_fix_b"] is True
    maps = [json.loads(m["data"]) for m in events_of(server, run_id) if m.get("event") == "snapshot"]
    assert {m["data"]["b"] for m in maps if m["kind"] == "landscape"} == {4.2}


def test_an_export_is_handed_to_the_response_in_pieces_not_event_by_event():
    """Each piece costs the response a hop to a thread: one per event made a 100,000-event run's export
    take 13-16 s, pieces of ~64 KB take it to ~2 s. The pieces still join into the run's JSON."""
    from app.web.api import EXPORT_PIECE_BYTES, json_with_events

    events = [{"type": "step", "step": step, "loss": 1 / (step + 1)} for step in range(20_000)]
    pieces = list(json_with_events({"id": "r1", "status": "done"}, iter(events)))
    body = b"".join(pieces)
    assert json.loads(body) == {"id": "r1", "status": "done", "events": events}
    assert len(pieces) <= len(body) // EXPORT_PIECE_BYTES + 2
    assert list(json_with_events({"id": "r2"}, iter([]))) == [b'{"id": "r2", "events": []}']
