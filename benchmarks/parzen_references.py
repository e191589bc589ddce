"""Reference rows for the MNIST Parzen score, computed with the same protocol code, so users
see the metric's limits (Theis et al. 2016, "A note on the evaluation of generative models"):

- 10,000 real training images used as "samples" (they report 243 for the true distribution);
- 10,000 k-means centroids of the training set (they report 313: blurry centroids beat real
  data, so the metric can be gamed).

With `--dataset faces`: the 280 training faces as "samples", scored on the test people
(sigma chosen on the validation people).

    python benchmarks/parzen_references.py [--data DIR] [--dataset mnist|faces] [--iterations 20]
"""

import argparse
import os
import time

import torch

from advnets.data import load_images01
from advnets.errors import exit_on_error
from advnets.metrics.evaluate import EvalSettings, parzen


def kmeans(x: torch.Tensor, k: int, iterations: int, seed: int = 0) -> torch.Tensor:
    """Lloyd's algorithm from k random data points; empty clusters keep their centre."""
    gen = torch.Generator().manual_seed(seed)
    centres = x[torch.randperm(len(x), generator=gen)[:k]].clone()
    x_sq = (x * x).sum(1, keepdim=True)
    for _ in range(iterations):
        assign = torch.cat(
            [
                (
                    x_sq[i : i + 5000]
                    - 2 * x[i : i + 5000] @ centres.T
                    + (centres * centres).sum(1)
                ).argmin(1)
                for i in range(0, len(x), 5000)
            ]
        )
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).unsqueeze(1)
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
    return centres


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--dataset", choices=("mnist", "faces"), default="mnist")
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    train = load_images01(args.dataset, "train", args.data)[0]
    n = min(10_000, len(train))  # the faces: all 280 training faces
    settings = EvalSettings(parzen_samples=n, data_root=args.data)
    theis = args.dataset == "mnist"

    real = parzen(train[:n], args.dataset, settings)
    print(f"{'reference':<44} {'Parzen':>16}  {'Theis et al. 2016' if theis else '':>18}")
    print(
        f"{f'{n:,} real training images':<44} "
        f"{real['parzen']:>8.1f} ± {real['parzen_se']:.1f}    {'243' if theis else '':>18}"
    )
    if len(train) <= n:  # centroids of every training image would be the images themselves
        print(f"(sigma {real['parzen_sigma']:.4f})")
        return
    t = time.perf_counter()
    centres = kmeans(train.flatten(1), n, args.iterations).view(-1, *train.shape[1:])
    kmeans_s = time.perf_counter() - t
    km = parzen(centres.clamp(0, 1), args.dataset, settings)
    print(
        f"{f'{n:,} k-means centroids (' + str(args.iterations) + ' iterations)':<44} "
        f"{km['parzen']:>8.1f} ± {km['parzen_se']:.1f}    {'313' if theis else '':>18}"
    )
    print(
        f"(k-means: {kmeans_s:.0f} s; sigma {real['parzen_sigma']:.4f} and "
        f"{km['parzen_sigma']:.4f})"
    )


if __name__ == "__main__":
    exit_on_error(main)
