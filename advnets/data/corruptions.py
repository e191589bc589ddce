"""The corruptions a restorer undoes (the EE367 report's tasks): downsampling by 2 or 4 (box
filter), additive Gaussian noise, Gaussian blur plus small noise, and missing pixels. One
function, `degrade`, makes training pairs, evaluation inputs and the CLI's `degrade` output,
so all three see the same corruption. Images are float (N, C, H, W) on [0, 1]; randomness
comes from the `generator` given (or torch's global one), so a seed fixes the corruption."""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from advnets.config import RestoreConfig
from advnets.errors import ConfigError
from advnets.registry import Registry


@dataclass(frozen=True)
class Task:
    """What a task's corruption does to an image's size and what travels with it."""

    name: str
    scale: int = 1  # restored side / corrupted side (super-resolution)
    masked: bool = False  # inpainting: the mask of missing pixels goes with the image


TASKS: Registry[Task] = Registry("restore.task")
for _task in (
    Task("sr2", 2),
    Task("sr4", 4),
    Task("denoise"),
    Task("deblur"),
    Task("inpaint", masked=True),
):
    TASKS.add(_task.name, _task)
MASKS = ("centre", "holes", "rectangles", "strokes", "mixed")  # restore.mask
FILLS = ("smooth", "biharmonic")  # restore.fill


@dataclass
class Degraded:
    """A corrupted batch: the image a restorer sees and, for inpainting, the mask
    (N, 1, H, W), 1 where a pixel is missing (its value in `image` is 0)."""

    image: Tensor
    mask: Tensor | None = None
    size: tuple[int, int] | None = None  # super-resolution: the (H, W) a restorer returns
    sigma: Tensor | None = None  # denoise: each image's noise std (N,) if the user gives it


def pad_to_multiple(x: Tensor, factor: int) -> Tensor:
    """x with its bottom rows and right columns repeated until each side is a multiple of
    `factor`: an odd-sized photo downsampled without losing its last row or column."""
    h, w = x.shape[-2:]
    bottom, right = -h % factor, -w % factor
    return F.pad(x, (0, right, 0, bottom), mode="replicate") if bottom or right else x


def crop_to(x: Tensor, size: tuple[int, int] | None) -> Tensor:
    """The top-left (H, W) of x (None: x itself): a padded super-resolution cropped back."""
    return x if size is None else x[..., : size[0], : size[1]]


