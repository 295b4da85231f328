"""What a run will cost, worked out from its spec alone (no data loaded, no torch imported), so a
shared server can refuse a run that would hold its only worker for hours before it is queued.

Work is counted in floating-point operations: a training example costs about 6 x the model's weights
(forward 2, backward 4), a test example 2 x. A step also costs a fixed amount of Python, and at least
one pass over the weights in memory however small its batch (a batch of one on a big MLP is bound by
memory, not arithmetic); events cost their bookkeeping. Those are counted as the operations the
machine would have done in that time.
"""

import math
from dataclasses import dataclass

# Sizes of the datasets as the data modules make them (tests/training/test_budget.py checks these).
IMAGE_SETS = {"fashion-mnist": (60_000, 10_000, 784, 10), "digits": (1_438, 359, 64, 10)}
TOY_TEST_SHARE = 0.25  # data/toy2d.py
LINREG_HELD_OUT_SHARE = 0.2  # data/synthetic.py
TOY_CLASSES = {"blobs": 3, "spiral": 3, "circles": 2, "xor": 2}

# Measured on the development machine (2 cores, bench/README.md): about 40 GFLOP/s reached by
# training's matrix products, 0.4 ms of fixed cost per step, 50 us per event relayed. A batch-of-one
# step costs about 1.5 ns per weight while the weights fit in the caches (0.2M-5.8M weights: 1.1-2.1
# ns) and 9 ns beyond (33.6M weights: 291 ms), when every step streams them from memory.
FLOPS_PER_SECOND = 4e10
STEP_COST_FLOPS = 0.4e-3 * FLOPS_PER_SECOND
CACHED_WEIGHTS = 8_000_000
STEP_FLOPS_PER_WEIGHT = {True: 1.5e-9 * FLOPS_PER_SECOND, False: 9e-9 * FLOPS_PER_SECOND}
EVENT_COST_FLOPS = 50e-6 * FLOPS_PER_SECOND


@dataclass(frozen=True)
class Cost:
    work: float  # floating-point operations, fixed costs included
    step_work: float  # one training step at the full batch size
    events: int  # events the run will send
    seconds: float  # work at the machine's measured speed

    def over(self, max_work: float, max_step_work: float, max_events: int) -> list[tuple[str, dict]]:
        """(code, values) for each budget this run exceeds: the web says them in the visitor's language."""
        problems = []
        if self.work > max_work:
            problems.append(("over_work", {"minutes": minutes(self.work), "limit": minutes(max_work)}))
        if self.step_work > max_step_work:
            problems.append(("over_step", {"seconds": f"{self.step_work / FLOPS_PER_SECOND:.1f}"}))
        if self.events > max_events:
            problems.append(("over_events", {"events": self.events, "limit": max_events}))
        return problems


def minutes(work: float) -> str:
    return f"{work / FLOPS_PER_SECOND / 60:.3g}"


def data_shape(spec: dict) -> tuple[int, int, int, int]:
    """(training examples, test examples, inputs, outputs) the spec's dataset will have."""
    if spec["model"] == "linreg":
        n = spec["n_examples"]
        return n, max(1, int(n * LINREG_HELD_OUT_SHARE)), len(spec["true_w"]), 1
    name = spec["dataset"]
    if name in TOY_CLASSES:
        n_test = int(spec["n_examples"] * spec.get("test_share", TOY_TEST_SHARE))
        return spec["n_examples"] - n_test, n_test, 2, TOY_CLASSES[name]
    return IMAGE_SETS.get(name, IMAGE_SETS["fashion-mnist"])  # auto: the larger of the two it may be


def weights(spec: dict, inputs: int, outputs: int) -> int:
    if spec["model"] != "mlp":
        return (inputs + 1) * outputs
    units, layers = spec["hidden_units"], spec["hidden_layers"]
    return (inputs + 1) * units + (layers - 1) * (units + 1) * units + (units + 1) * outputs


def events_per_epoch(spec: dict, steps: int) -> int:
    """Step events (and, for linear regression, the w-and-b snapshot each carries) plus the epoch's own."""
    interval = max(1, steps // spec["step_events_per_epoch"])
    step_events = steps // interval + math.ceil(math.log2(interval + 1))
    per_step_event = 2 if spec["model"] == "linreg" else 1
    return step_events * per_step_event + 4


def cost(spec: dict) -> Cost:
    """The cost of a validated spec (as RunSpec.model_dump() gives it)."""
    n_train, n_test, inputs, outputs = data_shape(spec)
    params = weights(spec, inputs, outputs)
    epochs, batch = min(spec["epochs"], 10**6), min(spec["batch_size"], n_train)
    steps_per_epoch = math.ceil(n_train / batch)
    per_weight = STEP_FLOPS_PER_WEIGHT[params <= CACHED_WEIGHTS]
    step_work = max(6 * params * batch, per_weight * params) + STEP_COST_FLOPS
    events = 3 + epochs * events_per_epoch(spec, steps_per_epoch)
    work = epochs * (steps_per_epoch * step_work + 2 * params * n_test) + events * EVENT_COST_FLOPS
    return Cost(work=work, step_work=step_work, events=events, seconds=work / FLOPS_PER_SECOND)
