"""The loss zoo: each GAN loss with the same DCGAN networks, batch size and wall-clock budget
per run, on MNIST and Fashion-MNIST, scored on the shipped domain classifier's features (FID
and KID against the test set, class-histogram coverage) and, for MNIST, with the paper's
Parzen protocol; printed beside Lucic et al. 2018's FIDs ("Are GANs created equal?", Table 2,
best FID over their hyperparameter search). Theirs are Inception FIDs: compare orderings.

    python benchmarks/loss_zoo.py --minutes 10 --seeds 3 [--datasets mnist fashion]
        [--losses NS WGAN ...] [--n 10000] [--batch 64] [--clock wall|cpu] [--threads T]
        [--results zoo.jsonl] [--grids DIR] [--set key=value ...]
        [--executor local|ray] [--address ADDR] [--cpus-per-task 1] [--gpus-per-task 0]
    python benchmarks/loss_zoo.py --table zoo-mnist.jsonl zoo-fashion.jsonl

Every run prints one JSON line (and appends it to --results, where a later invocation finds
it instead of training it again; `--executor ray` trains the runs as Ray tasks); a table
per data set (mean +- std over seeds) closes it. `--clock cpu` budgets the process's CPU
time instead of wall-clock: with one thread the two agree on an idle core, and the budget
stays fair when other work shares the machine. `--grids DIR` saves 64 samples of each
loss's first seed, and one picture per data set with a row of samples per loss. `--table`
prints the tables from saved results without training.
"""

import argparse
import json
import math
import os
import statistics
import time
from functools import partial
from pathlib import Path

import torch
from executor import Job, add_executor_options, check_executor, run_jobs
from results import Results

from advnets.config import load_preset
from advnets.errors import exit_on_error
from advnets.metrics.evaluate import METRICS, EvalSettings, check_samples
from advnets.sampling import draw_samples
from advnets.training import build_run
from advnets.viz import labelled_rows, save_image_grid, save_picture

# name -> (preset, extra overrides); the data set is switched with data.name
LOSSES = {
    "MM": ("dcgan-mnist", ["loss.generator=minimax"]),
    "NS": ("dcgan-mnist", []),
    "LSGAN": ("lsgan-mnist", []),
    "WGAN": ("wgan-mnist", []),
    "WGAN-GP": ("wgan-gp-mnist", []),  # the one network change: a layer-norm critic
    "hinge": ("hinge-mnist", []),
    "ML": ("mlgan-mnist", []),
}
LUCIC_FID = {
    "MM": {"mnist": 9.8, "fashion": 29.6},
    "NS": {"mnist": 6.8, "fashion": 26.5},
    "LSGAN": {"mnist": 7.8, "fashion": 30.7},
    "WGAN": {"mnist": 6.7, "fashion": 21.5},
    "WGAN-GP": {"mnist": 20.3, "fashion": 24.5},
}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def train_for(preset: str, overrides: list[str], seconds: float, clock: str = "wall"):
    """Build the run and step it until `seconds` have passed on `clock`."""
    run = build_run(load_preset(preset, overrides))
    now = CLOCKS[clock]
    start = now()
    while now() - start < seconds:
        run.step()
    return run, now() - start


def draw01(run, n: int, seed: int):
    """n samples of G mapped onto [0, 1], the scale of the evaluation data."""
    samples = draw_samples(run.G_sample, run.cfg, n, seed)
    lo, hi = run.cfg.data.value_range
    return ((samples - lo) / (hi - lo)).clamp_(0, 1)


def score(samples: torch.Tensor, dataset: str, settings: EvalSettings) -> dict[str, float]:
    """FID (+ class histogram), KID and, for MNIST, Parzen of samples on [0, 1]."""
    samples = check_samples(samples, dataset)
    settings.cache.pop("samples", None)
    scores = {
        **METRICS["fid"](samples, dataset, settings),
        **METRICS["kid"](samples, dataset, settings),
    }
    if dataset == "mnist":
        scores.update(METRICS["parzen"](samples, dataset, settings))
    return scores


def spearman(a: list[float], b: list[float]) -> float:
    """Rank correlation of two equally long lists (no ties expected)."""
    ra = {i: r for r, i in enumerate(sorted(range(len(a)), key=a.__getitem__))}
    rb = {i: r for r, i in enumerate(sorted(range(len(b)), key=b.__getitem__))}
    n = len(a)
    if n < 2:
        return math.nan
    return 1 - 6 * sum((ra[i] - rb[i]) ** 2 for i in range(n)) / (n * (n * n - 1))


