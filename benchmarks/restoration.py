"""GAN image restoration against the classical baselines (the EE367 report in seed 001):
for each task and data set, the GAN restorer (residual G, 0.9 L1 + 0.1 adversarial), the
same G on the L1 loss alone, and every classical restorer of the task, on the same
corrupted test images: PSNR and SSIM +- standard error, sharpness relative to the
originals', ms per image, and the GAN's PSNR gap to the best baseline (paired SE).

    python benchmarks/restoration.py --datasets cifar10 faces --tasks sr2 sr4 denoise \\
        deblur inpaint --results runs/restoration/results.jsonl --pictures docs/restoration

    python benchmarks/restoration.py --photos photos --results runs/photos.jsonl

scores the shipped Gs and the classical methods on a folder of photographs at their own
size instead (benchmarks/photos.py). Each run trains the `restore-<task>-<dataset>` preset
(method restoration, or restoration-content for the ablation). Finished rows are kept in
--results and not trained or scored again. --pictures writes the report's layout per task:
rows original, corrupted (LRes for super-resolution), each baseline, GAN G, content-only G.
"""

import argparse
import json
import sys
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import photos  # noqa: E402
from executor import Job, add_executor_options, check_executor, run_jobs  # noqa: E402
from photos import VARIANTS  # noqa: E402
from results import Results, add_run_options, check_overrides, train_or_continue  # noqa: E402

from advnets.config import load_preset, path_override  # noqa: E402
from advnets.data import load_images01  # noqa: E402
from advnets.data.corruptions import TASKS, degrade  # noqa: E402
from advnets.errors import exit_on_error  # noqa: E402
from advnets.restore import classical, from_run, ship  # noqa: E402
from advnets.restore.baselines import baselines_for  # noqa: E402
from advnets.restore.evaluate import gap, restoration_table  # noqa: E402
from advnets.viz import save_image_grid  # noqa: E402

METHODS = {"restoration": "GAN", "restoration-content": "content-only"}


def run_dir(args, dataset: str, task: str, method: str, seed: int) -> Path:
    return Path(args.out) / f"{task}-{dataset}-{method}-s{seed}"


def train_runs(args, dataset: str, task: str, seed: int) -> dict:
    """Train the GAN and the content-only G (or continue stopped ones); the minutes each
    run's training took, from its metrics log."""
    minutes = {}
    for method in METHODS:
        folder = run_dir(args, dataset, task, method, seed)
        common = ["train.progress=false", *args.set]
        common += [path_override("data.root", args.data)] if args.data else []
        common += [f"train.steps={args.steps}"] if args.steps else []
        cfg = load_preset(
            f"restore-{task}-{dataset}", [f"method={method}", f"train.seed={seed}", *common]
        )
        train_or_continue(cfg, folder, common)  # a finished or stopped run: continued
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        minutes[method] = round(max(r.get("seconds", 0) for r in rows) / 60, 1)
    return minutes


def evaluate(args, dataset: str, task: str, seed: int) -> dict:
    """Train (if needed) and score one (data set, task, seed): every restorer's row."""
    minutes = train_runs(args, dataset, task, seed)
    restorers, cfg = {}, None
    for method, label in METHODS.items():
        restorers[label], cfg = from_run(run_dir(args, dataset, task, method, seed))
    rows = restoration_table(cfg.restore, dataset, restorers, args.data, args.n, seed)
    by_name = {r.name: r for r in rows}
    best = max(
        (r for r in rows if r.name not in restorers and r.name != "input"), key=lambda r: r.psnr
    )
    gan_gap = gap(by_name["GAN"], best)
    sharp_gap = abs(by_name["GAN"].sharpness - 1) - abs(by_name["content-only"].sharpness - 1)
    return {
        "rows": [{k: v for k, v in vars(r).items() if k != "per_image"} for r in rows],
        "images": len(rows[0].per_image),
        "best_baseline": best.name,
        "gap_db": gan_gap[0],
        "gap_se": gan_gap[1],
        "gan_sharper_than_content": sharp_gap < 0,
        "minutes": minutes,
    }


def print_table(row: dict) -> None:
    images = row.get("images", row["n"])
    print(f"\n### {row['task']} on {row['dataset']} (seed {row['seed']}, {images} test images)")
    print("| restorer | PSNR (dB) | SSIM | sharpness / originals' | ms / image |")
    print("|---|---:|---:|---:|---:|")
    for r in row["rows"]:
        name = r["name"] + ("" if r["param"] is None else f" ({r['param']:g})")
        print(
            f"| {name} | {r['psnr']:.2f} ± {r['psnr_se']:.2f} | {r['ssim']:.4f} ± "
            f"{r['ssim_se']:.4f} | {r['sharpness']:.2f} | {r['ms']:.2f} |"
        )
    print(
        f"GAN - {row['best_baseline']}: {row['gap_db']:+.2f} ± {row['gap_se']:.2f} dB; "
        f"GAN sharpness closer to the originals' than content-only: "
        f"{row['gan_sharper_than_content']}; minutes {row['minutes']}"
    )


