"""`advnets degrade`, `advnets restore` and `advnets eval RUN --metric psnr`: image
restoration from the command line, on PNG/JPEG files of any size (grey or colour) and on
.npy batches (N, C, H, W) on [0, 1]."""

import argparse
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from advnets.config import Config, apply_overrides
from advnets.data.corruptions import TASKS, Degraded, degrade
from advnets.errors import ConfigError, DataError
from advnets.files import read_npy, save_image, save_npy
from advnets.restore.baselines import BASELINES
from advnets.viz import check_drawable

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_images(path: str) -> torch.Tensor:
    """A picture as (1, C, H, W), or a .npy batch (N, C, H, W), as float32 on [0, 1]."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{path}: no such file")
    if p.suffix.lower() == ".npy":
        return _npy_images(path)
    try:
        with Image.open(p) as img:
            grey = img.mode in ("1", "L", "LA", "I", "I;16", "F")
            array = np.asarray(img.convert("L" if grey else "RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"{path}: not a readable image ({err}); give a PNG/JPEG or .npy") from None
    x = torch.from_numpy(array.copy()).float().div_(255)
    return x[None, None] if grey else x.permute(2, 0, 1)[None]


def _npy_images(path: str) -> torch.Tensor:
    array = read_npy(path)  # header checked against the file size, never unpickled
    if array.ndim != 4 or array.shape[1] not in (1, 3) or min(array.shape[2:]) < 2:
        raise DataError(
            f"{path}: images must be (N, C, H, W) with C 1 or 3, got shape {array.shape}"
        )
    if array.dtype == np.uint8:
        return torch.from_numpy(array.astype(np.float32) / 255)
    if array.dtype.kind != "f" or not np.isfinite(array).all():
        raise DataError(f"{path}: images must be finite floats on [0, 1] or uint8")
    return torch.from_numpy(array.astype(np.float32)).clamp(0, 1)


def write_images(x: torch.Tensor, path: str) -> None:
    """A batch as .npy (float32 (N, C, H, W)), or one image as a picture (by suffix)."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        save_npy(p, x.numpy().astype(np.float32))
        return
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise ConfigError(f"--out {path}: use .npy, or a picture ({', '.join(IMAGE_SUFFIXES)})")
    if len(x) != 1:
        raise ConfigError(f"--out {path}: {len(x)} images need a .npy output")
    check_drawable(x, (0.0, 1.0))
    pixels = (x[0].clamp(0, 1) * 255).round().byte()
    array = pixels[0].numpy() if len(pixels) == 1 else pixels.permute(1, 2, 0).numpy()
    save_image(Image.fromarray(array), p)


def mask_path(image_path: str) -> Path:
    """Where `degrade --task inpaint` writes the mask of IMAGE: IMAGE.mask.npy."""
    return Path(str(image_path) + ".mask.npy")


def settings(task: str | None, overrides: list[str], base: Config | None = None) -> Config:
    """The restore settings: a run's (or the defaults), `--task`, then `--set restore.*`."""
    cfg = base or Config()
    for item in overrides:
        if not item.startswith("restore."):
            raise ConfigError(f"--set {item}: only restore.* settings apply here")
    cfg = apply_overrides(cfg, overrides)
    if task is not None:
        TASKS.get(task)
        cfg.restore.task = task
    return cfg


def cmd_degrade(args: argparse.Namespace) -> None:
    """Corrupt images as a restoration task's training and test inputs are corrupted."""
    s = settings(args.task, args.set).restore
    x = read_images(args.input)
    d = degrade(x, s, torch.Generator().manual_seed(args.seed))
    write_images(d.image, args.out)
    if d.mask is not None:
        save_npy(mask_path(args.out), d.mask.numpy())
        print(f"mask of the missing pixels -> {mask_path(args.out)}")
    print(f"{s.task}: {tuple(x.shape)} -> {tuple(d.image.shape)} -> {args.out}")


def _load_mask(args: argparse.Namespace, x: torch.Tensor) -> torch.Tensor:
    path = Path(args.mask) if args.mask else mask_path(args.input)
    if not path.is_file():
        raise ConfigError(f"inpaint needs the mask of missing pixels: --mask FILE (not {path})")
    mask = _npy_images(str(path)) if path.suffix == ".npy" else read_images(str(path))
    mask = (mask[:, :1] > 0.5).float()
    if mask.shape[-2:] != x.shape[-2:] or len(mask) not in (1, len(x)):
        raise DataError(f"{path}: mask {tuple(mask.shape)} does not fit images {tuple(x.shape)}")
    return mask.expand(len(x), -1, -1, -1)


