"""The 2-D sets' data controls: noise, number of points, test share and data seed reach the data a run
trains on and the points its map draws; the same spec always draws the same points, and specs left as
they were draw the points they drew before these controls existed."""

import pytest
import torch

from app.training.budget import data_shape
from app.training.cohort import signature
from app.training.data import load_dataset
from app.training.data.toy2d import toy2d
from app.training.snapshots import PREVIEW_POINTS
from app.training.specs import SpecError, parse_spec

from .helpers import of_type, run

TOY = {"model": "mlp", "dataset": "circles", "epochs": 1, "hidden_units": 8}


def loaded(tmp_path, **settings):
    return load_dataset(parse_spec(TOY | settings), tmp_path)


def all_points(dataset):
    return torch.cat([dataset.X_train, dataset.X_test])


def test_the_defaults_draw_what_the_run_seed_drew_before(tmp_path):
    spec = parse_spec(TOY | {"seed": 5})
    assert (spec.test_share, spec.data_seed) == (0.25, 0)
    before = toy2d("circles", 600, 0.2, 5)  # the call load_dataset made before the data controls
    now = load_dataset(spec, tmp_path)
    assert torch.equal(now.X_train, before.X_train) and torch.equal(now.X_test, before.X_test)
    assert len(now.X_test) == 150


def test_the_same_spec_draws_the_same_points_and_another_data_seed_others(tmp_path):
    first = toy2d("spiral", 400, 0.3, 11, 0.3)
    again = toy2d("spiral", 400, 0.3, 11, 0.3)
    assert torch.equal(all_points(first), all_points(again)) and torch.equal(first.y_test, again.y_test)
    other = loaded(tmp_path, data_seed=12345)
    assert not torch.equal(all_points(other), all_points(loaded(tmp_path)))
    assert not torch.equal(all_points(other), all_points(loaded(tmp_path, data_seed=12346)))


def test_the_data_seed_draws_the_points_and_leaves_the_run_seed_alone(tmp_path):
    """data_seed 7 draws what seed 7 would draw; the run seed still starts the weights and the order."""
    by_data_seed = loaded(tmp_path, seed=0, data_seed=7)
    assert torch.equal(all_points(by_data_seed), all_points(loaded(tmp_path, seed=7)))
    same_data = [run(tmp_path, **TOY, seed=seed, data_seed=7) for seed in (0, 1)]
    previews = [of_type(events, "started")[0].preview for events in same_data]
    assert previews[0] == previews[1]
    losses = [of_type(events, "started")[0].initial_test_loss for events in same_data]
    assert losses[0] != losses[1]  # other starting weights on the same points


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5])
def test_the_test_share_splits_the_points(tmp_path, share):
    dataset = loaded(tmp_path, n_examples=200, test_share=share)
    assert len(dataset.X_test) == int(200 * share) and len(dataset.X_train) == 200 - int(200 * share)
    assert torch.equal(all_points(dataset), all_points(loaded(tmp_path, n_examples=200)))  # same points
    spec = parse_spec(TOY | {"n_examples": 200, "test_share": share}).model_dump()
    assert data_shape(spec)[:2] == (len(dataset.X_train), len(dataset.X_test))


def test_noise_and_number_of_points_reach_the_data(tmp_path):
    assert len(all_points(loaded(tmp_path, n_examples=90))) == 90
    assert not torch.equal(all_points(loaded(tmp_path, noise=0.9)), all_points(loaded(tmp_path)))


@pytest.mark.parametrize(
    "settings",
    [{"test_share": 0.05}, {"test_share": 0.6}, {"data_seed": -1}, {"data_seed": 2**31}, {"data_seed": 1.5}],
)
def test_settings_out_of_bounds_are_refused(settings):
    with pytest.raises(SpecError):
        parse_spec(TOY | settings, strict=True)


def test_the_image_sets_ignore_them(tmp_path):
    plain = load_dataset(parse_spec({"model": "softmax", "dataset": "digits"}), tmp_path)
    changed = parse_spec({"model": "softmax", "dataset": "digits", "test_share": 0.5, "data_seed": 9})
    assert load_dataset(changed, tmp_path) is plain


def test_the_preview_carries_training_and_test_points_bounded(tmp_path):
    events = run(tmp_path, **TOY, n_examples=2000, test_share=0.5, data_seed=3)
    preview = of_type(events, "started")[0].preview
    dataset = loaded(tmp_path, n_examples=2000, test_share=0.5, data_seed=3)
    assert len(preview["X_train"]) == len(preview["labels_train"]) == PREVIEW_POINTS
    assert len(preview["X"]) == len(preview["labels"]) == PREVIEW_POINTS
    assert preview["labels_train"] == dataset.y_train[:PREVIEW_POINTS].tolist()
    assert preview["labels"] == dataset.y_test[:PREVIEW_POINTS].tolist()
    small = of_type(run(tmp_path, **TOY, n_examples=100), "started")[0].preview
    assert (len(small["X_train"]), len(small["X"])) == (75, 25)


def test_runs_on_other_data_never_share_a_cohort():
    base = signature(parse_spec(TOY))
    assert base == signature(parse_spec(TOY | {"lr": 0.1}))
    assert base != signature(parse_spec(TOY | {"data_seed": 4}))
    assert base != signature(parse_spec(TOY | {"test_share": 0.4}))
    assert signature(parse_spec({"model": "mlp", "dataset": "digits"})) == signature(
        parse_spec({"model": "mlp", "dataset": "digits", "data_seed": 4})
    )
