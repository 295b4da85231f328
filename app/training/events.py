"""The event vocabulary of one run: started, step, epoch, snapshot, finished.

The CLI prints these as JSON lines, the runs layer stores and streams them, the web draws them.
Fields named in TIMING_FIELDS depend on the clock; everything else is a pure function of spec and seed.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

TIMING_FIELDS = frozenset({"seconds", "examples_per_sec"})
FinishStatus = Literal["done", "cancelled", "diverged", "failed"]


class Started(BaseModel):
    type: Literal["started"] = "started"
    spec: dict[str, Any]
    device: str
    dataset: str
    n_train: int
    n_test: int
    num_inputs: int
    num_outputs: int
    param_count: int
    steps_per_epoch: int
    total_steps: int
    initial_test_loss: float = Field(description="test loss of the untrained model")
    initial_test_acc: float | None = Field(None, description="test accuracy of the untrained model")
    class_names: list[str] = []
    preview: dict[str, Any] = Field(default_factory=dict, description="data to draw: points or images")


class Step(BaseModel):
    type: Literal["step"] = "step"
    step: int = Field(description="global step, counted from 1")
    epoch: int = Field(description="the epoch this step belongs to, counted from 1")
    loss: float = Field(description="mean training loss per example since the previous step event")
    layers: list[dict[str, Any]] | None = Field(
        None, description="MLP: per hidden layer, grad_norm, saturated and dead shares at this step"
    )
    by_hand: bool = Field(False, description="a step asked for with Step while paused: this minibatch's loss")


class Epoch(BaseModel):
    type: Literal["epoch"] = "epoch"
    epoch: int
    train_loss: float
    train_acc: float | None = None
    test_loss: float
    test_acc: float | None = None
    seconds: float
    examples_per_sec: float


class Snapshot(BaseModel):
    type: Literal["snapshot"] = "snapshot"
    step: int
    epoch: int
    kind: Literal["linear", "boundary", "images", "landscape", "confusion", "neurons"]
    data: dict[str, Any]
    by_hand: bool = Field(False, description="drawn after a step asked for by hand")


class Finished(BaseModel):
    type: Literal["finished"] = "finished"
    status: FinishStatus
    message: str = ""
    epochs_done: int = 0
    code: str = Field("", description="the kind of message (trainer.ENDINGS), for translations")
    params: dict[str, Any] = Field(default_factory=dict, description="the values in the message")


Event = Annotated[Started | Step | Epoch | Snapshot | Finished, Field(discriminator="type")]


def without_timing(event: BaseModel) -> dict[str, Any]:
    """The event as a dict without its clock-dependent fields, for comparing two runs."""
    return event.model_dump(exclude=set(TIMING_FIELDS))
