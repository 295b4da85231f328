"""The multilayer perceptron (d2l 4.2 from scratch, 4.3 concise): hidden layers with a nonlinearity."""

import torch
from torch import nn

from ..specs import MLPSpec
from .common import ConciseModel, decay_groups, init_layers, l2_penalty, sgd, zero_grad
from .softmax import softmax_cross_entropy


def relu(X):
    """max(X, 0). The book writes torch.max(X, zeros); clamp is the same function with a cheaper backward."""
    return X.clamp(min=0)


def leaky_relu(X):
    return torch.where(X > 0, X, 0.01 * X)


# relu and leaky_relu by hand, as the book does; sigmoid and tanh from torch, which keeps them finite
# where exp() of a large input would overflow.
ACTIVATIONS = {"relu": relu, "leaky_relu": leaky_relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
ACTIVATION_MODULES = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def layer_sizes(spec: MLPSpec, num_inputs: int, num_outputs: int) -> list[int]:
    return [num_inputs] + [spec.hidden_units] * spec.hidden_layers + [num_outputs]


class MLPScratch:
    def __init__(
        self,
        spec: MLPSpec,
        num_inputs: int,
        num_outputs: int,
        generator: torch.Generator,
        device: torch.device,
    ):
        self.layers = [
            (W.requires_grad_(), b.requires_grad_())
            for W, b in init_layers(
                layer_sizes(spec, num_inputs, num_outputs), spec.init_std, generator, device
            )
        ]
        self.activation = ACTIVATIONS[spec.activation]
        self.spec = spec
        self.probe = None  # an insights.LayerProbe, when the run shows layer health

    def parameters(self):
        return [p for layer in self.layers for p in layer]

    def weights(self):
        return {f"W{i + 1}": W.detach() for i, (W, _) in enumerate(self.layers)}

    def forward(self, X):
        """Scores (logits) for each class."""
        H = X.reshape(-1, self.layers[0][0].shape[0])
        for W, b in self.layers[:-1]:
            H = self.activation(H @ W + b)
            if self.probe:
                self.probe.saw_hidden(H)
        W, b = self.layers[-1]
        return H @ W + b

    def loss(self, logits, y):
        return softmax_cross_entropy(logits, y, self.spec.naive_softmax)

    def train_step(self, X, y):
        logits = self.forward(X)
        l = self.loss(logits, y)
        weights = [W for W, _ in self.layers]
        penalty = self.spec.weight_decay * l2_penalty(weights) if self.spec.weight_decay else 0
        (l + penalty).sum().backward()
        if self.probe:
            self.probe.saw_grads([W.grad for W, _ in self.layers[:-1]], len(X))
        sgd(self.parameters(), self.spec.lr, len(X))
        if not self.spec.skip_zero_grad:
            zero_grad(self.parameters())
        return l.detach().mean(), logits.detach()


class MLPConcise(ConciseModel):
    def __init__(
        self,
        spec: MLPSpec,
        num_inputs: int,
        num_outputs: int,
        generator: torch.Generator,
        device: torch.device,
    ):
        sizes = layer_sizes(spec, num_inputs, num_outputs)
        self.linears = [
            nn.Linear(n_in, n_out, device=device) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        with torch.no_grad():
            for linear, (W, b) in zip(
                self.linears, init_layers(sizes, spec.init_std, generator, device), strict=True
            ):
                linear.weight.copy_(W.T)
                linear.bias.copy_(b)
        blocks = [nn.Flatten()]
        for linear in self.linears[:-1]:
            activation = ACTIVATION_MODULES[spec.activation]()
            activation.register_forward_hook(self.show_hidden)
            blocks += [linear, activation]
        self.net = nn.Sequential(*blocks, self.linears[-1])
        self.cross_entropy = nn.CrossEntropyLoss(reduction="none")
        weights = [linear.weight for linear in self.linears]
        groups = decay_groups(weights, [linear.bias for linear in self.linears], spec.weight_decay)
        self.optimizer = torch.optim.SGD(groups, lr=spec.lr)
        self.spec = spec

    def weights(self):
        return {f"W{i + 1}": linear.weight.detach().T for i, linear in enumerate(self.linears)}

    def show_hidden(self, module, inputs, H):
        if self.probe:
            self.probe.saw_hidden(H)

    def hidden_grads(self):
        return [linear.weight.grad for linear in self.linears[:-1]]

    def loss(self, logits, y):
        return self.cross_entropy(logits, y)
