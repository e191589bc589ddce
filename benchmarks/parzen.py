"""Speed of the Parzen protocol (Goodfellow et al. 2014, Table 1) against a straightforward
implementation run in the same process, and the agreement of their scores.

The protocol: 10,000 "samples" as kernel centres (here the first 10,000 training images, so
the score is the true-data reference row), sigma chosen from logspace(-1, 0, 10) on the
first 1,000 validation images, the 10,000 test images scored.

The baseline recomputes float64 distances (torch.cdist) for every sigma and every batch of
100 rows, as a direct transcription of the definition would.

    python benchmarks/parzen.py [--data DIR]
"""

import argparse
import math
import os
import time

import numpy as np
import torch

from advnets.data import load_images01
from advnets.errors import exit_on_error
from advnets.metrics.parzen import parzen_protocol


def baseline(
    samples: torch.Tensor,
    valid: torch.Tensor,
    test: torch.Tensor,
    sigmas: np.ndarray,
    batch: int = 100,
) -> tuple[float, float]:
    mu = samples.double()
    k, d = mu.shape

    def mean_ll(x: torch.Tensor, sigma: float) -> torch.Tensor:
        rows = []
        for start in range(0, len(x), batch):
            sq = torch.cdist(x[start : start + batch].double(), mu) ** 2
            rows.append(
                torch.logsumexp(-sq / (2 * sigma**2), dim=1)
                - math.log(k)
                - d * math.log(sigma * math.sqrt(2 * math.pi))
            )
        return torch.cat(rows)

    best = max(sigmas, key=lambda s: mean_ll(valid, float(s)).mean().item())
    return mean_ll(test, float(best)).mean().item(), float(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    args = parser.parse_args()
    samples = load_images01("mnist", "train", args.data, 10_000)[0].flatten(1)
    valid = load_images01("mnist", "valid", args.data, 1_000)[0].flatten(1)
    test = load_images01("mnist", "test", args.data, 10_000)[0].flatten(1)
    sigmas = np.logspace(-1, 0, 10)

    parzen_protocol(samples[:500], valid[:100], test[:100])  # warm-up
    t = time.perf_counter()
    ours = parzen_protocol(samples, valid, test, sigmas)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    base_mean, base_sigma = baseline(samples, valid, test, sigmas)
    base_s = time.perf_counter() - t
    print(
        f"advnets parzen_protocol: {ours.mean:.2f} +- {ours.stderr:.2f} "
        f"(sigma {ours.sigma:.4f}) in {ours_s:.2f} s"
    )
    print(
        f"baseline (cdist per sigma and batch, float64): {base_mean:.2f} "
        f"(sigma {base_sigma:.4f}) in {base_s:.2f} s"
    )
    difference = abs(ours.mean - base_mean)
    print(
        f"speed-up {base_s / ours_s:.1f}x, score difference {difference:.4f} nats (must be < 0.1)"
    )
    if difference >= 0.1:
        raise SystemExit("FAIL: the two implementations disagree")


if __name__ == "__main__":
    exit_on_error(main)
