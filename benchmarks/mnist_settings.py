"""Quality against wall-clock for MNIST presets: how the settings of `gan-mnist-fast` are
picked. Trains a preset and, every few epochs, scores 10,000 samples with the paper's Parzen
protocol (sigma chosen on the first 1,000 validation images; the test set, or a subset of it
for speed), on the preset's own data set (a Fashion-MNIST preset on Fashion-MNIST), samples
mapped onto [0, 1] as the images are. Prints one JSON line per evaluation, with the
training seconds so far.
With --valid the next 2,000 validation images are scored instead of test images, with the
samples that `train.eval_every` draws: the numbers a run's periodic evaluation logs, so
settings can be chosen without looking at the test set.

    python benchmarks/mnist_settings.py gan-mnist-fast --epochs 20 --every 4 \
        [--test 3000 | --valid] [--set optim.G.lr=1e-3 ...]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import positive_int  # noqa: E402

from advnets.config import Config, load_preset, path_override  # noqa: E402
from advnets.data import load_images01  # noqa: E402
from advnets.data.registry import static_spec  # noqa: E402
from advnets.errors import ConfigError, exit_on_error  # noqa: E402
from advnets.metrics.parzen import parzen_protocol  # noqa: E402
from advnets.sampling import draw_samples  # noqa: E402
from advnets.training import build_run, run_loop  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("--epochs", type=positive_int, default=20)
    parser.add_argument("--every", type=positive_int, default=4, help="epochs between scores")
    parser.add_argument("--test", type=positive_int, default=10_000, help="test images scored")
    parser.add_argument(
        "--valid",
        action="store_true",
        help="score validation images 1,000-2,999 instead of test images",
    )
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    if args.every > args.epochs:
        parser.error(f"--every {args.every} is more than --epochs {args.epochs}: nothing to score")
    return args


def scoring_images(cfg: Config, valid_only: bool, test: int) -> tuple[Tensor, Tensor, int]:
    """Of the run's own data set (MNIST or Fashion-MNIST): the 1,000 validation images
    that choose sigma, the images scored (the first `test` test images, or with
    `valid_only` validation images 1,000-2,999), and the seed of the scored samples."""
    name = cfg.data.name
    if "parzen" not in static_spec(name).metrics:
        raise ConfigError(
            f"the preset trains on {name}, which the Parzen protocol does not score; "
            f"pick an MNIST or Fashion-MNIST preset"
        )
    root, download = cfg.data.root, cfg.data.download
    valid = load_images01(name, "valid", root, 3000, download)[0].flatten(1)
    if valid_only:  # as train.eval_every scores (advnets.training.hooks.PeriodicEval)
        return valid[:1000], valid[1000:], cfg.train.seed + 3
    return valid[:1000], load_images01(name, "test", root, test, download)[0].flatten(1), 0


def samples01(run, cfg: Config, seed: int) -> Tensor:
    """10,000 samples of G mapped from the preset's value range onto [0, 1], the images'
    scale (as train.eval_every maps them)."""
    lo, hi = cfg.data.value_range
    return ((draw_samples(run.G_sample, cfg, 10_000, seed) - lo) / (hi - lo)).clamp_(0, 1)


def main() -> None:
    args = parse_args()
    cfg = load_preset(
        args.preset, ["train.progress=false", path_override("data.root", args.data), *args.set]
    )
    valid, test, seed = scoring_images(cfg, args.valid, args.test)
    run = build_run(cfg)
    valid, test = valid.to(run.device), test.to(run.device)
    train_seconds = 0.0
    for epoch in range(args.every, args.epochs + 1, args.every):
        t = time.perf_counter()
        run_loop(run, [], epoch * run.counters.steps_per_epoch)
        train_seconds += time.perf_counter() - t
        samples = samples01(run, cfg, seed).flatten(1).to(run.device)
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
                    "data": cfg.data.name,
                    "scored": f"{'valid' if args.valid else 'test'}[{len(test)}]",
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    exit_on_error(main)
