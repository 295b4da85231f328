"""The local pool forms cohorts: waiting runs that share their minibatches start together on one worker
as one batched model, each with its own events, in the queue's fair order; one member's cancel ends
only that member."""

import asyncio
import time

from app.runs.pool import GATHER_S, QUIET_S, FairQueue, LocalPool, cohort_signature

SHARED = {"model": "softmax", "dataset": "blobs", "epochs": 3, "batch_size": 16}
OTHER = {"model": "mlp", "dataset": "xor", "epochs": 2}


class Recorder:
    """What the pool reports: when each run started, and every event of each run in arrival order."""

    def __init__(self):
        self.started: dict[str, float] = {}
        self.events: dict[str, list[dict]] = {}
        self.order: list[str] = []  # run ids in the order their events arrived

    def on_event(self, run_id: str, event: dict, received: float | None = None) -> None:
        self.events.setdefault(run_id, []).append(event)
        self.order.append(run_id)

    def on_state(self, run_id: str, state: str) -> None:
        if state == "running":
            self.started[run_id] = time.monotonic()

    def ending(self, run_id: str) -> dict | None:
        events = self.events.get(run_id, [])
        return events[-1] if events and events[-1]["type"] == "finished" else None


async def run_pool(
    tmp_path,
    jobs: list[tuple[str, dict, str]],
    during=None,
    timeout: float = 120,
    as_group: bool = False,
    then: list[tuple[str, dict, str]] = (),
):
    """A one-worker pool fed `jobs` (run id, spec, owner) at once, one by one or as one group (a race's
    lanes), and `then` one by one once every job has started; waits until every run ended. The
    recorder's `submitted` is when the jobs went in."""
    recorder = Recorder()
    pool = LocalPool(1, str(tmp_path), lambda number: "cpu", 1, recorder.on_event, recorder.on_state)
    pool.start()
    try:
        while not pool.ready_count():
            await asyncio.sleep(0.05)
        recorder.submitted = time.monotonic()
        if as_group:
            pool.submit_all(jobs)
        for run_id, spec, owner in [] if as_group else jobs:
            pool.submit(run_id, spec, owner)
        deadline, later = time.monotonic() + timeout, list(then)
        while not all(recorder.ending(run_id) for run_id, _, _ in [*jobs, *then]):
            assert time.monotonic() < deadline, "the runs never all ended"
            if during:
                during(pool, recorder)
            if later and all(run_id in recorder.started for run_id, _, _ in jobs):
                for run_id, spec, owner in later:
                    pool.submit(run_id, spec, owner)
                later = []
            await asyncio.sleep(0.02)
        return recorder
    finally:
        pool.close()


def test_eight_runs_that_share_train_as_one_cohort_after_the_run_queued_before_them(tmp_path):
    first = ("other", OTHER, "a")
    cohort = [(f"lr{i}", SHARED | {"lr": 0.05 * (i + 1)}, f"visitor{i % 3}") for i in range(8)]
    recorder = asyncio.run(run_pool(tmp_path, [first, *cohort]))
    other_end = recorder.order.index("other", len(recorder.events["other"]) - 1)
    assert all(recorder.started["other"] < recorder.started[run_id] for run_id, _, _ in cohort)
    assert min(recorder.order.index(run_id) for run_id, _, _ in cohort) > other_end  # after it ended
    assert (
        max(recorder.started[r] for r, _, _ in cohort) - min(recorder.started[r] for r, _, _ in cohort) < 0.05
    )
    steps = [run_id for run_id in recorder.order if run_id.startswith("lr")]
    assert len(set(steps[:16])) == 8  # the members' events interleave: they train side by side
    assert {recorder.ending(run_id)["status"] for run_id, _, _ in cohort} == {"done"}


def test_a_group_submitted_together_starts_at_once_as_one_cohort(tmp_path):
    """A race's lanes arrive in one submit_all: nothing more is coming, so they skip the gathering wait
    that single submits get (GATHER_S) and start together."""
    lanes = [(f"lane{i}", SHARED | {"lr": 0.1 * (i + 1)}, "racer") for i in range(4)]
    recorder = asyncio.run(run_pool(tmp_path, lanes, as_group=True))
    starts = [recorder.started[run_id] for run_id, _, _ in lanes]
    assert max(starts) - recorder.submitted < GATHER_S / 2
    assert max(starts) - min(starts) < 0.05
    assert {recorder.ending(run_id)["status"] for run_id, _, _ in lanes} == {"done"}


def test_a_lone_run_on_a_quiet_server_waits_only_a_moment_for_company(tmp_path):
    """One learner pressing Train on an idle server waits QUIET_S, not GATHER_S, for a cohort."""
    recorder = asyncio.run(run_pool(tmp_path, [("r0", SHARED, "visitor")]))
    assert QUIET_S < GATHER_S / 2
    assert recorder.started["r0"] - recorder.submitted < GATHER_S / 2
    assert recorder.ending("r0")["status"] == "done"


