"""The paper's theory (Goodfellow et al. 2014, Section 4), checked numerically in 1-D.

- Proposition 1: for a fixed G the optimal discriminator is D*(x) = p_data / (p_data + p_g).
- Theorem 1: C(G) = max_D V(D, G) = -log 4 + 2 JSD(p_data || p_g), minimal (-log 4) exactly
  when p_g = p_data.
- Section 3: early in training log(1 - D(G(z))) saturates; -log D(G(z)) does not.

Densities are anything with `log_prob(x: (N, 1)) -> (N,)`, e.g. `GaussianMixture` from
`advnets.data.toy` (see `gaussian` / `mixture` here); `kde_on_grid` estimates one from
samples. Integrals are trapezoid sums on a fine uniform grid in float64 (for smooth densities
that decay like Gaussians the trapezoid rule converges faster than any power of the spacing).
The trained-network checks use the `gan-1d` preset's networks and its Algorithm-1 updates
(`Run.update("D")`), i.e. the training code itself.
"""

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.data.toy import GaussianMixture
from advnets.losses import g_minimax, g_non_saturating, value

LOG4 = math.log(4.0)


# -- densities ----------------------------------------------------------------------------


def gaussian(mean: float, std: float) -> GaussianMixture:
    """The 1-D Gaussian N(mean, std^2) as a density with an exact `log_prob`."""
    return GaussianMixture(torch.tensor([[float(mean)]]), std)


def mixture(means: list[float], std: float) -> GaussianMixture:
    """An equal-weight 1-D mixture of Gaussians N(mean_i, std^2)."""
    return GaussianMixture(torch.tensor([[float(m)] for m in means]), std)


def silverman_bandwidth(samples: Tensor) -> float:
    """Silverman's rule: 0.9 min(std, IQR / 1.34) n^(-1/5)."""
    x = samples.detach().double().flatten()
    spread = min(x.std().item(), (x.quantile(0.75) - x.quantile(0.25)).item() / 1.34)
    return 0.9 * max(spread, 1e-12) * len(x) ** -0.2


def kde_on_grid(samples: Tensor, x: Tensor, bandwidth: float | None = None) -> Tensor:
    """log of a Gaussian kernel density estimate of 1-D `samples` on the uniform grid x
    (float64), binned: each sample's unit mass is split linearly between its two nearest
    grid points, then the bins are convolved with the kernel (error O(spacing^2 /
    bandwidth^2); the bandwidth is at least the spacing). Mass beyond the grid's ends is
    dropped; -inf where the estimate is 0."""
    x = x.double()
    h = silverman_bandwidth(samples) if bandwidth is None else float(bandwidth)
    dx = (x[1] - x[0]).item()
    if not torch.allclose(x.diff(), torch.full_like(x[1:], dx), rtol=1e-6, atol=0):
        raise ValueError("kde_on_grid needs a uniform grid")
    pos = (samples.detach().double().flatten().cpu() - x[0]) / dx
    pos = pos[(pos >= 0) & (pos <= len(x) - 1)]
    left = pos.floor().long().clamp(max=len(x) - 2)
    frac = pos - left
    bins = torch.zeros(len(x), dtype=torch.float64)
    bins.index_add_(0, left, 1 - frac).index_add_(0, left + 1, frac)
    h = max(h, dx)  # the grid cannot resolve a narrower kernel
    half = min(int(math.ceil(8 * h / dx)), len(x))
    taps = torch.arange(-half, half + 1, dtype=torch.float64) * dx
    kernel = torch.exp(-0.5 * (taps / h) ** 2)
    kernel /= kernel.sum() * dx  # each sample's mass stays exactly 1 on the grid
    density = F.conv1d(bins.view(1, 1, -1), kernel.view(1, 1, -1), padding=half).flatten()
    n = samples.numel()
    return (density.clamp(min=0) / n).log()


def log_density(dist, x: Tensor) -> Tensor:
    """log p(x) in float64 at 1-D points x (N,). A 1-D `GaussianMixture` is evaluated here
    directly (the same formula as its `log_prob`, without `cdist`: 5x faster on 10^6 points)."""
    x = x.double().reshape(-1, 1)
    if not isinstance(dist, GaussianMixture) or dist.dim != 1:
        return dist.log_prob(x).double()
    means = dist.means.double().reshape(1, -1).to(x.device)
    comp = -0.5 * ((x - means) / dist.std) ** 2 - math.log(dist.std * math.sqrt(2 * math.pi))
    if means.shape[1] == 1:
        return comp.flatten()
    return torch.logsumexp(comp, dim=1) - math.log(means.shape[1])


def support_grid(*dists: GaussianMixture, n: int = 20001, width: float = 12.0) -> Tensor:
    """A uniform float64 grid covering every mixture's means +- `width` standard deviations."""
    lo = min(d.means.min().item() - width * d.std for d in dists)
    hi = max(d.means.max().item() + width * d.std for d in dists)
    return torch.linspace(lo, hi, n, dtype=torch.float64)


