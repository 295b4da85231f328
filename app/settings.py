"""All configuration in one place, read from `PLAYGROUND_*` environment variables."""

import glob
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

FASHION_MNIST_MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLAYGROUND_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path.home() / ".cache" / "d2l-playground", description="datasets and the run store"
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="where training runs")
    fashion_mnist_mirrors: list[str] = Field(
        default_factory=lambda: list(FASHION_MNIST_MIRRORS),
        description="base URLs tried in order for the four Fashion-MNIST files",
    )
    download_timeout_s: float = Field(30.0, gt=0, le=600, description="socket timeout for one download")
    host: str = Field("127.0.0.1", description="address `serve` listens on")
    port: int = Field(8000, ge=1, le=65535, description="port `serve` listens on")
    workers: int = Field(0, ge=0, le=64, description="training processes; 0 picks one per two CPU cores")
    worker_threads: int = Field(
        0, ge=0, le=64, description="torch threads per worker; 0 shares the cores out"
    )
    cohort_max: int = Field(
        32, ge=1, le=64, description="runs that share their minibatches trained as one model, at most"
    )
    pause_timeout_s: float = Field(
        600.0,
        ge=1,
        le=86_400,
        description="a paused run holds its worker; it is ended after this long paused",
    )
    queue_limit: int = Field(100, ge=1, le=10_000, description="runs that may wait; more are refused (429)")
    database_url: str = Field("", description="SQLAlchemy URL of the run store; empty: SQLite in data_dir")
    broker_url: str = Field(
        "",
        description="redis://host:port/db: train on Celery workers, stream through Redis; empty: local pool",
    )
    heartbeat_timeout_s: float = Field(
        15.0, ge=1, le=600, description="a broker worker silent this long has its run ended as failed"
    )
    stream_maxlen: int = Field(
        20_000, ge=100, le=1_000_000, description="events kept per run in its Redis stream (approximate cap)"
    )
    worker_queues: str = Field(
        "", description="queues a broker worker takes runs from; empty: gpu,cpu with a GPU, else cpu"
    )
    gpu_queue: bool = Field(
        False, description="route image-set runs to the broker's gpu queue (CUDA workers take them)"
    )
    # --- a server a whole class shares ------------------------------------------------------------
    secret_key: str = Field(
        "", description="signs visitor cookies; empty: made once, kept in data_dir (replicas share one)"
    )
    admin_token: str = Field(
        "", description="a bearer token that may list, cancel and delete every run; empty: no admin"
    )
    max_runs_per_visitor: int = Field(
        3, ge=1, le=1000, description="runs (a race counts once) one visitor may have waiting or running"
    )
    max_run_work: float = Field(
        2.4e13,
        gt=0,
        le=1e18,
        description="work budget of one run, floating-point operations (~10 min here)",
    )
    max_step_work: float = Field(
        4.0e10, gt=0, le=1e16, description="work budget of one training step (keeps cancel under a second)"
    )
    max_run_events: int = Field(
        100_000, ge=100, le=10_000_000, description="events one run may produce (step events x epochs)"
    )
    event_memory_mb: float = Field(
        256, gt=0, le=65536, description="memory the web process may hold for live runs' events, in MB"
    )
    sse_send_timeout_s: float = Field(
        15.0, gt=0, le=3600, description="an event-stream viewer that reads nothing this long is dropped"
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, le=1_000_000_000, description="largest request body accepted (413 above)"
    )

    def gpu_count(self) -> int:
        """NVIDIA GPUs on this machine, counted without importing torch (the web process never does)."""
        if self.device not in ("auto", "cuda"):
            return 0
        return len(glob.glob("/dev/nvidia[0-9]*"))

    def worker_count(self) -> int:
        """One worker per GPU, else one per two CPU cores, unless PLAYGROUND_WORKERS says otherwise."""
        return self.workers or self.gpu_count() or max(1, (os.cpu_count() or 2) // 2)

    def worker_device(self, worker_number: int) -> str:
        """Spread the workers over the GPUs; on CPU-only machines every worker uses the setting as is."""
        gpus = self.gpu_count()
        return f"cuda:{worker_number % gpus}" if gpus else self.device

    def threads_per_worker(self) -> int:
        return self.worker_threads or max(1, (os.cpu_count() or 1) // self.worker_count())

    def queues_to_consume(self) -> list[str]:
        """A broker worker's queues: as set, else the gpu queue first where a GPU is present."""
        if self.worker_queues:
            return [q.strip() for q in self.worker_queues.split(",") if q.strip()]
        return ["gpu", "cpu"] if self.gpu_count() else ["cpu"]

    def run_store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'runs.sqlite3'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
