"""Walks in a trained generator's latent space: interpolation between two z (the paper's
Figure 3) and arithmetic on averaged z (DCGAN, Radford et al. 2016, Figure 7).

Every z comes from the run's own prior through `sampling.draw_noise`, so index i of a
"candidate grid" of n samples with seed s is the same z that `draw_samples(G, cfg, n, s)[i]`
decodes (and `advnets sample RUN --n n --seed s` draws).
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advnets.config import Config
from advnets.errors import ConfigError
from advnets.sampling import draw_noise, generate

MODES = ("linear", "slerp")


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """(1 - t) a + t b: a, b (P, d), t (S,) -> (P, S, d). Exactly a at t = 0 and b at t = 1."""
    t = t.to(a.dtype)[None, :, None]
    return (1 - t) * a[:, None] + t * b[:, None]


def slerp(a: Tensor, b: Tensor, t: Tensor, eps: float = 1e-6) -> Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): a, b (P, d), t (S,)
    -> (P, S, d), sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b with Ω the angle between a and b.

    Equal-norm endpoints keep their norm along the way; at t = 0 and 1 the result is exactly
    a and b. Ω = 2·atan2(|â − b̂|, |â + b̂|) stays accurate for near-parallel vectors (where
    acos of the cosine does not); where sin Ω < eps — parallel (the arc is the chord) or
    antiparallel (the arc is undefined) — the pair falls back to `lerp`. Computed in float64.
    """
    a64, b64, t64 = a.double(), b.double(), t.double()[None, :, None]
    ua = a64 / a64.norm(dim=1, keepdim=True).clamp_min(1e-300)
    ub = b64 / b64.norm(dim=1, keepdim=True).clamp_min(1e-300)
    omega = 2 * torch.atan2((ua - ub).norm(dim=1), (ua + ub).norm(dim=1))[:, None, None]
    sin = torch.sin(omega)
    safe = sin.abs() >= eps
    sin = torch.where(safe, sin, torch.ones_like(sin))
    arc = (
        torch.sin((1 - t64) * omega) / sin * a64[:, None]
        + torch.sin(t64 * omega) / sin * b64[:, None]
    )
    return torch.where(safe, arc, lerp(a64, b64, t.double())).to(a.dtype)


def interpolate(a: Tensor, b: Tensor, steps: int, mode: str = "linear") -> Tensor:
    """`steps` points from a to b (both (P, d)), endpoints included: (P, steps, d)."""
    if steps < 2:
        raise ConfigError(f"--steps must be at least 2 (the two endpoints), got {steps}")
    t = torch.linspace(0, 1, steps)
    if mode == "linear":
        return lerp(a, b, t)
    if mode == "slerp":
        return slerp(a, b, t)
    raise ConfigError(f"unknown interpolation mode {mode!r}; choose one of: {', '.join(MODES)}")


def decode(G: nn.Module, z: Tensor) -> Tensor:
    """G(z) (eval mode, float32, CPU) for image runs; a toy run stops with one line."""
    images = generate(G, z.to(next(G.parameters()).device))
    if images.ndim != 4:
        raise ConfigError(
            f"latent-space pictures need an image run (MNIST, Fashion-MNIST); "
            f"this run's generator makes {images.shape[1]}-D points — plot "
            f"those with `advnets sample RUN_DIR --out points.png`"
        )
    return images


def require_images(G: nn.Module, cfg: Config) -> None:
    """Stop with one line unless G is an unconditional image generator (decodes one z to
    find out)."""
    if cfg.model.num_classes:
        raise ConfigError(
            "latent-space pictures need an unconditional run; this one is "
            "conditional — draw its classes with `advnets sample RUN_DIR "
            "--label Y --out FILE.png`"
        )
    decode(G, draw_noise(cfg, 1))


def candidate_noise(cfg: Config, n: int, seed: int = 0) -> Tensor:
    """The z (n, d) of the seeded grid of n samples the user picks indices from."""
    if not 1 <= n <= 1000:
        raise ConfigError(f"--grid must be between 1 and 1000 samples, got {n}")
    return draw_noise(cfg, n, seed)


