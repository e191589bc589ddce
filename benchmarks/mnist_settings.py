"""Quality against wall-clock for MNIST presets: how the settings of `gan-mnist-fast` are
picked. Trains a preset and, every few epochs, scores 10,000 samples with the paper's Parzen
protocol (sigma chosen on the first 1,000 validation images; the test set, or a subset of it
for speed). Prints one JSON line per evaluation, with the training seconds so far.
With --valid the next 2,000 validation images are scored instead of test images, with the
samples that `train.eval_every` draws: the numbers a run's periodic evaluation logs, so
settings can be chosen without looking at the test set.

    python benchmarks/mnist_settings.py gan-mnist-fast --epochs 20 --every 4 \
        [--test 3000 | --valid] [--set optim.G.lr=1e-3 ...]
"""

import argparse
import json
import os
import time

from advnets.config import load_preset
from advnets.data import load_images01
from advnets.errors import exit_on_error
from advnets.metrics.parzen import parzen_protocol
from advnets.sampling import draw_samples
from advnets.training import build_run, run_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--test", type=int, default=10_000, help="test images scored")
    parser.add_argument(
        "--valid",
        action="store_true",
        help="score validation images 1,000-2,999 instead of test images",
    )
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    cfg = load_preset(args.preset, ["train.progress=false", f"data.root={args.data}", *args.set])
    run = build_run(cfg)
    valid = load_images01("mnist", "valid", args.data, 3000)[0].flatten(1).to(run.device)
    if args.valid:  # as train.eval_every scores (advnets.training.hooks.PeriodicEval)
        valid, test, seed = valid[:1000], valid[1000:], cfg.train.seed + 3
    else:
        valid, seed = valid[:1000], 0
        test = load_images01("mnist", "test", args.data, args.test)[0].flatten(1).to(run.device)
    train_seconds = 0.0
    for epoch in range(args.every, args.epochs + 1, args.every):
        t = time.perf_counter()
        run_loop(run, [], epoch * run.counters.steps_per_epoch)
        train_seconds += time.perf_counter() - t
        samples = draw_samples(run.G_sample, cfg, 10_000, seed).flatten(1).to(run.device)
        result = parzen_protocol(samples, valid, test)
        print(
            json.dumps(
                {
                    "preset": args.preset,
                    "set": args.set,
                    "epoch": epoch,
                    "train_seconds": round(train_seconds, 1),
                    "parzen": round(result.mean, 1),
                    "se": round(result.stderr, 1),
                    "sigma": round(result.sigma, 3),
                    "scored": f"{'valid' if args.valid else 'test'}[{len(test)}]",
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    exit_on_error(main)
