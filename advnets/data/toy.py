"""Toy distributions generated in memory: the 1-D Gaussian of the paper's Figure 1 and the
2-D ring / grid mixtures of VEEGAN and PacGAN. Each knows its modes and its density."""

import math

import torch
from torch import Tensor


class GaussianMixture:
    """Equal-weight isotropic Gaussian mixture with `means` (K, D) and a shared `std`."""

    def __init__(self, means: Tensor, std: float) -> None:
        self.means = means.float()
        self.std = float(std)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, device: torch.device | str = "cpu") -> Tensor:
        """n samples drawn with the global torch RNG (so checkpoints can restore it)."""
        means = self.means.to(device)
        idx = torch.randint(len(means), (n,), device=device)
        return means[idx] + self.std * torch.randn(n, self.dim, device=device)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density at points x (N, D)."""
        sq = torch.cdist(x.double(), self.means.double().to(x.device)) ** 2
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        comp = -sq / (2 * self.std**2) + log_norm
        return torch.logsumexp(comp, dim=1) - math.log(len(self.means))


def gaussian_1d(mean: float = 4.0, std: float = 0.5) -> GaussianMixture:
    """p_data of the paper's Figure 1: a single 1-D Gaussian."""
    return GaussianMixture(torch.tensor([[mean]]), std)


def ring(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    """`modes` Gaussians evenly spaced on a circle (VEEGAN/PacGAN: 8, radius 1, std 0.01)."""
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return GaussianMixture(means, std)


def grid(std: float = 0.05) -> GaussianMixture:
    """The 5x5 grid of Gaussians with means in {-4,-2,0,2,4}^2 (VEEGAN/PacGAN: std 0.05)."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(axis, axis)
    return GaussianMixture(means, std)
