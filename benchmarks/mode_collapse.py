"""Mode collapse on the 2-D mixtures: the plain GAN against Unrolled GAN (K = 5, 10), PacGAN2/3/4,
minibatch discrimination and feature matching, every one with PacGAN's networks, optimizer
and batch of 100 (presets pacgan-ring and pacgan-grid; PacGAN-m draws 100 m samples so that
D sees 100 packs). Each run's 2,500 samples are scored with advnets.metrics.modes (a sample
is high quality within 3 std of its nearest mode; a mode is captured when one high-quality
sample is nearest to it; reverse KL of the high-quality samples' mode histogram against
uniform); the table gives mean ± standard error over seeds, the fewest modes and the lowest
high-quality share of any seed ("worst"), and wall-clock per seed and per step, beside
PacGAN's Table 1 (Lin et al. 2018) and VEEGAN's Table 1 (Srivastava et al. 2017).
PacGAN trains for 400,000 steps (400 epochs of 1,000 minibatches); --steps sets the budget.
`--setup small` swaps in a second, cheaper set-up: the gan-ring / gan-grid presets' MLPs
(G and D 2 x 256, ReLU / LeakyReLU, Adam 2e-4 with beta1 0.5), same batch of 100.

With --results FILE.jsonl every finished run is appended to FILE, and a run already there
(same data, set-up, method, seed, steps, --set and --device) is reused instead of trained: a stopped
benchmark resumes where it was, and the same command prints the tables again without training.
`--set KEY=VALUE` changes a config key in every run, e.g. a step decay of both learning rates
(`optim.G.lr_milestones=[20000]`); with `train.ema_decay` the runs are scored by the average.

Every run is also scored after Jacobian-based truncation (advnets.truncation: the draws whose
||dG/dz|| is above the KEEP quantile are rejected, which removes the samples G strews on the
bridges between modes); `--jacobian-keep KEEP` adds those columns to the tables and draws the
figure from the kept samples.

    python benchmarks/mode_collapse.py [--seeds 10] [--steps 20000] [--data grid ring]
        [--setup pacgan|small] [--methods GAN PacGAN4 ...] [--set KEY=VALUE ...]
        [--results runs.jsonl] [--figure mode_collapse.png] [--device cpu|cuda]
        [--jacobian-keep 0.99|0.97|0.95|0.9|0.8] [--first-seed 0]
        [--executor local|ray] [--address ADDR] [--cpus-per-task 1] [--gpus-per-task 0]

`--executor ray` trains one Ray task per (data, method, seed) (benchmarks/executor.py); the
rows reach the same --results file as they finish, so a stopped sweep resumes.
"""

import argparse
import math
import statistics
import time
from functools import partial
from pathlib import Path

import torch
from executor import Job, add_executor_options, check_executor, run_jobs
from results import Results, add_methods_option, add_run_options, check_overrides, positive_int

from advnets.config import load_preset
from advnets.data import toy_distribution
from advnets.errors import exit_on_error
from advnets.metrics import mode_metrics
from advnets.sampling import draw_samples
from advnets.training import build_run, run_loop
from advnets.truncation import calibration_norms, draw_truncated


def packed(m: int) -> list[str]:
    return [f"model.discriminator.pack={m}", f"train.batch_size={100 * m}"]


METHODS: dict[str, list[str]] = {
    "GAN": [],
    "Unrolled K=5": ["options.unroll_steps=5"],
    "Unrolled K=10": ["options.unroll_steps=10"],
    "PacGAN2": packed(2),
    "PacGAN3": packed(3),
    "PacGAN4": packed(4),
    "Minibatch discrimination": [
        "model.discriminator.minibatch_kernels=100",
        "model.discriminator.minibatch_kernel_dim=5",
    ],
    "Feature matching": ["loss.generator=feature_matching"],
}

# Published rows (modes captured, high-quality samples): PacGAN Table 1 (10 runs, 400 epochs)
# and VEEGAN Table 1 (whose GAN and Unrolled GAN use other networks and budgets).
PUBLISHED: dict[tuple[str, str], str] = {
    ("grid", "GAN"): "PacGAN 17.3/25, 94.8 %; VEEGAN 3.3/25",
    ("grid", "PacGAN4"): "PacGAN 24.8/25, 93.6 %",
    ("grid", "Unrolled K=5"): "VEEGAN's Unrolled GAN 23.6/25, 16 %",
    ("ring", "GAN"): "PacGAN 6.3/8",
    ("ring", "PacGAN2"): "PacGAN 7.9/8",
}
KEEPS = (0.99, 0.97, 0.95, 0.9, 0.8)  # the fractions of draws Jacobian truncation keeps
SETUPS = {"pacgan": "pacgan-{data}", "small": "gan-{data}"}
NOT_HERE = {"grid": "VEEGAN (not in advnets): 24.6/25, 40 % (VEEGAN Table 1)"}
# a results row's key; rows from before --set or --device was keyed ran without --set, on CPU
KEY = ("data", "setup", "method", "seed", "steps", "set", "device")
KEY_DEFAULTS = {"set": "", "device": "cpu"}


