"""The Celery application both sides share: the web publishes tasks by name, workers execute them.

Delivery choices, because a run can last minutes and must never run twice:
- acks_late + prefetch 1: a worker holds only the run it is training, so a queued run never sits
  behind a busy worker while another is idle;
- a visibility timeout far beyond any run, and a claim key (keys.owner) the task sets with NX before it
  trains: if the broker ever redelivers a run, the second delivery sees the claim and does nothing.
A worker that dies mid-run is noticed by its heartbeat (keys.alive), not by the broker.
"""

from celery import Celery

from app.settings import Settings

TASK_NAME = "playground.train"
COHORT_TASK_NAME = "playground.train_cohort"  # [[run id, spec], ...] that share one cohort signature
IMAGE_DATASETS = ("auto", "fashion-mnist", "digits")  # "auto" is one of the two


def make_celery(settings: Settings) -> Celery:
    app = Celery("d2l_playground", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_default_queue="cpu",
        task_ignore_result=True,
        broker_transport_options={"visibility_timeout": 12 * 3600},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


def queue_for(spec: dict, settings: Settings) -> str:
    """Image-set runs go to the gpu queue when the deployment has one; everything else to cpu."""
    return "gpu" if settings.gpu_queue and spec.get("dataset") in IMAGE_DATASETS else "cpu"
