"""Defaults per (model, dataset): the settings a run takes for every field its caller leaves out.

On Fashion-MNIST they are the book's (chapter 3 / 4: batch 256, lr 0.1 for softmax regression and 0.5
for the MLP, 256 hidden units, weights ~ N(0, 0.01^2), 10 epochs), which are also the spec classes' own
field defaults. The book's batch of 256 gives Fashion-MNIST's 60,000 images 235 steps an epoch; the small
sets here would get 2 to 6, far too few to learn anything in 10 epochs. So the small sets keep the book's
learning rates and model, and take small batches and more epochs instead, chosen so that Train, untouched,
shows the lesson in a few seconds on a 2-core CPU (measured, seeds 0-3):

- digits (1,438 training images): batch 32, 20 epochs: softmax 96% test accuracy, MLP 98%, under a second;
- the 2-D sets (450 training points): batch 16, 50 epochs, lr 0.5 for both models: the MLP 97-100% on
  spiral, xor and circles, softmax regression 45-61% on them (a straight line cannot separate them) and
  94% on blobs, one to two seconds.

Linear regression keeps the book's values (lr 0.03, batch 10, 3 epochs), its spec's field defaults.
tests/training/test_defaults.py trains each pair on its defaults and checks these figures.
"""

BOOK = "fashion-mnist"  # the book's data; "auto" without a concrete choice takes its defaults
TOY_SETS = ("blobs", "spiral", "circles", "xor")

DEFAULTS: dict[tuple[str, str], dict] = {
    ("linreg", "synthetic-linear"): {"lr": 0.03, "batch_size": 10, "epochs": 3},
    ("softmax", BOOK): {"lr": 0.1, "batch_size": 256, "epochs": 10},
    ("mlp", BOOK): {"lr": 0.5, "batch_size": 256, "epochs": 10, "hidden_units": 256},
    ("softmax", "digits"): {"lr": 0.1, "batch_size": 32, "epochs": 20},
    ("mlp", "digits"): {"lr": 0.5, "batch_size": 32, "epochs": 20, "hidden_units": 256},
    **{("softmax", name): {"lr": 0.5, "batch_size": 16, "epochs": 50} for name in TOY_SETS},
    **{("mlp", name): {"lr": 0.5, "batch_size": 16, "epochs": 50, "hidden_units": 256} for name in TOY_SETS},
}


def defaults_for(model, dataset) -> dict:
    """The (model, dataset) pair's defaults, a new dict; {} for a pair there is none for (a name that is
    not a model or not a dataset: validation then says what is wrong). "auto" takes the book's."""
    if not isinstance(model, str) or not isinstance(dataset, str):
        return {}
    if dataset == "auto":
        dataset = BOOK
    return dict(DEFAULTS.get((model, dataset), {}))


def auto_dataset_name(fashion_mnist_on_disk: bool) -> str:
    """What the dataset "auto" stands for: Fashion-MNIST when its files are on disk, else the offline
    digits. data.auto_dataset(data_dir) looks at the disk; the web process, which never imports torch
    (and so not app.training.data), passes its own look at the same four files."""
    return "fashion-mnist" if fashion_mnist_on_disk else "digits"
