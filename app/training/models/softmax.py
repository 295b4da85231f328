"""Softmax regression (d2l 3.6 from scratch, 3.7 concise): one linear layer, softmax, cross-entropy."""

import torch
from torch import nn

from ..specs import SoftmaxSpec
from .common import ConciseModel, decay_groups, init_layers, l2_penalty, sgd, zero_grad


def softmax(O):
    """Turn each row of scores into probabilities: exp, then divide by the row's sum (d2l 3.6).

    Taken literally this overflows: exp() of a score above about 88 is inf in float32, and inf/inf is NaN.
    """
    O_exp = torch.exp(O)
    return O_exp / O_exp.sum(dim=1, keepdim=True)


def log_softmax(O):
    """log(softmax(O)) computed without overflow or log(0): the LogSumExp trick of d2l 3.7.

    Subtracting each row's max changes nothing (softmax ignores a constant added to all scores), so
    log softmax(O)_j = (O_j - max) - log(sum_k exp(O_k - max)), where every exp() is at most 1.
    """
    O = O - O.max(dim=1, keepdim=True).values.detach()
    return O - torch.log(torch.exp(O).sum(dim=1, keepdim=True))


def cross_entropy(log_y_hat, y):
    """-log of the probability given to the true class (picked with gather); other classes do not enter."""
    return -log_y_hat.gather(1, y.view(-1, 1)).squeeze(1)


def softmax_cross_entropy(O, y, naive=False):
    """The loss of scores O: naive takes the log of the literal softmax, which breaks on large scores."""
    log_y_hat = torch.log(softmax(O)) if naive else log_softmax(O)
    return cross_entropy(log_y_hat, y)


class SoftmaxScratch:
    def __init__(
        self,
        spec: SoftmaxSpec,
        num_inputs: int,
        num_outputs: int,
        generator: torch.Generator,
        device: torch.device,
    ):
        [(W, b)] = init_layers([num_inputs, num_outputs], spec.init_std, generator, device)
        self.W, self.b = W.requires_grad_(), b.requires_grad_()
        self.spec = spec

    def parameters(self):
        return [self.W, self.b]

    def weights(self):
        return {"W": self.W.detach(), "b": self.b.detach()}

    def forward(self, X):
        """Scores (logits) O = XW + b; softmax(O) is the model's probability for each class."""
        return X.reshape(-1, self.W.shape[0]) @ self.W + self.b

    def loss(self, O, y):
        return softmax_cross_entropy(O, y, self.spec.naive_softmax)

    def train_step(self, X, y):
        """One minibatch: returns the mean loss and the scores."""
        O = self.forward(X)
        l = self.loss(O, y)
        penalty = self.spec.weight_decay * l2_penalty([self.W]) if self.spec.weight_decay else 0
        (l + penalty).sum().backward()
        sgd([self.W, self.b], self.spec.lr, len(X))
        if not self.spec.skip_zero_grad:
            zero_grad([self.W, self.b])
        return l.detach().mean(), O.detach()


class SoftmaxConcise(ConciseModel):
    def __init__(
        self,
        spec: SoftmaxSpec,
        num_inputs: int,
        num_outputs: int,
        generator: torch.Generator,
        device: torch.device,
    ):
        [(W, b)] = init_layers([num_inputs, num_outputs], spec.init_std, generator, device)
        self.linear = nn.Linear(num_inputs, num_outputs, device=device)
        with torch.no_grad():
            self.linear.weight.copy_(W.T)
            self.linear.bias.copy_(b)
        self.net = nn.Sequential(nn.Flatten(), self.linear)
        self.cross_entropy = nn.CrossEntropyLoss(reduction="none")  # softmax and log in one stable step
        groups = decay_groups([self.linear.weight], [self.linear.bias], spec.weight_decay)
        self.optimizer = torch.optim.SGD(groups, lr=spec.lr)
        self.spec = spec

    def weights(self):
        return {"W": self.linear.weight.detach().T, "b": self.linear.bias.detach()}

    def loss(self, logits, y):
        return self.cross_entropy(logits, y)
