"""`advnets degrade`, `advnets restore` and `advnets eval RUN --metric psnr`: image
restoration from the command line, on PNG/JPEG files of any size (grey or colour) and on
.npy batches (N, C, H, W) on [0, 1]."""

import argparse
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from advnets.cli_args import add_image_input_arguments, seed_value
from advnets.config import Config, apply_overrides
from advnets.data.corruptions import MASKS, TASKS, Degraded, degrade, estimate_noise
from advnets.data.registry import FOLDER
from advnets.errors import ConfigError, DataError
from advnets.files import image_writer, npy_writer, refuse_overwriting_inputs, write_all
from advnets.image_files import (
    MAX_PIXELS,
    PICTURE_SUFFIXES,
    ValueRange,
    from_run_range,
    read_image_batch,
)
from advnets.restore.baselines import BASELINES
from advnets.validation import check_restore
from advnets.viz import check_drawable


def read_images(
    path: str, max_pixels: int = MAX_PIXELS, value_range: ValueRange = (0.0, 1.0)
) -> torch.Tensor:
    """A picture as (1, C, H, W), or a .npy batch (N, C, H, W) on `value_range`, as float32
    on [0, 1]."""
    return read_image_batch(path, value_range, max_pixels, has_range_flag=True)


def check_out_suffix(path: str) -> None:
    """--out names a .npy or a picture file: checked before any work."""
    suffix = Path(path).suffix.lower()
    if suffix != ".npy" and suffix not in PICTURE_SUFFIXES:
        raise ConfigError(f"--out {path}: use .npy, or a picture ({', '.join(PICTURE_SUFFIXES)})")


def _picture(x: torch.Tensor, path: Path) -> np.ndarray:
    """The one image of a batch as a uint8 array (H, W) or (H, W, 3), for a picture file."""
    check_out_suffix(str(path))
    if len(x) != 1:
        raise ConfigError(f"--out {path}: {len(x)} images need a .npy output")
    check_drawable(x, (0.0, 1.0))
    pixels = (x[0].clamp(0, 1) * 255).round().byte()
    return pixels[0].numpy() if len(pixels) == 1 else pixels.permute(1, 2, 0).numpy()


def image_writer_for(
    x: torch.Tensor,
    path: str | Path,
    value_range: ValueRange = (0.0, 1.0),
    size: tuple[int, int] | None = None,
) -> Callable[[IO[bytes]], Any]:
    """What `write_all` calls to write a batch on [0, 1] as .npy (float32 (N, C, H, W) on
    `value_range`, the inputs' own), or one image as a picture (by suffix); checked before
    anything is written. `size`: a super-resolution input's clean size, kept in a PNG."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        return npy_writer(from_run_range(x, (0.0, 1.0), value_range).numpy().astype(np.float32))
    if size is not None and p.suffix.lower() == ".png":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text(SIZE_KEY, f"{size[0]}x{size[1]}")
        return image_writer(_picture(x, p), p, pnginfo=info)
    return image_writer(_picture(x, p), p)


def size_value(text: str) -> tuple[int, int]:
    """--size HxW: two whole numbers >= 1."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        h = w = 0
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give the size as HxW, e.g. 300x451")
    return h, w


