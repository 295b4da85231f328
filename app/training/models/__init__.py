"""The chapter-3 models, each written twice: from scratch as the book does, and with torch.nn."""

import torch

from ..specs import LinRegSpec, MLPSpec, RunSpec, SoftmaxSpec
from .linreg import LinRegConcise, LinRegScratch
from .mlp import MLPConcise, MLPScratch
from .softmax import SoftmaxConcise, SoftmaxScratch

IMPLEMENTATIONS = {
    ("linreg", "scratch"): LinRegScratch,
    ("linreg", "concise"): LinRegConcise,
    ("softmax", "scratch"): SoftmaxScratch,
    ("softmax", "concise"): SoftmaxConcise,
    ("mlp", "scratch"): MLPScratch,
    ("mlp", "concise"): MLPConcise,
}


def build_model(
    spec: RunSpec, num_inputs: int, num_outputs: int, generator: torch.Generator, device: torch.device
):
    """The model the spec names on `device`, its initial weights drawn from `generator`."""
    model_class = IMPLEMENTATIONS[spec.model, spec.impl]
    if isinstance(spec, LinRegSpec):
        return model_class(spec, num_inputs, generator, device)
    assert isinstance(spec, SoftmaxSpec | MLPSpec)
    return model_class(spec, num_inputs, num_outputs, generator, device)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
