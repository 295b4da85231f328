"""Pool sizing from the settings: one worker per GPU, else one per two cores; explicit values win."""

import os

from app.settings import Settings


def test_explicit_worker_count_wins():
    assert Settings(workers=3).worker_count() == 3


def test_cpu_only_machines_get_a_worker_per_two_cores(monkeypatch):
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    assert Settings(device="auto").worker_count() == max(1, (os.cpu_count() or 2) // 2)
    assert Settings(device="auto").worker_device(1) == "auto"


def test_workers_are_spread_over_the_gpus(monkeypatch):
    monkeypatch.setattr("glob.glob", lambda pattern: ["/dev/nvidia0", "/dev/nvidia1"])
    settings = Settings(device="auto")
    assert settings.worker_count() == 2
    assert [settings.worker_device(n) for n in range(4)] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert Settings(device="cpu").worker_count() == max(1, (os.cpu_count() or 2) // 2)
