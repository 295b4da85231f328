"""K classifiers of one shape as one computation: the model under the cohort trainer (app/training/cohort).

The members see the same minibatch, so
- the first layer of all K members is one wide layer, X (n x D) @ W (D x K*u): member k's units are the
  k-th block of u columns (softmax regression is only this layer, its units the classes), computed by
  the faster of torch's two CPU kernels on this CPU (WIDE_KERNEL);
- every later layer of the MLP is a batched matmul over the members, (K, n, a) @ (K, a, b);
- learning rate, weight decay and initial std are per-member tensors, and the activation and the
  pitfall switches (naive_softmax, skip_zero_grad) are each member's own.

A member computes what its single run computes (softmax.py, mlp.py), from scratch or concise, with the
same functions; only the order of a few floating-point sums differs. The members live in slots, sorted
so that members with the same activation and the same softmax sit side by side; `members` says which
member each slot holds, and `keep` drops the slots of members that ended.
"""

from pathlib import Path

import torch
from torch.nn import functional as F

from ..insights import activation_shares, health_rows
from ..specs import ClassifierSpec
from .common import column_major
from .mlp import ACTIVATION_MODULES, ACTIVATIONS
from .softmax import softmax_cross_entropy


def layer_sizes(spec: ClassifierSpec, num_inputs: int, num_outputs: int) -> list[int]:
    """One member's layer sizes, as its single run builds them."""
    hidden = [spec.hidden_units] * spec.hidden_layers if spec.model == "mlp" else []
    return [num_inputs, *hidden, num_outputs]


def activation_of(spec: ClassifierSpec) -> str:
    return spec.activation if spec.model == "mlp" else ""


def runs_of(keys: list) -> list[tuple[int, int, object]]:
    """(start, stop, key) for each stretch of equal neighbours in `keys`."""
    runs, start = [], 0
    for position in range(1, len(keys) + 1):
        if position == len(keys) or keys[position] != keys[start]:
            runs.append((start, position, keys[start]))
            start = position
    return runs


def member_column_major(W: torch.Tensor) -> torch.Tensor:
    """(K, a, b) with each member's (a, b) stored column by column, as common.column_major stores a
    single run's W: the thin output layer's bmm (256 units to 10 classes) runs about 2x faster so."""
    return W.transpose(1, 2).contiguous().transpose(1, 2)


