"""Jacobian-based truncation (Tanielian et al. 2020, "Learning disconnected manifolds: a no
GAN's land"): a continuous G maps the connected latent space onto a disconnected target
only through "bridges" between the modes, where G changes fast. Rejecting the draws z with
the largest Jacobian norm ||dG/dz||_F removes most bridge samples and few others."""

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacfwd, vmap

from advnets.config import Config
from advnets.errors import ConfigError
from advnets.sampling import draw_labels, draw_noise, draw_samples, generate

CALIBRATION_DRAWS = 10_000
CALIBRATION_SEED_OFFSET = 1_000_003  # the threshold's draws are not those being sampled
MAX_DOUBLINGS = 6  # of the candidate draws, before giving up


def jacobian_norms(G: nn.Module, z: Tensor, y: Tensor | None = None, chunk: int = 250) -> Tensor:
    """||dG(z)/dz||_F for each row of z (N,), float32 on the CPU, in eval mode (batch norm
    uses running statistics), by forward mode: one tangent per latent dimension."""
    device = next(G.parameters()).device
    params = {k: v.detach() for k, v in G.named_parameters()}
    buffers = dict(G.named_buffers())

    def one(zi: Tensor, *yi: Tensor) -> Tensor:
        return functional_call(G, (params, buffers), (zi[None], *(t[None] for t in yi)))[0]

    was_training = G.training
    G.eval()
    try:
        norms = []
        for i in range(0, len(z), chunk):
            args = [z[i : i + chunk].to(device)]
            if y is not None:
                args.append(y[i : i + chunk].to(device))
            jac = vmap(jacfwd(one))(*args)  # (chunk, *out_shape, z_dim)
            norms.append(jac.flatten(1).float().norm(dim=1).cpu())
        return torch.cat(norms) if norms else torch.zeros(0)
    finally:
        G.train(was_training)


def calibration_norms(G: nn.Module, cfg: Config, seed: int = 0, label: int | None = None) -> Tensor:
    """Jacobian norms of CALIBRATION_DRAWS draws of their own (of class `label` if given),
    whose quantiles are the thresholds of `draw_truncated`."""
    seed += CALIBRATION_SEED_OFFSET
    z = draw_noise(cfg, CALIBRATION_DRAWS, seed)
    norms = jacobian_norms(G, z, draw_labels(cfg, CALIBRATION_DRAWS, seed, label))
    if not torch.isfinite(norms).all():
        raise ConfigError(
            "G's Jacobian is not finite at some draws (diverged weights?); "
            "truncate the samples of a run that trained without NaNs"
        )
    return norms


def jacobian_threshold(
    G: nn.Module, cfg: Config, keep: float, seed: int = 0, label: int | None = None
) -> float:
    """The norm below which a fraction `keep` of G's draws (of class `label` if given) lie,
    estimated on the calibration draws."""
    check_keep(keep)
    return float(calibration_norms(G, cfg, seed, label).quantile(keep))


def check_keep(keep: float) -> None:
    if not 0.0 < keep <= 1.0:
        raise ConfigError(f"the kept fraction of draws must be in (0, 1], got {keep}")


def draw_truncated(
    G: nn.Module,
    cfg: Config,
    n: int,
    keep: float,
    seed: int = 0,
    label: int | None = None,
    calibration: Tensor | None = None,
) -> Tensor:
    """n samples of G (all of class `label` if given) from the draws whose Jacobian norm is
    below `jacobian_threshold(keep)`: the candidates are the draws `draw_samples(G, cfg, m,
    seed, label)` decodes, m growing until n pass; keep = 1 is plain `draw_samples`.
    `calibration`: the `calibration_norms` of the same G, seed and label, to reuse them
    across keeps."""
    check_keep(keep)
    device = next(G.parameters()).device
    if keep == 1.0:
        return draw_samples(G, cfg, n, seed, label)
    if calibration is None:
        calibration = calibration_norms(G, cfg, seed, label)
    threshold = float(calibration.quantile(keep))
    m = int(n / keep * 1.1) + 10
    for _ in range(MAX_DOUBLINGS + 1):
        z, y = draw_noise(cfg, m, seed), draw_labels(cfg, m, seed, label)
        passed = jacobian_norms(G, z, y) <= threshold
        if passed.sum() >= n:
            z = z[passed][:n]
            y = y[passed][:n] if y is not None else None
            return generate(G, z.to(device), y)
        m *= 2
    raise ConfigError(
        f"only {int(passed.sum())} of {m // 2} draws passed the Jacobian "
        f"threshold of keep={keep}; G's norms differ between draws more than "
        "its calibration showed: try a larger keep"
    )
