"""Layers the published GAN models use that PyTorch lacks."""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.registry import Registry


class Maxout(nn.Module):
    """Maxout (Goodfellow et al. 2013): `units` outputs, each the max of `pieces` linear maps.

    One Linear of width units*pieces; consecutive columns form a unit's pieces, as in pylearn2.
    The max is taken with `max(dim)`, whose backward sends the gradient to the winning piece
    (`amax` splits it among ties): 1.4x faster on PacGAN's D layer (benchmarks/maxout.py).
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x)
        return y.view(*y.shape[:-1], self.units, self.pieces).max(dim=-1).values


def limit_norms(module: nn.Module, most: float) -> None:
    """Mark each linear layer of `module` to keep every unit's incoming weights (a row of
    its weight; each maxout piece is a row) at norm <= `most`: `apply_norm_limits_` does it."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            m.max_row_norm = most


def norm_limited(net: nn.Module) -> list[nn.Module]:
    """The layers of `net` that `limit_norms` marked (found once, not at every update)."""
    return [m for m in net.modules() if getattr(m, "max_row_norm", 0.0) > 0]


@torch.no_grad()
def apply_norm_limits_(layers: list[nn.Module]) -> None:
    """Scale back each marked layer's rows longer than its limit (after an update: projected
    SGD, as pylearn2 applies max_col_norm)."""
    for m in layers:
        norms = m.weight.norm(dim=1, keepdim=True)
        m.weight.mul_((m.max_row_norm / norms.clamp_min(1e-12)).clamp(max=1.0))


