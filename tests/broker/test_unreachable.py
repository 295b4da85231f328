"""A web replica whose broker is down stays alive (/healthz) but says it is not ready (/readyz)."""

import json

from app.runs.broker.celery_app import queue_for
from app.runs.store import RunStore
from app.settings import Settings
from tests.server import free_port, read_sse, running_server


def test_without_its_broker_a_replica_is_alive_but_not_ready(tmp_path):
    with running_server(tmp_path, broker_url=f"redis://127.0.0.1:{free_port()}/0") as live:
        health = live.client.get("/healthz")
        assert health.status_code == 200 and health.json()["broker"].startswith("unreachable")
        ready = live.client.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {
            "ready": False,
            "database": True,
            "database_writable": True,
            "broker": False,
        }
        refused = live.client.post("/api/runs", json={"model": "linreg"})
        assert refused.status_code == 503 and "broker" in refused.json()["detail"]


def test_without_its_broker_a_replica_still_serves_what_the_store_holds(tmp_path):
    """Finished runs (their page, their JSON, their replay) and how far a queued run got."""
    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    store.add("finishedrun", {"model": "linreg", "epochs": 1}, owner="someone")
    events = [
        {"type": "started", "dataset": "synthetic-linear", "steps_per_epoch": 1},
        {
            "type": "epoch",
            "epoch": 1,
            "train_loss": 0.1,
            "train_acc": None,
            "test_loss": 0.1,
            "test_acc": None,
            "seconds": 0.5,
        },
        {"type": "finished", "status": "done", "message": "trained 1 epochs", "epochs_done": 1},
    ]
    store.finish("finishedrun", events)
    with running_server(tmp_path, broker_url=f"redis://127.0.0.1:{free_port()}/0") as live:
        run = live.client.get("/api/runs/finishedrun")
        assert run.status_code == 200 and run.json()["status"] == "done" and len(run.json()["epochs"]) == 1
        with live.client.stream("GET", "/api/runs/finishedrun/events") as stream:
            replayed = [json.loads(m["data"]) for m in read_sse(stream) if "id" in m]
        assert replayed == events
        assert live.client.get("/runs/finishedrun").status_code == 200
        assert live.client.get("/api/runs/finishedrun/export.json").json()["events"] == events
        assert live.client.get("/api/runs/nosuchrun").status_code == 404


def test_image_runs_go_to_the_gpu_queue_only_where_one_is_deployed():
    image_run, line_run = (
        {"model": "mlp", "dataset": "fashion-mnist"},
        {"model": "linreg", "dataset": "synthetic-linear"},
    )
    assert queue_for(image_run, Settings(gpu_queue=True)) == "gpu"
    assert queue_for(line_run, Settings(gpu_queue=True)) == "cpu"
    assert queue_for(image_run, Settings(gpu_queue=False)) == "cpu"
    assert Settings(worker_queues="gpu, cpu").queues_to_consume() == ["gpu", "cpu"]


def test_the_web_process_never_imports_torch(tmp_path):
    """Torch lives in the workers (and the demo process): a replica serving pages and the API has none."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from app.main import create_app\n"
        "with TestClient(create_app()) as client:\n"
        "    for path in ('/', '/play/mlp', '/runs', '/exercises', '/healthz', '/readyz', '/metrics'):\n"
        "        client.get(path)\n"
        "print('torch' in sys.modules)\n"
    )
    env = os.environ | {
        "PLAYGROUND_DATA_DIR": str(tmp_path),
        "PLAYGROUND_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr[-2000:]
