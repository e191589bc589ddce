"""Table 1 of Goodfellow et al. 2014, MNIST column: train a preset, draw 10,000 samples,
score them with the exact Parzen protocol, and print our row beside the paper's, with the
wall-clock time of training.

    python benchmarks/reproduce_table1.py [--preset gan-mnist] [--epochs N] [--out DIR]
"""

import argparse
import os
import time
from pathlib import Path

from advnets.config import load_preset
from advnets.metrics.evaluate import EvalSettings, check_samples, parzen
from advnets.sampling import sample_from_run
from advnets.train import train

PAPER_ROWS = [("DBN", "138 ± 2"), ("Stacked CAE", "121 ± 1.6"), ("Deep GSN", "214 ± 1.1"),
              ("Adversarial nets (paper)", "225 ± 2")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gan-mnist")
    parser.add_argument("--epochs", type=float, help="default: the preset's")
    parser.add_argument("--out", help="run folder (default: runs/table1-PRESET)")
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    args = parser.parse_args()

    overrides = [f"data.root={args.data}"]
    if args.epochs is not None:
        overrides += ["train.steps=null", f"train.epochs={args.epochs}"]
    cfg = load_preset(args.preset, overrides)
    if cfg.data.name != "mnist":
        raise SystemExit(f"{args.preset} does not train on MNIST")
    run_dir = Path(args.out or f"runs/table1-{args.preset}")
    if (run_dir / "checkpoint.pt").exists():
        raise SystemExit(f"{run_dir} already holds a run; pass --out another folder")
    t = time.perf_counter()
    run = train(cfg, run_dir)
    seconds = time.perf_counter() - t
    samples, _ = sample_from_run(run_dir, 10_000)
    lo, hi = cfg.data.value_range
    samples = (samples - lo) / (hi - lo)  # Parzen data are on [0, 1]
    scores = parzen(check_samples(samples, "mnist"), "mnist", EvalSettings(data_root=args.data))

    print(f"\nMNIST Parzen log-likelihood (protocol: 10,000 samples, sigma on 1,000 validation "
          f"images -> {scores['parzen_sigma']:.4f}, 10,000 test images)")
    print(f"{'model':<36} {'MNIST':>14}")
    for name, value in PAPER_ROWS:
        print(f"{name:<36} {value:>14}")
    ours = f"{scores['parzen']:.1f} ± {scores['parzen_se']:.1f}"
    print(f"{'advnets ' + args.preset:<36} {ours:>14}   ({run.counters.epoch:.1f} epochs, "
          f"{seconds / 60:.1f} min of training on this machine)")


if __name__ == "__main__":
    main()
