"""Restoration of whole photographs at their own size: every shipped G (and any candidate
runs) and every classical method of each task, on each picture of a folder, corrupted as
`advnets degrade` corrupts it (seed 0). PSNR, SSIM and seconds per megapixel per photo, and
each G's mean PSNR minus the best classical method's (the best by mean PSNR over the
photos) with the standard error of the per-photo differences. The classical methods keep
the parameters chosen on validation crops (their defaults; NLM's h is a multiple of the
noise std, which they are given: the true one); a sigma-conditioned G estimates it.

Used by `benchmarks/restoration.py --photos DIR`; each (variant, photo, restorer) score is
kept in --results and not computed again."""

import math
import time
from functools import partial
from pathlib import Path

import torch

from advnets.config import RestoreConfig
from advnets.data.corruptions import TASKS, Degraded, degrade
from advnets.image_files import PICTURE_SUFFIXES, read_image_batch
from advnets.reconstruction import psnr
from advnets.restore import Restorer, classical, from_run, load_shipped
from advnets.restore.baselines import baselines_for
from advnets.restore.evaluate import ssim

# label -> the corruption (a photo's hole sides are relative to its shorter side)
VARIANTS = {
    "denoise-15": RestoreConfig(task="denoise", noise=15 / 255),
    "denoise-25": RestoreConfig(task="denoise", noise=25 / 255),
    "denoise-50": RestoreConfig(task="denoise", noise=50 / 255),
    "sr2": RestoreConfig(task="sr2"),
    "sr4": RestoreConfig(task="sr4"),
    "deblur": RestoreConfig(task="deblur"),
    "inpaint-centre": RestoreConfig(task="inpaint", mask="centre"),
    "inpaint-rectangles": RestoreConfig(task="inpaint", mask="rectangles", holes=3, mask_size=0.15),
    "inpaint-strokes": RestoreConfig(task="inpaint", mask="strokes", holes=4, mask_size=0.25),
}


def photos(folder: Path) -> dict[str, torch.Tensor]:
    """Every picture of `folder` (sorted by name) as (1, C, H, W) on [0, 1]."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PICTURE_SUFFIXES)
    if not files:
        raise SystemExit(f"--photos {folder}: no pictures ({', '.join(PICTURE_SUFFIXES)})")
    return {p.stem: read_image_batch(p) for p in files}


def restorers(variant: RestoreConfig, candidates: dict[str, Path]) -> dict[str, Restorer]:
    """The task's classical methods (defaults), the shipped G, and candidate runs' Gs."""
    out = {n: classical(n, variant) for n in baselines_for(variant.task) if n != "input"}
    out["GAN"] = load_shipped(variant.task)[0]
    for label, run in candidates.items():
        restorer, cfg = from_run(run)
        if cfg.restore.task == variant.task:
            out[f"GAN {label}"] = restorer
    return out


def score_one(restorer: Restorer, clean: torch.Tensor, d: Degraded) -> dict:
    start = time.perf_counter()
    with torch.no_grad():
        out = restorer(d)
    seconds = time.perf_counter() - start
    return {
        "psnr": psnr(clean, out).item(),
        "ssim": ssim(clean, out).item(),
        "s_per_mp": seconds / (clean.shape[-2] * clean.shape[-1] / 1e6),
        "size": list(out.shape[-2:]),
    }


def mean_se(values: list[float]) -> tuple[float, float]:
    v = torch.tensor(values, dtype=torch.float64)
    return v.mean().item(), (v.std().item() / math.sqrt(len(v)) if len(v) > 1 else 0.0)


def table(label: str, names: list[str], scores: dict[tuple[str, str], dict]) -> list[str]:
    """One variant's markdown: PSNR per photo and restorer, means, SSIM, s/MP, G gaps."""
    pics = sorted({p for p, _ in scores})
    lines = [f"#### {label}", "", "| photo | " + " | ".join(names) + " |"]
    lines.append("|---|" + "---:|" * len(names))
    for p in pics:
        lines.append(f"| {p} | " + " | ".join(f"{scores[p, n]['psnr']:.2f}" for n in names) + " |")
    for key, what, fmt in [("psnr", "mean PSNR", ".2f"), ("ssim", "mean SSIM", ".4f")]:
        cells = [format(mean_se([scores[p, n][key] for p in pics])[0], fmt) for n in names]
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    cells = [f"{mean_se([scores[p, n]['s_per_mp'] for p in pics])[0]:.2f}" for n in names]
    lines.append("| s / megapixel | " + " | ".join(cells) + " |")
    best = max(
        (n for n in names if not n.startswith("GAN")),
        key=lambda n: mean_se([scores[p, n]["psnr"] for p in pics])[0],
    )
    lines.append("")
    for g in (n for n in names if n.startswith("GAN")):
        diff = [scores[p, g]["psnr"] - scores[p, best]["psnr"] for p in pics]
        m, se = mean_se(diff)
        lines.append(f"{g} − {best}: {m:+.2f} ± {se:.2f} dB (paired over {len(pics)} photos)")
    return lines


