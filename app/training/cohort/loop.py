"""The cohort's training loop: trainer.train's loop, once for all members, each member's events its own.

    for epoch: for minibatch: every member's step at once;  then every member's evaluation at once

Per member it keeps what trainer.EpochRun keeps for one run (the loss since its last step event, the
epoch's loss and correct count, as tensors read back only when an event is due), decides its step events,
layer health, divergence and cancel by the trainer's own rules, and draws its pictures with the same
snapshot code. A member that ends is dropped from the batched model at the next step.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data import Dataset, load_dataset
from ..data.download import DownloadError
from ..device import pick_device
from ..events import Epoch, Event, Finished, Snapshot, Step
from ..insights import confusion_matrix
from ..models.batched import BatchedClassifier, BatchedProbe
from ..snapshots import grid_extent, snapshot
from ..specs import ClassifierSpec
from ..trainer import (
    diverged,
    divergence,
    ending,
    eval_chunk,
    minibatches,
    probe_due,
    seed_everything,
    started_event,
    step_event_due,
    step_interval,
)

Tagged = tuple[int, Event]


def train_members(
    specs: list[ClassifierSpec],
    data_dir: Path,
    device: str,
    should_stop: Callable[[int], bool],
    on_download_progress,
) -> Iterator[Tagged]:
    """train_cohort's events; a failure ends every member that has not ended yet, as train's would."""
    ended: set[int] = set()
    try:
        for member, event in _train_members(specs, data_dir, device, should_stop, on_download_progress):
            if event.type == "finished":
                ended.add(member)
            yield member, event
    except DownloadError as error:  # coded, so the page says it in the visitor's language
        failed = Finished(
            status="failed", message=str(error), code=f"download_{error.code}", params=error.values
        )
        yield from ((member, failed) for member in range(len(specs)) if member not in ended)
    except Exception as error:  # the members end `failed`; the caller's process lives on
        failed = Finished(status="failed", message=f"{type(error).__name__}: {error}")
        yield from ((member, failed) for member in range(len(specs)) if member not in ended)


def _train_members(specs, data_dir, device, should_stop, on_download_progress) -> Iterator[Tagged]:
    first = specs[0]
    generator = seed_everything(first.seed)
    data = load_dataset(first, data_dir, on_progress=on_download_progress).to(pick_device(device))
    model = BatchedClassifier(specs, data.num_inputs, data.num_outputs, generator, data.X_train.device)
    cohort = Cohort(model, data, should_stop)
    yield from cohort.start()
    for epoch in range(1, first.epochs + 1):
        if not cohort.members:
            return
        yield from cohort.train_epoch(epoch, generator, last=epoch == first.epochs)


@dataclass
class Member:
    """What the cohort knows about one member besides its slot in the batched model."""

    index: int  # its place in the caller's list of specs
    spec: ClassifierSpec
    interval: int  # steps between its step events
    initial_loss: float = 0.0
    window_examples: int = 0  # examples since its last step event
    ended: bool = False

    @property
    def shows_health(self) -> bool:
        return self.spec.model == "mlp" and self.spec.insights


class Cohort:
    """The members in slot order (as the batched model holds them), their running sums, their events."""

    def __init__(self, model: BatchedClassifier, data: Dataset, should_stop: Callable[[int], bool]):
        self.model, self.data, self.should_stop = model, data, should_stop
        n_train = len(data.X_train)
        self.members = [
            Member(model.members[slot], spec, step_interval(spec, n_train))
            for slot, spec in enumerate(model.specs)
        ]
        self.extent = grid_extent(data) if data.image_shape is None else None
        self.step = 0
        if any(member.shows_health for member in self.members):
            model.probe = BatchedProbe(model)

    def start(self) -> Iterator[Tagged]:
        """Evaluate the untrained members, then each one's started event and first picture."""
        results = yield from self.evaluate(epochs_done=0, confusion=False)
        if results is None:
            return
        device = self.data.X_train.device
        param_count = self.model.member_parameter_count()
        for slot, (member, (loss, accuracy, _)) in enumerate(zip(self.members, results, strict=True)):
            if member.ended:
                continue
            member.initial_loss = loss
            yield member.index, started_event(member.spec, self.data, device, param_count, loss, accuracy)
            yield member.index, snapshot(self.model.member(slot), self.data, self.extent, step=0, epoch=0)
        self.drop_ended()

    def train_epoch(self, epoch: int, generator: torch.Generator, last: bool = False) -> Iterator[Tagged]:
        """One pass over the training set for all members, then their evaluation and epoch events; after
        the last epoch each member's `done` follows its own pictures, so the first member's student is
        not kept waiting while the pictures of thirty others are drawn."""
        started_at = time.perf_counter()
        sums = RunningSums(len(self.members), self.data.X_train.device)
        batch_size = self.members[0].spec.batch_size
        for X, y in minibatches(self.data.X_train, self.data.y_train, batch_size, generator):
            yield from self.cancel_asked(epochs_done=epoch - 1)
            sums = self.drop_ended(sums)
            if not self.members:
                return
            if self.model.probe:  # look inside on the steps where some member's step event carries it
                self.model.probe.active = any(
                    self.wants_health(member, self.step + 1) for member in self.members
                )
            mean_losses, predicted = self.model.train_step(X, y)
            self.step += 1
            sums.add(mean_losses, len(X), predicted, y)
            for member in self.members:
                member.window_examples += len(X)
            yield from self.step_events(epoch, sums)
        sums.close(range(len(self.members)))
        for member in self.members:
            member.window_examples = 0
        sums = self.drop_ended(sums)
        want_confusion = any(member.spec.insights for member in self.members)
        results = yield from self.evaluate(epochs_done=epoch - 1, confusion=want_confusion)
        if results is None:
            return
        seconds = time.perf_counter() - started_at
        train_results = sums.metrics(len(self.data.X_train))
        for slot, member in enumerate(self.members):
            if not member.ended:
                yield from self.epoch_events(slot, member, epoch, train_results[slot], results[slot], seconds)
            if last and not member.ended:
                yield self.end(member, ending("done", "done", epoch, epochs=epoch))
        self.drop_ended()

    def step_events(self, epoch: int, sums: "RunningSums") -> Iterator[Tagged]:
        """The step events due after this step, each member at its own interval; layer health for the
        members whose probe was due."""
        due = [slot for slot, member in enumerate(self.members) if step_event_due(self.step, member.interval)]
        layers = self.model.probe.read() if self.model.probe else None
        if not due:
            return
        for slot, window in zip(due, sums.close(due), strict=True):
            member = self.members[slot]
            mean_loss = window / max(member.window_examples, 1)
            member.window_examples = 0
            if diverged(mean_loss, member.initial_loss):
                yield self.end(member, divergence(member.spec, mean_loss, member.initial_loss, epoch - 1))
                continue
            health = layers[slot] if layers and self.wants_health(member, self.step) else None
            yield member.index, Step(step=self.step, epoch=epoch, loss=mean_loss, layers=health)

    def wants_health(self, member: Member, step: int) -> bool:
        """Whether the member's step event at `step` carries layer health (trainer.probe_due)."""
        return member.shows_health and probe_due(step, member.interval)

    def epoch_events(self, slot, member, epoch, train_result, test_result, seconds) -> Iterator[Tagged]:
        """The end of one member's epoch, as trainer._train writes it: divergence, or the epoch's
        numbers, the picture and the confusion matrix."""
        train_loss, train_acc = train_result
        test_loss, test_acc, confusion = test_result
        for loss in (train_loss, test_loss):
            if diverged(loss, member.initial_loss):
                yield self.end(member, divergence(member.spec, loss, member.initial_loss, epoch - 1))
                return
        numbers = Epoch(
            epoch=epoch,
            train_loss=train_loss,
            train_acc=train_acc,
            test_loss=test_loss,
            test_acc=test_acc,
            seconds=seconds,
            examples_per_sec=len(self.data.X_train) / seconds,
        )
        yield member.index, numbers
        yield member.index, snapshot(self.model.member(slot), self.data, self.extent, self.step, epoch)
        if member.spec.insights:
            matrix = Snapshot(step=self.step, epoch=epoch, kind="confusion", data={"matrix": confusion})
            yield member.index, matrix

    def evaluate(self, epochs_done: int, confusion: bool):
        """Every member's test loss, accuracy and confusion matrix, in chunks; between two chunks each
        member's should_stop is asked (a cancelled one ends at once). Yields those endings; returns
        one (loss, accuracy, matrix or None) per slot, or None when no member is left."""
        X, y = self.data.X_test, self.data.y_test
        classes = self.data.num_outputs
        sums = TestSums(len(self.members), classes if confusion else 0, X.device)
        chunk = eval_chunk(self.model)
        for start in range(0, len(X), chunk):
            yield from self.cancel_asked(epochs_done)
            if all(member.ended for member in self.members):
                self.drop_ended()
                return None
            sums.add(self.model, X[start : start + chunk], y[start : start + chunk])
        return sums.results(len(X))

    def cancel_asked(self, epochs_done: int) -> Iterator[Tagged]:
        for member in self.members:
            if not member.ended and self.should_stop(member.index):
                yield self.end(member, ending("cancelled", "cancelled", epochs_done, step=self.step))

    def end(self, member: Member, finished: Finished) -> Tagged:
        """The member's last event; its slot goes at the next drop_ended."""
        member.ended = True
        return member.index, finished

    def drop_ended(self, sums: "RunningSums | None" = None) -> "RunningSums | None":
        """Take the members that ended out of the batched model (and out of `sums`)."""
        kept = [slot for slot, member in enumerate(self.members) if not member.ended]
        if len(kept) == len(self.members):
            return sums
        self.members = [self.members[slot] for slot in kept]
        if kept:
            self.model.keep(kept)
        return sums.keep(kept) if sums else None


