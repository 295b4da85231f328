"""One training run, from spec to events, the way the book's train loop reads.

    for epoch: for minibatch: loss, backward, sgd step;  then evaluate on the test set

Everything heavy stays on the run's device. Losses and correct counts are summed into tensors and read
back (.item(), a device sync) only when an event is due, a fixed number of times per epoch.
"""

import copy
import math
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from .data import Dataset, load_dataset
from .data.download import DownloadError
from .defaults import defaults_for
from .device import pick_device
from .events import Epoch, Event, Finished, Snapshot, Started, Step
from .insights import LANDSCAPE_LIMIT, Landscape, LayerProbe, confusion_matrix
from .models import build_model, count_parameters
from .models.mlp import ACTIVATIONS
from .snapshots import downhill, grid_extent, linear_data, neurons_data, preview, snapshot
from .specs import DEFAULT_LR, RunSpec

EVAL_CHUNK = 4096
EVAL_CHUNK_FLOPS = 1e10  # a chunk of the test set costs at most this (about a quarter second here)
# Layer health on at most one step in 16 (after steps 1, 2, 4, 8), always a step event: ~5% extra work.
PROBE_MIN_INTERVAL = 16
EXPLODED_FACTOR = 100  # a loss this many times the untrained model's (or 1, if larger) has diverged


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch, numpy and random; return the generator that draws this run's weights and batches."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    return torch.Generator().manual_seed(seed)


def minibatches(X: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator):
    """Shuffle the indices once per epoch, then take consecutive slices (the last may be short)."""
    order = torch.randperm(len(X), generator=generator).to(X.device)
    for start in range(0, len(X), batch_size):
        indices = order[start : start + batch_size]
        yield (
            X.index_select(0, indices),
            y.index_select(0, indices),
        )  # the book's data_iter; 6x faster than X[i]


class Stopped(Exception):
    """Cancel was asked for in the middle of an evaluation."""


