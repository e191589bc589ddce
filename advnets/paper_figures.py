"""Pictures of the paper's 1-D theory: Figure 1 from a real training run, a trained D
against D* (Proposition 1) and the saturating vs non-saturating generator gradients.

Figure 1 (Goodfellow et al. 2014): the data density (black dots), the generator's density
(green line), the discriminator D(x) (blue dashes), and below them the z line, the x line and
arrows x = G(z). Here every panel is a state of a `gan-1d` training run (`build_run` and
`run_loop`, the code `advnets train` runs):

(a) early in training, G poorly fit;
(b) a copy of (a) whose D alone took extra Algorithm-1 D updates, towards D* for that G;
(c) that copy after G updates against the D of (b): G(z) flows to where D says "data";
(d) the end of the run: p_g ~ p_data and D ~ 1/2 where the data has mass.

The main run never sees the copies (the global RNG is restored after them), so (d) is the
state `advnets train gan-1d --set ...` with FIGURE1_SETTINGS reaches. Those settings centre
the data, p_data = N(0, 1) instead of the preset's N(4, 0.5^2), and widen G to 64-64: with
the preset as it is, 2000 steps end at JSD(p_data || p_g) 0.013-0.014 and max |D - 1/2| up
to 0.21 (seeds 0, 1; few of the MLPs' ReLU kinks fall near x = 4), against 0.006-0.008 and
0.056-0.070 with them (seeds 0-2).
"""

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from advnets.checkpoint import rng_state, set_rng_state
from advnets.config import load_preset
from advnets.data import sample_noise
from advnets.errors import ConfigError
from advnets.files import save_figure
from advnets.theory import Prop1Check, Saturation, jensen_shannon_on_grid, kde_on_grid, log_density
from advnets.training import Run, build_run, run_loop

MIN_STEPS = 4


@dataclass
class Panel:
    """What one panel of Figure 1 shows, and the numbers that check it."""

    label: str
    x: Tensor  # plot grid (float64)
    p_data: Tensor  # data density on x
    p_g: Tensor  # KDE of G(z) on x
    d: Tensor  # D(x) on x
    z_arrows: Tensor  # z values whose images are drawn
    x_arrows: Tensor  # G(z) for those z
    max_d_dev: float  # max |D(x) - 1/2| over the data's central region
    mean_d_dev: float  # E_data |D(x) - 1/2|
    jsd: float  # JSD(p_data || p_g) in nats, p_g by KDE


FIGURE1_SETTINGS = ["data.mean=0.0", "data.std=1.0", "model.generator.hidden=[64,64]"]


def figure1_overrides(steps: int, seed: int, settings: list[str] | None = None) -> list[str]:
    """The gan-1d preset, run for `steps` Algorithm-1 iterations, quietly, with `settings`
    (default FIGURE1_SETTINGS)."""
    settings = FIGURE1_SETTINGS if settings is None else settings
    return [
        *settings,
        f"train.steps={steps}",
        "train.epochs=null",
        f"train.seed={seed}",
        "train.progress=false",
        "train.samples_per_epoch=false",
        "train.checkpoint_every=0",
    ]


def central_region(run: Run, width: float = 2.0) -> tuple[float, float]:
    """mean +- `width` std of p_data (95 % of its mass for width 2)."""
    mean, std = run.cfg.data.mean, run.cfg.data.std
    return mean - width * std, mean + width * std


@torch.no_grad()
def snapshot(run: Run, label: str, x: Tensor, n: int = 50_000, arrows: int = 25) -> Panel:
    """Densities, D and the mapping of `run` right now (fixed noise, so no RNG is used)."""
    G, D = run.G.eval(), run.D.eval()
    gen = torch.Generator().manual_seed(1234)
    m = run.cfg.model
    z = sample_noise(n, m.z_dim, m.noise, m.noise_scale, generator=gen)
    fake = G(z.to(run.device)).flatten().cpu()
    dist = run.data.distribution
    lp = log_density(dist, x)
    lq = kde_on_grid(fake, x)
    d = torch.sigmoid(D(x.float().reshape(-1, 1).to(run.device)).double().cpu())
    lo, hi = central_region(run)
    inside = (x >= lo) & (x <= hi)
    z_line = torch.linspace(-m.noise_scale, m.noise_scale, arrows).reshape(-1, 1)
    x_line = G(z_line.to(run.device)).flatten().cpu().double()
    G.train(), D.train()
    dev = (d - 0.5).abs()
    mean_dev = torch.trapezoid(lp.exp() * dev, x) / torch.trapezoid(lp.exp(), x)
    return Panel(
        label,
        x,
        lp.exp(),
        lq.exp(),
        d,
        z_line.flatten().double(),
        x_line,
        dev[inside].max().item(),
        mean_dev.item(),
        jensen_shannon_on_grid(x, lp, lq),
    )


