"""Table 1 of Goodfellow et al. 2014, MNIST column: train a preset, draw 10,000 samples,
score them with the exact Parzen protocol, and print our row beside the paper's, with the
wall-clock time of training.

    python benchmarks/reproduce_table1.py [--preset gan-mnist-fast --preset gan-mnist]
        [--epochs N] [--out DIR]
"""

import argparse
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


def train_and_score(
    preset: str, epochs: float | None, run_dir: Path, data: str
) -> tuple[dict, float, float]:
    """Train `preset` into `run_dir` and score its best.pt (if the preset evaluates during
    training) or its final checkpoint: (Parzen scores, epochs of that checkpoint, seconds)."""
    overrides = [path_override("data.root", data)]
    if epochs is not None:
        overrides += ["train.steps=null", f"train.epochs={epochs}"]
    cfg = load_preset(preset, overrides)
    if cfg.data.name != "mnist":
        raise SystemExit(f"{preset} does not train on MNIST")
    if (run_dir / "checkpoint.pt").exists():
        raise SystemExit(f"{run_dir} already holds a run; pass --out another folder")
    t = time.perf_counter()
    run = train(cfg, run_dir)
    seconds = time.perf_counter() - t
    # a preset with periodic evaluation keeps best.pt, chosen on validation images only
    best = run_dir / "best.pt"
    chosen = best if best.is_file() else run_dir
    samples, _ = sample_from_run(chosen, 10_000)
    lo, hi = cfg.data.value_range
    samples = (samples - lo) / (hi - lo)  # Parzen data are on [0, 1]
    scores = parzen(check_samples(samples, "mnist"), "mnist", EvalSettings(data_root=data))
    epoch = load_checkpoint(chosen)["counters"]["step"] / run.counters.steps_per_epoch
    return scores, epoch, seconds


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
    args = parser.parse_args()

    rows = []
    for preset in args.preset or ["gan-mnist"]:
        run_dir = Path(args.out) / f"table1-{preset}"
        scores, epochs, seconds = train_and_score(preset, args.epochs, run_dir, args.data)
        ours = f"{scores['parzen']:.1f} ± {scores['parzen_se']:.1f}"
        rows.append(
            (
                f"advnets {preset}",
                ours,
                f"sigma {scores['parzen_sigma']:.4f}, "
                f"checkpoint of epoch {epochs:.1f}, {seconds / 60:.1f} min of training",
            )
        )

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
