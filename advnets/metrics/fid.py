"""Fréchet and kernel distances between feature sets (Heusel et al. 2017; Bińkowski et al.
2018), on the domain classifier's features, and the class histogram of samples."""

import math

import torch
from torch import Tensor


def _sqrt_psd(m: Tensor) -> Tensor:
    vals, vecs = torch.linalg.eigh(m)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2), in float64."""
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_a = _sqrt_psd(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp_min(0).sqrt().sum()
    return float(((mu_a - mu_b) ** 2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross)


def kernel_distance(
    a: Tensor, b: Tensor, subsets: int = 10, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3: mean and std over
    random subsets, as in Bińkowski et al. 2018."""
    a, b = a.double(), b.double()
    d = a.shape[1]
    n = min(subset_size, len(a), len(b))
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        x = a[torch.randperm(len(a), generator=gen)[:n]]
        y = b[torch.randperm(len(b), generator=gen)[:n]]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off = n * (n - 1)
        values.append(
            (kxx.sum() - kxx.trace()) / off + (kyy.sum() - kyy.trace()) / off - 2 * kxy.mean()
        )
    v = torch.stack(values)
    return float(v.mean()), float(v.std()) if len(v) > 1 else 0.0


def class_histogram(probs: Tensor) -> dict[str, float]:
    """Predicted-class counts as fractions, the number of classes present and KL to uniform."""
    k = probs.shape[1]
    counts = torch.bincount(probs.argmax(1), minlength=k).double()
    p = counts / counts.sum()
    nz = p > 0
    return {
        "classes": int(nz.sum()),
        "class_kl": float((p[nz] * torch.log(p[nz] * k)).sum()),
        **{f"class_{i}": float(p[i]) for i in range(k)},
    }


def inception_score(probs: Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) on the classifier's probabilities."""
    p = probs.double().clamp_min(1e-12)
    marginal = p.mean(0, keepdim=True)
    return math.exp(float((p * (p.log() - marginal.log())).sum(1).mean()))
