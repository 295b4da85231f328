"""The few pieces the from-scratch models share: initial weights, the SGD step, the L2 penalty."""

import torch
from torch import nn


def init_layers(
    sizes: list[int], std: float, generator: torch.Generator, device: torch.device
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """One (W, b) pair per layer, W of shape (inputs, outputs) ~ N(0, std^2), b = 0.

    The numbers are drawn on the CPU, then moved: both implementations, on any device, start from the
    same weights, so scratch and concise runs can be compared step for step.
    """
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        W = column_major(torch.randn(n_in, n_out, generator=generator) * std)
        layers.append((W.to(device), torch.zeros(n_out, device=device)))
    return layers


def column_major(W: torch.Tensor) -> torch.Tensor:
    """The same numbers, stored column by column as nn.Linear stores its weight: autograd then computes
    the gradient X.T @ G as (G.T @ X).T, which MKL runs ~3x faster for a thin layer such as softmax
    regression's 784x10 (~9% of its epoch; bench/README.md)."""
    return W.T.contiguous().T


def sgd(params: list[torch.Tensor], lr: float, batch_size: int) -> None:
    """Minibatch SGD on a summed loss: dividing by the batch size makes the step lr x the mean gradient."""
    with torch.no_grad():
        for param in params:
            param.sub_(param.grad, alpha=lr / batch_size)  # param -= lr * grad / batch_size, as one operation


def zero_grad(params: list[torch.Tensor]) -> None:
    """PyTorch adds every backward() into .grad, so it must be cleared before the next batch.

    Setting it to None (what torch.optim's zero_grad does) clears it as well as .zero_() and is cheaper:
    the next backward() stores its gradient instead of adding it to a tensor of zeros.
    """
    for param in params:
        param.grad = None


def l2_penalty(weights: list[torch.Tensor]) -> torch.Tensor:
    """sum(w^2) / 2 over the weight matrices (biases are not penalised)."""
    return sum((W**2).sum() for W in weights) / 2


def decay_groups(weights: list[torch.Tensor], biases: list[torch.Tensor], weight_decay: float) -> list[dict]:
    """torch.optim parameter groups that decay the weights but not the biases, like l2_penalty."""
    return [{"params": weights, "weight_decay": weight_decay}, {"params": biases, "weight_decay": 0.0}]


class ConciseModel:
    """What every torch.nn version shares: `net` computes, `loss` scores each example, `optimizer` steps.

    With a mean-reduced loss, torch.optim.SGD steps lr x the mean gradient: the same step as the scratch
    `sgd` on a summed loss.
    """

    net: nn.Module
    optimizer: torch.optim.Optimizer
    probe = None  # an insights.LayerProbe, for models with hidden layers

    def hidden_grads(self) -> list[torch.Tensor]:
        return []

    def parameters(self):
        return list(self.net.parameters())

    def forward(self, X):
        return self.net(X)

    def train_step(self, X, y):
        out = self.forward(X)
        l = self.loss(out, y).mean()
        if not self.spec.skip_zero_grad:
            self.optimizer.zero_grad()
        l.backward()
        if self.probe:
            self.probe.saw_grads(self.hidden_grads())
        self.optimizer.step()
        return l.detach(), out.detach()
