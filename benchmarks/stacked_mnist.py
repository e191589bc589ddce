"""Stacked MNIST (three random MNIST digits as the channels of one image: 1,000 modes): the
plain DCGAN against Unrolled GAN, PacGAN and minibatch discrimination, every one with the
same networks (preset dcgan-stacked-mnist; `--channels` narrows both nets, as Metz et al.
shrink D). Modes are counted on 26,000 samples by reading each channel with the shipped MNIST
classifier; KL is of the samples' histogram over the 1,000 modes against uniform. Printed
beside Unrolled GAN's Table 1 (Metz et al. 2016, D of half size: 628 modes with no unrolling,
817 with 10 steps; their budget is far larger than a CPU run's).

With --results FILE.jsonl finished runs are appended to FILE and reused when the same run
(method, seed, steps, width, --set, --device) is asked for again, as in mode_collapse.py; `--set
KEY=VALUE` changes a config key in every run and `--first-seed` shares seeds out between
processes.

    python benchmarks/stacked_mnist.py [--seeds 2] [--steps 1000] [--channels 32]
        [--methods GAN PacGAN2 ...] [--results runs.jsonl] [--grid stacked.png]
        [--set KEY=VALUE ...] [--first-seed 0] [--device cpu|cuda]
        [--executor local|ray] [--address ADDR] [--cpus-per-task 1] [--gpus-per-task 0]
"""

import argparse
import os
from functools import partial
from pathlib import Path

import torch
from executor import Job, add_executor_options, check_executor, run_jobs
from mode_collapse import pm, timed_run
from results import Results, add_methods_option, add_run_options, check_overrides, positive_int

from advnets.config import load_preset, path_override
from advnets.data import load_images01, stack_digits
from advnets.errors import exit_on_error
from advnets.metrics.evaluate import METRICS, EvalSettings, check_samples
from advnets.sampling import draw_samples
from advnets.viz import labelled_rows, save_picture

BATCH = 64
METHODS: dict[str, list[str]] = {
    "GAN": [],
    "Unrolled K=5": ["options.unroll_steps=5"],
    "Unrolled K=10": ["options.unroll_steps=10"],
    "PacGAN2": ["model.discriminator.pack=2", f"train.batch_size={2 * BATCH}"],
    "PacGAN4": ["model.discriminator.pack=4", f"train.batch_size={4 * BATCH}"],
    "Minibatch discrimination": [
        "model.discriminator.minibatch_kernels=100",
        "model.discriminator.minibatch_kernel_dim=5",
    ],
}
PUBLISHED = {
    "GAN": "Metz et al. (D of half size): 628 modes",
    "Unrolled K=10": "Metz et al. (D of half size): 817 modes",
}


def train_and_score(
    overrides: list[str], seed: int, steps: int, args: argparse.Namespace
) -> tuple[dict, torch.Tensor, float]:
    """One seeded run: (mode metrics of 26,000 samples, 12 samples on [0, 1], seconds)."""
    cfg = load_preset(
        "dcgan-stacked-mnist",
        [
            path_override("data.root", args.data),
            f"train.batch_size={BATCH}",
            f"train.seed={seed}",
            f"train.steps={steps}",
            f"train.device={args.device}",
            "train.progress=false",
            f"model.generator.channels={args.channels}",
            f"model.discriminator.channels={args.channels}",
            *overrides,
        ],
    )
    run, seconds = timed_run(cfg, steps)
    settings = EvalSettings(data_root=args.data)
    samples = draw_samples(run.G, cfg, settings.stacked_samples, seed=seed + 1000)
    lo, hi = cfg.data.value_range
    samples = ((samples - lo) / (hi - lo)).clamp_(0, 1)
    scores = METRICS["modes"](check_samples(samples, "stacked-mnist"), "stacked-mnist", settings)
    return scores, samples[:12], seconds