def downsample(x: Tensor, factor: int) -> Tensor:
    """Box-filter downsampling: each output pixel is the mean of a factor x factor block
    (sides not divisible by the factor are covered by slightly larger blocks)."""
    h, w = x.shape[-2:]
    if h < factor or w < factor:
        raise ConfigError(f"a {h}x{w} image is too small to downsample by {factor}")
    return F.interpolate(x, size=(h // factor, w // factor), mode="area")


def add_noise(x: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """x + N(0, std^2) per pixel, clipped to [0, 1] as a saved image would be."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + std * noise).clamp(0, 1)


def estimate_noise(x: Tensor, most: int = 1024) -> Tensor:
    """Each image's Gaussian noise std (N,), from its finest diagonal Haar wavelet detail:
    the median absolute deviation / 0.6745 (Donoho and Johnstone's estimate, as
    scikit-image's estimate_sigma) over the 2x2 blocks that clipping to [0, 1] left alone;
    on the centre `most` x `most` pixels of a large photo, so memory stays bounded. A
    sigma-conditioned G sees this estimate in training and at restore alike."""
    h, w = x.shape[-2:]
    top, left = max(0, (h - most) // 2) & ~1, max(0, (w - most) // 2) & ~1
    crop = x[..., top : top + most, left : left + most].double()
    crop = crop[..., : crop.shape[-2] // 2 * 2, : crop.shape[-1] // 2 * 2]
    a, b = crop[..., 0::2, 0::2], crop[..., 0::2, 1::2]
    c, d = crop[..., 1::2, 0::2], crop[..., 1::2, 1::2]
    detail = ((a - b - c + d) / 2).flatten(1)
    blocks = torch.stack([a, b, c, d]).flatten(2)
    inside = ((blocks > 1e-3) & (blocks < 1 - 1e-3)).all(0)  # blocks clipping did not touch
    values = []
    for image, keep in zip(detail, inside, strict=True):
        kept = image[keep] if keep.sum() >= 16 else image
        values.append(kept.abs().median() / 0.6745 if kept.numel() else kept.new_zeros(()))
    return torch.stack(values).to(x) if values else x.new_zeros(0)


def gaussian_kernel(std: float) -> Tensor:
    """The normalised 2-D Gaussian kernel (sums to 1), side 2 * ceil(3 std) + 1."""
    radius = max(1, math.ceil(3 * std))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (t / std) ** 2)
    k = torch.outer(g, g)
    return (k / k.sum()).float()


def blur(x: Tensor, std: float) -> Tensor:
    """Convolution of each channel with the Gaussian kernel, edges mirrored (reflect)."""
    k = gaussian_kernel(std).to(x)
    r = k.shape[-1] // 2
    channels = x.shape[1]
    padded = F.pad(x, (r, r, r, r), mode="reflect" if min(x.shape[-2:]) > r else "replicate")
    return F.conv2d(padded, k.expand(channels, 1, *k.shape), groups=channels)


def make_mask(
    n: int, size: tuple[int, int], cfg: RestoreConfig, generator: torch.Generator | None = None
) -> Tensor:
    """Masks (n, 1, H, W), 1 = missing: a centred square, `cfg.holes` random squares of side
    mask_size x the shorter image side, `cfg.holes` random rectangles (each side 1/2 to 3/2
    of that), or `cfg.holes` free-form strokes (advnets.data.masks)."""
    h, w = size
    side = max(1, round(cfg.mask_size * min(h, w)))
    if cfg.mask in ("rectangles", "strokes", "mixed"):
        from advnets.data.masks import mixed_holes, random_rectangles, random_strokes

        draw = {"rectangles": random_rectangles, "strokes": random_strokes}.get(cfg.mask)
        draw = draw or mixed_holes
        return torch.stack([draw(size, side, cfg.holes, generator) for _ in range(n)])[:, None]
    mask = torch.zeros(n, 1, h, w)
    if cfg.mask == "centre":
        top, left = (h - side) // 2, (w - side) // 2
        mask[..., top : top + side, left : left + side] = 1
        return mask
    tops = torch.randint(0, h - side + 1, (n, cfg.holes), generator=generator)
    lefts = torch.randint(0, w - side + 1, (n, cfg.holes), generator=generator)
    for i in range(n):
        for t, left in zip(tops[i].tolist(), lefts[i].tolist(), strict=True):
            mask[i, :, t : t + side, left : left + side] = 1
    return mask


def degrade(x: Tensor, cfg: RestoreConfig, generator: torch.Generator | None = None) -> Degraded:
    """Corrupt clean images x (N, C, H, W) on [0, 1] as `cfg.task` says. Super-resolution
    pads a side that the factor does not divide (its last row or column repeated) and
    records the clean size, so restorers return images of exactly that size."""
    task = TASKS.get(cfg.task)
    if task.scale > 1:  # an odd side padded first, so the restorer can crop back to it
        small = downsample(pad_to_multiple(x, task.scale), task.scale)
        return Degraded(small, size=(x.shape[-2], x.shape[-1]))
    if task.name == "denoise" and cfg.noise_max > 0:  # a noise level per image
        u = torch.rand(len(x), generator=generator, device=x.device, dtype=x.dtype)
        sigma = cfg.noise + (cfg.noise_max - cfg.noise) * u
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return Degraded((x + sigma.view(-1, 1, 1, 1) * noise).clamp(0, 1))
    if task.name == "denoise":
        return Degraded(add_noise(x, cfg.noise, generator))
    if task.name == "deblur":
        return Degraded(add_noise(blur(x, cfg.blur), cfg.blur_noise, generator))
    cpu_generator = generator if generator is None or generator.device.type == "cpu" else None
    mask = make_mask(len(x), tuple(x.shape[-2:]), cfg, cpu_generator).to(x)
    return Degraded(x * (1 - mask), mask)


def augment(x: Tensor) -> Tensor:
    """x flipped left-right and turned by 0, 90, 180 or 270 degrees, one draw per batch
    (torch's global generator, as the training crops): square crops keep their shape."""
    flip, turns = torch.randint(0, 2, ()).item(), torch.randint(0, 4, ()).item()
    x = x.flip(-1) if flip else x
    return torch.rot90(x, int(turns), (-2, -1)) if x.shape[-1] == x.shape[-2] else x


def random_crops(x: Tensor, side: int, generator: torch.Generator | None = None) -> Tensor:
    """One random side x side crop of each image (the whole image when side is 0 or larger)."""
    h, w = x.shape[-2:]
    if side <= 0 or (side >= h and side >= w):
        return x
    side_h, side_w = min(side, h), min(side, w)
    tops = torch.randint(0, h - side_h + 1, (len(x),), generator=generator).tolist()
    lefts = torch.randint(0, w - side_w + 1, (len(x),), generator=generator).tolist()
    pairs = enumerate(zip(tops, lefts, strict=True))
    crops = [x[i, :, t : t + side_h, s : s + side_w] for i, (t, s) in pairs]
    return torch.stack(crops)
