"""Table 1 of Goodfellow et al. 2014, MNIST column: train a preset, draw 10,000 samples,
score them with the exact Parzen protocol, and print our row beside the paper's, with the
wall-clock time of training.

    python benchmarks/reproduce_table1.py [--preset gan-mnist-fast --preset gan-mnist]
        [--epochs N] [--seed S] [--set KEY=VALUE ...] [--out DIR] [--results FILE.jsonl]

With --seed each run goes to OUT/table1-PRESET-seedS; --results appends one JSON row per run
(test and validation scores, wall-clock and CPU seconds of training).
"""

import argparse
import json
import os
import time
from pathlib import Path

from advnets.checkpoint import load_checkpoint
from advnets.config import load_preset, path_override
from advnets.errors import exit_on_error
from advnets.metrics.evaluate import EvalSettings, check_samples, parzen
from advnets.sampling import sample_from_run
from advnets.training import train

PAPER_ROWS = [
    ("DBN", "138 ± 2"),
    ("Stacked CAE", "121 ± 1.6"),
    ("Deep GSN", "214 ± 1.1"),
    ("Adversarial nets (paper)", "225 ± 2"),
]


def run_name(preset: str, seed: int | None) -> str:
    """table1-PRESET[-seedS]; a preset given as a YAML file is named by its file's stem."""
    if preset.endswith((".yaml", ".yml")):
        preset = Path(preset).stem
    return f"table1-{preset}" + (f"-seed{seed}" if seed is not None else "")


def train_and_score(
    preset: str, epochs: float | None, run_dir: Path, data: str, sets: list[str]
) -> tuple[dict, dict]:
    """Train `preset` (with the overrides `sets`) into `run_dir` and score its best.pt (if
    the preset evaluates during training) or its final checkpoint: (Parzen scores, a row
    with that checkpoint's epoch and validation score and the training's wall-clock and CPU
    seconds; CPU seconds sum over threads, so they do not grow with other work beside)."""
    overrides = [path_override("data.root", data), *sets]
    if epochs is not None:
        overrides += ["train.steps=null", f"train.epochs={epochs}"]
    cfg = load_preset(preset, overrides)
    if cfg.data.name != "mnist":
        raise SystemExit(f"{preset} does not train on MNIST")
    if (run_dir / "checkpoint.pt").exists():
        raise SystemExit(f"{run_dir} already holds a run; pass --out another folder")
    t, cpu = time.perf_counter(), time.process_time()
    run = train(cfg, run_dir)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    # a preset with periodic evaluation keeps best.pt, chosen on validation images only
    best = run_dir / "best.pt"
    chosen = best if best.is_file() else run_dir
    samples, _ = sample_from_run(chosen, 10_000)
    lo, hi = cfg.data.value_range
    samples = (samples - lo) / (hi - lo)  # Parzen data are on [0, 1]
    scores = parzen(check_samples(samples, "mnist"), "mnist", EvalSettings(data_root=data))
    saved = load_checkpoint(chosen)
    row = {
        "epoch": saved["counters"]["step"] / run.counters.steps_per_epoch,
        "valid_parzen": saved.get("eval", {}).get("parzen"),
        "train_seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "threads": cfg.train.threads,
    }
    return scores, row


def table_row(preset: str, scores: dict, row: dict) -> tuple[str, str, str]:
    """Our line of the table: name, test score and how it was reached."""
    valid = row["valid_parzen"]
    return (
        f"advnets {preset}",
        f"{scores['parzen']:.1f} ± {scores['parzen_se']:.1f}",
        f"sigma {scores['parzen_sigma']:.4f}, checkpoint of epoch {row['epoch']:.1f}"
        + (f" (validation {valid:.1f})" if valid is not None else "")
        + f", {row['train_seconds'] / 60:.1f} min of training"
        f" ({row['cpu_seconds'] / 60:.1f} CPU min)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset", action="append", help="preset to train (repeatable; default: gan-mnist)"
    )
    parser.add_argument("--epochs", type=float, help="default: each preset's own")
    parser.add_argument(
        "--out",
        default="runs",
        help="parent of the run folders (each run goes to OUT/table1-PRESET)",
    )
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--seed", type=int, help="train.seed (default: each preset's own)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--results", type=Path, help="append one JSON row per run to this file")
    args = parser.parse_args()

    rows = []
    sets = [*args.set, *([f"train.seed={args.seed}"] if args.seed is not None else [])]
    for preset in args.preset or ["gan-mnist"]:
        name = run_name(preset, args.seed)
        scores, row = train_and_score(preset, args.epochs, Path(args.out) / name, args.data, sets)
        rows.append(table_row(preset, scores, row))
        if args.results is not None:
            row = {"preset": preset, "seed": args.seed, "set": args.set, **scores, **row}
            with args.results.open("a") as f:
                f.write(json.dumps(row) + "\n")

    print(
        "\nMNIST Parzen log-likelihood (protocol: 10,000 samples, sigma chosen on 1,000 "
        "validation images, 10,000 test images)"
    )
    print(f"{'model':<36} {'MNIST':>14}")
    for name, value in PAPER_ROWS:
        print(f"{name:<36} {value:>14}")
    for name, value, note in rows:
        print(f"{name:<36} {value:>14}   ({note})")


if __name__ == "__main__":
    exit_on_error(main)
