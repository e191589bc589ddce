"""Semi-supervised MNIST / Fashion-MNIST: test accuracy of SGAN, improved GAN and their
supervised baseline (the same classifier without G) at several label counts and seeds,
beside the published rows.

    python benchmarks/semi_supervised.py --labels 100 --methods improved-gan supervised \\
        --seeds 5 --epochs 100 --results runs/ssl/results.jsonl

Each run trains one preset (`--preset`; `method` and `data.labels` set per row), keeps the
checkpoint with the best validation accuracy (every epoch on the 10,000 validation images)
and scores it once on the 10,000 test images. A seed draws the labelled subset and the
initialisation. Finished runs are appended to `--results` and never trained again; the
same command reprints the table. A run folder that already holds a checkpoint (an
interrupted run, or the same run with fewer `--epochs`) is resumed to `--epochs`.
`--curve` adds each run's validation accuracy per epoch, and the seeds' mean over the tenth
of the run ending at each quarter of it (has the curve flattened?).
"""

import argparse
import json
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from executor import Job, add_executor_options, check_executor, run_jobs  # noqa: E402
from results import Results, add_run_options, check_overrides, train_or_continue  # noqa: E402

from advnets.config import load_preset, path_override  # noqa: E402
from advnets.errors import exit_on_error  # noqa: E402
from advnets.metrics.accuracy import accuracy  # noqa: E402
from advnets.runs import load_run  # noqa: E402

# published MNIST test accuracies: Odena 2016 Table 1 ("CNN": its D/C trained on the labels
# alone, the supervised row of the sgan preset; SGAN) and Salimans et al. 2016 Table 1
# (improved GAN, from test errors of 10,000; no supervised row for its MLP)
PUBLISHED = {
    ("sgan", "supervised", 1000): 0.965,
    ("sgan", "supervised", 100): 0.895,
    ("sgan", "supervised", 50): 0.859,
    ("sgan", "supervised", 25): 0.750,
    ("sgan", "sgan", 1000): 0.964,
    ("sgan", "sgan", 100): 0.928,
    ("sgan", "sgan", 50): 0.883,
    ("sgan", "sgan", 25): 0.802,
    ("improved-gan", "improved-gan", 100): 0.9907,
    ("improved-gan", "improved-gan", 50): 0.9779,
    ("improved-gan", "improved-gan", 20): 0.8323,
}


def train_and_score(preset: str, method: str, labels: int, seed: int, args) -> dict:
    """One run: train, choose best.pt on validation, score it on the test set."""
    overrides = [
        f"method={method}",
        f"data.labels={labels}",
        f"train.seed={seed}",
        f"train.epochs={args.epochs}",
        "train.steps=null",
        "train.progress=false",
        "train.samples_per_epoch=false",
        *args.set,
    ]
    if args.data:
        overrides.append(path_override("data.root", args.data))
    run_dir = Path(args.out) / f"{preset}-{method}-{labels}-s{seed}"
    t0 = time.perf_counter()
    first_step, run = train_or_continue(load_preset(preset, overrides), run_dir, overrides)
    last_step = run.counters.step
    minutes = (time.perf_counter() - t0) / 60
    # best.pt: the checkpoint chosen on validation; runs that never validate score their last
    chosen = run_dir / "best.pt" if (run_dir / "best.pt").is_file() else run_dir
    loaded = load_run(chosen)
    test = accuracy(loaded.classifier(), loaded.cfg, "test")
    curve = validation_curve(run_dir)
    return {
        "test_accuracy": test["accuracy"],
        "test_errors": test["errors"],
        "best_valid": max(curve, default=None),
        "valid_curve": curve,
        "minutes": round(minutes, 1),
        "epochs": args.epochs,
        # a run extended from a shorter one: minutes count the epochs trained here alone
        "from_epoch": round(args.epochs * first_step / last_step, 2),
    }