def sigma_value(text: str) -> float:
    """--sigma S: a noise std in pixel levels, finite and from 0 to 255."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"{text!r}: give the noise std in 0-255 levels, e.g. 25")
    return value


def recorded_size(path: str) -> tuple[int, int] | None:
    """The clean size `degrade` kept in a super-resolution input PNG (None: none kept)."""
    if Path(path).suffix.lower() != ".png":
        return None
    from PIL import Image

    with Image.open(path) as img:
        text = getattr(img, "text", {}).get(SIZE_KEY)
    try:
        return size_value(text) if text else None
    except argparse.ArgumentTypeError:
        return None


def write_images(x: torch.Tensor, path: str, value_range: ValueRange = (0.0, 1.0)) -> None:
    """A batch as .npy (float32 (N, C, H, W)), or one image as a picture (by suffix)."""
    write_all([(Path(path), image_writer_for(x, path, value_range))])


SIZE_KEY = "advnets-size"  # the PNG text key of a super-resolution input's clean size HxW


def mask_path(image_path: str) -> Path:
    """Where `degrade --task inpaint` writes the mask of IMAGE: IMAGE.mask.npy."""
    return Path(str(image_path) + ".mask.npy")


def settings(task: str | None, overrides: list[str], base: Config | None = None) -> Config:
    """The restore settings: a run's (or the defaults), `--task`, then `--set restore.*`,
    each checked (a negative noise or a mask as large as the image refused)."""
    cfg = base or Config()
    for item in overrides:
        if not item.startswith("restore."):
            raise ConfigError(f"--set {item}: only restore.* settings apply here")
    cfg = apply_overrides(cfg, overrides)
    if task is not None:
        TASKS.get(task)
        cfg.restore.task = task
    if cfg.restore.mask not in MASKS:
        raise ConfigError(f"restore.mask={cfg.restore.mask!r}; choose one of: {', '.join(MASKS)}")
    check_restore(cfg.restore)
    return cfg


def check_known_pixels(mask: torch.Tensor | None, where: str, fix: str) -> None:
    """Refuse a mask (N, 1, H, W) that marks every pixel of an image missing: nothing is
    left to restore from."""
    if mask is not None and mask.flatten(1).ge(0.5).all(1).any():
        h, w = mask.shape[-2:]
        raise ConfigError(f"{where} hides every pixel of a {h}x{w} image; {fix}")


def read_user_mask(path: str, x: torch.Tensor, max_pixels: int) -> torch.Tensor:
    """A mask picture or .npy (white / 1 = missing) as (N, 1, H, W) of 0 and 1 for the
    images x: the same size, one mask for all or one per image, some pixels known."""
    if not Path(path).is_file():
        raise ConfigError(f"--mask {path}: no such file; give a picture, white where missing")
    mask = (read_images(path, max_pixels)[:, :1] > 0.5).float()
    if mask.shape[-2:] != x.shape[-2:] or len(mask) not in (1, len(x)):
        h, w = x.shape[-2:]
        raise DataError(
            f"--mask {path}: a {mask.shape[-2]}x{mask.shape[-1]} mask for {h}x{w} images; "
            f"draw it at the picture's size"
        )
    check_known_pixels(mask, f"the mask {path}", "mark some pixels known (black / 0)")
    return mask.expand(len(x), -1, -1, -1)


def cmd_degrade(args: argparse.Namespace) -> None:
    """Corrupt images as a restoration task's training and test inputs are corrupted; the
    picture and (inpaint) its mask are written together or not at all."""
    s = settings(args.task, args.set).restore
    masked = TASKS.get(s.task).masked
    if args.mask and not masked:
        raise ConfigError(f"--mask is for --task inpaint, not {s.task}; drop it")
    outputs = [Path(args.out), *([mask_path(args.out)] if masked else [])]
    refuse_overwriting_inputs(outputs, [args.input, args.mask])
    check_out_suffix(args.out)
    x = read_images(args.input, args.max_pixels, args.range)
    if args.mask:
        mask = read_user_mask(args.mask, x, args.max_pixels)
        d = Degraded(x * (1 - mask), mask)
    else:
        d = degrade(x, s, torch.Generator().manual_seed(args.seed))
    where = f"restore.mask={s.mask} with restore.mask_size={s.mask_size:g}"
    check_known_pixels(d.mask, where, "lower restore.mask_size")
    writes = [(outputs[0], image_writer_for(d.image, args.out, args.range, d.size))]
    if d.mask is not None:
        writes.append((outputs[1], npy_writer(d.mask.numpy())))
    write_all(writes)
    if d.mask is not None:
        print(f"mask of the missing pixels -> {outputs[1]}")
    print(f"{s.task}: {tuple(x.shape)} -> {tuple(d.image.shape)} -> {args.out}")
    if d.size is not None and Path(args.out).suffix.lower() != ".png":
        print(f"restore it with --size {d.size[0]}x{d.size[1]} to get {args.input}'s size back")


def _mask_file(args: argparse.Namespace) -> Path | None:
    """The mask `restore` reads: --mask, else IN.mask.npy when the task may be inpaint."""
    if args.mask:
        return Path(args.mask)
    maybe_inpaint = args.task is None and args.run or args.task and TASKS.get(args.task).masked
    return mask_path(args.input) if maybe_inpaint else None


def _load_mask(args: argparse.Namespace, x: torch.Tensor) -> torch.Tensor:
    path = Path(args.mask) if args.mask else mask_path(args.input)
    if not path.is_file():
        raise ConfigError(f"inpaint needs the mask of missing pixels: --mask FILE (not {path})")
    return read_user_mask(str(path), x, args.max_pixels)


def _output_size(args: argparse.Namespace, x: torch.Tensor, scale: int) -> tuple[int, int] | None:
    """A super-resolution's output size: --size, else the one `degrade` kept in the PNG,
    else scale x the input's; checked to be what the input can come from."""
    if scale == 1:
        if args.size:
            raise ConfigError("--size is for super-resolution (sr2, sr4); drop it")
        return None
    h, w = x.shape[-2:]
    size = args.size or recorded_size(args.input) or (scale * h, scale * w)
    if -(-size[0] // scale) != h or -(-size[1] // scale) != w:
        raise ConfigError(
            f"--size {size[0]}x{size[1]} does not come from a {h}x{w} input by x{scale}: "
            f"give a size from {scale * h - scale + 1}x{scale * w - scale + 1} to "
            f"{scale * h}x{scale * w}"
        )
    return size


def _check_restore_args(args: argparse.Namespace) -> None:
    """Flags that would be silently ignored are refused before any work."""
    if args.run and args.method:
        raise ConfigError("pass a run folder or --method NAME, not both")
    if args.param is not None and not args.method:
        raise ConfigError("--param sets a classical method's parameter: add --method NAME")
    if args.mask and args.task and not TASKS.get(args.task).masked:
        raise ConfigError(f"--mask is for --task inpaint, not {args.task}; drop it")
    refuse_overwriting_inputs([args.out], [args.input, _mask_file(args), args.run])
    check_out_suffix(args.out)


def _noise_settings(args: argparse.Namespace, x: torch.Tensor) -> list[str]:
    """denoise with a classical method: restore.noise from --sigma, else estimated from the
    pictures (unless --set restore.noise=... gives it)."""
    if args.task != "denoise" or any(o.startswith("restore.noise=") for o in args.set):
        return []
    sigma = args.sigma / 255 if args.sigma is not None else estimate_noise(x).mean().item()
    return [f"restore.noise={max(sigma, 1 / 255)!r}"]


def _restorer(args: argparse.Namespace, x: torch.Tensor):
    """(restorer, restore settings) of `advnets restore`: a run's G, a classical method, or
    the G shipped for the task."""
    from advnets.restore import classical, from_run, load_shipped

    if args.run:
        restorer, cfg = from_run(args.run)
        if args.task and args.task != cfg.restore.task:
            raise ConfigError(
                f"{args.run} restores {cfg.restore.task}, not {args.task}; use a "
                f"restore-{args.task}-* run or drop --task"
            )
        return restorer, settings(None, args.set, cfg).restore
    if not args.task:
        raise ConfigError(f"pass --task ({', '.join(TASKS)}) for a classical or shipped restorer")
    if args.method:
        s = settings(args.task, [*args.set, *_noise_settings(args, x)]).restore
        return classical(args.method, s, args.param), s
    return load_shipped(args.task)[0], settings(args.task, args.set).restore


def cmd_restore(args: argparse.Namespace) -> None:
    """Restore corrupted images (a picture, or a .npy batch) with one restorer."""
    _check_restore_args(args)
    x = read_images(args.input, args.max_pixels, args.range)
    restorer, s = _restorer(args, x)
    if args.mask and not TASKS.get(s.task).masked:
        raise ConfigError(f"--mask is for inpainting; {args.run} restores {s.task}; drop it")
    if args.sigma is not None and s.task != "denoise":
        raise ConfigError(f"--sigma is the noise level of denoising, not {s.task}; drop it")
    size = _output_size(args, x, TASKS.get(s.task).scale)
    mask = _load_mask(args, x) if TASKS.get(s.task).masked else None
    sigma = None if args.sigma is None else torch.full((len(x),), args.sigma / 255)
    out = restorer(Degraded(x * (1 - mask) if mask is not None else x, mask, size, sigma))
    write_images(out, args.out, args.range)
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
    from advnets.restore import from_run
    from advnets.restore.evaluate import HEADER, restoration_table

    if args.samples or not args.run_dir:
        raise ConfigError("--metric psnr scores a restoration run: pass its run folder")
    restorer, cfg = from_run(args.run_dir)
    restorers = {cfg.method: restorer}
    for other in args.compare or []:
        r, c = from_run(other)
        check_comparable(c, cfg, other)
        restorers[f"{c.method} ({Path(other).name})"] = r
    folder = cfg.data.name == FOLDER
    data = cfg.data if folder else cfg.data.name
    rows = restoration_table(cfg.restore, data, restorers, args.data, args.n or 500, args.seed)
    where = f"{cfg.data.path} held-out" if folder else f"{cfg.data.name} test"
    print(
        f"{cfg.restore.task} on {where} images ({len(rows[0].per_image)}); "
        f"sharp: Laplacian variance / the originals'"
    )
    print(HEADER)
    for row in rows:
        print(row.line())
    own = next(r for r in rows if r.name == cfg.method)
    baselines = (r for r in rows if r.name not in restorers and r.name != "input")
    best = max(baselines, key=lambda r: r.psnr)
    print(f"psnr {own.psnr:.2f} best_baseline {best.name} {best.psnr:.2f}")


SR_NOTE = (
    "Every output keeps the photo's size: super-resolution pads a side the factor does not "
    "divide (its last row or column repeated) before downsampling, and restore crops its "
    "output back to the photo's size (kept in the PNG by degrade, or --size HxW)."
)


def add_restore_commands(sub: argparse._SubParsersAction) -> None:
    """The degrade and restore subcommands."""
    _add_degrade_command(sub)
    _add_restore_command(sub)


def _add_settings_argument(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument("--set", action="append", default=[], metavar="restore.KEY=VALUE", help=help)


def _add_degrade_command(sub: argparse._SubParsersAction) -> None:
    tasks = ", ".join(TASKS)
    p = sub.add_parser(
        "degrade",
        help="corrupt images as a restoration task does",
        description=f"Corrupt a picture of any size as a restoration task does. {SR_NOTE}",
    )
    p.add_argument("input", metavar="IN", help="a PNG/JPEG picture, or a .npy batch")
    p.add_argument("--task", required=True, help=f"the corruption: {tasks}")
    p.add_argument("--out", required=True, help="OUT.png / OUT.npy (inpaint: mask beside)")
    p.add_argument(
        "--mask",
        help="inpaint: your own mask picture, white where pixels go missing (else "
        "restore.mask: centre, holes, rectangles or strokes)",
    )
    p.add_argument("--seed", type=seed_value, default=0, help="seed of the noise or the holes")
    add_image_input_arguments(p)
    _add_settings_argument(p, "corruption settings, e.g. restore.noise=0.05")
    p.set_defaults(func=cmd_degrade)


def _add_restore_command(sub: argparse._SubParsersAction) -> None:
    tasks = ", ".join(TASKS)
    p = sub.add_parser(
        "restore",
        help="restore corrupted images (a run, --method or shipped)",
        description="Restore a corrupted picture of any size (large ones tile by tile in "
        f"bounded memory, with a progress bar). {SR_NOTE}",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help="a restoration run folder")
    p.add_argument("input", metavar="IN", help="a PNG/JPEG picture, or a .npy batch")
    p.add_argument("--task", help=f"{tasks} (a run knows its own)")
    p.add_argument("--method", help=f"a classical restorer: {', '.join(BASELINES)}")
    p.add_argument("--param", type=float, help="the classical restorer's parameter")
    p.add_argument(
        "--mask",
        help="inpaint: the mask, white / 1 = missing (a picture or .npy; default IN.mask.npy)",
    )
    p.add_argument(
        "--sigma",
        type=sigma_value,
        metavar="S",
        help="denoise: the noise std in pixel levels of 0-255 (e.g. 25), for a "
        "sigma-conditioned G or a classical method (default: estimated from the picture)",
    )
    p.add_argument(
        "--size",
        type=size_value,
        metavar="HxW",
        help="super-resolution: the output size (default: the one degrade kept in a PNG, "
        "else factor x the input's)",
    )
    p.add_argument("--out", required=True, help="OUT.png / OUT.npy")
    add_image_input_arguments(p)
    _add_settings_argument(p, "the corruption's settings the classical restorers assume")
    p.set_defaults(func=cmd_restore)