def summary(rows: list[dict]) -> None:
    """One line per table: the GAN against the best baseline, and the sharpness of both Gs."""
    print(
        "\n| data | task | best baseline | its PSNR | GAN PSNR | GAN - baseline (dB) "
        "| sharpness GAN / content-only |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    for row in rows:
        by_name = {r["name"]: r for r in row["rows"]}
        base, gan, l1 = by_name[row["best_baseline"]], by_name["GAN"], by_name["content-only"]
        print(
            f"| {row['dataset']} | {row['task']} | {base['name']} | {base['psnr']:.2f} | "
            f"{gan['psnr']:.2f} | {row['gap_db']:+.2f} ± {row['gap_se']:.2f} | "
            f"{gan['sharpness']:.2f} / {l1['sharpness']:.2f} |"
        )


def picture(args, dataset: str, task: str, seed: int, path: Path) -> None:
    """Rows: originals, corrupted (nearest-upscaled for SR), baselines, GAN, content-only."""
    clean = load_images01(dataset, "test", args.data, 8)[0]
    cfg = load_preset(f"restore-{task}-{dataset}", args.set).restore
    d = degrade(clean, cfg, torch.Generator().manual_seed(seed))
    shown = classical("nearest", cfg)(d) if TASKS.get(task).scale > 1 else d.image
    rows = [clean, shown]
    rows += [classical(n, cfg)(d) for n in baselines_for(task) if n not in ("input", "nearest")]
    rows += [from_run(run_dir(args, dataset, task, m, seed))[0](d) for m in METHODS]
    path.mkdir(parents=True, exist_ok=True)
    out = path / f"{task}-{dataset}.png"
    save_image_grid(torch.cat(rows), out, (0.0, 1.0), 8)
    print(f"picture -> {out}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["cifar10"], choices=["cifar10", "faces"])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    parser.add_argument("--n", type=int, default=500, help="test images scored")
    parser.add_argument("--out", default="runs/restoration", help="parent of the run folders")
    parser.add_argument("--data", help="data folder (else $ADVNETS_DATA)")
    parser.add_argument("--pictures", type=Path, help="write the report's picture layout here")
    parser.add_argument(
        "--ship",
        action="store_true",
        help="copy each CIFAR-10 GAN G (first seed) into the package's shipped restorers",
    )
    parser.add_argument(
        "--photos",
        help="score the shipped Gs and the classical methods on the pictures of this folder, "
        "at their own size (benchmarks/photos.py), instead of training",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        choices=list(VARIANTS),
        metavar="V",
        help=f"--photos: the corruptions scored, some of: {', '.join(VARIANTS)}",
    )
    parser.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="LABEL=RUN",
        help="--photos: also score this restoration run's G (its own task), as 'GAN LABEL'",
    )
    add_run_options(parser)
    add_executor_options(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.photos:
        torch.set_num_threads(1)
        results = Results(args.results, ("variant", "photo", "restorer"))
        photos.run(args, results)
        return
    check_overrides(
        parser, [f"restore-{t}-{d}" for t in args.tasks for d in args.datasets], args.set
    )
    check_executor(parser, args)
    args.out = str(Path(args.out).resolve())  # the same folders for the driver and any task
    results = Results(args.results, ("dataset", "task", "seed", "steps", "n", "set"))
    jobs = [
        Job(
            {"dataset": d, "task": t, "seed": s, "steps": args.steps, "n": args.n,
             "set": " ".join(args.set)},
            partial(evaluate, args, d, t, s),
        )
        for d in args.datasets
        for t in args.tasks
        for s in range(args.first_seed, args.first_seed + args.seeds)
    ]  # fmt: skip
    rows = run_jobs(results, jobs, args)
    for job, row in zip(jobs, rows, strict=True):
        print_table(row)
        if args.pictures:
            picture(args, job.key["dataset"], job.key["task"], job.key["seed"], args.pictures)
        if args.ship and job.key["dataset"] == "cifar10" and job.key["seed"] == args.first_seed:
            folder = run_dir(args, "cifar10", job.key["task"], "restoration", args.first_seed)
            print(f"shipped {folder} -> {ship(folder)}")
    summary(rows)


if __name__ == "__main__":
    exit_on_error(main)
