"""Images read from users' files, faithfully or not at all.

A picture (PNG, JPEG, BMP, TIFF, GIF, WebP) becomes float32 (C, H, W) on [0, 1] whatever
its mode: 16-bit grey by its full 0-65535 range, 1-bit as 0 and 1, palette by its colours,
CMYK and other colour spaces as RGB, a camera's EXIF orientation applied, an animation by
its first frame. Transparency is composited on white (what a viewer shows on a page), so a
transparent pixel never turns into the black or junk colour stored under it. The pixel
count is read from the header and checked against a limit before anything is decoded, so a
decompression bomb is one line. A .npy batch (N, C, H, W) is uint8 (0-255) or floats on a
stated range (default [0, 1]); values outside that range are refused, never clamped.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from advnets.errors import AdvnetsError, DataError
from advnets.files import read_npy

MAX_PIXELS = 100_000_000  # default limit of --max-pixels: larger pictures are refused
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
GREY = ("1", "L", "F", *SIXTEEN_BIT)
TOLERANCE = 1e-5  # rounding error allowed outside the stated range of a float array
ValueRange = tuple[float, float]


@contextmanager
def _own_pixel_limit() -> Iterator[None]:
    """Pillow's own decompression-bomb check off while advnets applies its limit (which
    --max-pixels may raise above Pillow's), and its warnings about damaged metadata it
    skips (a multi-line note on stderr) silenced: the picture reads or fails in one line."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def check_pixels(path: str | Path, size: tuple[int, int], max_pixels: int) -> None:
    """Refuse a picture whose header claims more than `max_pixels` pixels."""
    pixels = size[0] * size[1]
    if pixels > max_pixels:
        raise DataError(
            f"{path}: {size[0]}x{size[1]} is {pixels:,} pixels, over the limit of "
            f"{max_pixels:,} (a decompression bomb?); raise it with --max-pixels if the "
            f"picture is real"
        )


def _composite_on_white(img: Image.Image) -> np.ndarray:
    """A picture with transparency, its colours over a white page: (H, W) or (H, W, 3)."""
    grey = img.mode in ("LA", "La") or (img.mode == "L" and "transparency" in img.info)
    array = np.asarray(img.convert("LA" if grey else "RGBA"), dtype=np.float32) / 255
    colour, alpha = array[..., :-1], array[..., -1:]
    out = colour * alpha + (1 - alpha)
    return out[..., 0] if grey else out


def _sixteen_bit(img: Image.Image, path: str | Path) -> np.ndarray:
    array = np.asarray(img).astype(np.float64)
    if array.size and (array.min() < 0 or array.max() > 65535):
        raise DataError(
            f"{path}: 32-bit integer pixels from {array.min():.0f} to {array.max():.0f}, "
            f"outside 0-65535; save it as an 8- or 16-bit picture"
        )
    return array / 65535


def _float_pixels(img: Image.Image, path: str | Path) -> np.ndarray:
    array = np.asarray(img, dtype=np.float32)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise DataError(
            f"{path}: floating-point pixels must be finite and on [0, 1]; rescale them, "
            f"or save an 8- or 16-bit picture"
        )
    return array


def picture_array(img: Image.Image, path: str | Path) -> np.ndarray:
    """The pixels of an opened picture as float32 (C, H, W) on [0, 1] (see the module)."""
    has_alpha = img.mode in ("LA", "La", "PA", "RGBA", "RGBa") or (
        img.mode in ("L", "P", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        array = _composite_on_white(img)
    elif img.mode in SIXTEEN_BIT:
        array = _sixteen_bit(img, path)
    elif img.mode == "F":
        array = _float_pixels(img, path)
    elif img.mode in GREY:
        array = np.asarray(img.convert("L"), dtype=np.float32) / 255
    else:  # P, CMYK, YCbCr, HSV, RGBX, RGB
        array = np.asarray(img.convert("RGB"), dtype=np.float32) / 255
    array = array.astype(np.float32)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:160]


def read_picture(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """One picture file as float32 (C, H, W) on [0, 1], or a one-line DataError."""
    try:
        with _own_pixel_limit(), Image.open(path) as img:
            check_pixels(path, img.size, max_pixels)
            img.seek(0)  # an animation: its first frame
            upright = ImageOps.exif_transpose(img)
            return picture_array(upright, path)
    except AdvnetsError:
        raise
    except Exception as err:  # Pillow's decoders raise many kinds on damaged files
        raise DataError(
            f"{path}: not a readable picture ({_first_line(err)}); give a PNG/JPEG or .npy"
        ) from None


def array_on_unit_range(
    array: np.ndarray, path: str | Path, value_range: ValueRange, has_range_flag: bool = False
) -> np.ndarray:
    """A float or uint8 array mapped from `value_range` onto [0, 1]; values outside the
    range (beyond rounding) are refused with one line, never clamped. `has_range_flag`:
    the command takes --range, which the line then names."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255
    if array.dtype.kind != "f":
        raise DataError(
            f"{path}: images must be floats on [{value_range[0]:g}, {value_range[1]:g}] or "
            f"uint8 (0-255), got {array.dtype}"
        )
    x = array.astype(np.float64)
    if not np.isfinite(x).all():
        raise DataError(f"{path}: holds NaN or infinite values; images must be finite")
    lo, hi = value_range
    x = (x - lo) / (hi - lo)
    if x.size and (x.min() < -TOLERANCE or x.max() > 1 + TOLERANCE):
        raise DataError(
            f"{path}: values run from {array.min():.4g} to {array.max():.4g}, outside "
            f"[{lo:g}, {hi:g}]; rescale them"
            + (", or give their range with --range=LO,HI" if has_range_flag else "")
        )
    return x.clip(0, 1).astype(np.float32)  # only rounding error is clipped


def from_run_range(x: torch.Tensor, run_range: ValueRange, given_range: ValueRange) -> torch.Tensor:
    """Images in a run's range mapped back onto the range its inputs were given in."""
    (lo, hi), (glo, ghi) = run_range, given_range
    return glo + (ghi - glo) * (x - lo) / (hi - lo)


def read_image_batch(
    path: str | Path,
    value_range: ValueRange = (0.0, 1.0),
    max_pixels: int = MAX_PIXELS,
    channels: tuple[int, ...] = (1, 3),
    has_range_flag: bool = False,
) -> torch.Tensor:
    """A picture as a batch of one, or a .npy batch (N, C, H, W), as float32 on [0, 1]
    (`channels` empty: any layout, which the caller checks)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{path}: no such file")
    if p.suffix.lower() != ".npy":
        return torch.from_numpy(read_picture(p, max_pixels)[None].copy())
    array = read_npy(p)  # header checked against the file size, never unpickled
    if channels and (array.ndim != 4 or array.shape[1] not in channels):
        wanted = f" with C {' or '.join(map(str, channels))}" if channels else ""
        raise DataError(f"{path}: images must be (N, C, H, W){wanted}, got shape {array.shape}")
    if channels and array.size == 0:
        raise DataError(f"{path}: holds no pixels (shape {array.shape}); give at least one image")
    return torch.from_numpy(array_on_unit_range(array, p, value_range, has_range_flag))
