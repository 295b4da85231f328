"""How a run ends when its trainer cannot say so itself: cancelled in the queue, a worker gone, the
server stopped. Each ending has a code, like the trainer's (trainer.ENDINGS): the web shows the
catalog's sentence for it (js.finish_<code>) in the visitor's language, and the catalog's English is
the sentence here (tested)."""

RUN_ENDINGS = {
    "cancelled_queued": "cancelled while queued",
    "worker_died": "the worker process training this run died (exit code {exit_code}); a new worker has "
    "taken its place, so the run can be started again",
    "no_worker": "no training worker could start on this server; its log says why",
    "server_stopped": "the server stopped while this run was queued or running",
    "store_failed": "the server could not save this run ({error}): its disk may be full or read-only, so "
    "the run was stopped rather than lost without a word",
    "worker_lost": "the worker training this run stopped answering (no heartbeat for {seconds} s): it was "
    "killed or lost its machine",
}


def ended(status: str, code: str, **params) -> dict:
    """The finished event of a run that ends outside its trainer."""
    message = RUN_ENDINGS[code].format(**params)
    return {
        "type": "finished",
        "status": status,
        "message": message,
        "epochs_done": 0,
        "code": code,
        "params": params,
    }
