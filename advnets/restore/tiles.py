"""Restoring images of any size in bounded memory: a restorer runs on tiles, each with a
margin of context (a halo) around it, and only each tile's own pixels are kept. Where the
halo covers everything an output pixel depends on (a restoration G's `reach`, non-local
means' search window) the tiled result is the one-pass result up to float rounding; a global
method (ADMM-TV) moves by a tenth of a grey level on average (tested). A progress bar shows on a
terminal when there is more than one tile."""

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

TILE = 256  # output pixels per tile side: a G's activations stay within tens of MB


def boxes(size: tuple[int, int], tile: int) -> list[tuple[int, int, int, int]]:
    """(top, left, bottom, right) of the tiles covering an image of `size`, row by row."""
    h, w = size
    return [
        (t, left, min(t + tile, h), min(left + tile, w))
        for t in range(0, h, tile)
        for left in range(0, w, tile)
    ]


def with_progress(items: list, what: str) -> Iterator:
    """`items`, with a progress bar on a terminal when there is more than one."""
    from tqdm import tqdm

    return iter(
        tqdm(items, what, unit="tile", leave=False, disable=None if len(items) > 1 else True)
    )


def tiled(
    fn: Callable[[tuple[slice, slice]], Tensor],
    out: Tensor,
    halo: int,
    tile: int = TILE,
    what: str = "restoring",
) -> Tensor:
    """Fill `out` (..., H, W) tile by tile: `fn((rows, cols))` restores the region of the
    tile grown by `halo` (clipped to the image) and its tile's own pixels are kept."""
    h, w = out.shape[-2:]
    for top, left, bottom, right in with_progress(boxes((h, w), tile), what):
        t0, l0 = max(0, top - halo), max(0, left - halo)
        region = (slice(t0, min(h, bottom + halo)), slice(l0, min(w, right + halo)))
        piece = fn(region)
        out[..., top:bottom, left:right] = piece[
            ..., top - t0 : bottom - t0, left - l0 : right - l0
        ]
    return out


@torch.no_grad()
def restore_with_tiles(
    G: nn.Module,
    image: Tensor,
    mask: Tensor | None = None,
    tile: int = TILE,
    sigma: Tensor | None = None,
) -> Tensor:
    """A residual restorer's output on `image` (N, C, H, W): its start (bicubic, smooth
    fill or the image) made at once, its correction tile by tile with a halo of its reach,
    so the result equals one pass over the whole image up to float rounding."""
    start = G.start(image, mask)
    known = image if G.masked else None

    def part(region: tuple[slice, slice]) -> Tensor:
        rows, cols = region
        part_mask = None if mask is None else mask[..., rows, cols]
        part_known = None if known is None else known[..., rows, cols]
        return G.correct(start[..., rows, cols], part_mask, part_known, sigma)

    out = torch.empty_like(start)
    return tiled(part, out, G.reach, tile)


def tiled_planes(
    fn: Callable[[np.ndarray], np.ndarray], image: np.ndarray, halo: int, tile: int, what: str
) -> np.ndarray:
    """`fn` on an image (C, H, W) tile by tile with `halo` pixels of context each side."""
    out = np.empty_like(image)

    def part(region: tuple[slice, slice]) -> np.ndarray:
        return fn(image[:, region[0], region[1]])

    return tiled(part, out, halo, tile, what)
