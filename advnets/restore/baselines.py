"""The classical restorers the EE367 report compares with, behind one signature:
`fn(degraded, settings, param) -> restored` on float (N, C, H, W) batches on [0, 1].
Each names the tasks it applies to and a small grid of its free parameter (chosen on
validation images by `advnets.restore.evaluate`); `default` is used where no validation
images exist (the CLI on a user's photo). scikit-image and SciPy do the work wherever they
implement the method; ADMM-TV is advnets.restore.admm."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from advnets.config import RestoreConfig
from advnets.data.corruptions import TASKS, Degraded, estimate_noise, gaussian_kernel
from advnets.errors import ConfigError, DataError
from advnets.registry import Registry
from advnets.restore.admm import admm_tv_deconvolve
from advnets.restore.tiles import tiled_planes

BaselineFn = Callable[[Degraded, RestoreConfig, float], Tensor]
NLM_TILE = 128  # non-local means on tiles (exact: the halo covers its search window)
NLM_PATCH, NLM_DISTANCE = 5, 6  # its patch side and search distance
NLM_REACH = NLM_DISTANCE + NLM_PATCH // 2  # the halo: all a pixel's weights see
ADMM_TILE, ADMM_HALO = 256, 32  # ADMM-TV on tiles of a large photo (global: close, not exact)


@dataclass(frozen=True)
class Baseline:
    """A classical restorer: the tasks it applies to, its function and parameter grid."""

    tasks: tuple[str, ...]
    fn: BaselineFn
    grid: tuple[float, ...] = (0.0,)  # values of its free parameter tried on validation images
    default: float = 0.0
    param: str = ""  # what --param sets ("" : the method has no parameter)
    integer: bool = False  # the parameter is a whole number >= 1 (a window side), else > 0
    most: float = math.inf  # its largest value

    def check(self, name: str, value: float) -> None:
        """Refuse a --param this method cannot use, with the range it takes."""
        if not self.param:
            raise ConfigError(f"--method {name} has no parameter; drop --param")
        ok = math.isfinite(value) and 0 < value <= self.most
        if self.integer:
            ok = ok and value >= 1 and value == int(value)
        wanted = "a whole number >= 1" if self.integer else "a finite number > 0"
        wanted += f" and <= {self.most:g}" if math.isfinite(self.most) else ""
        if not ok:
            raise ConfigError(
                f"--param {value:g}: {name}'s {self.param} must be {wanted} "
                f"(default {self.default:g})"
            )


BASELINES: Registry[Baseline] = Registry("restoration baseline")


def _per_channel(x: Tensor, fn: Callable[[np.ndarray], np.ndarray]) -> Tensor:
    """Apply a 2-D numpy function to every channel of every image."""
    planes = x.detach().cpu().double().numpy()
    out = np.stack([[fn(plane) for plane in image] for image in planes])
    return torch.from_numpy(out).to(x).clamp(0, 1)


def upscale(x: Tensor, scale: int, mode: str) -> Tensor:
    size = (x.shape[-2] * scale, x.shape[-1] * scale)
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(x, size=size, mode=mode, **kwargs).clamp(0, 1)


def _nearest(d: Degraded, s: RestoreConfig, p: float) -> Tensor:
    return upscale(d.image, TASKS.get(s.task).scale, "nearest")


def _bicubic(d: Degraded, s: RestoreConfig, p: float) -> Tensor:
    return upscale(d.image, TASKS.get(s.task).scale, "bicubic")


# scipy and scikit-image are imported where a baseline runs: they take about a second to
# import, which every `advnets` command (training included) would pay otherwise


def _median(d: Degraded, s: RestoreConfig, size: float) -> Tensor:
    from scipy.ndimage import median_filter

    return _per_channel(d.image, lambda p: median_filter(p, size=int(size), mode="reflect"))


def _nlm(d: Degraded, s: RestoreConfig, h: float) -> Tensor:
    """Non-local means (the seed's formula: weights exp(-|B(q) - B(p)|^2 / h^2) of patch
    distances), h as a multiple of the noise std; a colour image's patches span its
    channels, so the weights see all of them."""
    if min(d.image.shape[-2:]) < 2 or s.noise <= 0:
        raise DataError(
            f"nlm compares patches of a noisy image: it needs images of at least 2x2 pixels "
            f"and restore.noise > 0 (got {tuple(d.image.shape[-2:])}, noise {s.noise:g})"
        )
    images = d.image.detach().cpu().double().numpy()
    sigmas = noise_levels(d, s).tolist()
    out = []
    for image, sigma in zip(images, sigmas, strict=True):
        one = partial(_nlm_planes, h=h * sigma, sigma=sigma)
        out.append(tiled_planes(one, image, NLM_REACH, NLM_TILE, "nlm"))
    return torch.from_numpy(np.stack(out)).to(d.image).clamp(0, 1)


def _nlm_planes(planes: np.ndarray, h: float, sigma: float) -> np.ndarray:
    """scikit-image's non-local means of one image's (C, H, W) planes: the 2-D filter for
    grey, patches spanning the channels for colour."""
    from skimage.restoration import denoise_nl_means

    options = dict(patch_size=NLM_PATCH, patch_distance=NLM_DISTANCE, h=h, sigma=sigma)
    if len(planes) == 1:
        return denoise_nl_means(planes[0], **options)[None]
    return denoise_nl_means(planes, channel_axis=0, **options)


def noise_levels(d: Degraded, s: RestoreConfig) -> Tensor:
    """Each image's noise std for a method that needs it: the known one (`d.sigma`), else
    restore.noise, or, where the level was drawn per image (restore.noise_max > 0),
    estimated from the image as a sigma-conditioned G estimates it."""
    if d.sigma is not None:
        return d.sigma.detach().cpu().double()
    if s.noise_max > 0:
        return estimate_noise(d.image).detach().cpu().double().clamp_min(1 / 255)
    return torch.full((len(d.image),), s.noise, dtype=torch.float64)


def _deconvolve(d: Degraded, s: RestoreConfig, fn: Callable, tile: int = 0) -> Tensor:
    """`fn(padded plane, psf)` on each plane mirrored by the kernel's side (so FFT methods'
    circular boundaries fall outside the image), then cropped back; with `tile`, on tiles
    of that side with a halo of ADMM_HALO pixels (a slow method on a large photo)."""
    psf = gaussian_kernel(s.blur).double().numpy()
    r = psf.shape[0]

    def plane(p: np.ndarray) -> np.ndarray:
        return fn(np.pad(p, r, mode="symmetric"), psf)[r:-r, r:-r]

    if not tile:
        return _per_channel(d.image, plane)

    def planes(x: np.ndarray) -> np.ndarray:
        return np.stack([plane(p) for p in x])

    images = d.image.detach().cpu().double().numpy()
    out = np.stack([tiled_planes(planes, x, ADMM_HALO, tile, "admm-tv") for x in images])
    return torch.from_numpy(out).to(d.image).clamp(0, 1)


def _wiener(d: Degraded, s: RestoreConfig, balance: float) -> Tensor:
    from skimage.restoration import wiener

    return _deconvolve(d, s, lambda p, psf: wiener(p, psf, balance, clip=False))


def _admm_tv(d: Degraded, s: RestoreConfig, lam: float) -> Tensor:
    solve = lambda p, psf: admm_tv_deconvolve(p, psf, lam, iters=60)  # noqa: E731
    return _deconvolve(d, s, solve, ADMM_TILE)


def _biharmonic(d: Degraded, s: RestoreConfig, p: float) -> Tensor:
    from skimage.restoration import inpaint_biharmonic

    images = d.image.detach().cpu().double().numpy()
    masks = d.mask.detach().cpu().numpy()[:, 0] > 0.5
    if masks.reshape(len(masks), -1).all(1).any():
        raise DataError(
            "biharmonic fills missing pixels from the known ones, but a mask marks every "
            "pixel missing; give a mask with some pixels known (0)"
        )
    out = [inpaint_biharmonic(x, m, channel_axis=0) for x, m in zip(images, masks, strict=True)]
    return torch.from_numpy(np.stack(out)).to(d.image).clamp(0, 1)


def _identity(d: Degraded, s: RestoreConfig, p: float) -> Tensor:
    return d.image


for _name, _baseline in {
    "input": Baseline(("denoise", "deblur", "inpaint"), _identity),  # the corrupted image
    "nearest": Baseline(("sr2", "sr4"), _nearest),  # the report's "LRes"
    "bicubic": Baseline(("sr2", "sr4"), _bicubic),
    "median": Baseline(
        ("denoise",), _median, (3.0, 5.0), 3.0, param="window side", integer=True, most=99
    ),
    "nlm": Baseline(("denoise",), _nlm, (0.4, 0.5, 0.6, 0.8, 1.0), 0.6, param="h (x noise std)"),
    "wiener": Baseline(
        ("deblur",), _wiener, (0.0003, 0.001, 0.003, 0.01, 0.03), 0.003, param="balance"
    ),
    "admm-tv": Baseline(
        ("deblur",), _admm_tv, (0.0001, 0.0003, 0.001, 0.003), 0.001, param="lambda"
    ),
    "biharmonic": Baseline(("inpaint",), _biharmonic),
}.items():
    BASELINES.add(_name, _baseline)


def baselines_for(task: str) -> list[str]:
    """The classical restorers that apply to `task`, in the table's order."""
    return [name for name in BASELINES if task in BASELINES.get(name).tasks]
