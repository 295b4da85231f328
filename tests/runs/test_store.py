"""The run store: finished runs keep their events; runs cut off by a stop say so."""

from app.runs.store import RunStore


def test_finished_runs_keep_their_events_and_summary(tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    store.add("r1", {"model": "linreg", "lr": 0.03})
    events = [
        {"type": "started", "dataset": "synthetic-linear"},
        {"type": "epoch", "epoch": 1, "train_loss": 0.1},
        {"type": "finished", "status": "done", "message": "ok", "epochs_done": 1},
    ]
    store.finish("r1", events)
    again = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")  # as after a restart
    row = again.get("r1")
    assert (row.status, row.dataset, row.epochs_done, row.final["train_loss"]) == (
        "done",
        "synthetic-linear",
        1,
        0.1,
    )
    assert again.events("r1") == events


def test_runs_in_flight_at_a_stop_become_interrupted(tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    store.add("queued", {"model": "mlp"})
    store.add("running", {"model": "mlp"})
    store.set_status("running", "running")
    store.add("done", {"model": "mlp"})
    store.finish("done", [{"type": "finished", "status": "done"}])
    assert store.mark_interrupted() == 2
    assert [r.status for r in sorted(store.recent(), key=lambda r: r.id)] == [
        "done",
        "interrupted",
        "interrupted",
    ]
