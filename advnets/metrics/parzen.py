"""Parzen-window log-likelihood, the protocol of Goodfellow et al. 2014 (Table 1) as in
goodfeli/adversarial `parzen_ll.py`: generator samples are the centres of an isotropic
Gaussian kernel, sigma is chosen on validation data from a log-spaced grid, and the mean
log-likelihood of the test data is reported with its standard error."""

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor


@dataclass
class ParzenResult:
    mean: float
    stderr: float
    sigma: float
    sigmas: list[float] = field(default_factory=list)
    valid_ll: list[float] = field(default_factory=list)  # mean validation LL per sigma

    def as_dict(self) -> dict[str, float]:
        return {"parzen": self.mean, "parzen_se": self.stderr, "parzen_sigma": self.sigma}


def _log_density_terms(
    x: Tensor, centres: Tensor, sigmas: Tensor, chunk: int, dtype: torch.dtype
) -> Tensor:
    """log p_sigma(x) for every row of x and every sigma: (len(sigmas), len(x)), float64.

    ||x - c||^2 = ||x||^2 + (||c||^2 - 2 x.c): the bracket comes from one matrix product per
    chunk (shared by all sigmas) and ||x||^2, constant in the sum over centres, is taken out
    of the log-sum-exp and added back in float64."""
    c = centres.to(dtype)
    c_sq = (c * c).sum(1).unsqueeze(0)
    k, d = c.shape
    out = torch.empty(len(sigmas), len(x), dtype=torch.float64, device=x.device)
    log_norm = math.log(k) + d * torch.log(sigmas.double() * math.sqrt(2 * math.pi))
    for start in range(0, len(x), chunk):
        xb = x[start : start + chunk].to(dtype)
        x_sq = (xb.double() ** 2).sum(1)
        partial = torch.addmm(c_sq, xb, c.T, alpha=-2)  # ||c||^2 - 2 x.c
        for i, s in enumerate(sigmas.tolist()):
            # logsumexp subtracts the row max, so `dtype` (float32) is accurate here
            e = torch.logsumexp(partial * (-0.5 / s**2), dim=1).double()
            out[i, start : start + chunk] = e - x_sq * (0.5 / s**2) - log_norm[i]
    return out


def parzen_log_likelihood(
    samples: Tensor,
    test: Tensor,
    sigma: float,
    chunk: int = 1000,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Per-example log-likelihood of `test` under the Parzen window on `samples`."""
    sigmas = torch.tensor([float(sigma)], dtype=torch.float64)
    return _log_density_terms(test.flatten(1), samples.flatten(1), sigmas, chunk, dtype)[0]


def parzen_protocol(
    samples: Tensor,
    valid: Tensor,
    test: Tensor,
    sigmas: np.ndarray | None = None,
    chunk: int = 1000,
    dtype: torch.dtype = torch.float32,
) -> ParzenResult:
    """Choose sigma by mean log-likelihood on `valid`, then score `test` with it."""
    grid = torch.as_tensor(np.logspace(-1, 0, 10) if sigmas is None else sigmas).double()
    centres = samples.flatten(1)
    valid_ll = _log_density_terms(valid.flatten(1), centres, grid, chunk, dtype).mean(1)
    best = int(valid_ll.argmax())
    ll = parzen_log_likelihood(centres, test, float(grid[best]), chunk, dtype)
    return ParzenResult(
        float(ll.mean()),
        float(ll.std(correction=0) / math.sqrt(len(ll))),
        float(grid[best]),
        grid.tolist(),
        valid_ll.tolist(),
    )
