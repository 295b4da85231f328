import pytest

from .helpers import last_epoch, run

CASES = {
    "softmax-digits": (dict(model="softmax", dataset="digits", batch_size=32, epochs=10), 0.90),
    "mlp-digits": (dict(model="mlp", dataset="digits", batch_size=16, lr=0.5, epochs=10), 0.95),
    "mlp-spiral": (
        dict(model="mlp", dataset="spiral", hidden_units=64, init_std=0.5, batch_size=16, lr=0.5, epochs=60),
        0.95,
    ),
    "softmax-blobs": (dict(model="softmax", dataset="blobs", batch_size=32, epochs=10), 0.90),
}


@pytest.mark.parametrize("case", CASES)
def test_reaches_the_target_accuracy_and_both_implementations_agree(data_dir, case):
    spec, target = CASES[case]
    scratch = last_epoch(run(data_dir, impl="scratch", **spec))
    concise = last_epoch(run(data_dir, impl="concise", **spec))
    assert scratch.test_acc >= target
    assert concise.test_acc >= target
    assert abs(scratch.test_acc - concise.test_acc) <= 0.01


def test_softmax_cannot_untangle_the_spiral_but_the_mlp_can(data_dir):
    spec = dict(dataset="spiral", init_std=0.5, batch_size=16, lr=0.5, epochs=30)
    linear = last_epoch(run(data_dir, model="softmax", **spec))
    mlp = last_epoch(run(data_dir, model="mlp", hidden_units=64, **spec))
    assert linear.test_acc < 0.7 < mlp.test_acc


def test_an_untrained_softmax_guesses(data_dir):
    started = run(data_dir, model="softmax", dataset="digits", epochs=1)[0]
    assert 0.03 <= started.initial_test_acc <= 0.2


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu"])
@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_every_activation_learns(data_dir, activation, impl):
    events = run(
        data_dir,
        model="mlp",
        dataset="digits",
        hidden_units=64,
        activation=activation,
        impl=impl,
        batch_size=32,
        lr=0.5,
        epochs=5,
        init_std=0.1,
    )
    assert events[-1].status == "done"
    assert last_epoch(events).test_acc > 0.9


def test_two_sigmoid_layers_learn_slower_than_two_relu_layers(data_dir):
    """Saturating sigmoids pass back small gradients: after 5 epochs the deeper sigmoid net lags behind."""
    spec = dict(
        model="mlp", dataset="digits", hidden_layers=2, hidden_units=64, batch_size=32, epochs=5, init_std=0.1
    )
    sigmoid = last_epoch(run(data_dir, activation="sigmoid", **spec)).test_acc
    relu = last_epoch(run(data_dir, activation="relu", **spec)).test_acc
    assert sigmoid < relu - 0.2
