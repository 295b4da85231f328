"""Each course pitfall, switched on, shows its documented failure; the same run without it succeeds."""

import pytest

from .helpers import last_epoch, run, snapshots

TRUE_W = [2.0, -3.4]


def final_weights(events):
    return snapshots(events, "linear")[-1].data["w"]


def distance_to_truth(weights):
    return max(abs(w - t) for w, t in zip(weights, TRUE_W, strict=True))


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_broadcast_bug_stops_linear_regression_from_learning(data_dir, impl):
    good = run(data_dir, model="linreg", impl=impl)
    bad = run(data_dir, model="linreg", impl=impl, broadcast_bug=True)
    assert distance_to_truth(final_weights(good)) < 0.01
    assert distance_to_truth(final_weights(bad)) > 1.0  # the book's code ends near w = [0.1, -0.3]
    assert last_epoch(bad).train_loss > 1.0


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_skipping_zero_grad_piles_up_gradients(data_dir, impl):
    good = run(data_dir, model="linreg", impl=impl)
    bad = run(data_dir, model="linreg", impl=impl, skip_zero_grad=True)
    assert good[-1].status == "done"
    assert bad[-1].status == "diverged" or distance_to_truth(final_weights(bad)) > 0.5


def test_naive_softmax_overflows_on_large_scores(data_dir):
    spec = dict(model="softmax", dataset="digits", batch_size=32, lr=10, epochs=10)
    stable = run(data_dir, **spec)
    naive = run(data_dir, naive_softmax=True, **spec)
    assert stable[-1].status == "done" and last_epoch(stable).test_acc > 0.85
    assert naive[-1].status == "diverged"
    assert "naive softmax" in naive[-1].message and "nan" in naive[-1].message.lower()


def test_naive_softmax_is_harmless_while_scores_stay_small(data_dir):
    spec = dict(model="softmax", dataset="digits", batch_size=32, epochs=2)
    assert (
        last_epoch(run(data_dir, **spec)).test_acc
        == last_epoch(run(data_dir, naive_softmax=True, **spec)).test_acc
    )
