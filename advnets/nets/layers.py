"""Layers the published GAN models use that PyTorch lacks."""

import torch
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
