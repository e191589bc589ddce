"""Masks of missing pixels as users draw them (1 = missing): random rectangles of varied
shapes and free-form brush strokes, each of a size relative to the image (`side`: the
scale of a hole in pixels), drawn from a seeded generator so a seed fixes the mask."""

import math

import torch
from torch import Tensor


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return lo + (hi - lo) * torch.rand((), generator=generator).item()


def random_rectangles(
    size: tuple[int, int], side: int, count: int, generator: torch.Generator | None = None
) -> Tensor:
    """(H, W) with `count` rectangles missing, each side 1/2 to 3/2 of `side` (at most the
    image's), anywhere in the image."""
    h, w = size
    mask = torch.zeros(h, w)
    for _ in range(count):
        rh = min(h, max(1, round(side * _uniform(0.5, 1.5, generator))))
        rw = min(w, max(1, round(side * _uniform(0.5, 1.5, generator))))
        top = int(torch.randint(0, h - rh + 1, (), generator=generator))
        left = int(torch.randint(0, w - rw + 1, (), generator=generator))
        mask[top : top + rh, left : left + rw] = 1
    return mask


def _segment(mask: Tensor, a: tuple[float, float], b: tuple[float, float], radius: float) -> None:
    """Mark the pixels whose centres lie within `radius` of the segment a-b (y, x)."""
    h, w = mask.shape
    top, bottom = (
        max(0, math.floor(min(a[0], b[0]) - radius)),
        min(h, 1 + math.ceil(max(a[0], b[0]) + radius)),
    )
    left, right = (
        max(0, math.floor(min(a[1], b[1]) - radius)),
        min(w, 1 + math.ceil(max(a[1], b[1]) + radius)),
    )
    if top >= bottom or left >= right:
        return
    ys = torch.arange(top, bottom, dtype=torch.float32)[:, None] + 0.5
    xs = torch.arange(left, right, dtype=torch.float32)[None, :] + 0.5
    dy, dx = b[0] - a[0], b[1] - a[1]
    length2 = max(dy * dy + dx * dx, 1e-12)
    t = (((ys - a[0]) * dy + (xs - a[1]) * dx) / length2).clamp(0, 1)
    near = (ys - a[0] - t * dy) ** 2 + (xs - a[1] - t * dx) ** 2 <= radius * radius
    mask[top:bottom, left:right][near] = 1


def random_strokes(
    size: tuple[int, int], side: int, count: int, generator: torch.Generator | None = None
) -> Tensor:
    """(H, W) with `count` free-form strokes missing: each a brush of width 1/8 to 1/4 of
    `side` (at least 2 pixels) dragged through 3 to 7 turns of 1/2 to 1 `side` each."""
    h, w = size
    mask = torch.zeros(h, w)
    for _ in range(count):
        radius = max(1.0, side * _uniform(1 / 16, 1 / 8, generator))
        point = (_uniform(0, h, generator), _uniform(0, w, generator))
        angle = _uniform(0, 2 * math.pi, generator)
        for _ in range(int(torch.randint(3, 8, (), generator=generator))):
            angle += _uniform(-math.pi / 2, math.pi / 2, generator)
            length = side * _uniform(0.5, 1.0, generator)
            end = (
                min(max(point[0] + length * math.sin(angle), 0.0), float(h)),
                min(max(point[1] + length * math.cos(angle), 0.0), float(w)),
            )
            _segment(mask, point, end, radius)
            point = end
    return mask


def mixed_holes(
    size: tuple[int, int], side: int, count: int, generator: torch.Generator | None = None
) -> Tensor:
    """Rectangles or strokes (a coin flip), 1 to `count` of them, of a scale 1/2 to 3/2 of
    `side`: the varied holes an inpainter trains on."""
    draw = random_rectangles if torch.rand((), generator=generator) < 0.5 else random_strokes
    n = int(torch.randint(1, count + 1, (), generator=generator))
    scale = max(1, round(side * _uniform(0.5, 1.5, generator)))
    return draw(size, scale, n, generator)