def figure1_panels(
    steps: int = 2000,
    seed: int = 0,
    d_steps: int | None = None,
    g_steps: int | None = None,
    settings: list[str] | None = None,
) -> list[Panel]:
    """Train gan-1d for `steps` iterations and take the four panels (see module docstring).
    (a) is taken after steps // 80 iterations (at least 1); (b) adds `d_steps` D updates
    (default min(300, 2 * steps)); (c) then `g_steps` G updates (default min(15, steps))."""
    if steps < MIN_STEPS:
        raise ConfigError(f"--steps must be at least {MIN_STEPS}, got {steps}")
    d_steps = min(300, 2 * steps) if d_steps is None else d_steps
    g_steps = min(15, steps) if g_steps is None else g_steps
    cfg = load_preset("gan-1d", figure1_overrides(steps, seed, settings))
    if cfg.data.name != "gaussian1d" or cfg.model.z_dim != 1:
        raise ConfigError("figure1 draws a 1-D GAN: keep data.name=gaussian1d and model.z_dim=1")
    run = build_run(cfg)
    lo, hi = central_region(run, 4.0)
    s = run.cfg.model.noise_scale  # the z line is drawn at its own coordinates
    x = torch.linspace(min(lo, -s - 0.5), max(hi, s + 0.5), 1201, dtype=torch.float64)
    early = max(1, steps // 80)
    run_loop(run, [], early)
    panels = [snapshot(run, f"(a) step {early}", x)]
    saved = rng_state()
    branch = copy.deepcopy(run)
    for _ in range(d_steps):
        branch.update("D")
    panels.append(snapshot(branch, f"(b) + {d_steps} D updates", x))
    for _ in range(g_steps):
        branch.update("G")
    panels.append(snapshot(branch, f"(c) + {g_steps} G updates", x))
    set_rng_state(saved)
    run_loop(run, [], steps)
    panels.append(snapshot(run, f"(d) step {steps}", x))
    return panels


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_figure1(panels: list[Panel], out: Path, dpi: int = 100) -> Path:
    """Four panels side by side, as the paper's Figure 1; 1200 x 360 pixels at dpi 100."""
    plt = _pyplot()
    out = Path(out)  # its folder is made by the write (and removed again if that fails)
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.6), dpi=dpi, sharey=True)
    x_lo, x_hi = panels[0].x[0].item(), panels[0].x[-1].item()
    top = max(max(p.p_data.max().item(), p.p_g.max().item()) for p in panels)
    top = min(max(top, 1.0), 1.5) * 1.1  # a spike of p_g is clipped at the top
    y_x, y_z = -0.25 * top, -0.6 * top
    for ax, p in zip(axes, panels, strict=True):
        xs = p.x.numpy()
        ax.plot(xs[::12], p.p_data.numpy()[::12], "k.", ms=2.5, label="data")
        ax.plot(xs, p.p_g.clamp(max=top).numpy(), "g-", lw=1.5, label="G(z) density")
        ax.plot(xs, p.d.numpy(), "b--", lw=1.2, label="D(x)")
        ax.axhline(y_x, color="k", lw=0.8)
        z_lo, z_hi = p.z_arrows[0].item(), p.z_arrows[-1].item()
        ax.plot([z_lo, z_hi], [y_z, y_z], "k-", lw=0.8)
        for zp, xp in zip(p.z_arrows.tolist(), p.x_arrows.tolist(), strict=True):
            xp = min(max(xp, x_lo), x_hi)
            ax.annotate(
                "",
                xy=(xp, y_x),
                xytext=(zp, y_z),
                arrowprops={"arrowstyle": "->", "lw": 0.6, "color": "0.3"},
            )
        ax.text(x_lo, y_x, " x", va="bottom", ha="left", fontsize=8)
        ax.text(z_lo, y_z, "z ", va="center", ha="right", fontsize=8)
        ax.set_xlim(x_lo, x_hi)
        ax.set_ylim(y_z - 0.1 * top, top)
        ax.set_yticks([0, 0.5, 1])
        ax.set_title(f"{p.label}\nmax |D - 1/2| {p.max_d_dev:.3f}, JSD {p.jsd:.4f}", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(loc="center left", fontsize=6, frameon=False)
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.07, top=0.88, wspace=0.08)
    try:
        save_figure(fig, out)
    finally:
        plt.close(fig)
    return out