def mean_se(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    finite = len(values) > 1 and all(math.isfinite(v) for v in values)
    # a run without one high-quality sample has an infinite KL, and the mean then says so
    se = statistics.stdev(values) / math.sqrt(len(values)) if finite else math.nan
    return mean, se


def timed_run(cfg, steps: int):
    """Build a run from `cfg` and train it for `steps`: (the run, training seconds)."""
    run = build_run(cfg)
    start = time.perf_counter()
    run_loop(run, [], steps)
    if run.device.type == "cuda":
        torch.cuda.synchronize()
    return run, time.perf_counter() - start


def rounded(x: torch.Tensor) -> list:
    return x.double().round(decimals=4).tolist()


def train_and_score(
    data: str, setup: str, overrides: list[str], seed: int, steps: int, device: str
) -> tuple[dict, torch.Tensor, float, dict]:
    """One seeded run: (mode metrics of 2,500 samples, the samples, training seconds, and
    for each of KEEPS the metrics and samples after Jacobian truncation)."""
    cfg = load_preset(
        SETUPS[setup].format(data=data),
        [
            "train.batch_size=100",
            *overrides,
            f"train.seed={seed}",
            f"train.steps={steps}",
            f"train.device={device}",
            "train.progress=false",
        ],
    )
    run, seconds = timed_run(cfg, steps)
    means = run.data.distribution.means
    samples = draw_samples(run.G_sample, cfg, 2500, seed=seed)
    truncated, calibration = {}, calibration_norms(run.G_sample, cfg, seed=seed)
    for keep in KEEPS:
        kept = draw_truncated(run.G_sample, cfg, 2500, keep, seed=seed, calibration=calibration)
        truncated[str(keep)] = {**mode_metrics(kept, means, cfg.data.std), "samples": kept}
    return mode_metrics(samples, means, cfg.data.std), samples, seconds, truncated


def train_row(
    data: str, setup: str, overrides: list[str], seed: int, steps: int, device: str
) -> dict:
    """One run as a results row: its scores, seconds and truncated scores, and for seed 0
    its samples, plain and truncated (for the figure)."""
    scores, x, seconds, truncated = train_and_score(data, setup, overrides, seed, steps, device)
    for scored in truncated.values():
        kept = scored.pop("samples")
        if seed == 0:
            scored["samples"] = rounded(kept)
    row = {**scores, "seconds": round(seconds, 2), "truncated": truncated}
    if seed == 0:
        row["samples"] = rounded(x)
    return row


def pm(values: list[float], digits: int) -> str:
    mean, se = mean_se(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"  # one seed: no standard error
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def report(
    data: str,
    setup: str,
    rows: dict[str, list[tuple[dict, float]]],
    steps: int,
    overrides: str,
    keep: float | None = None,
) -> None:
    """The table of one data set; with `keep`, scored on the samples Jacobian truncation
    keeps (a method whose runs predate truncation scoring is listed without numbers)."""
    total = next(iter(rows.values()))[0][0]["modes_total"]
    seeds = len(next(iter(rows.values())))
    changed = f" ({overrides})" if overrides else ""
    truncated = f", Jacobian truncation keeping {keep:.0%} of G's draws" if keep else ""
    print(
        f"\n{data}, {setup} set-up{changed}{truncated}: {steps} steps per run, 2,500 "
        f"samples each; mean ± standard error over {seeds} seed{'s' if seeds > 1 else ''}"
    )
    print(
        f"{'method':<25} {f'modes (of {total})':>14} {'high quality %':>15} "
        f"{'worst':>12} {'reverse KL':>12} {'s / seed':>9} {'ms / step':>9}   published"
    )
    for name, runs in rows.items():
        seconds = statistics.fmean(s for _, s in runs)
        if keep and any(str(keep) not in r.get("truncated", {}) for r, _ in runs):
            print(f"{name:<25} (runs from before truncation was scored: use a new --results)")
            continue
        scored = [r["truncated"][str(keep)] if keep else r for r, _ in runs]
        worst = (
            f"{min(r['modes'] for r in scored)}, "
            f"{min(100 * r['high_quality'] for r in scored):.1f} %"
        )
        print(
            f"{name:<25} {pm([r['modes'] for r in scored], 1):>14} "
            f"{pm([100 * r['high_quality'] for r in scored], 1):>15} {worst:>12} "
            f"{pm([r['reverse_kl'] for r in scored], 2):>12} {seconds:>9.1f} "
            f"{1000 * seconds / steps:>9.1f}   {PUBLISHED.get((data, name), '')}"
        )
    if data in NOT_HERE:
        print(f"{'':<25} {NOT_HERE[data]}")


def figure_rows(
    data: str,
    name: str,
    row: dict,
    keep: float | None,
    panels: dict[tuple[str, str], dict[str, torch.Tensor]],
) -> None:
    """Add a seed-0 run's samples to the figure's panels: a row of G's samples per data set
    and, with `keep`, a row of the samples Jacobian truncation kept."""
    panels.setdefault((data, data), {})[name] = torch.tensor(row["samples"])
    if keep and str(keep) in row.get("truncated", {}):
        label = f"{data}, {keep:.0%} kept"
        kept = row["truncated"][str(keep)]["samples"]
        panels.setdefault((data, label), {})[name] = torch.tensor(kept)


def scatter(
    figure: Path, panels: dict[tuple[str, str], dict[str, torch.Tensor]], setup: str
) -> None:
    """One panel per (figure row, method): the first seed's samples, modes marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(name for row in panels.values() for name in row))
    fig, axes = plt.subplots(
        len(panels), len(methods), squeeze=False, figsize=(2.2 * len(methods), 2.3 * len(panels))
    )
    for i, ((data, label), row) in enumerate(panels.items()):
        cfg = load_preset(SETUPS[setup].format(data=data))
        means = toy_distribution(cfg.data).means
        lo, hi = cfg.data.value_range
        for col, name in enumerate(methods):
            ax = axes[i][col]
            ax.set(xlim=(lo, hi), ylim=(lo, hi), xticks=[], yticks=[], aspect="equal")
            ax.set_title(name if i == 0 else "", fontsize=8)
            if name not in row:
                continue
            x = row[name]
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.3, color="tab:blue", rasterized=True)
            ax.scatter(means[:, 0], means[:, 1], s=12, marker="x", color="tab:red", lw=0.8)
        axes[i][0].set_ylabel(label)
    fig.tight_layout()
    figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(figure, dpi=150)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=positive_int, default=10, help="runs per method (seeds 0..N-1)"
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=20_000,
        help="Algorithm-1 steps per run (PacGAN: 400000)",
    )
    parser.add_argument("--data", nargs="+", default=["grid", "ring"], choices=["grid", "ring"])
    add_methods_option(parser, METHODS)
    parser.add_argument(
        "--setup",
        default="pacgan",
        choices=list(SETUPS),
        help="PacGAN's networks, or the small MLPs of gan-ring / gan-grid",
    )
    add_run_options(parser)
    add_executor_options(parser)
    parser.add_argument("--figure", type=Path, default=Path("mode_collapse.png"))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument(
        "--jacobian-keep",
        type=float,
        choices=KEEPS,
        help="also tabulate (and plot) the samples Jacobian truncation keeps at this fraction",
    )
    args = parser.parse_args(argv)
    check_overrides(parser, [SETUPS[args.setup].format(data=d) for d in args.data], args.set)
    check_executor(parser, args)
    return args


def job(args: argparse.Namespace, data: str, name: str, seed: int) -> Job:
    """One seeded run of one method on one data set: its results key and its training."""
    common = " ".join(args.set)
    key = dict(
        data=data,
        setup=args.setup,
        method=name,
        seed=seed,
        steps=args.steps,
        set=common,
        device=args.device,
    )
    overrides = METHODS[name] + args.set
    return Job(key, partial(train_row, data, args.setup, overrides, seed, args.steps, args.device))


def print_row(row: dict) -> None:
    print(
        f"  {row['data']} {row['method']} seed {row['seed']}: {row['modes']}/"
        f"{row['modes_total']} modes, {100 * row['high_quality']:.1f} % high quality, "
        f"{row['seconds']:.1f} s",
        flush=True,
    )


def collect(
    args: argparse.Namespace, results: Results
) -> tuple[dict[str, dict[str, list[tuple[dict, float]]]], dict]:
    """Every (data, method, seed) run, from the results file or trained now by the
    executor: data -> method -> [(row, seconds)], and the figure's panels (seed 0)."""
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [job(args, d, name, s) for d in args.data for name in args.methods for s in seeds]
    rows = run_jobs(results, jobs, args, report=print_row)
    panels: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    tables: dict[str, dict[str, list[tuple[dict, float]]]] = {}
    for j, row in zip(jobs, rows, strict=True):
        data, name = j.key["data"], j.key["method"]
        tables.setdefault(data, {}).setdefault(name, []).append((row, row["seconds"]))
        if j.key["seed"] == 0:
            figure_rows(data, name, row, args.jacobian_keep, panels)
    return tables, panels


def main() -> None:
    args = parse_args()
    results = Results(args.results, KEY, defaults=KEY_DEFAULTS)
    common = " ".join(args.set)
    tables, panels = collect(args, results)
    for data, rows in tables.items():
        report(data, args.setup, rows, args.steps, common)
        if args.jacobian_keep:
            report(data, args.setup, rows, args.steps, common, args.jacobian_keep)
    if args.first_seed == 0:
        scatter(args.figure, panels, args.setup)
        print(f"\nwrote {args.figure}")
    else:
        print("\nno figure: it shows seed 0, which these runs leave out")


if __name__ == "__main__":
    exit_on_error(main)
