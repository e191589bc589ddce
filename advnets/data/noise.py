"""The noise prior p_z, and the labels of a conditional GAN's fakes."""

import torch
from torch import Tensor

from advnets.errors import ConfigError

PRIORS = ("uniform", "normal")


def sample_noise(n: int, dim: int, prior: str, scale: float, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None) -> Tensor:
    """n draws of z: uniform on [-scale, scale]^dim, or normal with std `scale`."""
    if prior == "uniform":
        return (torch.rand(n, dim, device=device, generator=generator) * 2 - 1) * scale
    if prior == "normal":
        return torch.randn(n, dim, device=device, generator=generator) * scale
    raise ConfigError(f"unknown noise prior {prior!r}; choose one of: {', '.join(PRIORS)}")


def sample_labels(n: int, num_classes: int, device: torch.device | str = "cpu",
                  generator: torch.Generator | None = None) -> Tensor:
    """n labels y uniform over 0..num_classes-1 (int64): what a conditional G is asked for."""
    return torch.randint(num_classes, (n,), device=device, generator=generator)
