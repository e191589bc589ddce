"""What visitors hand the page: uploaded pictures (bounded in bytes and pixels, decoded by
Pillow through advnets.image_files, so a bad file is one line) and drawings; and the files
the page hands back, written to a private temporary folder, never into a run folder."""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import threading
import uuid
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from advnets.errors import AdvnetsError, ConfigError, DataError

MAX_UPLOAD_BYTES = 8 * 2**20  # an uploaded picture's file size
MAX_UPLOAD_PIXELS = 4096 * 4096  # its width x height, read from the header before decoding
KEPT_FILES = 256  # downloads kept in the outbox; older ones are removed


def _upload_size(path: Path, what: str, max_bytes: int) -> None:
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{what}: the uploaded file is empty; upload a PNG or JPEG picture")
    if size > max_bytes:
        raise DataError(
            f"{what}: the uploaded file is {size / 2**20:.1f} MiB, over the page's limit of "
            f"{max_bytes / 2**20:.0f} MiB; upload a smaller picture"
        )


def read_upload(
    upload: str | None,
    what: str = "the picture",
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_UPLOAD_PIXELS,
) -> Tensor:
    """An uploaded picture as float32 (1, C, H, W) on [0, 1] (C = 1 or 3), or a one-line
    DataError that names the file by its own name (never the server's path)."""
    from advnets.image_files import read_picture

    if not upload:
        raise ConfigError(f"upload {what} first")
    path = Path(upload)
    if not path.is_file():
        raise DataError(f"{what}: the upload did not arrive; upload it again")
    _upload_size(path, what, max_bytes)
    try:
        return torch.from_numpy(read_picture(path, max_pixels)[None].copy())
    except AdvnetsError as err:
        text = str(err).replace(str(path), path.name)
        if "--max-pixels" in text:  # the command line's way out is not the page's
            text = text.split("; raise it")[0] + "; upload a smaller picture"
        raise DataError(text) from None


def _ink(array: np.ndarray) -> np.ndarray:
    """How much each pixel of a painted picture (H, W, 3 or 4) is ink: dark and opaque."""
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.size == 0:
        raise DataError("the drawing came back in a shape the page cannot read; draw it again")
    pixels = array.astype(np.float32) / 255
    ink = 1 - pixels[..., :3].mean(2)
    return ink * pixels[..., 3] if array.shape[2] == 4 else ink


def read_drawing(value: object) -> Tensor | None:
    """A drawing from the page's sketchpad as ink (1, 1, H, W) on [0, 1], bright where it
    was painted (as MNIST's digits are white on black): its layers' strokes (dark, opaque
    pixels) over the canvas's white background, or the picture itself; None when nothing was
    drawn."""
    if isinstance(value, dict):
        layers = [layer for layer in value.get("layers") or [] if layer is not None]
        value = layers or value.get("composite")
    if value is None:
        return None
    pictures = value if isinstance(value, list) else [value]
    ink = np.max([_ink(np.asarray(p)) for p in pictures], axis=0)
    if not ink.any():
        return None
    return torch.from_numpy(ink)[None, None]


def fit_image(x: Tensor, shape: tuple[int, ...], invert: bool = False) -> Tensor:
    """(1, C, H, W) on [0, 1] resized (area-averaged) and converted to `shape` (C, H, W):
    colour made grey by its mean, grey repeated for colour; `invert` for dark ink on paper."""
    c, h, w = shape
    x = x.mean(1, keepdim=True) if c == 1 and x.shape[1] != 1 else x
    x = x.expand(-1, 3, -1, -1) if c == 3 and x.shape[1] == 1 else x
    if tuple(x.shape[-2:]) != (h, w):
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="area")
    return 1 - x if invert else x


class Outbox:
    """A private temporary folder for the files the page offers for download (PNG, .npy,
    GIF), removed when the server stops; only the newest KEPT_FILES files are kept."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="advnets-demo-"))
        self._lock = threading.Lock()
        atexit.register(shutil.rmtree, self.folder, True)

    def path(self, stem: str, suffix: str) -> Path:
        """A fresh file name in the outbox (older files pruned)."""
        with self._lock:
            files = sorted(self.folder.iterdir(), key=lambda p: p.stat().st_mtime)
            for old in files[: max(0, len(files) - KEPT_FILES + 1)]:
                old.unlink(missing_ok=True)
        return self.folder / f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"

    def png(self, picture: np.ndarray, stem: str) -> str:
        path = self.path(stem, ".png")
        Image.fromarray(picture).save(path)
        return str(path)

    def npy(self, array: np.ndarray, stem: str) -> str:
        path = self.path(stem, ".npy")
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        path.write_bytes(buffer.getvalue())
        return str(path)

    def gif(self, frames: list[np.ndarray], stem: str, duration_ms: int = 120) -> str:
        path = self.path(stem, ".gif")
        pictures = [Image.fromarray(f) for f in frames]
        pictures = pictures + pictures[-2:0:-1]  # there and back again
        pictures[0].save(
            path, save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0
        )
        return str(path)
