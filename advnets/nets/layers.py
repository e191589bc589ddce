"""Layers the published GAN models use that PyTorch lacks."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Maxout(nn.Module):
    """Maxout (Goodfellow et al. 2013): `units` outputs, each the max of `pieces` linear maps.

    One Linear of width units*pieces; consecutive columns form a unit's pieces, as in pylearn2.
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: Tensor) -> Tensor:
        y = self.linear(x)
        return y.view(*y.shape[:-1], self.units, self.pieces).amax(dim=-1)


def init_uniform_(module: nn.Module, scale: float) -> None:
    """pylearn2's `irange` init: weights U(-scale, scale), biases zero."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -scale, scale)
            nn.init.zeros_(m.bias)


def logit(p: Tensor, eps: float = 1e-7) -> Tensor:
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


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