class RunningSums:
    """trainer.EpochRun's running sums, one per slot, on the device: each member's loss since its last
    step event (its window), its epoch's loss and its correct count."""

    def __init__(self, slots: int, device: torch.device):
        self.window = torch.zeros(slots, device=device)
        self.loss_sum = torch.zeros(slots, device=device)
        self.correct = torch.zeros(slots, device=device)

    def add(
        self, mean_losses: torch.Tensor, batch_size: int, predicted: torch.Tensor, y: torch.Tensor
    ) -> None:
        self.window += mean_losses * batch_size
        self.correct += (predicted == y.unsqueeze(1)).sum(dim=0)

    def close(self, slots) -> list[float]:
        """The windows of these slots (one device sync), added to their epoch's loss and restarted."""
        slots = list(slots)
        closing = torch.zeros(len(self.window), dtype=torch.bool, device=self.window.device)
        closing[slots] = True
        windows = self.window[slots].tolist()
        self.loss_sum = torch.where(closing, self.loss_sum + self.window, self.loss_sum)
        self.window = torch.where(closing, 0.0, self.window)
        return windows

    def metrics(self, n_train: int) -> list[tuple[float, float]]:
        """Per slot: the epoch's mean training loss and accuracy."""
        return [
            (loss / n_train, correct / n_train)
            for loss, correct in zip(self.loss_sum.tolist(), self.correct.tolist(), strict=True)
        ]

    def keep(self, slots: list[int]) -> "RunningSums":
        index = torch.tensor(slots, device=self.window.device)
        for name in ("window", "loss_sum", "correct"):
            setattr(self, name, getattr(self, name).index_select(0, index))
        return self