def test_runs_pressed_at_one_moment_on_a_quiet_server_start_as_one_cohort(tmp_path):
    """A burst (a class told to press Train now): the second run comes within QUIET_S of the first, so
    the pool gathers as for any burst and all three start together instead of the first alone."""
    runs = [(f"r{i}", SHARED | {"lr": 0.1 * (i + 1)}, f"visitor{i}") for i in range(3)]
    recorder = asyncio.run(run_pool(tmp_path, runs))
    starts = [recorder.started[run_id] for run_id, _, _ in runs]
    assert max(starts) - min(starts) < 0.05  # one cohort
    assert set(recorder.order[3:9]) == {"r0", "r1", "r2"}  # side by side from the start
    assert {recorder.ending(run_id)["status"] for run_id, _, _ in runs} == {"done"}


def test_runs_that_come_while_one_trains_gather_behind_it(tmp_path):
    """A run already training is not joined: the runs that come during it start together after it."""
    later = [(f"r{i}", SHARED | {"lr": 0.1 * (i + 1)}, f"visitor{i}") for i in (1, 2)]
    recorder = asyncio.run(run_pool(tmp_path, [("r0", SHARED, "visitor0")], then=later))
    r0_end = max(index for index, run_id in enumerate(recorder.order) if run_id == "r0")
    assert min(recorder.order.index("r1"), recorder.order.index("r2")) > r0_end  # behind it, not beside
    assert abs(recorder.started["r1"] - recorder.started["r2"]) < 0.05  # one cohort
    steps = [run_id for run_id in recorder.order if run_id in ("r1", "r2")]
    assert len(set(steps[:4])) == 2  # side by side
    assert {recorder.ending(run_id)["status"] for run_id in ("r0", "r1", "r2")} == {"done"}


def test_a_members_numbers_are_its_own_and_a_cancel_ends_only_that_member(tmp_path):
    """Three members of one cohort; the middle one is cancelled after its first epoch. The others end
    `done` with the numbers each has when trained alone in the same pool."""
    specs = {f"m{i}": SHARED | {"lr": lr, "epochs": 6} for i, lr in enumerate((0.1, 0.3, 1.0))}

    def cancel_the_middle(pool, recorder):
        if any(e["type"] == "epoch" for e in recorder.events.get("m1", [])):
            pool.cancel("m1")

    together = asyncio.run(
        run_pool(
            tmp_path, [(r, spec, "a") for r, spec in specs.items()], during=cancel_the_middle, as_group=True
        )
    )
    alone = {
        run_id: asyncio.run(run_pool(tmp_path, [(run_id, specs[run_id], "a")])).events[run_id]
        for run_id in ("m0", "m2")
    }
    assert together.ending("m1")["status"] == "cancelled"
    for run_id in ("m0", "m2"):
        ours = [e["test_loss"] for e in together.events[run_id] if e["type"] == "epoch"]
        theirs = [e["test_loss"] for e in alone[run_id] if e["type"] == "epoch"]
        assert together.ending(run_id)["status"] == "done" and len(ours) == 6
        assert all(abs(a - b) <= 1e-5 * max(abs(b), 1e-8) for a, b in zip(ours, theirs, strict=True))


def test_the_queue_takes_only_runs_that_share_and_keeps_the_rest_in_line():
    queue = FairQueue()
    jobs = [
        ("x", OTHER, "a"),
        ("s1", SHARED, "b"),
        ("y", {"model": "linreg"}, "a"),
        ("s2", SHARED | {"lr": 1.0}, "c"),
        ("s3", SHARED | {"seed": 3}, "c"),
    ]
    for run_id, spec, owner in jobs:
        queue.push(owner, (run_id, spec, cohort_signature(spec)))
    head = queue.pop()
    assert head[0] == "x" and queue.take_sharing(head[2], 31) == []
    head = queue.pop()
    assert head[0] == "s1" and [job[0] for job in queue.take_sharing(head[2], 31)] == ["s2"]
    assert (
        queue.order() == ["s3", "y"] and cohort_signature
    )  # c, never served, goes before a({"model": "linreg"}) is None


def test_a_cohort_holds_no_more_members_than_keep_its_step_within_the_step_budget():
    """A cohort's step costs about the sum of its members' steps; the pool bounds the members so a
    cancel still lands within one budgeted step."""
    small = {"model": "softmax", "dataset": "fashion-mnist"}
    wide = {"model": "mlp", "dataset": "fashion-mnist", "hidden_units": 2048, "hidden_layers": 3}
    pool = LocalPool(1, "/tmp", lambda number: "cpu", 1, None, None, cohort_max=32, max_step_work=4e10)
    assert pool.members_at_most(small) == 32
    assert 1 <= pool.members_at_most(wide) < 8