def mean_std(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    values = [v * scale for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "n/a"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"


def table(dataset: str, rows: dict[str, list[dict]]) -> None:
    print(
        f"\n{dataset}: mean ± std over seeds (FID/KID on classifier features; "
        f"Lucic et al.: Inception FID)"
    )
    head = [
        "loss",
        "FID",
        "KID",
        "classes",
        "class KL",
        "Parzen",
        "G updates",
        "img/s",
        "Lucic FID",
    ]
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    ours, theirs = [], []
    for name, results in rows.items():
        fids = [r["fid"] for r in results]
        lucic = LUCIC_FID.get(name, {}).get(dataset)
        print(
            " | ".join(
                [
                    name,
                    mean_std(fids),
                    mean_std([r["kid"] for r in results], digits=4),
                    mean_std([r["classes"] for r in results], digits=1),
                    mean_std([r["class_kl"] for r in results], digits=3),
                    mean_std([r.get("parzen") for r in results], digits=1)
                    if dataset == "mnist"
                    else "-",
                    f"{statistics.mean(r['g_updates'] for r in results):.0f}",
                    f"{statistics.mean(r['img_per_s'] for r in results):.0f}",
                    f"{lucic}" if lucic is not None else "-",
                ]
            )
        )
        if lucic is not None:
            ours.append(statistics.mean(fids))
            theirs.append(lucic)
    if len(ours) >= 2:
        shared = [n for n in rows if LUCIC_FID.get(n, {}).get(dataset) is not None]
        for who, fids in (("ours: ", ours), ("Lucic:", theirs)):
            ranked = sorted(zip(fids, shared, strict=True))
            print(f"ordering (best first), {who} {' < '.join(n for _, n in ranked)}")
        print(f"Spearman rank correlation of FIDs: {spearman(ours, theirs):+.2f}")


def save_grids(grids: Path, dataset: str, firsts: dict[str, torch.Tensor]) -> None:
    """Each loss's 64 samples as its own grid, and one picture with a row of 12 per loss."""
    for name, samples in firsts.items():
        save_image_grid(samples, grids / f"zoo-{dataset}-{name}.png", (0.0, 1.0), nrow=8)
    picture = labelled_rows([s[:12] for s in firsts.values()], list(firsts), (0.0, 1.0))
    print(f"wrote {save_picture(picture, grids / f'zoo-{dataset}.png')}")


def zoo_row(args: argparse.Namespace, dataset: str, name: str, seed: int) -> dict:
    """Train one loss for one seed within the budget and score its samples: the results
    row (with seed 0's first 64 samples as `_samples`, for the pictures)."""
    preset, extra = LOSSES[name]
    overrides = [
        "train.progress=false",
        f"data.name={dataset}",
        f"data.root={args.data}",
        f"train.seed={seed}",
        f"train.batch_size={args.batch}",
        *extra,
        *args.set,
    ]
    settings = EvalSettings(data_root=args.data, fid_samples=args.n, parzen_samples=args.n)
    run, seconds = train_for(preset, overrides, args.minutes * 60, args.clock)
    t0 = time.perf_counter()
    samples = draw01(run, args.n, seed + 1000)
    result = score(samples, dataset, settings)
    g_updates, d_updates = run.players["G"].updates, run.players["D"].updates
    result.update(
        preset=preset,
        train_seconds=round(seconds, 1),
        steps=run.counters.step,
        g_updates=g_updates,
        d_updates=d_updates,
        img_per_s=round(g_updates * args.batch / seconds, 1),
        eval_seconds=round(time.perf_counter() - t0, 1),
    )
    result = {k: v for k, v in result.items() if not k.startswith("class_") or k == "class_kl"}
    return {**result, **({"_samples": samples[:64]} if seed == 0 else {})}


def run_zoo(args: argparse.Namespace, dataset: str) -> dict[str, list[dict]]:
    """Every loss for every seed on one data set, from --results or trained now by the
    executor: loss -> result rows."""
    key = ("dataset", "loss", "seed", "clock", "minutes", "batch", "set")
    results = Results(args.results, key, defaults={"minutes": None, "batch": None, "set": ""})
    firsts: dict[str, torch.Tensor] = {}

    def report(row: dict) -> None:
        if "_samples" in row:
            firsts[row["loss"]] = row.pop("_samples")
        print(json.dumps(row), flush=True)

    common = dict(dataset=dataset, clock=args.clock, minutes=args.minutes, batch=args.batch)
    jobs = [
        Job(
            {**common, "loss": name, "seed": seed, "set": " ".join(args.set)},
            partial(zoo_row, args, dataset, name, seed),
        )
        for name in args.losses
        for seed in range(args.seeds)
    ]
    rows: dict[str, list[dict]] = {}
    for row in run_jobs(results, jobs, args, report):
        rows.setdefault(row["loss"], []).append(row)
    if args.grids and firsts:
        save_grids(args.grids, dataset, firsts)
    return rows


def saved_rows(paths: list[Path]) -> dict[str, dict[str, list[dict]]]:
    """Result rows from --results files: data set -> loss -> rows, in the files' order."""
    out: dict[str, dict[str, list[dict]]] = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                out.setdefault(r["dataset"], {}).setdefault(r["loss"], []).append(r)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per run")
    parser.add_argument(
        "--clock",
        default="wall",
        choices=list(CLOCKS),
        help="what the budget counts: wall-clock or this process's CPU time",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--datasets", nargs="+", default=["mnist", "fashion"], choices=["mnist", "fashion"]
    )
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=list(LOSSES))
    parser.add_argument("--n", type=int, default=10_000, help="samples scored per run")
    parser.add_argument("--batch", type=int, default=64, help="m for every loss (Lucic: 64)")
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--results",
        type=Path,
        help="append each run's JSON line here; runs already there are not trained again",
    )
    parser.add_argument("--grids", type=Path, help="folder for the sample pictures")
    parser.add_argument(
        "--table",
        type=Path,
        nargs="+",
        metavar="RESULTS",
        help="print the tables of saved --results files; train nothing",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    add_executor_options(parser)
    args = parser.parse_args()
    check_executor(parser, args)
    if args.table:
        for dataset, rows in saved_rows(args.table).items():
            table(dataset, rows)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    for dataset in args.datasets:
        table(dataset, run_zoo(args, dataset))


if __name__ == "__main__":
    exit_on_error(main)
