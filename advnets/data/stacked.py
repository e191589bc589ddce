"""Stacked MNIST (Metz et al. 2016; VEEGAN; PacGAN): three MNIST digits drawn independently
as the three channels of one image, so the data has 10 x 10 x 10 = 1,000 modes."""

import torch
from torch import Tensor

MODES = 1000


def stack_digits(images01: Tensor, labels: Tensor, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """n images (n, 3, 28, 28) whose channels are three random digits of `images01`
    ((N, 1, 28, 28) on [0, 1]), and their mode ids 100 * d0 + 10 * d1 + d2."""
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(images01), (n, 3), generator=gen)
    stacked = images01[picks.flatten(), 0].view(n, 3, *images01.shape[2:])
    return stacked, mode_ids(labels[picks])


def mode_ids(digits: Tensor) -> Tensor:
    """(N, 3) digits of the three channels -> (N,) mode ids in [0, 1000)."""
    return digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
