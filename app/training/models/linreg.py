"""Linear regression (d2l 3.2 from scratch, 3.3 concise): y_hat = Xw + b, squared loss, minibatch SGD."""

import torch
from torch import nn

from ..specs import LinRegSpec
from .common import ConciseModel, decay_groups, init_layers, l2_penalty, sgd, zero_grad


def linreg(X, w, b):
    return X @ w + b


def squared_loss(y_hat, y, broadcast_bug=False):
    """Half the squared error of each example.

    With broadcast_bug the target is reshaped to (n,) while y_hat is (n, 1): the difference silently
    broadcasts to an (n, n) matrix that compares every prediction with every label.
    """
    target = y.view(-1) if broadcast_bug else y.view(y_hat.shape)
    return (y_hat - target) ** 2 / 2


class LinRegScratch:
    def __init__(self, spec: LinRegSpec, num_inputs: int, generator: torch.Generator, device: torch.device):
        [(w, b)] = init_layers([num_inputs, 1], spec.init_std, generator, device)
        self.w, self.b = w.requires_grad_(), b.requires_grad_()
        self.spec = spec

    def parameters(self):
        return [self.w, self.b]

    def weights(self):
        return {"w": self.w.detach(), "b": self.b.detach()}

    def forward(self, X):
        return linreg(X, self.w, self.b)

    def loss(self, y_hat, y):
        return squared_loss(y_hat, y, self.spec.broadcast_bug)

    def train_step(self, X, y):
        """One minibatch, as the book writes it. Returns the mean loss per example and no class scores."""
        l = self.loss(self.forward(X), y)
        penalty = self.spec.weight_decay * l2_penalty([self.w]) if self.spec.weight_decay else 0
        (l + penalty).sum().backward()
        sgd([self.w, self.b], self.spec.lr, len(X))
        if not self.spec.skip_zero_grad:
            zero_grad([self.w, self.b])
        return l.detach().mean(), None


class LinRegConcise(ConciseModel):
    def __init__(self, spec: LinRegSpec, num_inputs: int, generator: torch.Generator, device: torch.device):
        [(w, b)] = init_layers([num_inputs, 1], spec.init_std, generator, device)
        self.net = nn.Linear(num_inputs, 1, device=device)
        with torch.no_grad():
            self.net.weight.copy_(w.T)
            self.net.bias.copy_(b)
        # nn.MSELoss has no 1/2, so halve it: then lr means the same step as in the scratch version.
        self.mse = nn.MSELoss(reduction="none")
        groups = decay_groups([self.net.weight], [self.net.bias], spec.weight_decay)
        self.optimizer = torch.optim.SGD(groups, lr=spec.lr)
        self.spec = spec

    def weights(self):
        return {"w": self.net.weight.detach().T, "b": self.net.bias.detach()}

    def loss(self, y_hat, y):
        target = y.view(-1) if self.spec.broadcast_bug else y.view(y_hat.shape)
        return self.mse(*torch.broadcast_tensors(y_hat, target)) / 2