class ClampReLU(torch.autograd.Function):
    """mlp.relu, X.clamp(min=0), with the same gradient computed faster: clamp's backward is
    where(X >= 0, G, 0), one of the slowest elementwise ops on this CPU (~0.7 ms a step for 4 members
    of 256 units at batch 256); torch.relu's threshold_backward zeroes G where X <= t, and with t the
    largest float below zero that is where X < 0: the same numbers, ~10x faster."""

    BELOW_ZERO = torch.nextafter(torch.tensor(0.0), torch.tensor(-1.0)).item()  # the float32 next below 0

    @staticmethod
    def forward(ctx, X: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(X)
        return X.clamp(min=0)

    @staticmethod
    def backward(ctx, G: torch.Tensor) -> torch.Tensor:
        (X,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(G, X, ClampReLU.BELOW_ZERO)


ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def onednn_linear(X: torch.Tensor, W_rows: torch.Tensor) -> torch.Tensor | None:
    """X @ W_rows.T by oneDNN's float32 kernel, or None where torch has no such kernel for these tensors.

    The same float32 sums as torch's `@`, in another order (wide_kernel says when it is the faster)."""
    if X.device.type != "cpu" or X.dtype != torch.float32 or not ONEDNN_LINEAR:
        return None
    return torch.ops.mkldnn._linear_pointwise(X, W_rows, None, "none", [], "")


def cpu_vendor() -> str:
    """The CPU's vendor ("GenuineIntel", "AuthenticAMD", ...) where Linux says it, else ""."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("vendor_id")), "")


def wide_kernel(vendor: str) -> str:
    """Which kernel computes the wide layer on the CPU: "onednn", or "matmul" (torch's `@`, MKL on x86).

    MKL picks its fast kernels on Intel CPUs only. On an AMD Zen 5 it ran a 2048^2 float32 product at
    ~165 GFLOP/s and oneDNN at ~390: an MLP step ran ~1.6x faster through oneDNN. On an Intel Xeon
    both ran at ~320-380, and the step was 5-11% faster through MKL: it reads the gradient's transpose
    in place, where oneDNN first copies it (bench/README.md, "Seventh look")."""
    return "onednn" if ONEDNN_LINEAR and vendor != "GenuineIntel" else "matmul"


WIDE_KERNEL = wide_kernel(cpu_vendor())


def wide_product(A: torch.Tensor, B_rows: torch.Tensor) -> torch.Tensor:
    """A @ B_rows.T through WIDE_KERNEL; through torch's matmul where oneDNN cannot take the tensors."""
    product = onednn_linear(A, B_rows) if WIDE_KERNEL == "onednn" else None
    return A @ B_rows.T if product is None else product


class WideLinear(torch.autograd.Function):
    """The first layer of all members, X @ W + b with W (D, K*u) stored column by column, through
    WIDE_KERNEL: oneDNN where it can (onednn_linear), else torch's matmul. The bias is added after the
    product, as the book's `X @ W + b` adds it (nn.Linear adds it within the product: the same sum,
    rounded once more here, for concise members). X is the data, which needs no gradient; the
    backward computes the weight gradient as (G^T X)^T, in W's own layout."""

    @staticmethod
    def forward(ctx, X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(X)
        return wide_product(X, W.T).add_(b)

    @staticmethod
    def backward(ctx, G: torch.Tensor):
        (X,) = ctx.saved_tensors
        grad_W_rows = wide_product(G.T, X.T)  # oneDNN reads X.T in place faster than .contiguous() writes it
        return None, grad_W_rows.T, G.sum(dim=0)


class MemberLinear(torch.autograd.Function):
    """Each member's H @ W + b, (K, n, a) @ (K, a, b) + (K, 1, b): the bias added after the product (the
    book's `X @ W + b`) or within it (`fused`, as nn.Linear does). The backward is autograd's for those
    ops, except that the weight gradient is computed as (G^T H)^T, the order torch's mm backward uses for
    a single run's W stored column by column, where bmm's backward computes H^T G: the same sums, about
    6x faster on this CPU (0.08 against 0.53 ms a step for 4 members of 256 units, bench/README.md)."""

    @staticmethod
    def forward(ctx, H: torch.Tensor, W: torch.Tensor, b: torch.Tensor, fused: bool) -> torch.Tensor:
        ctx.save_for_backward(H, W)
        return torch.baddbmm(b, H, W) if fused else torch.bmm(H, W) + b

    @staticmethod
    def backward(ctx, G: torch.Tensor):
        H, W = ctx.saved_tensors
        grad_H = torch.bmm(G, W.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        grad_W = torch.bmm(G.transpose(1, 2), H).transpose(1, 2)
        return grad_H, grad_W, G.sum(dim=1, keepdim=True), None


class CrossEntropyAndPrediction(torch.autograd.Function):
    """softmax.softmax_cross_entropy (naive off) of each row of scores, and the row's argmax, in one pass
    with one backward node. The losses are the book's numbers bit for bit: the same max, exp, sum and
    log, and -(S_y - log s) is exactly log s - S_y. The backward is what autograd derives from those
    ops, E x (g / s) with g taken off at the true class, also bit for bit; nn.CrossEntropyLoss computes
    the same function up to rounding. Why: the book's loss over rows of 10 classes is many small ops,
    each a pass over (n x members) rows, and its autograd graph costs twice the forward; together with
    the separate argmax for the accuracy it was the largest item after the matmuls at 32 members."""

    @staticmethod
    def forward(ctx, O: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        top, predicted = O.max(dim=1, keepdim=True)  # max's index is the first maximal one, as argmax's
        S = O - top
        E = torch.exp(S)
        total = E.sum(dim=1, keepdim=True)
        losses = (torch.log(total) - S.gather(1, y.view(-1, 1))).squeeze(1)
        ctx.save_for_backward(E, total, y)
        ctx.mark_non_differentiable(predicted)
        return losses, predicted.squeeze(1)

    @staticmethod
    def backward(ctx, g: torch.Tensor, _):
        E, total, y = ctx.saved_tensors
        g = g.unsqueeze(1)
        return (E * (g / total)).scatter_add_(1, y.view(-1, 1), -g), None


class BatchedClassifier:
    """K softmax regressions, or K MLPs of one shape, from scratch or concise, trained in one step."""

    def __init__(
        self,
        specs: list[ClassifierSpec],
        num_inputs: int,
        num_outputs: int,
        generator: torch.Generator,
        device: torch.device,
    ):
        order = sorted(range(len(specs)), key=lambda i: (activation_of(specs[i]), specs[i].naive_softmax))
        self.members = order  # the caller's index of the member in each slot
        self.specs = [specs[i] for i in order]
        self.concise = specs[0].impl == "concise"
        self.sizes = layer_sizes(specs[0], num_inputs, num_outputs)
        self.device = device
        self.layers = self.initial_layers(generator)
        # each activation as its single run applies it: the book's function, or the nn module
        self.activations = ACTIVATIONS | {"relu": ClampReLU.apply}
        if self.concise:
            self.activations = {name: ACTIVATION_MODULES[name]() for name in ACTIVATIONS}
        self.probe: BatchedProbe | None = None
        self.settle()

    # -- building ------------------------------------------------------------------------------------

    def initial_layers(self, generator: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """What init_layers draws for each member: one N(0, 1) draw per layer, as the single run makes
        it from the shared seed, times each member's init_std (the same float32 product)."""
        stds = torch.tensor([spec.init_std for spec in self.specs], dtype=torch.float32)
        K, layers = len(self.specs), []
        for number, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            Z = torch.randn(n_in, n_out, generator=generator)
            if number == 0:  # wide: (D, K*u), stored column by column like the single run's W
                W = column_major((Z.unsqueeze(1) * stds.view(1, K, 1)).reshape(n_in, K * n_out))
                b = torch.zeros(K * n_out)
            else:  # batched: (K, a, b), each member's W column by column like the single run's
                W = member_column_major(Z.unsqueeze(0) * stds.view(K, 1, 1))
                b = torch.zeros(K, 1, n_out)
            layers.append((W.to(self.device).requires_grad_(), b.to(self.device).requires_grad_()))
        return layers

    def settle(self) -> None:
        """The per-slot settings, as tensors shaped to scale each layer's weights and biases."""
        specs = self.specs
        self.activation_runs = runs_of([activation_of(spec) for spec in specs])
        self.naive_runs = runs_of([spec.naive_softmax for spec in specs])
        lr = torch.tensor([spec.lr for spec in specs], dtype=torch.float64)  # on the CPU: MPS has no float64
        decay = torch.tensor([spec.weight_decay for spec in specs], device=self.device)
        skips = torch.tensor([spec.skip_zero_grad for spec in specs], device=self.device)
        self.lr = [self.per_unit(lr, layer) for layer in range(len(self.layers))]
        self.decay = [self.per_unit(decay, layer) for layer in range(len(self.layers))]
        self.skip = [self.per_unit(skips, layer) for layer in range(len(self.layers))]
        self.any_decay, self.skips = any(spec.weight_decay for spec in specs), skips.tolist()
        self.step_sizes: dict[int, list[torch.Tensor]] = {}

    def per_unit(self, per_slot: torch.Tensor, layer: int) -> torch.Tensor:
        """A per-slot value shaped to broadcast over one layer's W and b."""
        if layer == 0:  # wide: slot k owns a block of columns
            return per_slot.repeat_interleave(self.sizes[1])
        return per_slot.view(-1, 1, 1)

    def parameters(self) -> list[torch.Tensor]:
        return [p for layer in self.layers for p in layer]

    def member_parameter_count(self) -> int:
        """One member's parameters, as count_parameters counts its single run's model."""
        sizes = self.sizes
        return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True))

    # -- computing -----------------------------------------------------------------------------------

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Every member's scores for every example: (n, K, classes)."""
        n, K = len(X), len(self.specs)
        (W, b), *later = self.layers
        Z = WideLinear.apply(X.reshape(n, -1), W, b)  # (n, K*units): member k's units are the k-th block
        if not later:
            return Z.view(n, K, -1)
        # the members' hidden units stay where the wide layer wrote them; (K, n, units) is a view of them
        H = self.activate(Z.view(n, K, -1), member_dim=1).transpose(0, 1)
        for W, b in later[:-1]:
            H = self.activate(self.batched_linear(H, W, b), member_dim=0)
        W, b = later[-1]
        return self.batched_linear(H, W, b).transpose(0, 1)

    def linear(self, H, W, b):
        """X @ W + b as the book writes it, or as nn.Linear computes it."""
        return F.linear(H, W.T, b) if self.concise else H @ W + b

    def batched_linear(self, H, W, b):
        return MemberLinear.apply(H, W, b, self.concise)

    def activate(self, Z: torch.Tensor, member_dim: int) -> torch.Tensor:
        """Each member's activation on its slots of Z (members along `member_dim`), with its single
        run's function: one call on the whole of Z when the members share one activation."""
        if len(self.activation_runs) == 1:  # no slicing: a slice's gradient costs a zeroed copy of Z
            H = self.activations[self.activation_runs[0][2]](Z)
        else:
            pieces = [
                self.activations[name](Z.narrow(member_dim, start, stop - start))
                for start, stop, name in self.activation_runs
            ]
            H = torch.cat(pieces, dim=member_dim)
        if self.probe:
            self.probe.saw_hidden(H.movedim(member_dim, 0))
        return H

    def losses(self, scores: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's loss on each example and its predicted class, both (n, K): the loss the
        member's run computes (nn.CrossEntropyLoss, or the book's softmax_cross_entropy, naive or not)."""
        K = scores.shape[1]
        if self.concise:
            return self.member_losses(scores, y, naive=False)
        pieces = [
            self.member_losses(scores if stop - start == K else scores[:, start:stop], y, naive)
            for start, stop, naive in self.naive_runs
        ]
        if len(pieces) == 1:
            return pieces[0]
        return tuple(torch.cat(parts, dim=1) for parts in zip(*pieces, strict=True))

    @staticmethod
    def member_losses(
        scores: torch.Tensor, y: torch.Tensor, naive: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(losses, predicted classes), each (n, members), for members that share `naive`."""
        n, members, classes = scores.shape
        labels = y.repeat_interleave(members)
        rows = scores.reshape(-1, classes)
        if naive:  # the literal softmax, whose overflow is the lesson
            losses, predicted = softmax_cross_entropy(rows, labels, naive=True), rows.detach().argmax(dim=1)
        else:
            losses, predicted = CrossEntropyAndPrediction.apply(rows, labels)
        return losses.view(n, members), predicted.view(n, members)

    def train_step(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One minibatch for every member: returns each member's mean loss (K,) and the class it
        predicts for each example (n, K)."""
        scores = self.forward(X)
        losses, predicted = self.losses(scores, y)
        if self.concise:  # each member's mean, like nn.CrossEntropyLoss's default reduction
            losses.mean(dim=0).sum().backward()
        else:  # summed, as the book's (l + penalty).sum().backward()
            losses.sum().backward()
            if self.any_decay:
                self.add_penalty_gradients(len(X))
        if self.probe and self.probe.active:
            self.probe.saw_grads(self.hidden_grad_norms(1 if self.concise else len(X)))
        self.sgd(len(X))
        self.zero_grad()
        return losses.detach().mean(dim=0), predicted

    @torch.no_grad()
    def add_penalty_gradients(self, batch_size: int) -> None:
        """Scratch: the gradient of batch_size x weight_decay x sum(W^2) / 2, which the single run's
        backward() adds to each W.grad (the penalty is added to every example's loss)."""
        for (W, _), decay in zip(self.layers, self.decay, strict=True):
            W.grad.add_(W * (decay * batch_size))

    @torch.no_grad()
    def sgd(self, batch_size: int) -> None:
        """Scratch: param -= lr / batch_size x grad (common.sgd). Concise: torch.optim.SGD's step,
        param -= lr x (grad + weight_decay x param), weights decayed and biases not."""
        for (W, b), step, decay in zip(self.layers, self.step_size(batch_size), self.decay, strict=True):
            grad = W.grad.addcmul(decay, W) if self.concise and self.any_decay else W.grad
            W.addcmul_(grad, step, value=-1)  # one pass over W, each member its own step
            b.addcmul_(b.grad, step, value=-1)

    def step_size(self, batch_size: int) -> list[torch.Tensor]:
        """Per layer: lr (concise) or lr / batch_size (scratch), rounded to float32 once."""
        if batch_size not in self.step_sizes:
            divisor = 1 if self.concise else batch_size
            self.step_sizes[batch_size] = [(lr / divisor).float().to(self.device) for lr in self.lr]
        return self.step_sizes[batch_size]

    def zero_grad(self) -> None:
        """Clear .grad, except for the members whose pitfall is to let gradients pile up."""
        if all(self.skips):
            return
        for (W, b), skip in zip(self.layers, self.skip, strict=True):
            for param in (W, b):
                param.grad = torch.where(skip, param.grad, 0) if any(self.skips) else None

    @torch.no_grad()
    def hidden_grad_norms(self, batch_size: int) -> list[torch.Tensor]:
        """Per hidden layer, each member's norm of the gradient of the weights feeding it (K,), over
        `batch_size` as LayerProbe.saw_grads divides."""
        norms, K = [], len(self.specs)
        for number, (W, _) in enumerate(self.layers[:-1]):
            grad = W.grad.view(W.shape[0], K, -1) if number == 0 else W.grad
            dims = (0, 2) if number == 0 else (1, 2)
            norms.append(torch.linalg.vector_norm(grad, dim=dims) / batch_size)
        return norms

    # -- members -------------------------------------------------------------------------------------

    def member(self, slot: int) -> "MemberModel":
        """The model in `slot`, seen as its single run's model (weights() and forward()), for pictures."""
        layers = []
        for number, (W, b) in enumerate(self.layers):
            if number == 0:
                units = self.sizes[1]
                block = slice(slot * units, (slot + 1) * units)
                layers.append((W.detach()[:, block], b.detach()[block]))
            else:
                layers.append((W.detach()[slot], b.detach()[slot, 0]))
        return MemberModel(self.specs[slot], layers, self)

    @torch.no_grad()
    def keep(self, slots: list[int]) -> None:
        """Go on with the members in `slots` only; the others have ended. Accumulated gradients stay."""
        index = torch.tensor(slots, device=self.device)
        self.layers = [
            tuple(self.kept(param, number, index) for param in layer)
            for number, layer in enumerate(self.layers)
        ]
        self.members = [self.members[slot] for slot in slots]
        self.specs = [self.specs[slot] for slot in slots]
        self.settle()

    def kept(self, param: torch.Tensor, layer: int, index: torch.Tensor) -> torch.Tensor:
        def select(tensor):
            if layer > 0:
                return tensor.index_select(0, index)
            units = self.sizes[1]
            blocks = tensor.view(*tensor.shape[:-1], -1, units).index_select(-2, index)
            return blocks.reshape(*tensor.shape[:-1], -1)

        def stored(tensor):  # W column by column, as initial_layers stores it
            if tensor.dim() == 1:  # the wide layer's b
                return tensor.contiguous()
            return column_major(tensor) if tensor.dim() == 2 else member_column_major(tensor)

        kept = stored(select(param)).requires_grad_()
        if param.grad is not None:
            kept.grad = stored(select(param.grad))
        return kept


class MemberModel:
    """One member's weights, computing as its single run's model does: what snapshots.snapshot reads."""

    def __init__(self, spec: ClassifierSpec, layers: list[tuple[torch.Tensor, torch.Tensor]], cohort):
        self.spec, self.layers, self.cohort = spec, layers, cohort

    def weights(self) -> dict[str, torch.Tensor]:
        if self.spec.model == "softmax":
            [(W, b)] = self.layers
            return {"W": W, "b": b}
        return {f"W{i + 1}": W for i, (W, _) in enumerate(self.layers)}

    @torch.no_grad()
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        H = X.reshape(len(X), -1)
        for W, b in self.layers[:-1]:
            H = self.cohort.activations[self.spec.activation](self.cohort.linear(H, W, b))
        W, b = self.layers[-1]
        return self.cohort.linear(H, W, b)


class BatchedProbe:
    """insights.LayerProbe for all members at once: each member's layer health on the steps the
    trainer asks about (`active`), from the same shares and the same rounding."""

    def __init__(self, model: BatchedClassifier):
        self.model = model
        self.active = False
        self.hidden: list[torch.Tensor] = []  # per hidden layer, (K, n, units)
        self.grad_norms: list[torch.Tensor] = []  # per hidden layer, (K,)

    def saw_hidden(self, H: torch.Tensor) -> None:
        if self.active:
            self.hidden.append(H.detach())

    def saw_grads(self, norms: list[torch.Tensor]) -> None:
        if self.active:
            self.grad_norms = norms

    def read(self) -> list[list[dict]] | None:
        """Per slot, one dict per hidden layer; None if this step was not probed."""
        if not self.hidden:
            self.active = False
            return None
        layers = [
            torch.stack([grad_norms, *self.shares(H)], dim=1)  # (K, 3)
            for H, grad_norms in zip(self.hidden, self.grad_norms, strict=True)
        ]
        values = torch.stack(layers, dim=1).double().cpu().tolist()  # (K, layers, 3): one device sync
        self.hidden, self.grad_norms, self.active = [], [], False
        return [health_rows(member_values) for member_values in values]

    def shares(self, H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(saturated, dead) per slot, each slot by its own activation."""
        pairs = [activation_shares(name, H[start:stop]) for start, stop, name in self.model.activation_runs]
        return torch.cat([s for s, _ in pairs]), torch.cat([d for _, d in pairs])