def figure1(
    out: Path, steps: int = 2000, seed: int = 0, settings: list[str] | None = None
) -> list[Panel]:
    """Train, draw Figure 1 into `out` (.png), return the panels."""
    if Path(out).suffix != ".png":
        raise ConfigError(f"--out must end in .png, got {Path(out).name!r}")
    panels = figure1_panels(steps, seed, settings=settings)
    draw_figure1(panels, out)
    return panels


def draw_prop1(check: Prop1Check, out: Path, dpi: int = 100) -> Path:
    """The trained D and D* = p_data / (p_data + p_g) over the checked region; 600 x 400."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=dpi)
    xs = check.x.numpy()
    ax.plot(xs, check.d_star.numpy(), "k-", label="D* = p_data / (p_data + p_g)")
    ax.plot(xs, check.d_trained.numpy(), "b--", label="trained D")
    ax.plot(xs, (check.d_trained - check.d_star).numpy(), "r:", label="D - D*")
    ax.set_xlabel("x")
    ax.set_title(
        f"Proposition 1: max |D - D*| = {check.max_abs:.3f} on "
        f"[{check.region[0]:.2f}, {check.region[1]:.2f}]",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.12, top=0.92)
    try:
        save_figure(fig, Path(out))
    finally:
        plt.close(fig)
    return Path(out)


def draw_saturation(sat: Saturation, out: Path, dpi: int = 100) -> Path:
    """Per-sample gradient magnitudes of both generator losses against D(G(z)), with the
    closed forms sigmoid(l) and 1 - sigmoid(l); 1000 x 400 pixels."""
    plt = _pyplot()
    fig, (ax_l, ax_x) = plt.subplots(1, 2, figsize=(10, 4), dpi=dpi, sharex=True)
    d = sat.d_fake.numpy()
    grid = torch.logspace(math.log10(max(d.min(), 1e-6)) - 0.5, 0, 200).numpy()
    ax_l.plot(grid, grid, "r-", lw=0.8, label="sigmoid(l) (closed form)")
    ax_l.plot(grid, 1 - grid, "g-", lw=0.8, label="1 - sigmoid(l) (closed form)")
    ax_l.plot(d, sat.grad_logit_minimax.numpy(), "r.", ms=3, label="log(1 - D), autograd")
    ax_l.plot(d, sat.grad_logit_nonsat.numpy(), "g.", ms=3, label="-log D, autograd")
    ax_l.set_ylabel("|d loss / d logit|")
    ax_x.plot(d, sat.grad_x_minimax.numpy(), "r.", ms=3, label="log(1 - D(G(z))) (minimax)")
    ax_x.plot(d, sat.grad_x_nonsat.numpy(), "g.", ms=3, label="-log D(G(z)) (non-saturating)")
    ax_x.set_ylabel("|d loss / d G(z)|")
    for ax in (ax_l, ax_x):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("D(G(z))")
        ax.legend(fontsize=7)
    fig.suptitle(
        "Saturation (Section 3): per-sample generator gradients while D learns to "
        "reject the fakes of an untrained G",
        fontsize=9,
    )
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.9, wspace=0.25)
    try:
        save_figure(fig, Path(out))
    finally:
        plt.close(fig)
    return Path(out)


def _theorem1_lines(seed: int):
    """Theorem 1's table: C(G) by quadrature against -log 4 + 2 JSD, for pairs of densities."""
    from advnets import theory

    yield (
        f"Theorem 1: C(G) = max_D V(D, G) = -log 4 + 2 JSD(p_data || p_g); "
        f"-log 4 = {-theory.LOG4:.6f}"
    )
    yield (
        f"  {'p_data vs p_g':<32} {'C(G) quadrature':>15} {'-log4 + 2 JSD':>14} "
        f"{'difference':>10} {'JSD (nats)':>10} {'MC with D*':>10}"
    )
    for name, p_data, p_g in theory.theorem1_pairs():
        r = theory.theorem1_row(name, p_data, p_g, seed=seed)
        yield (
            f"  {name:<32} {r.criterion:>15.6f} {r.from_jsd:>14.6f} "
            f"{r.criterion - r.from_jsd:>10.1e} {abs(r.jsd):>10.6f} {r.monte_carlo:>10.4f}"
        )