def init_uniform_(module: nn.Module, scale: float) -> None:
    """pylearn2's `irange` init: weights U(-scale, scale), biases zero."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -scale, scale)
            nn.init.zeros_(m.bias)


def init_normal_(module: nn.Module, std: float) -> None:
    """DCGAN's init (Radford et al. 2015; pytorch/examples `weights_init`): linear and conv
    weights N(0, std), batch-norm scales N(1, std), biases zero."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.modules.conv._ConvNd):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def init_xavier_(module: nn.Module, scale: float) -> None:
    """Glorot & Bengio's uniform init (Lasagne's default, as the improved-GAN code's G):
    linear weights U(+-sqrt(6 / (fan_in + fan_out))), biases zero; `scale` is unused."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


INITS: Registry[Callable[[nn.Module, float], None]] = Registry("init")
INITS.add("default", lambda module, scale: None)  # PyTorch's own
INITS.add("uniform", init_uniform_)
INITS.add("normal", init_normal_)
INITS.add("xavier", init_xavier_)

# a generator's output nonlinearity
OUTPUTS: Registry[Callable[[], nn.Module]] = Registry("generator output")
OUTPUTS.add("sigmoid", nn.Sigmoid)
OUTPUTS.add("tanh", nn.Tanh)
OUTPUTS.add("linear", nn.Identity)


def init_weights_(module: nn.Module, init: str, scale: float) -> None:
    """Apply the init named by a `NetConfig`."""
    INITS.get(init)(module, scale)


def logit(p: Tensor, eps: float = 1e-7) -> Tensor:
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


class GaussianNoise(nn.Module):
    """x + N(0, std^2) noise in training mode, x in eval mode (Salimans et al. 2016's D)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training else x


def weight_norm_(
    module: nn.Module, output: nn.Linear, layers: str = "all", train_hidden: bool = True
) -> nn.Module:
    """Weight normalisation (Salimans & Kingma 2016), w = g v / ||v||, starting from the
    current weights, of every linear layer of `module` (`layers="all"`) or of its `output`
    layer alone ("output"); with `train_hidden` false the scales g of the layers other than
    `output` are fixed (they keep what the data-dependent init gives them)."""
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if layers == "output":
        linears = [output]
    for m in linears:
        nn.utils.parametrizations.weight_norm(m)
        if m is not output and not train_hidden:
            m.parametrizations.weight.original0.requires_grad_(False)
    return module


@torch.no_grad()
def init_weight_norm_from_data_(net: nn.Module, x: Tensor, out_scale: float = 0.1) -> None:
    """Salimans & Kingma 2016's data-dependent init of a weight-normalised net: on the batch
    x, each linear layer's scale g and bias are set, in order, so that its outputs have mean 0
    and std 1 over the batch (`out_scale` for the last layer)."""
    linears = [
        m for m in net.modules() if isinstance(m, nn.Linear) and hasattr(m, "parametrizations")
    ]

    def normalise(layer: nn.Module, inputs, out: Tensor) -> Tensor:
        scale = out_scale if layer is linears[-1] else 1.0
        mean, std = out.mean(0), out.std(0).clamp_min(1e-6)
        g = layer.parametrizations.weight.original0
        g.mul_((scale / std).view_as(g))
        layer.bias.sub_(mean).mul_(scale / std)
        return (out - mean) * (scale / std)

    handles = [m.register_forward_hook(normalise) for m in linears]
    try:
        net(x)
    finally:
        for handle in handles:
            handle.remove()


class Dropout(nn.Module):
    """Inverted dropout (drop probability `p`) that is ~3x cheaper than nn.Dropout on a CPU.

    PyTorch's CPU dropout draws one random number per element, which costs more than the
    matmuls of the paper's maxout D. Here each 64-bit random word yields four 15-bit
    uniforms, so the keep probability is quantised to 1/32768 (0.8 -> 0.799988); outputs are
    scaled by the inverse of the quantised probability, so E[output] = input exactly.
    On other devices it is plain `F.dropout`.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.keep_15bit = round((1 - p) * 32768)

    def mask(self, shape: torch.Size, device: torch.device) -> Tensor:
        n = math.prod(shape)
        words = torch.empty(-(-n // 4), dtype=torch.int64, device=device).random_()
        uniform15 = words.view(torch.int16)[:n].view(shape) & 0x7FFF
        return uniform15 < self.keep_15bit

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        scale = 32768 / self.keep_15bit
        return x * self.mask(x.shape, x.device).to(x.dtype).mul_(scale)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _PairwiseL1(torch.autograd.Function):
    """‖M_{b,i} − M_{b,j}‖₁ for M of shape (B, N, C), as (B, N, N). The forward is cdist's,
    which never holds the (B, N, N, C) differences; the backward, Σ_j (g_ij + g_ji)
    sign(M_{b,i} − M_{b,j}), is written in differentiable ops laid out as (C, B, N, N), so it
    has the second derivative that Unrolled GAN needs and that cdist's own backward lacks.
    About 2x faster than autograd through the broadcast, for the layer and for a small 2-D
    training step (benchmarks/minibatch_discrimination.py).
    """

    @staticmethod
    def forward(ctx, M: Tensor) -> Tensor:
        ctx.save_for_backward(M)
        return torch.cdist(M, M, p=1)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (M,) = ctx.saved_tensors
        by_c = M.permute(2, 0, 1).contiguous()  # (C, B, N)
        sign = (by_c.unsqueeze(3) - by_c.unsqueeze(2)).sign_().to(grad.dtype)  # autocast:
        # M may be bf16 where cdist gave an fp32 result
        return torch.einsum("bij,cbij->bic", grad + grad.transpose(1, 2), sign).to(M.dtype)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, Sec. 3.2): features f(x_i) in R^A are
    multiplied by a trainable tensor T in R^{A x B x C} to M_i in R^{B x C}; then
    c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1), o(x_i)_b = sum_j c_b(x_i, x_j) (j = i
    included, as the paper writes it), and [f(x_i), o(x_i)] goes on. The sum runs over the
    batch this layer is called with, so real and generated batches must be passed separately.
    """

    def __init__(self, in_features: int, kernels: int, kernel_dim: int) -> None:
        super().__init__()
        # N(0, 0.05), as the MinibatchLayer of the paper's code (openai/improved-gan)
        self.T = nn.Parameter(0.05 * torch.randn(in_features, kernels, kernel_dim))

    def forward(self, f: Tensor) -> Tensor:
        M = torch.einsum("na,abc->bnc", f, self.T).contiguous()  # (B, N, C)
        o = torch.exp(-_PairwiseL1.apply(M)).sum(dim=2)  # (B, N)
        return torch.cat([f, o.t()], dim=1)

    def extra_repr(self) -> str:
        return f"A={self.T.shape[0]}, B={self.T.shape[1]}, C={self.T.shape[2]}"


def minibatch_features(width: int, kernels: int, kernel_dim: int) -> nn.Module:
    """Minibatch discrimination on features of `width` with B = `kernels` (0: off, a no-op
    without parameters) and C = `kernel_dim`."""
    if kernels == 0:
        return nn.Identity()
    return MinibatchDiscrimination(width, kernels, kernel_dim)


def pack(x: Tensor, m: int) -> Tensor:
    """PacGAN's packing (Lin et al. 2018): (N, F, ...) -> (N/m, m*F, ...), each group of m
    consecutive samples concatenated along the first feature axis (the channels of images),
    sample j of a group in slot j."""
    if len(x) % m:
        raise ValueError(f"a batch of {len(x)} samples cannot be cut into packs of {m}")
    return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])


class Packed(nn.Module):
    """The packed discriminator D(x_1, ..., x_m) of PacGAN: `net`, built for inputs of m
    times the features, sees each group of m consecutive samples as one input and gives one
    logit per group. Batches must hold whole packs (all real or all generated)."""

    def __init__(self, net: nn.Module, m: int) -> None:
        super().__init__()
        self.net, self.m = net, m

    def forward(self, x: Tensor) -> Tensor:
        return self.net(pack(x, self.m))

    def features(self, x: Tensor) -> Tensor:
        return self.net.features(pack(x, self.m))

    def extra_repr(self) -> str:
        return f"m={self.m}"
