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
prints the tables from saved results without training: one per data set and setting (the
budget, clock, batch, --n, --threads and --set of a run), averaging only seeds.
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
from results import Results, positive_int

from advnets.config import load_preset, path_override
from advnets.errors import ConfigError, exit_on_error
from advnets.metrics.classifier import FEATURES
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
# a results row's key: every option that changes its numbers (threads None: torch's default).
# Rows from before a field was keyed lack it: None there (not recorded: such a row is never
# taken for a new run, and is tabulated apart), no --set.
KEY = ("dataset", "loss", "seed", "clock", "minutes", "batch", "n", "threads", "set")
KEY_DEFAULTS = dict(clock=None, minutes=None, batch=None, n=None, threads=None, set="")
# the fields of one table: every key field but the loss (a table's rows) and the seed
SETTING = tuple(k for k in KEY if k not in ("loss", "seed"))
# what --table reads of a row
NEEDED = ("dataset", "loss", "seed", "fid", "kid", "classes", "class_kl", "g_updates", "img_per_s")


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


def describe(setting: dict) -> str:
    """One table's settings in words, e.g. "10 min wall clock, batch 64, n 10000"."""
    known = {k: "?" if v is None else v for k, v in setting.items()}
    threads = "default" if setting.get("threads") is None else setting["threads"]
    words = [
        f"{known['minutes']} min {known['clock']} clock",
        f"batch {known['batch']}",
        f"n {known['n']}",
        f"threads {threads}",
    ]
    return ", ".join(words + ([f"--set {setting['set']}"] if setting.get("set") else []))


def table(dataset: str, rows: dict[str, list[dict]], setting: str = "") -> None:
    print(
        f"\n{dataset}{f' ({setting})' if setting else ''}: mean ± std over seeds "
        f"(FID/KID on classifier features; Lucic et al.: Inception FID)"
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
        path_override("data.root", args.data),
        f"train.seed={seed}",
        f"train.batch_size={args.batch}",
        *extra,
        *args.set,
    ]
    settings = EvalSettings(data_root=args.data, fid_samples=args.n, parzen_samples=args.n)
    if args.threads:  # here too: a Ray task is another process
        torch.set_num_threads(args.threads)
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


def setting_of(args: argparse.Namespace, dataset: str) -> dict:
    """The key fields (SETTING) of this invocation's runs on `dataset`."""
    return dict(
        dataset=dataset,
        clock=args.clock,
        minutes=args.minutes,
        batch=args.batch,
        n=args.n,
        threads=args.threads,
        set=" ".join(args.set),
    )


def run_zoo(args: argparse.Namespace, dataset: str) -> dict[str, list[dict]]:
    """Every loss for every seed on one data set, from --results or trained now by the
    executor: loss -> result rows."""
    results = Results(args.results, KEY, defaults=KEY_DEFAULTS)
    firsts: dict[str, torch.Tensor] = {}

    def report(row: dict) -> None:
        if "_samples" in row:
            firsts[row["loss"]] = row.pop("_samples")
        print(json.dumps(row), flush=True)

    common = setting_of(args, dataset)
    jobs = [
        Job(
            {**common, "loss": name, "seed": seed},
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


def read_rows(path: Path) -> list[dict]:
    """The rows of one results file, or one line (ConfigError) naming a missing file or the
    first line that is not a loss-zoo row."""
    if not path.is_file():
        raise ConfigError(f"--table {path}: no such results file")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}, line {number}: not JSON ({err})") from None
        missing = [k for k in NEEDED if not isinstance(row, dict) or k not in row]
        if missing:
            raise ConfigError(
                f"{path}, line {number}: not a loss-zoo results row (no {missing[0]!r} field)"
            )
        rows.append(row)
    return rows


def _fields(row: dict, names: tuple[str, ...]) -> tuple:
    """The row's values of these key fields (KEY_DEFAULTS where it lacks one), hashable."""
    values = (row.get(k, KEY_DEFAULTS.get(k)) for k in names)
    return tuple(json.dumps(v) if isinstance(v, list | dict) else v for v in values)


def saved_rows(paths: list[Path]) -> dict[tuple, dict[str, list[dict]]]:
    """Result rows from --results files, one table per setting (the values of SETTING: every
    key field but the loss and the seed): setting -> loss -> rows, in the files' order. A
    run saved twice (the same key) counts once, as its later row."""
    runs = {_fields(row, KEY): row for path in paths for row in read_rows(Path(path))}
    out: dict[tuple, dict[str, list[dict]]] = {}
    for row in runs.values():
        out.setdefault(_fields(row, SETTING), {}).setdefault(row["loss"], []).append(row)
    return out


def print_saved(paths: list[Path]) -> None:
    """--table: a table per data set and setting of the saved rows."""
    for setting, rows in saved_rows(paths).items():
        fields = dict(zip(SETTING, setting, strict=True))
        table(fields["dataset"], rows, describe(fields))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per run")
    parser.add_argument(
        "--clock",
        default="wall",
        choices=list(CLOCKS),
        help="what the budget counts: wall-clock or this process's CPU time",
    )
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument(
        "--datasets", nargs="+", default=["mnist", "fashion"], choices=["mnist", "fashion"]
    )
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=list(LOSSES))
    parser.add_argument("--n", type=positive_int, default=10_000, help="samples scored per run")
    parser.add_argument(
        "--batch", type=positive_int, default=64, help="m for every loss (Lucic: 64)"
    )
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--threads", type=positive_int, default=None)
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
    args = parser.parse_args(argv)
    if not (math.isfinite(args.minutes) and args.minutes > 0):
        parser.error(f"--minutes must be a positive number, got {args.minutes}")
    if args.n <= FEATURES:
        parser.error(f"--n: FID needs more than the classifier's {FEATURES} features, got {args.n}")
    check_executor(parser, args)
    return args


def main() -> None:
    args = parse_args()
    if args.table:
        print_saved(args.table)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    for dataset in args.datasets:
        table(dataset, run_zoo(args, dataset), describe(setting_of(args, dataset)))


if __name__ == "__main__":
    exit_on_error(main)
