"""Timing shared by the micro-benchmarks."""

import time
from collections.abc import Callable

from advnets.config import load_preset
from advnets.training import build_run, run_loop


def best_of_3(fn: Callable[[], object], repeats: int) -> float:
    """Best of 3 rounds: mean ms per call of `fn`, after 3 warm-up calls."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        best = min(best, (time.perf_counter() - start) / repeats * 1000)
    return best


def step_ms(preset: str, overrides: list[str], steps: int) -> float:
    """ms per Algorithm-1 step of `preset` with `overrides`, after 10 warm-up steps."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    cfg = load_preset(
        preset, ["train.seed=0", f"train.steps={steps + 10}", "train.progress=false", *overrides]
    )
    run = build_run(cfg)
    run_loop(run, [], 10)
    start = time.perf_counter()
    run_loop(run, [], steps + 10)
    return (time.perf_counter() - start) / steps * 1000