def validation_curve(run_dir: Path) -> list[float]:
    """The run's validation accuracies in order (not the test scores `advnets eval` adds)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [row["eval"] for row in rows if "eval" in row]
    return [e["accuracy"] for e in evals if e.get("accuracy_split", "valid") == "valid"]


def converge(args) -> None:
    """The seed's second claim: after the same epochs, SGAN's samples against those of a
    plain GAN with the same networks (D with one output): classifier FID on 10,000 samples
    and the two sample grids (`--out`/sgan-vs-gan-*.png)."""
    import advnets
    from advnets.viz import save_image_grid

    for method in ("sgan", "gan"):
        run_dir = Path(args.out) / f"converge-{method}-e{args.epochs:g}"
        overrides = [
            f"method={method}",
            f"train.epochs={args.epochs}",
            "train.steps=null",
            "train.progress=false",
            "train.eval_every=0",
            *args.set,
            *([path_override("data.root", args.data)] if args.data else []),
        ]
        train_or_continue(load_preset(args.preset, overrides), run_dir, overrides)
        fid = advnets.evaluate(run_dir, metric="fid", data_root=args.data)["fid"]
        cfg = load_run(run_dir).cfg
        grid = Path(args.out) / f"sgan-vs-gan-{method}.png"
        save_image_grid(advnets.sample(run_dir, 64, seed=0), grid, tuple(cfg.data.value_range), 8)
        print(f"{method}: FID {fid:.2f} after {args.epochs:g} epochs -> {grid}")


def table(rows: list[dict], curve: bool) -> None:
    print("| method | labels | seeds | test accuracy | errors of 10,000 | published | min/epoch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["labels"], row["preset"]), []).append(row)
    for (method, labels, preset), runs in sorted(groups.items()):
        acc = [r["test_accuracy"] for r in runs]
        spread = f" ± {statistics.stdev(acc):.4f}" if len(acc) > 1 else ""
        errors = [r["test_errors"] for r in runs]
        family = preset.removesuffix("-mnist")
        paper = PUBLISHED.get((family, method, labels)) if preset.endswith("-mnist") else None
        print(
            f"| {method} ({preset}) | {labels} | {len(runs)} | "
            f"{statistics.mean(acc):.4f}{spread} | {statistics.mean(errors):.0f} | "
            f"{'-' if paper is None else f'{paper:.4f}'} | "
            f"{_mean_text(map(_minutes_per_epoch, runs))} |"
        )
        if curve:
            for r in runs:
                print(f"    seed {r['seed']}: " + " ".join(f"{a:.3f}" for a in r["valid_curve"]))
            print_plateau(runs)


def plateau(runs: list[dict]) -> tuple[int, list[int], list[float]]:
    """Validation accuracy averaged over the seeds and over the `width` evaluations ending at
    each quarter of the shortest curve: the last two values level when a run has flattened.
    Returns (width, the evaluations the windows end at, the averages); no windows when the
    curves hold fewer than four evaluations."""
    n = min(len(r["valid_curve"]) for r in runs)
    if n < 4:
        return 0, [], []
    width = max(1, n // 10)
    ends = [round(n * quarter / 4) for quarter in (1, 2, 3, 4)]
    means = [
        statistics.mean(statistics.mean(r["valid_curve"][end - width : end]) for r in runs)
        for end in ends
    ]
    return width, ends, means


def print_plateau(runs: list[dict]) -> None:
    width, ends, means = plateau(runs)
    if ends:
        print(
            f"    {len(runs)} seeds' mean over the {width} evaluations ending at "
            + " / ".join(map(str, ends))
            + ": "
            + " / ".join(f"{m:.4f}" for m in means)
        )


def _mean_text(values) -> str:
    """The mean of the values that are not None, or '-' when none is."""
    known = [v for v in values if v is not None]
    return f"{statistics.mean(known):.2f}" if known else "-"


def _minutes_per_epoch(row: dict) -> float | None:
    """Of the epochs this row's command trained (all of them, unless it extended a run);
    None when it trained none (the run was already as long)."""
    trained = row["epochs"] - row.get("from_epoch", 0.0)
    return row["minutes"] / trained if trained > 0 else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="improved-gan-mnist")
    parser.add_argument("--methods", nargs="+", default=["improved-gan", "supervised"])
    parser.add_argument("--labels", nargs="+", type=int, default=[100])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=float, default=100)
    parser.add_argument("--out", default="runs/ssl", help="parent of the run folders")
    parser.add_argument("--data", help="data folder (else $ADVNETS_DATA)")
    parser.add_argument("--curve", action="store_true", help="print validation curves")
    parser.add_argument(
        "--converge",
        action="store_true",
        help="instead: SGAN against a plain GAN on the same networks, sample "
        "FID after --epochs (the seed's 'SGAN converges faster')",
    )
    add_run_options(parser)
    add_executor_options(parser)
    args = parser.parse_args(argv)
    check_overrides(parser, [args.preset], args.set)
    check_executor(parser, args)
    args.out = str(Path(args.out).resolve())  # the same folders for the driver and any task
    if args.converge:
        return converge(args)
    results = Results(args.results, ("preset", "method", "labels", "seed", "epochs", "set"))
    jobs = [
        Job(
            {
                "preset": args.preset,
                "method": method,
                "labels": labels,
                "seed": seed,
                "epochs": args.epochs,
                "set": " ".join(args.set),
            },
            partial(train_and_score, args.preset, method, labels, seed, args),
        )
        for labels in args.labels
        for method in args.methods
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    ]
    rows = run_jobs(results, jobs, args)
    table(rows, args.curve)


if __name__ == "__main__":
    exit_on_error(main)
