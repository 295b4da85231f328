"""A worker process: loads torch once, then trains one job after another: a run alone, or a cohort of
runs that share their minibatches trained as one batched model (app/training/cohort).

It talks to the pool over two pipes of its own (jobs in, messages out), so a worker that is killed
mid-write cannot jam anyone else's channel. Flags in shared memory, one per member of the job, ask a
run to stop; the trainer reads its flag between steps.
"""

import os
import signal

READY, EVENT, IDLE = "ready", "event", "idle"


def warm_up() -> None:
    """Set malloc to reuse the blocks a step frees (malloc.py), pay torch's one-time costs (the
    optimizer's first use takes about a second) and import the training code (another second) before
    any run, then put all of it out of the garbage collector's reach: a full collection walked its
    ~350,000 objects for 200 ms, and one came every twenty-odd Steps of a paused run, between the Step
    and its pictures (bench/pace.md)."""
    import gc

    import torch

    from .malloc import reuse_freed_memory

    reuse_freed_memory()

    import app.training.cohort  # noqa: F401 - imported for the first run's sake
    import app.training.specs  # noqa: F401
    import app.training.trainer  # noqa: F401

    layer = torch.nn.Linear(2, 1)
    torch.optim.SGD(layer.parameters(), lr=0.1).step()
    gc.collect()
    gc.freeze()


def worker_main(
    jobs,
    messages,
    stop_flags,
    data_dir: str,
    device: str,
    threads: int,
    pace_control=None,
    pause_timeout_s=600.0,
    pace_wake=None,
) -> None:
    import torch

    # Ctrl-C and SIGTERM reach the whole process group; the server decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Below the web process in priority: training still gets every idle cycle, but the event loop
    # that streams to hundreds of viewers is never starved (bench/stream.py measures the effect).
    os.nice(10)
    torch.set_num_threads(threads)
    warm_up()
    messages.send((READY, None, os.getpid()))

    def pacer(should_stop):  # a run training alone may be paused, stepped and slowed (pacing.py)
        from .pacing import Pacer

        if pace_control is None:
            return None
        return Pacer(pace_control, should_stop, pause_timeout_s, torch.set_num_threads, threads, pace_wake)

    while (job := next_job(jobs)) is not None:  # [(run id, spec), ...]: the pool cleared the flags first
        for run_id, event in train_job(job, data_dir, device, stop_flags, pacer):
            messages.send((EVENT, run_id, event.model_dump(mode="json")))
        torch.set_num_threads(threads)  # a stepped run may have left it at one (pacing.Pacer)
        messages.send((IDLE, None, None))


def train_job(
    job: list[tuple[str, dict]],
    data_dir: str,
    device: str,
    stop_flags,
    pacer=lambda should_stop: None,
):
    """(run id, event) for every event of the job's runs: one run through the trainer the playground
    shows (it may be paused, stepped and slowed: `pacer(should_stop)` gives its app/runs/pacing.Pacer),
    several as one cohort, each member's events its own."""
    from app.training.cohort import train_cohort
    from app.training.specs import parse_spec
    from app.training.trainer import train

    run_ids = [run_id for run_id, _ in job]
    specs = [parse_spec(raw_spec) for _, raw_spec in job]
    if len(specs) == 1:
        should_stop = lambda: stop_flags[0]  # noqa: E731 - read at every step
        pace = pacer(should_stop)
        for event in train(specs[0], data_dir=data_dir, device=device, should_stop=should_stop, pace=pace):
            yield run_ids[0], event
        return
    members = train_cohort(
        specs, data_dir=data_dir, device=device, should_stop=lambda member: stop_flags[member],
        max_members=len(stop_flags),
    )  # fmt: skip
    for member, event in members:
        yield run_ids[member], event


def next_job(jobs):
    """The next (run_id, spec), or None to stop: asked to, or the server is gone (its pipe closed)."""
    try:
        return jobs.recv()
    except EOFError:
        return None
