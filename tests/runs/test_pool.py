"""The local pool with real spawned workers: a cancel that lands before the worker reads its job."""

import asyncio
import time

from app.runs.pool import LocalPool

RUN = {"model": "linreg", "epochs": 3}


def test_a_cancel_sent_with_the_job_still_in_the_pipe_ends_the_run_cancelled(tmp_path):
    """submit() writes the job to the worker's pipe; cancel() in the same breath, before the worker
    has read it. The worker must not clear the flag when the job arrives."""

    async def scenario():
        endings: dict[str, dict] = {}
        pool = LocalPool(1, str(tmp_path), lambda number: "cpu", 1, record(endings), lambda *_: None)
        pool.gather_s = None  # submit() writes to the pipe at once, so the cancel meets the job there
        pool.start()
        try:
            while not pool.ready_count():
                await asyncio.sleep(0.05)
            for number in range(5):
                run_id = f"run{number}"
                pool.submit(run_id, RUN, owner="someone")
                assert pool.cancel(run_id)
                deadline = time.monotonic() + 30
                while run_id not in endings:
                    assert time.monotonic() < deadline, f"{run_id} never ended"
                    await asyncio.sleep(0.01)
                while pool.busy():
                    await asyncio.sleep(0.01)
            return endings
        finally:
            pool.close()

    endings = asyncio.run(scenario())
    assert {run_id: event["status"] for run_id, event in endings.items()} == {
        f"run{number}": "cancelled" for number in range(5)
    }


def record(endings: dict):
    def on_event(run_id: str, event: dict, received: float | None = None) -> None:
        if event["type"] == "finished":
            endings[run_id] = event

    return on_event
