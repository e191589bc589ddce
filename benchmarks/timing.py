"""Timing shared by the micro-benchmarks."""

import time
from collections.abc import Callable


def best_of_3(fn: Callable[[], object], repeats: int) -> float:
    """Best of 3 rounds: mean ms per call of `fn`, after 3 warm-up calls."""
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats * 1000)
    return best
