"""Mode coverage on 2-D mixtures, by the rules of VEEGAN (Srivastava et al. 2017) and
PacGAN (Lin et al. 2018)."""

import math

import torch
from torch import Tensor


def mode_metrics(samples: Tensor, means: Tensor, std: float) -> dict[str, float]:
    """Modes captured, high-quality fraction and reverse KL of a sample set.

    A sample is high quality if it lies within 3 std of its nearest mode; a mode is captured
    if at least one high-quality sample is nearest to it; the reverse KL compares the
    histogram of high-quality samples over modes with the uniform distribution.
    """
    dist = torch.cdist(samples.double(), means.double())
    nearest_dist, nearest = dist.min(dim=1)
    high_quality = nearest_dist <= 3 * std
    k = len(means)
    counts = torch.bincount(nearest[high_quality], minlength=k).double()
    total = counts.sum().item()
    if total > 0:
        p = counts / total
        nz = p > 0
        reverse_kl = float((p[nz] * torch.log(p[nz] * k)).sum())
    else:
        reverse_kl = math.inf
    return {
        "modes": int((counts > 0).sum()),
        "modes_total": k,
        "high_quality": float(high_quality.double().mean()),
        "reverse_kl": reverse_kl,
    }
