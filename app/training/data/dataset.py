"""The one shape every dataset takes once it is loaded: four tensors and a few facts about them."""

from dataclasses import dataclass, field, replace
from typing import Literal

import torch


@dataclass(frozen=True)
class Dataset:
    name: str
    task: Literal["regression", "classification"]
    X_train: torch.Tensor  # float32, (n_train, *feature_shape)
    y_train: torch.Tensor  # float32 (n, 1) for regression, int64 (n,) for classification
    X_test: torch.Tensor
    y_test: torch.Tensor
    class_names: list[str] = field(default_factory=list)
    image_shape: tuple[int, int] | None = None  # (height, width) for image sets

    @property
    def num_inputs(self) -> int:
        return self.X_train[0].numel()

    @property
    def num_outputs(self) -> int:
        return len(self.class_names) if self.task == "classification" else self.y_train.shape[1]

    def to(self, device: torch.device | str) -> "Dataset":
        """The same data, materialised once on `device`."""
        return replace(
            self,
            X_train=self.X_train.to(device),
            y_train=self.y_train.to(device),
            X_test=self.X_test.to(device),
            y_test=self.y_test.to(device),
        )


class DatasetUnavailable(RuntimeError):
    """A dataset cannot be loaded here; the message says what the user can do about it."""