def crop_window(x: torch.Tensor, centre: tuple[int, int], side: int = 192) -> torch.Tensor:
    """The side x side window of x around `centre` (y, x), moved inside the image."""
    h, w = x.shape[-2:]
    top = min(max(0, centre[0] - side // 2), max(0, h - side))
    left = min(max(0, centre[1] - side // 2), max(0, w - side))
    return x[..., top : top + side, left : left + side]


def window_centre(clean: torch.Tensor, d: Degraded) -> tuple[int, int]:
    """The photo's centre, or for inpainting the centre of the missing pixels."""
    if d.mask is None or not d.mask.any():
        return clean.shape[-2] // 2, clean.shape[-1] // 2
    ys, xs = torch.nonzero(d.mask[0, 0], as_tuple=True)
    return int(ys.float().mean()), int(xs.float().mean())


def picture(label: str, clean, d: Degraded, outs: dict[str, torch.Tensor], folder: Path) -> None:
    """Crops (the centre, or the holes' centre): original, corrupted (nearest-upscaled for
    SR), each restorer's output."""
    from advnets.viz import save_image_grid

    shown = d.image
    if TASKS.get(label.split("-")[0]).scale > 1:
        shown = classical("nearest", VARIANTS[label])(d)
    centre = window_centre(clean, d)
    row = [crop_window(t.expand(-1, 3, -1, -1), centre) for t in [clean, shown, *outs.values()]]
    folder.mkdir(parents=True, exist_ok=True)
    save_image_grid(torch.cat(row), folder / f"photo-{label}.png", (0.0, 1.0), len(row))


def score_photo(args, results, label: str, name: str, clean, named: dict, first: bool) -> dict:
    """Every restorer's scores on one photo (kept in `results`); its picture if `first`."""
    d = degrade(clean, VARIANTS[label], torch.Generator().manual_seed(0))
    scores, outs = {}, {}
    for rname, restorer in named.items():
        key = {"variant": label, "photo": name, "restorer": rname}
        scores[name, rname] = results.get_or_run(key, partial(score_one, restorer, clean, d))[0]
        if args.pictures and first:
            outs[rname] = restorer(d)
    if args.pictures and first:
        picture(label, clean, d, outs, args.pictures)
    return scores


def run(args, results) -> None:
    """Score every variant on every photo; print each variant's table."""
    pics = photos(Path(args.photos))
    candidates = {k: Path(v) for k, v in (c.split("=", 1) for c in args.candidate)}
    for label in args.variants:
        named = restorers(VARIANTS[label], candidates)
        scores = {}
        for i, (name, clean) in enumerate(pics.items()):
            scores |= score_photo(args, results, label, name, clean, named, i == 0)
        print("\n".join(["", *table(label, list(named), scores)]), flush=True)