def train_row(overrides: list[str], seed: int, steps: int, args: argparse.Namespace) -> dict:
    """One run as a results row: its scores and seconds, and for seed 0 its 12 samples (for
    the picture)."""
    scores, x, seconds = train_and_score(overrides, seed, steps, args)
    row = {**scores, "seconds": round(seconds, 1)}
    if seed == 0:
        row["samples"] = x.double().round(decimals=3).tolist()
    return row


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=positive_int, default=2, help="runs per method (seeds 0..N-1)"
    )
    parser.add_argument(
        "--steps", type=positive_int, default=1000, help="Algorithm-1 steps per run"
    )
    parser.add_argument("--channels", type=positive_int, default=32, help="DCGAN width of G and D")
    add_methods_option(parser, METHODS)
    parser.add_argument(
        "--grid",
        type=Path,
        default=Path("stacked_mnist.png"),
        help="picture: a row of the first seed's samples per method",
    )
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    add_run_options(parser)
    add_executor_options(parser)
    args = parser.parse_args(argv)
    check_overrides(parser, ["dcgan-stacked-mnist"], args.set)
    check_executor(parser, args)
    return args


def print_row(row: dict) -> None:
    print(
        f"  {row['method']} seed {row['seed']}: {row['modes']}/1000 modes, KL "
        f"{row['reverse_kl']:.2f}, {row['seconds']:.1f} s",
        flush=True,
    )


def collect(args: argparse.Namespace) -> tuple[dict[str, list[dict]], dict[str, torch.Tensor]]:
    """Every asked-for run, from the results file or trained now by the executor: the runs
    of each method, and the samples of each method's seed 0 when seed 0 is among them."""
    # rows from before --set or --device was keyed ran without --set, on CPU
    key = ("method", "seed", "steps", "channels", "set", "device")
    results = Results(args.results, key, defaults={"set": "", "device": "cpu"})
    common = " ".join(args.set)
    fixed = dict(steps=args.steps, channels=args.channels, set=common, device=args.device)
    jobs = [
        Job(
            dict(method=name, seed=seed, **fixed),
            partial(train_row, METHODS[name] + args.set, seed, args.steps, args),
        )
        for name in args.methods
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    ]
    rows: dict[str, list[dict]] = {}
    firsts: dict[str, torch.Tensor] = {}
    for row in run_jobs(results, jobs, args, report=print_row):
        rows.setdefault(row["method"], []).append(row)
        if row["seed"] == 0:
            firsts[row["method"]] = torch.tensor(row["samples"])
    return rows, firsts


def main() -> None:
    args = parse_args()
    settings = EvalSettings(data_root=args.data)
    digits, labels = load_images01("mnist", "test", args.data)
    real = stack_digits(digits, labels, settings.stacked_samples, seed=1)[0]
    reference = METRICS["modes"](real, "stacked-mnist", settings)
    rows, firsts = collect(args)
    common = " ".join(args.set)
    print(
        f"\nstacked MNIST: {args.steps} steps of batch {BATCH} per run, DCGAN width "
        f"{args.channels}{f' ({common})' if common else ''}, 26,000 samples each; mean ± "
        f"standard error over {args.seeds} seed{'s' if args.seeds > 1 else ''}"
    )
    print("method | modes (of 1000) | KL to uniform | s / seed | published")
    print("--- | --- | --- | --- | ---")
    print(
        f"real: stacked test digits | {reference['modes']} | {reference['reverse_kl']:.3f} | - | -"
    )
    for name, runs in rows.items():
        seconds = sum(r["seconds"] for r in runs) / len(runs)
        print(
            f"{name} | {pm([r['modes'] for r in runs], 1)} | "
            f"{pm([r['reverse_kl'] for r in runs], 2)} | {seconds:.0f} | "
            f"{PUBLISHED.get(name, '')}"
        )
    if not firsts:
        print("\nno picture: it shows seed 0, which these runs leave out")
        return
    picture = labelled_rows(list(firsts.values()), list(firsts), (0.0, 1.0), label_width=190)
    print(f"\nwrote {save_picture(picture, args.grid)}")


if __name__ == "__main__":
    exit_on_error(main)
