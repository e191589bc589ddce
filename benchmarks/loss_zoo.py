"""The loss zoo: each GAN loss with the same DCGAN networks, batch size and wall-clock budget
per run, on MNIST and Fashion-MNIST, scored on the shipped domain classifier's features (FID
and KID against the test set, class-histogram coverage) and, for MNIST, with the paper's
Parzen protocol; printed beside Lucic et al. 2018's FIDs ("Are GANs created equal?", Table 2,
best FID over their hyperparameter search). Theirs are Inception FIDs: compare orderings.

    python benchmarks/loss_zoo.py --minutes 10 --seeds 3 [--datasets mnist fashion]
        [--losses NS WGAN ...] [--n 10000] [--batch 64] [--set key=value ...]

Every run prints one JSON line; a table per data set (mean +- std over seeds) closes it.
"""

import argparse
import json
import math
import os
import statistics
import time

import torch

from advnets.config import load_preset
from advnets.metrics.evaluate import METRICS, EvalSettings, check_samples
from advnets.sampling import draw_samples
from advnets.train import build_run

# name -> (preset, extra overrides); the data set is switched with data.name
LOSSES = {
    "MM": ("dcgan-mnist", ["loss.generator=minimax"]),
    "NS": ("dcgan-mnist", []),
    "LSGAN": ("lsgan-mnist", []),
    "WGAN": ("wgan-mnist", []),
    "WGAN-GP": ("wgan-gp-mnist", []),  # the one network change: a layer-norm critic
    "hinge": ("hinge-mnist", []),
    "ML": ("mlgan-mnist", []),
}
LUCIC_FID = {"MM": {"mnist": 9.8, "fashion": 29.6}, "NS": {"mnist": 6.8, "fashion": 26.5},
             "LSGAN": {"mnist": 7.8, "fashion": 30.7}, "WGAN": {"mnist": 6.7, "fashion": 21.5},
             "WGAN-GP": {"mnist": 20.3, "fashion": 24.5}}


def train_for(preset: str, overrides: list[str], seconds: float):
    """Build the run and step it until `seconds` of wall-clock have passed."""
    run = build_run(load_preset(preset, overrides))
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        run.step()
    return run, time.perf_counter() - start


def score(run, dataset: str, n: int, seed: int, settings: EvalSettings) -> dict[str, float]:
    """FID (+ class histogram), KID and, for MNIST, Parzen of n samples of G."""
    samples = draw_samples(run.G_sample, run.cfg, n, seed)
    lo, hi = run.cfg.data.value_range
    samples = check_samples(((samples - lo) / (hi - lo)).clamp_(0, 1), dataset)
    settings.cache.pop("samples", None)
    scores = {**METRICS["fid"](samples, dataset, settings),
              **METRICS["kid"](samples, dataset, settings)}
    if dataset == "mnist":
        scores.update(METRICS["parzen"](samples, dataset, settings))
    return scores


def spearman(a: list[float], b: list[float]) -> float:
    """Rank correlation of two equally long lists (no ties expected)."""
    ra = {i: r for r, i in enumerate(sorted(range(len(a)), key=a.__getitem__))}
    rb = {i: r for r, i in enumerate(sorted(range(len(b)), key=b.__getitem__))}
    n = len(a)
    if n < 2:
        return math.nan
    return 1 - 6 * sum((ra[i] - rb[i]) ** 2 for i in range(n)) / (n * (n * n - 1))


def mean_std(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    values = [v * scale for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "n/a"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"


def table(dataset: str, rows: dict[str, list[dict]]) -> None:
    print(f"\n{dataset}: mean ± std over seeds (FID/KID on classifier features; "
          f"Lucic et al.: Inception FID)")
    head = ["loss", "FID", "KID", "classes", "class KL", "Parzen", "G updates", "img/s",
            "Lucic FID"]
    print(" | ".join(head))
    ours, theirs = [], []
    for name, results in rows.items():
        fids = [r["fid"] for r in results]
        lucic = LUCIC_FID.get(name, {}).get(dataset)
        print(" | ".join([
            name, mean_std(fids), mean_std([r["kid"] for r in results], digits=4),
            mean_std([r["classes"] for r in results], digits=1),
            mean_std([r["class_kl"] for r in results], digits=3),
            mean_std([r.get("parzen") for r in results], digits=1) if dataset == "mnist"
            else "-",
            f"{statistics.mean(r['g_updates'] for r in results):.0f}",
            f"{statistics.mean(r['img_per_s'] for r in results):.0f}",
            f"{lucic}" if lucic is not None else "-"]))
        if lucic is not None:
            ours.append(statistics.mean(fids))
            theirs.append(lucic)
    if len(ours) >= 2:
        shared = [n for n in rows if LUCIC_FID.get(n, {}).get(dataset) is not None]
        for who, fids in (("ours: ", ours), ("Lucic:", theirs)):
            ranked = sorted(zip(fids, shared, strict=True))
            print(f"ordering (best first), {who} {' < '.join(n for _, n in ranked)}")
        print(f"Spearman rank correlation of FIDs: {spearman(ours, theirs):+.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per run")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion"],
                        choices=["mnist", "fashion"])
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=list(LOSSES))
    parser.add_argument("--n", type=int, default=10_000, help="samples scored per run")
    parser.add_argument("--batch", type=int, default=64, help="m for every loss (Lucic: 64)")
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    for dataset in args.datasets:
        settings = EvalSettings(data_root=args.data, fid_samples=args.n,
                                parzen_samples=args.n)
        rows: dict[str, list[dict]] = {}
        for name in args.losses:
            preset, extra = LOSSES[name]
            for seed in range(args.seeds):
                overrides = ["train.progress=false", f"data.name={dataset}",
                             f"data.root={args.data}", f"train.seed={seed}",
                             f"train.batch_size={args.batch}", *extra, *args.set]
                run, seconds = train_for(preset, overrides, args.minutes * 60)
                t0 = time.perf_counter()
                result = score(run, dataset, args.n, seed + 1000, settings)
                c = run.counters
                result.update(loss=name, dataset=dataset, seed=seed, preset=preset,
                              train_seconds=round(seconds, 1), steps=c.step,
                              g_updates=c.g_updates, d_updates=c.d_updates,
                              img_per_s=round(c.g_updates * args.batch / seconds, 1),
                              eval_seconds=round(time.perf_counter() - t0, 1))
                rows.setdefault(name, []).append(result)
                print(json.dumps({k: v for k, v in result.items()
                                  if not k.startswith("class_") or k == "class_kl"}),
                      flush=True)
        table(dataset, rows)


if __name__ == "__main__":
    main()