def _restorer(args: argparse.Namespace):
    """(restorer, restore settings) of `advnets restore`: a run's G, a classical method, or
    the G shipped for the task."""
    from advnets.restore import classical, load_run, load_shipped

    if args.run and args.method:
        raise ConfigError("pass a run folder or --method NAME, not both")
    if args.run:
        restorer, cfg = load_run(Path(args.run))
        if args.task and args.task != cfg.restore.task:
            raise ConfigError(
                f"{args.run} restores {cfg.restore.task}, not {args.task}; use a "
                f"restore-{args.task}-* run or drop --task"
            )
        return restorer, settings(None, args.set, cfg).restore
    if not args.task:
        raise ConfigError(f"pass --task ({', '.join(TASKS)}) for a classical or shipped restorer")
    s = settings(args.task, args.set).restore
    if args.method:
        return classical(args.method, s, args.param), s
    return load_shipped(args.task)[0], s


def cmd_restore(args: argparse.Namespace) -> None:
    """Restore corrupted images (a picture, or a .npy batch) with one restorer."""
    x = read_images(args.input)
    restorer, s = _restorer(args)
    mask = _load_mask(args, x) if TASKS.get(s.task).masked else None
    out = restorer(Degraded(x * (1 - mask) if mask is not None else x, mask))
    write_images(out, args.out)
    print(f"{s.task}: {tuple(x.shape)} -> {tuple(out.shape)} -> {args.out}")


def check_comparable(c: Config, cfg: Config, other: str) -> None:
    """A --compare run must undo the same corruption, of the same data set, as the run
    whose test inputs it is scored on (its training crop may differ)."""
    if c.restore.task != cfg.restore.task or c.data.name != cfg.data.name:
        raise ConfigError(
            f"--compare {other}: a {c.restore.task} run on {c.data.name}, "
            f"not {cfg.restore.task} on {cfg.data.name}"
        )
    mine, theirs = asdict(cfg.restore), asdict(c.restore)
    differ = [k for k in mine if k != "crop" and mine[k] != theirs[k]]
    if differ:
        k = differ[0]
        raise ConfigError(
            f"--compare {other}: trained on restore.{k}={theirs[k]}, this run's test "
            f"inputs use {mine[k]}; compare runs of the same corruption"
        )


def eval_psnr(args: argparse.Namespace) -> None:
    """`advnets eval RUN --metric psnr`: the task's table on the test split."""
    from advnets.restore import load_run
    from advnets.restore.evaluate import HEADER, restoration_table

    if args.samples or not args.run_dir:
        raise ConfigError("--metric psnr scores a restoration run: pass its run folder")
    restorer, cfg = load_run(Path(args.run_dir))
    restorers = {cfg.method: restorer}
    for other in args.compare or []:
        r, c = load_run(Path(other))
        check_comparable(c, cfg, other)
        restorers[f"{c.method} ({Path(other).name})"] = r
    rows = restoration_table(
        cfg.restore, cfg.data.name, restorers, args.data, args.n or 500, args.seed
    )
    print(
        f"{cfg.restore.task} on {cfg.data.name} test images ({len(rows[0].per_image)}); "
        f"sharp: Laplacian variance / the originals'"
    )
    print(HEADER)
    for row in rows:
        print(row.line())
    own = next(r for r in rows if r.name == cfg.method)
    baselines = (r for r in rows if r.name not in restorers and r.name != "input")
    best = max(baselines, key=lambda r: r.psnr)
    print(f"psnr {own.psnr:.2f} best_baseline {best.name} {best.psnr:.2f}")


def add_restore_commands(sub: argparse._SubParsersAction) -> None:
    """The degrade and restore subcommands."""
    tasks = ", ".join(TASKS)
    p = sub.add_parser("degrade", help="corrupt images as a restoration task does")
    p.add_argument("input", metavar="IN", help="a PNG/JPEG picture, or a .npy batch")
    p.add_argument("--task", required=True, help=f"the corruption: {tasks}")
    p.add_argument("--out", required=True, help="OUT.png / OUT.npy (inpaint: mask beside)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise or the holes")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="restore.KEY=VALUE",
        help="corruption settings, e.g. restore.noise=0.05",
    )
    p.set_defaults(func=cmd_degrade)
    p = sub.add_parser("restore", help="restore corrupted images (a run, --method or shipped)")
    p.add_argument("run", nargs="?", metavar="RUN", help="a restoration run folder")
    p.add_argument("input", metavar="IN", help="a PNG/JPEG picture, or a .npy batch")
    p.add_argument("--task", help=f"{tasks} (a run knows its own)")
    p.add_argument("--method", help=f"a classical restorer: {', '.join(BASELINES)}")
    p.add_argument("--param", type=float, help="the classical restorer's parameter")
    p.add_argument("--mask", help="inpaint: the mask (1 = missing; default IN.mask.npy)")
    p.add_argument("--out", required=True, help="OUT.png / OUT.npy")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="restore.KEY=VALUE",
        help="the corruption's settings the classical restorers assume",
    )
    p.set_defaults(func=cmd_restore)
