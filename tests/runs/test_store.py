"""The run store through its public methods, on SQLite and on PostgreSQL (`store_url`, in conftest.py):
finished runs keep their events and summary, runs cut off by a stop say so, races and listings read back."""

import pytest

from app.runs.endings import RUN_ENDINGS
from app.runs.store import RunStore


@pytest.fixture
def store(store_url):
    return RunStore(store_url)


def a_run(epochs: int = 1, steps_per_epoch: int = 2, status: str = "done", **finished) -> list[dict]:
    """The events of a run as a trainer logs them: started, steps and epochs, finished."""
    events = [{"type": "started", "dataset": "synthetic-linear", "device": "cpu"}]
    step = 0
    for epoch in range(1, epochs + 1):
        for _ in range(steps_per_epoch):
            step += 1
            events.append({"type": "step", "step": step, "epoch": epoch, "loss": 1.0 / step})
        events.append(
            {"type": "epoch", "epoch": epoch, "train_loss": 0.1 / epoch, "test_acc": 0.5 + epoch / 100}
        )
    events.append({"type": "finished", "status": status, "epochs_done": epochs, "message": "ok", **finished})
    return events


def test_finished_runs_keep_their_events_and_summary(store_url):
    store = RunStore(store_url)
    store.add("r1", {"model": "linreg", "lr": 0.03})
    events = a_run(epochs=2)
    store.finish("r1", events)
    again = RunStore(store_url)  # as after a restart
    row = again.get("r1")
    assert (row.status, row.message, row.dataset, row.epochs_done) == ("done", "ok", "synthetic-linear", 2)
    assert row.final == events[-2], "the summary's numbers are the last epoch's"
    assert row.spec == {"model": "linreg", "lr": 0.03}
    assert row.finished_at is not None and row.finished_at >= row.created_at
    assert again.events("r1") == events


def test_a_long_run_reads_back_whole_and_in_order(store):
    """Thousands of events, nested values, non-ASCII text: every one comes back equal, in its place."""
    events = a_run(epochs=20, steps_per_epoch=250, message="训练了 20 轮")
    events.insert(
        3,
        {
            "type": "snapshot",
            "kind": "confusion",
            "data": {"matrix": [[3, 1], [0, 4]], "labels": ["T 恤", "裤子"]},
        },
    )
    store.add("long", {"model": "softmax"})
    store.finish("long", events)
    assert len(events) > 5000
    assert store.events("long") == events
    assert store.get("long").message == "训练了 20 轮"


def test_a_run_not_finished_has_no_events_and_unknown_ids_have_nothing(store):
    store.add("q", {"model": "mlp"})
    row = store.get("q")
    assert (row.status, row.model, row.finished_at) == ("queued", "mlp", None)
    assert store.events("q") is None
    assert store.get("nope") is None
    assert store.events("nope") is None
    assert store.race("nope") is None


def test_a_run_cancelled_in_the_queue_has_only_its_ending(store):
    store.add("c", {"model": "mlp"})
    store.finish("c", [{"type": "finished", "status": "cancelled", "message": "cancelled in the queue"}])
    row = store.get("c")
    assert (row.status, row.message, row.dataset, row.epochs_done, row.final) == (
        "cancelled",
        "cancelled in the queue",
        "",
        0,
        {},
    )


def test_runs_in_flight_at_a_stop_become_interrupted(store):
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
    assert store.get("running").message == RUN_ENDINGS["server_stopped"]
    assert store.get("running").finished_at is not None
    assert store.mark_interrupted() == 0, "a second stop finds nothing left in flight"


def test_counts_by_status(store):
    assert store.count_by_status() == {}
    for run_id in ("a", "b", "c", "d"):
        store.add(run_id, {"model": "linreg"})
    store.set_status("b", "running")
    store.finish("c", a_run())
    store.finish("d", a_run(status="diverged"))
    assert store.count_by_status() == {"queued": 1, "running": 1, "done": 1, "diverged": 1}


def test_recent_runs_come_newest_first(store):
    for run_id in ("first", "second", "third"):
        store.add(run_id, {"model": "mlp"})
    assert [r.id for r in store.recent()] == ["third", "second", "first"]
    assert [r.id for r in store.recent(limit=2)] == ["third", "second"]


def test_races_keep_their_runs_and_list_newest_first(store):
    store.add_race("race1", "lr", ["a", "b"])
    store.add_race("race2", "activation", ["c", "d", "e"])
    race = store.race("race1")
    assert (race.vary, race.run_ids) == ("lr", ["a", "b"])
    assert [r.id for r in store.recent_races()] == ["race2", "race1"]
    assert [r.id for r in store.recent_races(limit=1)] == ["race2"]


def test_two_stores_on_one_database_see_each_others_writes(store_url):
    """The scale-out shape: the web process adds the run, a worker's store moves and finishes it."""
    web, worker = RunStore(store_url), RunStore(store_url)
    web.add("r", {"model": "softmax"})
    worker.set_status("r", "running")
    assert web.get("r").status == "running"
    events = a_run()
    worker.finish("r", events)
    assert web.get("r").status == "done"
    assert web.events("r") == events


def test_the_store_answers(store):
    assert store.reachable()
