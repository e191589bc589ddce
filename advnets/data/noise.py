"""The noise prior p_z, and the labels of a conditional GAN's fakes."""

from collections.abc import Callable

import torch
from torch import Tensor

from advnets.registry import Registry

PRIORS: Registry[Callable[..., Tensor]] = Registry("noise prior")


@PRIORS.register("uniform")
def uniform(n: int, dim: int, scale: float, device, generator) -> Tensor:
    """Uniform on [-scale, scale]^dim."""
    return (torch.rand(n, dim, device=device, generator=generator) * 2 - 1) * scale


@PRIORS.register("normal")
def normal(n: int, dim: int, scale: float, device, generator) -> Tensor:
    """Normal with mean 0 and std `scale`."""
    return torch.randn(n, dim, device=device, generator=generator) * scale


def sample_noise(
    n: int,
    dim: int,
    prior: str,
    scale: float,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """n draws of z from the named prior."""
    return PRIORS.get(prior)(n, dim, scale, device, generator)


def sample_labels(
    n: int,
    num_classes: int,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Tensor:
    """n labels y uniform over 0..num_classes-1 (int64): what a conditional G is asked for."""
    return torch.randint(num_classes, (n,), device=device, generator=generator)
