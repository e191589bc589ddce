"""The small-data preset against the DCGAN preset on a few hundred / a few thousand
pictures, at the same CPU-time budget: FID and KID (in the shipped CIFAR-10 classifier's
features, against the whole small set, as few-shot GAN papers score) and the memorization
share (samples much nearer a training picture than any held-out one).

Data: the Olivetti faces (the 320 pictures of people 0-31, 64x64 grey) and 10 % of the
CIFAR-10 training images (4,500, 32x32), each written once as a .npy array and trained
with `--images` (a folder of one's own pictures works the same way).

    python benchmarks/small_data.py --budget 180 --seeds 3 --results runs/small_data.jsonl

Each run trains 30 steps, measures their CPU time, then resumes to the number of steps the
budget (CPU seconds, one thread) buys; finished runs are kept in --results.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import advnets
from advnets.config import load_preset
from advnets.data import load_images01
from advnets.data.resolve import with_images
from advnets.errors import exit_on_error
from advnets.metrics.evaluate import METRICS
from advnets.runs import load_run
from advnets.sampling import draw_samples

SETS = {"faces": ("faces", "full", None, 64), "cifar10-10pct": ("cifar10", "train", 4500, 32)}
PRESETS = ("small-data", "dcgan-mnist")
QUIET = ["train.progress=false", "train.samples_per_epoch=false", "train.threads=1"]


def write_set(name: str, out: Path, data: str | None) -> Path:
    """The data set's pictures as a uint8 .npy (N, C, H, W), written once."""
    path = out / f"{name}.npy"
    if not path.is_file():
        dataset, split, n, _ = SETS[name]
        x = load_images01(dataset, split, data, n)[0]
        if n is not None:  # a seeded 10 % of the training images
            keep = torch.randperm(45_000, generator=torch.Generator().manual_seed(0))[:n]
            x = load_images01(dataset, split, data)[0][keep.sort().values]
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, (x * 255).round().byte().numpy())
    return path


def train_budget(cfg, run: Path, budget: float) -> dict:
    """Train `cfg` into `run` for `budget` CPU seconds (calibrated on its first 30 steps)."""
    start = time.process_time()
    advnets.train(cfg, run, overrides=["train.steps=30"])
    per_step = (time.process_time() - start) / 30
    steps = max(30, int(budget / per_step))
    advnets.train(None, run, resume=True, overrides=[f"train.steps={steps}"])
    return {"steps": steps, "cpu_s_per_step": per_step}


def score(run: Path, n: int) -> dict:
    from advnets.metrics.evaluate import EvalSettings

    loaded = load_run(run)
    G, cfg = loaded.sampler(), loaded.cfg
    lo, hi = cfg.data.value_range
    x = (draw_samples(G, cfg, n, seed=1) - lo) / (hi - lo)
    s = EvalSettings(fid_samples=n, data=cfg.data, reference="full")
    out = {}
    for metric in ("fid", "kid", "memorization"):
        out.update(METRICS[metric](x.clamp(0, 1), "folder", s))
    return {k: v for k, v in out.items() if isinstance(v, int | float)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=180, help="CPU seconds per run")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--n", type=int, default=1000, help="samples scored")
    p.add_argument("--out", type=Path, default=Path("runs/small_data"))
    p.add_argument("--results", type=Path, default=Path("runs/small_data.jsonl"))
    p.add_argument("--data", help="data folder (else $ADVNETS_DATA)")
    args = p.parse_args()
    torch.set_num_threads(1)
    done = [json.loads(line) for line in args.results.open()] if args.results.is_file() else []
    for name in args.sets:
        pictures, size = write_set(name, args.out, args.data), SETS[name][3]
        for seed in range(args.seeds):
            for preset in PRESETS:
                key = {"set": name, "preset": preset, "seed": seed, "budget": args.budget}
                if any(all(r.get(k) == v for k, v in key.items()) for r in done):
                    continue
                cfg = load_preset(preset, [*QUIET, f"train.seed={seed}", "train.batch_size=32"])
                cfg = with_images(cfg, str(pictures), [size, size])
                run = args.out / f"{name}-{preset}-s{seed}-b{args.budget:g}"
                row = key | train_budget(cfg, run, args.budget) | score(run, args.n)
                args.results.parent.mkdir(parents=True, exist_ok=True)
                with args.results.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                done.append(row)
                print(json.dumps(row), flush=True)
    summarise(done, args.budget)


def summarise(rows: list[dict], budget: float) -> None:
    """Mean +- std over seeds per set and preset, and the ratio of the FIDs."""
    print(f"\nset, preset: FID, KID, memorization (mean +- std over seeds; {budget:g} CPU s)")
    for name in SETS:
        means = {}
        for preset in PRESETS:
            got = [
                r for r in rows if (r["set"], r["preset"], r["budget"]) == (name, preset, budget)
            ]
            if not got:
                continue
            cells = []
            for k in ("fid", "kid", "memorization"):
                v = [r[k] for r in got]
                sd = statistics.stdev(v) if len(v) > 1 else 0.0
                cells.append(f"{k} {statistics.mean(v):.4g} +- {sd:.2g}")
            means[preset] = statistics.mean(r["fid"] for r in got)
            print(f"{name:<14} {preset:<12} n={len(got)}  " + "  ".join(cells))
        if len(means) == 2:
            ratio = means[PRESETS[0]] / means[PRESETS[1]]
            print(f"{name:<14} ratio FID small-data / dcgan: {ratio:.3f}")


if __name__ == "__main__":
    exit_on_error(main)
