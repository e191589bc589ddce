"""VAE, GAN and VAE/GAN on the same networks and budget (Larsen et al. 2016's comparison):
reconstruction PSNR; sample FID, classes covered and the KL of the samples' class histogram
from uniform, on the shipped classifier; the sharpness of samples and reconstructions
relative to the test images' (1 = as sharp).

    python benchmarks/vaegan.py --dataset mnist --epochs 1 --seeds 1 \\
        --results runs/vaegan/results.jsonl --grid docs/vaegan_mnist.png

Each method trains the `vaegan-<dataset>` preset with `method` set (vae: encoder and
decoder on the ELBO; gan: decoder and discriminator; vaegan: all three), so every network
and the optimiser are the same. Finished runs are kept in --results and not trained
again. `--grid` draws Larsen et al.'s Fig. 4 layout: test images, VAE and VAE/GAN
reconstructions, then samples of each method.
"""

import argparse
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from executor import Job, add_executor_options, check_executor, run_jobs  # noqa: E402
from results import (  # noqa: E402
    Results,
    add_methods_option,
    add_run_options,
    check_overrides,
    train_or_continue,
)

import advnets  # noqa: E402
from advnets.config import load_preset, path_override  # noqa: E402
from advnets.data import load_images01  # noqa: E402
from advnets.data.registry import static_spec  # noqa: E402
from advnets.errors import exit_on_error  # noqa: E402
from advnets.metrics.classifier import FEATURES  # noqa: E402
from advnets.reconstruction import (  # noqa: E402
    laplacian_variance,
    reconstruct,
    reconstruction_scores,
)
from advnets.runs import load_run  # noqa: E402
from advnets.viz import save_image_grid  # noqa: E402

METHODS = ("vae", "gan", "vaegan")


def run_dir(args, method: str, seed: int) -> Path:
    return Path(args.out) / f"{args.dataset}-{method}-s{seed}-e{args.epochs:g}"


def train_and_score(args, method: str, seed: int) -> dict:
    """Train one method, then score its samples (and reconstructions, if it has an encoder)."""
    overrides = [
        f"method={method}",
        f"train.seed={seed}",
        f"train.epochs={args.epochs}",
        "train.steps=null",
        "train.progress=false",
        *args.set,
    ]
    overrides += [path_override("data.root", args.data)] if args.data else []
    folder, t0 = run_dir(args, method, seed), time.perf_counter()
    cfg = load_preset(f"vaegan-{args.dataset}", overrides)
    train_or_continue(cfg, folder, overrides)  # stopped, or trained but not scored: go on
    minutes = (time.perf_counter() - t0) / 60
    real01 = load_images01(args.dataset, "test", args.data, 2000)[0]
    samples = advnets.sample(folder, 2000, seed=0)  # a sigmoid decoder: images on [0, 1]
    row = {
        "minutes": round(minutes, 1),
        "sample_sharpness": (
            laplacian_variance(samples).mean() / laplacian_variance(real01).mean()
        ).item(),
    }
    if "fid" in static_spec(args.dataset).metrics:  # a shipped classifier scores its samples
        scores = advnets.evaluate(folder, metric="fid", n=args.n, data_root=args.data)
        row.update(fid=scores["fid"], classes=scores["classes"], class_kl=scores["class_kl"])
    if method != "gan":
        run = load_run(folder)
        recon = reconstruction_scores(run.encoder(), run.sampler(), run.cfg, 2000, args.data)
        row.update({k: recon[k] for k in ("recon_psnr", "recon_sharpness", "mean_image_psnr")})
    return row


def table(rows: list[dict]) -> None:
    keys = (
        "recon_psnr",
        "fid",
        "classes",
        "class_kl",
        "sample_sharpness",
        "recon_sharpness",
        "minutes",
    )
    print("| method | seeds | " + " | ".join(keys) + " |")
    print("|---|---:|" + "---:|" * len(keys))
    for method in METHODS:
        runs = [r for r in rows if r["method"] == method]
        if not runs:
            continue
        cells = []
        for key in keys:
            values = [r[key] for r in runs if key in r]
            if not values:
                cells.append("-")
                continue
            spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.2f}{spread}")
        print(f"| {method} | {len(runs)} | " + " | ".join(cells) + " |")


def figure(args, path: Path) -> None:
    """Rows: 8 test images; their VAE and VAE/GAN reconstructions; 8 samples of each method."""
    x = load_images01(args.dataset, "test", args.data, 8)[0]
    rows = [x]
    for method in ("vae", "vaegan"):
        run = load_run(run_dir(args, method, args.first_seed))
        rows.append(reconstruct(run.encoder(), run.sampler(), x))
    for method in METHODS:
        rows.append(advnets.sample(run_dir(args, method, args.first_seed), 8, seed=1))
    save_image_grid(torch.cat(rows), path, (0.0, 1.0), 8)
    print(
        f"rows: test images, VAE and VAE/GAN reconstructions, VAE / GAN / VAE/GAN samples -> {path}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", default="mnist", choices=["mnist", "fashion", "cifar10", "faces"]
    )
    add_methods_option(parser, METHODS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--out", default="runs/vaegan", help="parent of the run folders")
    parser.add_argument("--data", help="data folder (else $ADVNETS_DATA)")
    parser.add_argument("--grid", type=Path, help="write the Fig. 4-style picture here")
    parser.add_argument("--n", type=int, help="samples for FID (default: the protocol's 10,000)")
    add_run_options(parser)
    add_executor_options(parser)
    args = parser.parse_args(argv)
    if args.n is not None and args.n <= FEATURES:
        parser.error(f"--n: FID needs more than the classifier's {FEATURES} features, got {args.n}")
    check_overrides(parser, [f"vaegan-{args.dataset}"], args.set)
    check_executor(parser, args)
    args.out = str(Path(args.out).resolve())  # the same folders for the driver and any task
    key = ("dataset", "method", "seed", "epochs", "set", "n")
    results = Results(args.results, key, defaults={"n": None})  # rows before n was kept
    jobs = [
        Job(
            {
                "dataset": args.dataset,
                "method": method,
                "seed": seed,
                "epochs": args.epochs,
                "set": " ".join(args.set),
                "n": args.n,
            },
            partial(train_and_score, args, method, seed),
        )
        for method in args.methods
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    ]
    rows = run_jobs(results, jobs, args)
    table(rows)
    if args.grid and set(METHODS) <= set(args.methods):
        figure(args, args.grid)


if __name__ == "__main__":
    exit_on_error(main)
