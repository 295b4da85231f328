"""Many runs as one computation: specs that draw the same minibatches, trained as one batched model.

Runs that agree on the model and its shape, the implementation, the dataset, the batch size, the epochs
and the seed start from the same standard-normal draw (each scaled by its own init_std) and see the
same minibatches in the same order. train_cohort trains them in one computation (models/batched.py)
and yields each member's own events, tagged with the member's index: the events its spec yields when
trained alone by trainer.train, up to the order of a few floating-point sums. A member that diverges
or is cancelled ends alone; the others go on.

An execution strategy under the runs layer, never another lesson: trainer.py stays the code the
playground shows. This module imports torch only when train_cohort is called, so the web process can
ask `signature` which waiting runs may share one cohort.
"""

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..events import Event
from ..specs import RunSpec

MAX_MEMBERS = 32  # the default of PLAYGROUND_COHORT_MAX
FILE_DATASETS = ("auto", "fashion-mnist", "digits")  # read from files: n_examples and noise play no part


def signature(spec: RunSpec) -> tuple | None:
    """What specs must share to train as one cohort: equal signatures may, None never does (linear
    regression, and a run that draws its neurons, which only the single-run trainer does, train alone).
    Learning rate, init_std, weight_decay, activation, the pitfall switches, step_events_per_epoch and
    insights may differ between members."""
    if spec.model == "linreg" or getattr(spec, "neurons", False):
        return None
    dataset = (spec.dataset,)
    if spec.dataset not in FILE_DATASETS:  # generated from the spec's own settings
        dataset += (spec.n_examples, spec.noise, spec.test_share, spec.data_seed)
    shape = (spec.hidden_layers, spec.hidden_units) if spec.model == "mlp" else ()
    return (spec.model, spec.impl, *dataset, spec.batch_size, spec.epochs, spec.seed, *shape)


class CohortError(ValueError):
    """The specs cannot train as one cohort."""


def check_cohort(specs: list[RunSpec], max_members: int = MAX_MEMBERS) -> None:
    """Raise CohortError unless there is one spec (any model), or 2 to max_members specs that share
    one signature that is not None."""
    if not 1 <= len(specs) <= max_members:
        raise CohortError(f"a cohort has 1 to {max_members} members, not {len(specs)}")
    signatures = {signature(spec) for spec in specs}
    if len(specs) > 1 and None in signatures:
        raise CohortError("linear regression trains alone: train it with trainer.train")
    if len(signatures) > 1:
        raise CohortError(f"the members must share one signature, these have {len(signatures)}")


def train_cohort(
    specs: Iterable[RunSpec],
    *,
    data_dir: Path,
    device: str = "auto",
    should_stop: Callable[[int], bool] = lambda member: False,
    on_download_progress: Callable[[str, int, int | None], None] | None = None,
    max_members: int = MAX_MEMBERS,
) -> Iterator[tuple[int, Event]]:
    """Train the specs as one cohort, yielding (member, event): `member` is the spec's index in `specs`,
    and each member's events are those trainer.train yields for its spec, ending with its `finished`.

    should_stop(member) is asked before every step and between the chunks of an evaluation, as
    trainer.train asks its should_stop(): true ends that member `cancelled`, the others go on.
    Raises CohortError at once if the specs cannot share (check_cohort). A cohort of one is its
    run, any model: trainer.train (about 15% faster than the batched model with one member)."""
    specs = list(specs)
    check_cohort(specs, max_members)
    # torch loads here, not where the runs layer asks for signatures
    from ..trainer import train
    from .loop import train_members

    if len(specs) == 1:
        events = train(
            specs[0],
            data_dir=data_dir,
            device=device,
            should_stop=lambda: should_stop(0),
            on_download_progress=on_download_progress,
        )
        return ((0, event) for event in events)
    return train_members(specs, Path(data_dir), device, should_stop, on_download_progress)
