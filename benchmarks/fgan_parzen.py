"""Table 4 of f-GAN (Nowozin et al. 2016): the MNIST Parzen log-likelihood per divergence.
Trains `fgan-kl-mnist` with each divergence (`options.divergence`) for the given epochs,
scores 10,000 samples with the Parzen protocol of reproduce_table1.py, and prints our row
beside the paper's. Each divergence's score is appended to OUT/fgan-parzen.jsonl as it
finishes; a second call skips the divergences already there (resumable).

    python benchmarks/fgan_parzen.py [--divergence kl --divergence jensen_shannon]
        [--epochs N] [--out DIR] [--set KEY=VALUE ...]
"""

import argparse
import json
import os
import time
from pathlib import Path

from advnets.config import load_preset, path_override
from advnets.errors import exit_on_error
from advnets.methods.fgan import DIVERGENCES
from advnets.metrics.evaluate import EvalSettings, check_samples, parzen
from advnets.sampling import sample_from_run
from advnets.training import train

# the paper's Table 4 (Parzen log-likelihood on the MNIST test set, nats)
PAPER = {
    "kl": "416",
    "reverse_kl": "319",
    "pearson": "429",
    "neyman": "424",
    "squared_hellinger": "367",
    "jensen_shannon": "405",
    "gan": "316",
}


def score(divergence: str, epochs: float, run_dir: Path, data: str, extra: list[str]) -> dict:
    """Train fgan-kl-mnist with `divergence` (and the `extra` overrides) into `run_dir`; its
    last checkpoint's Parzen scores, with the training time."""
    overrides = [
        *extra,
        path_override("data.root", data),
        f"options.divergence={divergence}",
        "train.steps=null",
        f"train.epochs={epochs}",
        "train.threads=1",
        "train.progress=false",
    ]
    cfg = load_preset("fgan-kl-mnist", overrides)
    t = time.perf_counter()
    train(cfg, run_dir)
    seconds = time.perf_counter() - t
    samples, _ = sample_from_run(run_dir, 10_000)
    lo, hi = cfg.data.value_range
    scores = parzen(
        check_samples((samples - lo) / (hi - lo), "mnist"), "mnist", EvalSettings(data_root=data)
    )
    row = {"divergence": divergence, "epochs": epochs, "overrides": extra}
    return {**row, "train_seconds": seconds, **scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divergence", action="append", help="repeatable; default: all")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--out", default="runs", help="parent of the run folders")
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--set", action="append", default=[], help="override, repeatable")
    args = parser.parse_args()
    unknown = [d for d in args.divergence or [] if d not in DIVERGENCES]
    if unknown:
        parser.error(f"--divergence {unknown[0]}: choose one of {', '.join(DIVERGENCES)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "fgan-parzen.jsonl"
    rows = list(map(json.loads, results.read_text().splitlines())) if results.is_file() else []
    # a row is reused only for the same divergence, epochs and overrides
    done = {
        r["divergence"]: r
        for r in rows
        if (r["epochs"], r.get("overrides", [])) == (args.epochs, args.set)
    }
    for divergence in args.divergence or list(DIVERGENCES):
        if divergence not in done:
            run_dir = out / f"fgan-{divergence}-{args.epochs:g}ep"
            done[divergence] = score(divergence, args.epochs, run_dir, args.data, args.set)
            with results.open("a") as f:
                f.write(json.dumps(done[divergence]) + "\n")
    print(f"\n{'divergence':<20} {'paper (Table 4)':>24} {'advnets':>16}")
    for name, r in done.items():
        ours = f"{r['parzen']:.1f} ± {r['parzen_se']:.1f}"
        note = f"{r['epochs']:g} epochs, {r['train_seconds'] / 60:.1f} min"
        print(f"{name:<20} {PAPER.get(name, '-'):>24} {ours:>16}   ({note})")


if __name__ == "__main__":
    exit_on_error(main)
