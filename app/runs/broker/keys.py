"""Every Redis key the broker backend uses, in one place. A run's keys expire KEEP_S after it ends."""

import hashlib

PREFIX = "playground"
QUEUED = f"{PREFIX}:queued"  # sorted set: run id -> submit order (the FIFO the page shows)
RUNNING = f"{PREFIX}:running"  # set: runs a worker has claimed and not yet ended
ORDER = f"{PREFIX}:order"  # counter behind the queue's scores
KEEP_S = 7 * 24 * 3600  # longer than the broker's visibility timeout, so a redelivery is recognised
FIELD = "e"  # each stream entry holds one field: the event as JSON


def stream(run_id: str) -> str:
    return f"{PREFIX}:run:{run_id}:events"


def owner(run_id: str) -> str:
    """SET NX by whoever takes the run first: a worker starting it, or a canceller ending it queued."""
    return f"{PREFIX}:run:{run_id}:owner"


def ended(run_id: str) -> str:
    """SET NX by whoever writes the finished event, so a run ends exactly once."""
    return f"{PREFIX}:run:{run_id}:ended"


def alive(run_id: str) -> str:
    """The worker's heartbeat: refreshed every third of the timeout, expires when the worker is gone."""
    return f"{PREFIX}:run:{run_id}:alive"


def cancel(run_id: str) -> str:
    """The cancel flag the trainer checks between steps, on whichever machine it runs."""
    return f"{PREFIX}:run:{run_id}:cancel"


def sharing(signature: tuple) -> str:
    """Hash: run id -> spec of the waiting runs with this cohort signature. A worker starting one of
    them takes the others along (app/training/cohort); a run leaves it when a worker examines it."""
    digest = hashlib.sha1(repr(signature).encode()).hexdigest()[:20]
    return f"{PREFIX}:sharing:{digest}"