def candidates(G: nn.Module, cfg: Config, n: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The seeded grid of n samples the user picks indices from: (z (n, d), G(z))."""
    z = candidate_noise(cfg, n, seed)
    return z, decode(G, z)


def check_indices(name: str, indices: list[int], n: int) -> list[int]:
    """Indices into a candidate grid of n samples (row-major, from 0); one-line errors."""
    if not indices:
        raise ConfigError(
            f"--{name} is empty; pick at least one index from the grid "
            f"(`--show-grid` draws it numbered)"
        )
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        raise ConfigError(
            f"--{name} index {bad[0]} is out of range: the candidate grid has "
            f"{n} samples, numbered 0 to {n - 1} (change its size with --grid)"
        )
    return indices


def interpolation_images(
    G: nn.Module, z_a: Tensor, z_b: Tensor, steps: int, mode: str = "linear"
) -> Tensor:
    """G along the path from each z_a[i] to z_b[i]: (P * steps, C, H, W), row i = pair i,
    its first image G(z_a[i]) and its last G(z_b[i])."""
    path = interpolate(z_a, z_b, steps, mode)
    return decode(G, path.reshape(-1, path.shape[-1]))


def interpolation_grid(
    G: nn.Module, cfg: Config, pairs: int, steps: int, seed: int = 0, mode: str = "linear"
) -> Tensor:
    """`pairs` rows of `steps` images between random endpoints drawn from the run's prior:
    z_a = draw_noise(cfg, 2 * pairs, seed)[0::2], z_b = the same draws [1::2]."""
    if pairs < 1:
        raise ConfigError(f"--pairs must be at least 1, got {pairs}")
    z = draw_noise(cfg, 2 * pairs, seed)
    return interpolation_images(G, z[0::2], z[1::2], steps, mode)


@dataclass
class Arithmetic:
    """What DCGAN's Figure 7 shows: the picked samples, the decoded means of their z, and
    G(Y) for Y = mean z_A − mean z_B + mean z_C with G(Y + U(−r, r)) around it."""

    picks: list[Tensor]  # G(z) of the A, B and C picks, each (k, C, H, W)
    means: Tensor  # G(mean z_A), G(mean z_B), G(mean z_C): (3, C, H, W)
    y: Tensor  # Y, (d,)
    result: Tensor  # G(Y), (1, C, H, W)
    neighbours: Tensor  # G(Y + U(-r, r)^d), (n, C, H, W)
    outside: int  # coordinates of Y outside a uniform prior's support (0 for a normal prior)


def vector_arithmetic(
    G: nn.Module,
    cfg: Config,
    a: list[int],
    b: list[int],
    c: list[int],
    grid: int = 100,
    seed: int = 0,
    radius: float = 0.25,
    neighbours: int = 8,
) -> Arithmetic:
    """mean z_A − mean z_B + mean z_C over picks (indices) from the candidate grid of `grid`
    samples with `seed`, decoded, with `neighbours` samples G(Y + U(−radius, radius)).

    Y is not clamped: with a uniform prior U[−s, s]^d it may leave the cube G was trained on
    (`outside` counts the coordinates that do); with a normal prior its norm shrinks, since
    averages of independent draws have a smaller variance. The jitter uses seed + 1.
    """
    z = candidate_noise(cfg, grid, seed)
    picked = [z[check_indices(name, idx, grid)] for name, idx in zip("abc", (a, b, c), strict=True)]
    return arithmetic_of_codes(G, cfg, picked, seed, radius, neighbours)


def arithmetic_of_codes(
    G: nn.Module,
    cfg: Config,
    picked: list[Tensor],
    seed: int = 0,
    radius: float = 0.25,
    neighbours: int = 8,
) -> Arithmetic:
    """`vector_arithmetic` on given codes: `picked` holds the z's (k, d) of concepts A, B and
    C, e.g. a VAE/GAN's encodings of real images (Larsen et al.'s attribute vectors)."""
    mean_a, mean_b, mean_c = (p.mean(0) for p in picked)
    y = mean_a - mean_b + mean_c
    jitter = (
        torch.rand(neighbours, y.numel(), generator=torch.Generator().manual_seed(seed + 1)) * 2 - 1
    ) * radius
    m = cfg.model
    outside = int((y.abs() > m.noise_scale).sum()) if m.noise == "uniform" else 0
    decoded = decode(G, torch.cat([*picked, torch.stack([mean_a, mean_b, mean_c, y]), y + jitter]))
    sizes = [len(p) for p in picked]
    picks = list(decoded[: sum(sizes)].split(sizes))
    rest = decoded[sum(sizes) :]
    return Arithmetic(picks, rest[:3], y, rest[3:4], rest[4:], outside)