def _prop1_lines(check: Prop1Check, steps: int, seed: int):
    """Proposition 1: how close the trained D is to D* = p_data / (p_data + p_g)."""
    lo, hi = check.region
    yield (
        f"Proposition 1: D* = p_data / (p_data + p_g), p_data = N(4, 0.5^2), p_g = N(3, 1); "
        f"the gan-1d D trained alone for {steps} updates (seed {seed})"
    )
    yield (
        f"  over [{lo:.2f}, {hi:.2f}] (central 99 % of (p_data + p_g) / 2): "
        f"max |D - D*| {check.max_abs:.4f}, mean |D - D*| {check.mean_abs:.4f} "
        f"(weighted by (p_data + p_g) / 2)"
    )
    yield (
        f"  C(G) exact {check.c_exact:.4f}; on 10^6 fresh samples: V(D*, G) "
        f"{check.c_dstar_samples:.4f}, V(trained D, G) {check.c_estimate:.4f}"
    )


def _saturation_lines(sat: Saturation):
    """Section 3's saturation: G's gradient under log(1 - D) and -log D as D learns."""
    dev_mm = (sat.grad_logit_minimax - sat.closed_minimax).abs().max().item()
    dev_ns = (sat.grad_logit_nonsat - sat.closed_nonsat).abs().max().item()
    yield (
        f"Saturation (Section 3): the gan-1d G at initialisation, its D trained alone; "
        f"{int((sat.d_updates == 0).sum())} fresh fakes after each number of D updates"
    )
    yield (
        f"  autograd vs closed form, per sample: |d/dl log(1 - sigmoid(l))| - sigmoid(l) "
        f"max {dev_mm:.1e}; |d/dl -log sigmoid(l)| - (1 - sigmoid(l)) max {dev_ns:.1e}"
    )
    yield (
        f"  {'D updates':>10} {'median D(G(z))':>15} {'mean |d/dG(z)| log(1 - D)':>26} "
        f"{'-log D':>8} {'ratio':>6}"
    )
    for i in sat.d_updates.unique().tolist():
        rows = sat.d_updates == i
        mm, ns = sat.grad_x_minimax[rows].mean().item(), sat.grad_x_nonsat[rows].mean().item()
        yield (
            f"  {i:>10} {sat.d_fake[rows].median().item():>15.4f} {mm:>26.4f} {ns:>8.4f} "
            f"{ns / mm:>6.1f}"
        )
    yield "  closed form |d/dl| at D = " + ", ".join(
        f"{p:g}: {p:g} vs {1 - p:g}" for p in (0.001, 0.01, 0.1, 0.5, 0.9)
    )


def theory_report(prefix: str, steps: int = 3000, seed: int = 0):
    """Run the checks of `advnets theory`, yielding the lines it prints; writes
    PREFIX_prop1.png (D vs D*) and PREFIX_saturation.png."""
    from advnets import theory

    if steps < 1:
        raise ConfigError(f"--steps must be at least 1, got {steps}")
    if prefix.endswith(".png"):
        raise ConfigError(
            f"--out is a prefix (PREFIX_prop1.png and PREFIX_saturation.png are "
            f"written), got {prefix!r}; drop the .png"
        )
    yield from _theorem1_lines(seed)
    check = theory.prop1_check(steps=steps, seed=seed)
    yield from _prop1_lines(check, steps, seed)
    sat = theory.saturation(d_steps=min(200, steps), seed=seed)
    yield from _saturation_lines(sat)
    out = Path(prefix)  # the folder is made by the writes
    a = draw_prop1(check, out.with_name(out.name + "_prop1.png"))
    b = draw_saturation(sat, out.with_name(out.name + "_saturation.png"))
    yield f"wrote {a} and {b}"
