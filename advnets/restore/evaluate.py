"""The restoration table: every restorer of a task on the same corrupted test images, with
PSNR (the seed's definition, MAX = 1 on [0, 1] pixels) and SSIM as mean +- standard error,
sharpness (variance of the Laplacian; for inpainting, inside the holes) relative to the
originals', and milliseconds per image. Each baseline's free parameter is chosen on
validation images, never on test."""

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from skimage.metrics import structural_similarity
from torch import Tensor

from advnets.config import DataConfig, RestoreConfig
from advnets.data import load_images01, load_split01
from advnets.data.corruptions import degrade
from advnets.metrics.accuracy import first_images
from advnets.reconstruction import laplacian, laplacian_variance, psnr
from advnets.restore import Restorer, classical
from advnets.restore.baselines import BASELINES, baselines_for


@dataclass
class Row:
    """One restorer's scores on the test images."""

    name: str
    psnr: float
    psnr_se: float
    ssim: float
    ssim_se: float
    sharpness: float  # mean Laplacian variance / the originals' (inpainting: in the holes)
    ms: float  # milliseconds per image
    param: float | None = None  # a baseline's parameter, as chosen on validation images
    per_image: list[float] = field(default_factory=list, repr=False)  # PSNR of each image

    def line(self) -> str:
        param = "" if self.param is None else f" ({self.param:g})"
        return (
            f"{self.name + param:<22} {self.psnr:6.2f} +- {self.psnr_se:.2f}  "
            f"{self.ssim:.4f} +- {self.ssim_se:.4f}  {self.sharpness:5.2f}  {self.ms:8.2f}"
        )


HEADER = f"{'restorer':<22} {'PSNR dB':>15}  {'SSIM':>15}  {'sharp':>5}  {'ms/img':>8}"


def ssim(clean: Tensor, restored: Tensor) -> Tensor:
    """SSIM of each image pair (scikit-image, data range 1, channels averaged)."""
    a, b = clean.double().cpu().numpy(), restored.double().cpu().numpy()
    values = [
        structural_similarity(x, y, data_range=1.0, channel_axis=0)
        for x, y in zip(a, b, strict=True)
    ]
    return torch.tensor(values)


def _mean_se(values: Tensor) -> tuple[float, float]:
    v = values.double()
    se = v.std().item() / math.sqrt(len(v)) if len(v) > 1 else 0.0
    return v.mean().item(), se


def sharpness(images01: Tensor, mask: Tensor | None = None) -> Tensor:
    """Laplacian variance of each image; with an inpainting mask, only where the Laplacian's
    centre is a missing pixel (what the restorer made: the known pixels are copied)."""
    if mask is None:
        return laplacian_variance(images01)
    lap = laplacian(images01)
    inside = (mask[:, :, 1:-1, 1:-1] > 0.5).expand_as(lap)
    return torch.stack(
        [v[m].var() if m.sum() > 1 else v.var() for v, m in zip(lap, inside, strict=True)]
    )


def score(name: str, restorer: Restorer, clean: Tensor, corrupted, param=None) -> Row:
    """Restore `corrupted` with `restorer` and score it against `clean`."""
    start = time.perf_counter()
    restored = restorer(corrupted)
    ms = 1000 * (time.perf_counter() - start) / len(clean)
    mask = getattr(corrupted, "mask", None)
    sharp = sharpness(restored, mask).mean() / sharpness(clean, mask).mean()
    values = psnr(clean, restored)
    p, s = _mean_se(values), _mean_se(ssim(clean, restored))
    return Row(name, *p, *s, sharp.item(), ms, param, values.tolist())


def gap(a: Row, b: Row) -> tuple[float, float]:
    """Mean PSNR of a minus b (dB) and its standard error over the paired test images."""
    return _mean_se(torch.tensor(a.per_image) - torch.tensor(b.per_image))


def tune(name: str, settings: RestoreConfig, clean: Tensor, seed: int) -> float:
    """The baseline's parameter with the best mean PSNR on validation images `clean`."""
    corrupted = degrade(clean, settings, torch.Generator().manual_seed(seed + 1))
    grid = BASELINES.get(name).grid
    scores = [psnr(clean, classical(name, settings, p)(corrupted)).mean().item() for p in grid]
    return grid[int(np.argmax(scores))]


def tuning_and_test_images(
    dataset: str | DataConfig, root: str | None, n: int
) -> tuple[Tensor, Tensor]:
    """Images to choose the baselines' parameters on, and the first n images to score: a
    built-in set's valid and test splits; a folder's training and held-out pictures."""
    if isinstance(dataset, str):
        valid = load_images01(dataset, "valid", root, min(n, 100))[0]
        return valid, first_images(dataset, "test", root, n)[0]
    return load_split01(dataset, "train", min(n, 100))[0], load_split01(dataset, "valid", n)[0]


def restoration_table(
    settings: RestoreConfig,
    dataset: str | DataConfig,
    restorers: dict[str, Restorer],
    root: str | None = None,
    n: int = 500,
    seed: int = 0,
) -> list[Row]:
    """Rows for every classical baseline of the task, then for `restorers` (trained Gs),
    on the first n test images of `dataset` (a name, or a run's folder data), corrupted
    with `seed`."""
    valid, clean = tuning_and_test_images(dataset, root, n)
    corrupted = degrade(clean, settings, torch.Generator().manual_seed(seed))
    rows = []
    for name in baselines_for(settings.task):
        param = tune(name, settings, valid, seed) if len(BASELINES.get(name).grid) > 1 else None
        rows.append(score(name, classical(name, settings, param), clean, corrupted, param))
    for name, restorer in restorers.items():
        rows.append(score(name, restorer, clean, corrupted))
    return rows