class TestSums:
    """trainer.evaluate's sums, one per slot: test loss, correct count and confusion counts."""

    def __init__(self, slots: int, classes: int, device: torch.device):
        self.loss_sum = torch.zeros(slots, device=device)
        self.correct = torch.zeros(slots, device=device)
        self.classes = classes
        self.confusion = torch.zeros(slots, classes, classes, dtype=torch.int64, device=device)

    @torch.no_grad()
    def add(self, model: BatchedClassifier, X: torch.Tensor, y: torch.Tensor) -> None:
        losses, predicted = model.losses(model.forward(X), y)  # (n, slots) each
        self.loss_sum += losses.mean(dim=0) * len(X)
        self.correct += (predicted == y.unsqueeze(1)).sum(dim=0)
        if self.classes:
            for slot in range(len(self.confusion)):
                self.confusion[slot] += confusion_matrix(predicted[:, slot], y, self.classes)

    def results(self, n_test: int) -> list[tuple[float, float, list | None]]:
        losses, correct = self.loss_sum.tolist(), self.correct.tolist()
        matrices = self.confusion.tolist() if self.classes else [None] * len(losses)
        return [
            (loss / n_test, right / n_test, matrix)
            for loss, right, matrix in zip(losses, correct, matrices, strict=True)
        ]
