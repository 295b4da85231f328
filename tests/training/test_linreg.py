import pytest

from .helpers import last_epoch, of_type, run, snapshots

TRUE_W, TRUE_B = [2.0, -3.4], 4.2


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_book_defaults_recover_the_true_parameters(data_dir, impl):
    events = run(data_dir, model="linreg", impl=impl)
    final = snapshots(events, "linear")[-1].data
    assert events[-1].status == "done"
    assert all(abs(w - t) < 0.01 for w, t in zip(final["w"], TRUE_W, strict=True))
    assert abs(final["b"] - TRUE_B) < 0.01
    assert last_epoch(events).train_loss < 1e-4
    assert last_epoch(events).test_loss < 1e-4


def test_three_epochs_of_book_defaults_like_the_book(data_dir):
    """The book prints loss ~5e-5 after 3 epochs; noise std 0.01 puts the floor at 0.01^2 / 2."""
    epochs = of_type(run(data_dir, model="linreg"), "epoch")
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert 2e-5 < epochs[-1].train_loss < 1e-4
    assert epochs[0].train_loss > epochs[-1].train_loss


def test_a_one_feature_set_fits_a_line(data_dir):
    events = run(data_dir, model="linreg", true_w=[1.5], true_b=-2.0, epochs=5)
    final = snapshots(events, "linear")[-1].data
    assert abs(final["w"][0] - 1.5) < 0.01 and abs(final["b"] + 2.0) < 0.01
    assert events[0].num_inputs == 1 and len(events[0].preview["X"][0]) == 1


def test_weight_snapshots_follow_the_step_events(data_dir):
    events = run(data_dir, model="linreg")
    steps = [e.step for e in of_type(events, "step")]
    linear_steps = [e.step for e in snapshots(events, "linear") if e.step > 0]
    assert set(steps) <= set(linear_steps)