# -- Proposition 1 and Theorem 1 ---------------------------------------------------------


def optimal_logit(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """logit D*(x) = log p_data(x) - log p_g(x)."""
    return log_p_data - log_p_g


def optimal_discriminator(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """D*(x) = p_data / (p_data + p_g) from log-densities at the same points: sigmoid of their
    difference, finite even where both densities underflow; 1/2 where both are 0 (-inf
    logs), outside both supports, where any D is optimal."""
    d = torch.sigmoid(optimal_logit(log_p_data, log_p_g))
    nowhere = (log_p_data == -math.inf) & (log_p_g == -math.inf)
    return torch.where(nowhere, torch.full_like(d, 0.5), d)


def _weighted(log_w: Tensor, f: Tensor) -> Tensor:
    """exp(log_w) * f, with 0 wherever the weight is 0 (so 0 * -inf counts as 0)."""
    return torch.where(log_w > -math.inf, log_w.exp() * f, torch.zeros_like(f))


def criterion_on_grid(x: Tensor, log_p_data: Tensor, log_p_g: Tensor) -> float:
    """C(G) = E_data log D*(x) + E_g log(1 - D*(x)) (eq. 4) by the trapezoid rule on x."""
    logit = optimal_logit(log_p_data, log_p_g)
    f = _weighted(log_p_data, F.logsigmoid(logit)) + _weighted(log_p_g, F.logsigmoid(-logit))
    return torch.trapezoid(f, x).item()


def jensen_shannon_on_grid(x: Tensor, log_p: Tensor, log_q: Tensor) -> float:
    """JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2, in nats."""
    log_m = torch.logaddexp(log_p, log_q) - math.log(2.0)
    f = 0.5 * (_weighted(log_p, log_p - log_m) + _weighted(log_q, log_q - log_m))
    return torch.trapezoid(f, x).item()


def virtual_training_criterion(p_data, p_g, x: Tensor | None = None) -> float:
    """C(G) = max_D V(D, G) for two 1-D densities, by quadrature on x (default: a grid
    covering both, which needs mixtures)."""
    x = support_grid(p_data, p_g) if x is None else x
    return criterion_on_grid(x, log_density(p_data, x), log_density(p_g, x))


def jensen_shannon(p, q, x: Tensor | None = None) -> float:
    """JSD(p || q) in nats (0 when p = q, log 2 for disjoint supports), by quadrature on x."""
    x = support_grid(p, q) if x is None else x
    return jensen_shannon_on_grid(x, log_density(p, x), log_density(q, x))


@torch.no_grad()
def value_estimate(D, x_data: Tensor, x_fake: Tensor) -> float:
    """The sample estimate of V(D, G): mean log D(x) + mean log(1 - D(G(z))), from D's logits
    (`advnets.losses.value`). For D = D* it estimates C(G); a trained D gives a value at most
    C(G) up to sampling noise."""
    return value(D(x_data).double(), D(x_fake).double()).item()


@dataclass
class Theorem1Row:
    """C(G) three ways for one (p_data, p_g) pair."""

    name: str
    criterion: float  # C(G) by quadrature of eq. (4)
    jsd: float  # JSD(p_data || p_g) by quadrature
    monte_carlo: float  # value_estimate with the exact D* on fresh samples

    @property
    def from_jsd(self) -> float:
        return -LOG4 + 2 * self.jsd


def theorem1_row(
    name: str,
    p_data: GaussianMixture,
    p_g: GaussianMixture,
    n_samples: int = 1_000_000,
    seed: int = 0,
) -> Theorem1Row:
    """C(G) by quadrature, -log 4 + 2 JSD, and a Monte-Carlo estimate with D* on samples."""
    gen = torch.Generator().manual_seed(seed)

    def draw(dist: GaussianMixture) -> Tensor:
        idx = torch.randint(len(dist.means), (n_samples,), generator=gen)
        noise = torch.randn(n_samples, 1, generator=gen, dtype=torch.float64)
        return dist.means.double()[idx] + dist.std * noise

    def d_star(x: Tensor) -> Tensor:
        return optimal_logit(log_density(p_data, x), log_density(p_g, x))

    mc = value_estimate(d_star, draw(p_data), draw(p_g))
    return Theorem1Row(
        name, virtual_training_criterion(p_data, p_g), jensen_shannon(p_data, p_g), mc
    )


def theorem1_pairs() -> list[tuple[str, GaussianMixture, GaussianMixture]]:
    """(name, p_data, p_g) pairs for the table: p_g = p_data, near, far and disjoint."""
    data = gaussian(4.0, 0.5)
    return [
        ("p_g = p_data = N(4, 0.5^2)", data, gaussian(4.0, 0.5)),
        ("N(4, 0.5^2) vs N(3, 1)", data, gaussian(3.0, 1.0)),
        ("N(4, 0.5^2) vs N(4, 1)", data, gaussian(4.0, 1.0)),
        ("N(4, 0.5^2) vs N(2, 0.5^2)", data, gaussian(2.0, 0.5)),
        ("mix{2,6} sd 0.5 vs N(4, 2^2)", mixture([2.0, 6.0], 0.5), gaussian(4.0, 2.0)),
        ("N(0, 1) vs N(50, 1) (disjoint)", gaussian(0.0, 1.0), gaussian(50.0, 1.0)),
    ]


# -- Proposition 1 with a trained discriminator ------------------------------------------


class GaussianGenerator(nn.Module):
    """A fixed generator with a known density: z ~ U(-s, s) -> mean + std * sqrt(2) *
    erfinv(z / s), which is N(mean, std^2) exactly (the inverse-CDF map)."""

    def __init__(self, mean: float, std: float, scale: float = 1.0) -> None:
        super().__init__()
        self.mean, self.std, self.scale = float(mean), float(std), float(scale)

    def forward(self, z: Tensor) -> Tensor:
        u = (z / self.scale).clamp(-1 + 1e-6, 1 - 1e-6)
        return self.mean + self.std * math.sqrt(2.0) * torch.erfinv(u)


def prop1_config(steps: int, seed: int, data_mean: float, data_std: float) -> list[str]:
    """gan-1d overrides for fitting D alone. With G fixed this is plain logistic regression,
    so it takes the usual settings for that (Adam lr 1e-2, beta1 0.9, batches of 2048) and
    an lr that decays 10-fold over `steps` updates to average out the minibatch noise."""
    decay = math.exp(math.log(10.0) / max(steps, 1))
    return [
        f"train.seed={seed}",
        f"data.mean={data_mean}",
        f"data.std={data_std}",
        "train.steps=1",
        "train.epochs=null",
        "train.batch_size=2048",
        "optim.D.lr=0.01",
        "optim.D.betas=[0.9,0.999]",
        f"optim.D.lr_decay={decay}",
        "train.progress=false",
    ]


def fit_discriminator(
    p_g_mean: float,
    p_g_std: float,
    steps: int,
    seed: int = 0,
    data_mean: float = 4.0,
    data_std: float = 0.5,
) -> nn.Module:
    """Train the gan-1d discriminator alone (Algorithm 1's D update, fresh samples every
    step) against the fixed generator N(p_g_mean, p_g_std^2); returns D in eval mode."""
    from advnets.config import load_preset
    from advnets.training import build_run

    run = build_run(load_preset("gan-1d", prop1_config(steps, seed, data_mean, data_std)))
    fixed = GaussianGenerator(p_g_mean, p_g_std, run.cfg.model.noise_scale).to(run.device)
    fixed_run = run.with_net("G", fixed)
    for _ in range(steps):
        fixed_run.update("D")
    return run.D.eval()


@dataclass
class Prop1Check:
    """A trained D against D* on a grid over the region where p_data + p_g has its mass."""

    x: Tensor  # grid points (float64)
    d_trained: Tensor  # sigmoid of the trained D's logits at x
    d_star: Tensor  # p_data / (p_data + p_g) at x
    region: tuple[float, float]  # central 99 % of m = (p_data + p_g) / 2
    max_abs: float  # max |D - D*| over the region
    mean_abs: float  # E_m |D - D*| over the region (m-weighted mean)
    c_exact: float  # C(G) by quadrature
    c_dstar_samples: float  # value_estimate of the exact D* on fresh samples
    c_estimate: float  # value_estimate of the trained D on the same samples


def mass_interval(x: Tensor, log_p: Tensor, mass: float = 0.99) -> tuple[float, float]:
    """The central interval of x holding `mass` of the density (from the grid's CDF)."""
    cdf = torch.cumulative_trapezoid(log_p.exp(), x)
    cdf = torch.cat([cdf.new_zeros(1), cdf]) / cdf[-1]
    tail = (1 - mass) / 2
    lo = x[torch.searchsorted(cdf, torch.tensor([tail], dtype=cdf.dtype))].item()
    hi = x[torch.searchsorted(cdf, torch.tensor([1 - tail], dtype=cdf.dtype))].item()
    return lo, hi


def prop1_check(
    p_g_mean: float = 3.0,
    p_g_std: float = 1.0,
    steps: int = 3000,
    seed: int = 0,
    data_mean: float = 4.0,
    data_std: float = 0.5,
    n_eval: int = 1_000_000,
) -> Prop1Check:
    """Train D against a fixed G (p_g = N(p_g_mean, p_g_std^2), p_data = N(data_mean,
    data_std^2)) and compare it with D* on the central 99 % of (p_data + p_g) / 2."""
    D = fit_discriminator(p_g_mean, p_g_std, steps, seed, data_mean, data_std)
    p_data, p_g = gaussian(data_mean, data_std), gaussian(p_g_mean, p_g_std)
    full = support_grid(p_data, p_g)
    lp_full, lq_full = log_density(p_data, full), log_density(p_g, full)
    lo, hi = mass_interval(full, torch.logaddexp(lp_full, lq_full) - math.log(2))
    x = torch.linspace(lo, hi, 2001, dtype=torch.float64)
    lp, lq = log_density(p_data, x), log_density(p_g, x)
    with torch.no_grad():
        d = torch.sigmoid(D(x.float().reshape(-1, 1)).double())
    d_star = optimal_discriminator(lp, lq)
    err = (d - d_star).abs()
    m = (torch.logaddexp(lp, lq) - math.log(2)).exp()
    mean_abs = (torch.trapezoid(m * err, x) / torch.trapezoid(m, x)).item()
    gen = torch.Generator().manual_seed(seed + 1)
    x_data = data_mean + data_std * torch.randn(n_eval, 1, generator=gen)
    x_fake = p_g_mean + p_g_std * torch.randn(n_eval, 1, generator=gen)

    def d_star_logit(points: Tensor) -> Tensor:
        return optimal_logit(log_density(p_data, points), log_density(p_g, points))

    return Prop1Check(
        x,
        d,
        d_star,
        (lo, hi),
        err.max().item(),
        mean_abs,
        criterion_on_grid(full, lp_full, lq_full),
        value_estimate(d_star_logit, x_data, x_fake),
        value_estimate(D, x_data, x_fake),
    )


# -- Section 3: saturation of log(1 - D(G(z))) -------------------------------------------


@dataclass
class Saturation:
    """Per-sample gradients of the two generator losses early in training, at fakes taken
    after several numbers of D updates (D rejects them more confidently as it trains)."""

    d_updates: Tensor  # D updates done when the sample was taken
    d_fake: Tensor  # D(G(z)) per sample
    logits: Tensor  # l = logit D(G(z))
    grad_logit_minimax: Tensor  # |d/dl log(1 - sigmoid(l))|, by autograd
    grad_logit_nonsat: Tensor  # |d/dl -log sigmoid(l)|, by autograd
    grad_x_minimax: Tensor  # |d/dx log(1 - D(x))| at x = G(z)
    grad_x_nonsat: Tensor  # |d/dx -log D(x)| at x = G(z)

    @property
    def closed_minimax(self) -> Tensor:
        return torch.sigmoid(self.logits)  # |d/dl log(1 - sigmoid(l))| = sigmoid(l)

    @property
    def closed_nonsat(self) -> Tensor:
        return torch.sigmoid(-self.logits)  # |d/dl -log sigmoid(l)| = 1 - sigmoid(l)


def per_sample_grads(loss_fn, D: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """|d loss_i / d l_i| and |d loss_i / d x_i| for a mean-reduced loss of D's logits
    (samples are independent, so the gradient of n * mean is the per-sample one)."""
    x = x.detach().clone().requires_grad_(True)
    logits = D(x)
    logits.retain_grad()
    (len(x) * loss_fn(logits)).backward()
    return logits.grad.abs().detach(), x.grad.abs().flatten(1).sum(1).detach()


def saturation(
    d_steps: int = 200, n: int = 500, seed: int = 0, at: tuple[int, ...] = (0, 10, 25, 50, 100, 200)
) -> Saturation:
    """The gan-1d generator at initialisation and its discriminator trained by Algorithm-1 D
    updates (G fixed, so D learns to reject the fakes); after each number of updates in `at`
    (up to `d_steps`), the gradients of the minimax loss log(1 - D(G(z))) and of the
    non-saturating -log D(G(z)) at n fresh fakes."""
    from advnets.config import load_preset
    from advnets.training import build_run

    run = build_run(load_preset("gan-1d", [f"train.seed={seed}", "train.progress=false"]))
    rows = []
    for i in range(d_steps + 1):
        if i in at or i == d_steps:
            D = copy.deepcopy(run.D).eval().requires_grad_(False)
            with torch.no_grad():
                fake = run.G(run.noise(n))
                logits = D(fake)
            gl_mm, gx_mm = per_sample_grads(g_minimax, D, fake)
            gl_ns, gx_ns = per_sample_grads(g_non_saturating, D, fake)
            rows.append(
                (torch.full((n,), i), torch.sigmoid(logits), logits, gl_mm, gl_ns, gx_mm, gx_ns)
            )
        if i < d_steps:
            run.update("D")
    return Saturation(*(torch.cat(cols) for cols in zip(*rows, strict=True)))
