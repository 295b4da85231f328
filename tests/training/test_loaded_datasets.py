"""A worker keeps the datasets it has loaded, within a memory limit, and a run never changes them."""

from app.training.data import LOADED, LoadedDatasets, load_dataset, size_in_bytes
from app.training.specs import parse_spec

from .helpers import run, write_fashion_like_files


def test_the_second_load_is_the_first_dataset(tmp_path):
    write_fashion_like_files(tmp_path, n_train=200, n_test=50)
    for dataset in ("fashion-mnist", "digits", "spiral"):
        spec = parse_spec({"model": "softmax", "dataset": dataset})
        assert load_dataset(spec, tmp_path) is load_dataset(spec, tmp_path)
    noisier = parse_spec({"model": "softmax", "dataset": "spiral", "noise": 0.5})
    assert load_dataset(noisier, tmp_path) is not load_dataset(
        parse_spec({"model": "softmax", "dataset": "spiral"}), tmp_path
    )


def test_the_least_recently_used_dataset_goes_when_the_limit_is_reached(tmp_path):
    specs = [parse_spec({"model": "mlp", "dataset": "xor", "seed": seed}) for seed in range(3)]
    one = size_in_bytes(load_dataset(specs[0], tmp_path))
    kept = LoadedDatasets(limit_bytes=2 * one)
    for spec in specs:
        kept.keep((spec.seed,), load_dataset(spec, tmp_path))
    assert list(kept.kept) == [(1,), (2,)]


def test_a_run_leaves_the_kept_dataset_as_it_found_it(tmp_path):
    """Two runs of one spec on the one kept dataset: the same numbers, all but the clock's."""
    spec = {"model": "mlp", "dataset": "circles", "epochs": 2}
    first, second = run(tmp_path, **spec), run(tmp_path, **spec)
    assert LOADED.get(("circles", 600, 0.2, 0)) is not None
    assert len(first) == len(second) and any(event.type == "epoch" for event in first)
    clock = {"seconds", "examples_per_sec"}
    for a, b in zip(first, second, strict=True):
        assert a.model_dump(exclude=clock) == b.model_dump(exclude=clock)
