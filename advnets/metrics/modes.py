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
    dist = torch.cdist(samples.double(), means.to(samples.device).double())
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


def stacked_mode_metrics(digits: Tensor, modes_total: int = 1000) -> dict[str, float]:
    """Modes captured and KL to uniform on stacked MNIST (Metz et al. 2016, VEEGAN, PacGAN),
    from the digit the classifier reads on each of the three channels ((N, 3) ints): a
    mode is captured if a sample falls in it; the KL is of the histogram of samples over
    the 1,000 modes against the uniform distribution."""
    ids = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    counts = torch.bincount(ids, minlength=modes_total).double()
    p = counts / counts.sum()
    nz = p > 0
    return {
        "modes": int(nz.sum()),
        "modes_total": modes_total,
        "reverse_kl": float((p[nz] * torch.log(p[nz] * modes_total)).sum()),
    }
