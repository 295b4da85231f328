"""A worker process: loads torch once, then trains one run after another.

It talks to the pool over two pipes of its own (jobs in, messages out), so a worker that is killed
mid-write cannot jam anyone else's channel. A flag in shared memory asks the current run to stop; the
trainer reads it between steps.
"""

import os
import signal

READY, EVENT, IDLE = "ready", "event", "idle"


def warm_up() -> None:
    """Pay torch's one-time costs (the optimizer's first use takes about a second) before any run."""
    import torch

    layer = torch.nn.Linear(2, 1)
    torch.optim.SGD(layer.parameters(), lr=0.1).step()


def worker_main(jobs, messages, stop_flag, data_dir: str, device: str, threads: int) -> None:
    import torch

    from app.training.specs import parse_spec
    from app.training.trainer import train

    # Ctrl-C and SIGTERM reach the whole process group; the server decides when its workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Below the web process in priority: training still gets every idle cycle, but the event loop
    # that streams to hundreds of viewers is never starved (bench/stream.py measures the effect).
    os.nice(10)
    torch.set_num_threads(threads)
    warm_up()
    messages.send((READY, None, os.getpid()))
    while (job := next_job(jobs)) is not None:
        run_id, raw_spec = job  # the pool cleared stop_flag before sending: a cancel since then holds
        events = train(
            parse_spec(raw_spec), data_dir=data_dir, device=device, should_stop=lambda: stop_flag.value
        )
        for event in events:
            messages.send((EVENT, run_id, event.model_dump(mode="json")))
        messages.send((IDLE, run_id, None))


def next_job(jobs):
    """The next (run_id, spec), or None to stop: asked to, or the server is gone (its pipe closed)."""
    try:
        return jobs.recv()
    except EOFError:
        return None