def eval_chunk(model) -> int:
    """Examples per evaluation chunk: large, but small enough for a big model to notice a cancel soon."""
    flops_per_example = 2 * count_parameters(model)
    return int(min(EVAL_CHUNK, max(64, EVAL_CHUNK_FLOPS // max(flops_per_example, 1))))


@torch.no_grad()
def evaluate(model, X: torch.Tensor, y: torch.Tensor, num_classes: int = 0, should_stop=lambda: False):
    """Mean loss and accuracy (None for regression) on a whole split, in large chunks; with
    `num_classes`, also the confusion matrix (counts[true, predicted]) as a third value. Raises Stopped
    when `should_stop()` turns true between two chunks."""
    loss_sum = torch.zeros((), device=X.device)
    correct = torch.zeros((), device=X.device)
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=X.device)
    chunk = eval_chunk(model)
    for start in range(0, len(X), chunk):
        if should_stop():
            raise Stopped
        X_chunk, y_chunk = X[start : start + chunk], y[start : start + chunk]
        out = model.forward(X_chunk)
        loss_sum += model.loss(out, y_chunk).mean() * len(X_chunk)
        if y.dtype == torch.int64:
            predicted = out.argmax(dim=1)
            correct += (predicted == y_chunk).sum()
            if num_classes:
                confusion += confusion_matrix(predicted, y_chunk, num_classes)
    accuracy = correct.item() / len(X) if y.dtype == torch.int64 else None
    if num_classes:
        return loss_sum.item() / len(X), accuracy, confusion
    return loss_sum.item() / len(X), accuracy


def step_event_due(step: int, interval: int) -> bool:
    """Every `interval` steps; before the first interval also at steps 1, 2, 4, 8, ... so a slow run
    shows its first points at once. A pure function of the step, so equal seeds give equal streams."""
    return step % interval == 0 or (step < interval and step & (step - 1) == 0)


def step_interval(spec: RunSpec, n_train: int) -> int:
    """Steps between two step events: about `step_events_per_epoch` of them per epoch."""
    return max(1, math.ceil(n_train / spec.batch_size) // spec.step_events_per_epoch)


def probe_due(step: int, interval: int) -> bool:
    """Layer health on a step event that is also due at the sparser probe interval (a multiple of
    `interval`), so the layer health a step event carries is always that step's own."""
    sparse = interval * math.ceil(PROBE_MIN_INTERVAL / interval)
    return step_event_due(step, interval) and step_event_due(step, sparse)


def diverged(loss: float, initial_loss: float) -> bool:
    """NaN or inf, or so far above where training started that it is running away."""
    return not math.isfinite(loss) or loss > EXPLODED_FACTOR * max(initial_loss, 1.0)


# What `pace` answers before a minibatch: train it, train it as a step asked for by hand, or stop (paused
# past PLAYGROUND_PAUSE_TIMEOUT_S; PAUSE_MINUTES is only the figure the ending's message quotes).
GO, STEP, TOO_LONG = "go", "step", "too_long"
PAUSE_MINUTES = 10


# How a run ends, in words; `code` and the values let the web say the same in another language.
ENDINGS = {
    "done": "training ended after epoch {epochs}",
    "cancelled": "cancelled at step {step}",
    "paused_too_long": "paused at step {step} for longer than {minutes} minutes, so the run was ended to "
    "free its worker for others; start it again to go on",
    "diverged_naive": "loss became {loss} (the untrained model's was {initial}): exp() overflowed in the "
    "naive softmax (scores above about 88 give inf/inf = NaN). Turn naive_softmax off: subtracting each "
    "row's max first gives the same probabilities without overflow.",
    "diverged_zero_grad": "loss became {loss} (the untrained model's was {initial}): zero_grad was skipped, "
    "so every step used the sum of all earlier gradients and the steps kept growing. Clear the gradients "
    "after each update.",
    "diverged_lr": "loss became {loss} (the untrained model's was {initial}): learning rate {lr} is too high "
    "for this model; try {suggestion} or less.",
}


def ending(status: str, code: str, epochs_done: int, **params) -> Finished:
    return Finished(
        status=status,
        message=ENDINGS[code].format(**params),
        epochs_done=epochs_done,
        code=code,
        params=params,
    )


def divergence(spec: RunSpec, loss: float, initial_loss: float, epochs_done: int) -> Finished:
    """Why the loss ran away, and what to change."""
    values = {"loss": f"{loss:.4g}", "initial": f"{initial_loss:.4g}"}
    if getattr(spec, "naive_softmax", False) and not math.isfinite(loss):
        return ending("diverged", "diverged_naive", epochs_done, **values)
    if spec.skip_zero_grad:
        return ending("diverged", "diverged_zero_grad", epochs_done, **values)
    usual = defaults_for(spec.model, getattr(spec, "dataset", "")).get("lr", DEFAULT_LR[spec.model])
    suggestion = usual if spec.lr > usual else spec.lr / 10
    return ending(
        "diverged", "diverged_lr", epochs_done, lr=f"{spec.lr:g}", suggestion=f"{suggestion:g}", **values
    )


def train(
    spec: RunSpec,
    *,
    data_dir: Path,
    device: str = "auto",
    should_stop: Callable[[], bool] = lambda: False,
    on_download_progress: Callable[[str, int, int | None], None] | None = None,
    pace: Callable[[], str] | None = None,
) -> Iterator[Event]:
    """Run `spec` to the end, yielding events; the last one is always `finished`.

    `pace`, if given, is asked before each minibatch and may wait there (a paused or slowed run): it
    answers GO, STEP (this one minibatch was asked for by hand: it gets its own step event and pictures,
    outside the regular ones, which stay exactly those of a run straight through) or TOO_LONG (paused
    past the limit: the run ends)."""
    try:
        yield from _train(spec, data_dir, pick_device(device), should_stop, on_download_progress, pace)
    except DownloadError as error:  # coded, so the page says it in the visitor's language
        yield Finished(
            status="failed", message=str(error), code=f"download_{error.code}", params=error.values
        )
    except Exception as error:  # the run ends `failed`; the caller's process lives on
        yield Finished(status="failed", message=f"{type(error).__name__}: {error}")


def _train(spec, data_dir, device, should_stop, on_download_progress, pace=None) -> Iterator[Event]:
    generator = seed_everything(spec.seed)
    data: Dataset = load_dataset(spec, data_dir, on_progress=on_download_progress).to(device)
    model = build_model(spec, data.num_inputs, data.num_outputs, generator, device)
    extent = grid_extent(data) if data.task == "classification" and data.image_shape is None else None
    try:
        initial_loss, initial_acc = evaluate(model, data.X_test, data.y_test, should_stop=should_stop)
    except Stopped:
        yield ending("cancelled", "cancelled", 0, step=0)
        return
    yield started_event(spec, data, device, count_parameters(model), initial_loss, initial_acc)
    first = snapshot(model, data, extent, step=0, epoch=0)
    yield first
    yield from neurons_snapshot(spec, model, data, extent, step=0, epoch=0)
    landscape = make_landscape(spec, data)
    if landscape:
        landscape.follow(first.data["w"])
        yield landscape_snapshot(landscape, first.data["b"], step=0, epoch=0)
    model.probe = LayerProbe(spec.activation) if spec.model == "mlp" and spec.insights else None
    confusion_of = data.num_outputs if data.task == "classification" and spec.insights else 0

    step = 0
    for epoch in range(1, spec.epochs + 1):
        started_at = time.perf_counter()
        run = EpochRun(spec, model, data, extent, epoch, step, initial_loss, landscape)
        outcome = yield from run.train(generator, should_stop, pace)
        if outcome is not None:
            yield outcome
            return
        step = run.step
        try:
            test_loss, test_acc, *confusion = evaluate(
                model, data.X_test, data.y_test, confusion_of, should_stop
            )
        except Stopped:
            yield ending("cancelled", "cancelled", epoch - 1, step=run.step)
            return
        train_loss, train_acc = run.train_metrics()
        for loss in (train_loss, test_loss):
            if diverged(loss, initial_loss):
                yield divergence(spec, loss, initial_loss, epochs_done=epoch - 1)
                return
        seconds = time.perf_counter() - started_at
        yield Epoch(
            epoch=epoch,
            train_loss=train_loss,
            train_acc=train_acc,
            test_loss=test_loss,
            test_acc=test_acc,
            seconds=seconds,
            examples_per_sec=len(data.X_train) / seconds,
        )
        last = snapshot(model, data, extent, step, epoch)
        yield last
        yield from neurons_snapshot(spec, model, data, extent, step, epoch)
        if landscape:  # b has moved since the last map: draw the surface for the current b
            landscape.fit(landscape.path)
            yield landscape_snapshot(landscape, last.data["b"], step, epoch)
        if confusion:
            yield Snapshot(step=step, epoch=epoch, kind="confusion", data={"matrix": confusion[0].tolist()})
    yield ending("done", "done", spec.epochs, epochs=spec.epochs)


def started_event(
    spec: RunSpec, data: Dataset, device, param_count: int, initial_loss: float, initial_acc: float | None
) -> Started:
    """What the run is about to do, and how the untrained model scores on the test set."""
    steps_per_epoch = math.ceil(len(data.X_train) / spec.batch_size)
    return Started(
        spec=spec.model_dump(),
        device=str(device),
        dataset=data.name,
        n_train=len(data.X_train),
        n_test=len(data.X_test),
        num_inputs=data.num_inputs,
        num_outputs=data.num_outputs,
        param_count=param_count,
        steps_per_epoch=steps_per_epoch,
        total_steps=steps_per_epoch * spec.epochs,
        initial_test_loss=initial_loss,
        initial_test_acc=initial_acc,
        class_names=data.class_names,
        preview=preview(data),
    )


def make_landscape(spec: RunSpec, data: Dataset) -> Landscape | None:
    """A loss map for linear regression on two features (the book's data), when insights are on."""
    if spec.model != "linreg" or not spec.insights or data.num_inputs != 2:
        return None
    return Landscape(data, fixed_b=spec.true_b if spec.landscape_fix_b else None)


def landscape_snapshot(landscape: Landscape, b: float, step: int, epoch: int) -> Snapshot:
    return Snapshot(step=step, epoch=epoch, kind="landscape", data=landscape.grid(b))


def neurons_snapshot(
    spec: RunSpec, model, data: Dataset, extent, step: int, epoch: int, by_hand: bool = False
) -> Iterator[Snapshot]:
    """The network drawn unit by unit, next to the boundary: an MLP on a 2-D set with `neurons` on."""
    if spec.model != "mlp" or not spec.neurons or extent is None:
        return
    drawing = neurons_data(model, ACTIVATIONS[spec.activation], extent, data.X_train.device)
    yield Snapshot(step=step, epoch=epoch, kind="neurons", data=drawing, by_hand=by_hand)


class EpochRun:
    """One pass over the training set: the minibatch loop and the running sums it keeps on the device."""

    def __init__(
        self, spec, model, data: Dataset, extent, epoch: int, step: int, initial_loss: float, landscape
    ):
        self.spec, self.model, self.data, self.extent = spec, model, data, extent
        self.landscape, self.probe = landscape, model.probe
        self.epoch, self.step, self.initial_loss = epoch, step, initial_loss
        self.step_interval = step_interval(spec, len(data.X_train))
        device = data.X_train.device
        self.loss_sum = torch.zeros((), device=device)  # summed over the epoch's examples
        self.correct = torch.zeros((), device=device)
        self.window_loss = torch.zeros((), device=device)  # summed since the last step event
        self.window_examples = 0

    def train(self, generator, should_stop, pace=None) -> Iterator[Event]:
        """Yield step events (and live snapshots); return a Finished event if the run must end early."""
        classifier = self.data.task == "classification"
        for X, y in minibatches(self.data.X_train, self.data.y_train, self.spec.batch_size, generator):
            turn = pace() if pace else GO
            if should_stop():
                return ending("cancelled", "cancelled", self.epoch - 1, step=self.step)
            if turn == TOO_LONG:
                return ending(
                    "cancelled",
                    "paused_too_long",
                    self.epoch - 1,
                    step=self.step,
                    minutes=getattr(pace, "limit_minutes", PAUSE_MINUTES),
                )
            if self.probe:  # look inside the hidden layers on some of the steps that become step events
                self.probe.active = probe_due(self.step + 1, self.step_interval)
            before = linear_data(self.model) if turn == STEP and self.landscape else None
            loss, scores = self.model.train_step(X, y)
            self.step += 1
            self.window_loss += loss * len(X)
            self.window_examples += len(X)
            if classifier:
                self.correct += (scores.argmax(dim=1) == y).sum()
            if turn == STEP:  # asked for by hand: this minibatch's own loss and fresh pictures
                yield from self.by_hand(loss, before)
            if step_event_due(self.step, self.step_interval):
                mean_loss = self.close_window()
                if diverged(mean_loss, self.initial_loss):
                    return divergence(self.spec, mean_loss, self.initial_loss, epochs_done=self.epoch - 1)
                layers = self.probe.read() if self.probe else None
                yield Step(step=self.step, epoch=self.epoch, loss=mean_loss, layers=layers)
                if not classifier:  # linear regression: w and b move with every step event
                    yield from self.linear_snapshots()
        self.close_window()
        return None

    def by_hand(self, loss, before: dict | None = None) -> Iterator[Event]:
        """A step asked for by hand, shown at once. Marked `by_hand`, and the regular step events' loss
        windows are left alone, so those stay the same as in a run that never paused. `before`: w and b
        before this step, for linear regression drawn on the loss map."""
        yield Step(step=self.step, epoch=self.epoch, loss=float(loss), by_hand=True)
        looking = self.probe.active if self.probe else False
        if self.probe:  # the picture's forward pass is not a training step: the layer probe looks away
            self.probe.active = False
        picture = snapshot(self.model, self.data, self.extent, self.step, self.epoch)
        if self.probe:
            self.probe.active = looking
        if before is not None and all(abs(v) < LANDSCAPE_LIMIT for v in picture.data["w"]):
            yield from self.downhill_snapshots(picture, before)
        else:
            yield picture.model_copy(update={"by_hand": True})
        yield from neurons_snapshot(
            self.spec, self.model, self.data, self.extent, self.step, self.epoch, by_hand=True
        )

    def downhill_snapshots(self, picture: Snapshot, before: dict) -> Iterator[Snapshot]:
        """Linear regression, one step by hand: w before and after this minibatch's step, the gradient of
        the map's loss at the new w and the step -lr x gradient from there (snapshots.downhill); then the
        map at the current b, so the arrow and the contours speak of the same loss. The map is drawn from
        a copy: the run's own map and path stay those of a run that never paused."""
        w, b = picture.data["w"], picture.data["b"]
        data = {**picture.data, "w_before": before["w"], **downhill(self.landscape, w, b, self.spec.lr)}
        yield picture.model_copy(update={"data": data, "by_hand": True})
        view = copy.copy(self.landscape)
        if not view.covers(w):
            view.fit(view.path + [w])
        yield landscape_snapshot(view, b, self.step, self.epoch).model_copy(update={"by_hand": True})

    def linear_snapshots(self) -> Iterator[Snapshot]:
        """w and b now; and a wider loss map when the path of w has left the current one."""
        current = snapshot(self.model, self.data, self.extent, self.step, self.epoch)
        yield current
        if self.landscape and self.landscape.follow(current.data["w"]):
            yield landscape_snapshot(self.landscape, current.data["b"], self.step, self.epoch)

    def close_window(self) -> float:
        """Mean loss since the last step event (one device sync); start a new window."""
        mean_loss = self.window_loss.item() / max(self.window_examples, 1)
        self.loss_sum += self.window_loss
        self.window_loss = torch.zeros_like(self.window_loss)
        self.window_examples = 0
        return mean_loss

    def train_metrics(self) -> tuple[float, float | None]:
        n = len(self.data.X_train)
        accuracy = self.correct.item() / n if self.data.task == "classification" else None
        return self.loss_sum.item() / n, accuracy
