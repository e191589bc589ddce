"""The data sets advnets knows, one entry each: what a sample looks like, its labels, which
metrics can score samples of it. Data loading, evaluation, training hooks and the CLI all
read this table, so a new data set is one entry here (plus its loader)."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from advnets.config import DataConfig
from advnets.data.mnist import load_images
from advnets.data.photos import load_cifar10, load_faces
from advnets.data.stacked import MODES
from advnets.data.toy import GaussianMixture, gaussian_1d, grid, ring
from advnets.registry import Registry

STACKED = "stacked-mnist"  # three MNIST digits as the channels of one image: 1,000 modes


@dataclass(frozen=True)
class Dataset:
    """One data set's facts."""

    name: str
    shape: tuple[int, ...]  # one sample
    classes: int  # labels of the samples (stacked MNIST: its modes); 0: unlabelled
    # `advnets eval` metrics that can score its samples; the first is the default of the
    # periodic evaluation during training
    metrics: tuple[str, ...]
    # toy data: its known distribution, from the data config; None for files of images
    mixture: Callable[[DataConfig], GaussianMixture] | None = None
    # files of images: (split, root, download) -> uint8 images (N, C, H, W) and labels (N,)
    loader: Callable[[str, str | None, bool], tuple[np.ndarray, np.ndarray]] | None = None

    @property
    def images(self) -> bool:
        return len(self.shape) == 3


def _idx_loader(name: str) -> Callable[[str, str | None, bool], tuple[np.ndarray, np.ndarray]]:
    def load(split: str, root: str | None, download: bool) -> tuple[np.ndarray, np.ndarray]:
        images, labels = load_images(name, split, root, download)
        return images[:, None], labels

    return load


DATASETS: Registry[Dataset] = Registry("dataset")
for entry in (
    Dataset("mnist", (1, 28, 28), 10, ("fid", "kid", "parzen"), loader=_idx_loader("mnist")),
    Dataset("fashion", (1, 28, 28), 10, ("fid", "kid", "parzen"), loader=_idx_loader("fashion")),
    Dataset("cifar10", (3, 32, 32), 10, ("fid", "kid"), loader=lambda s, r, d: load_cifar10(s, r)),
    # the faces are unlabelled: no classifier scores their samples
    Dataset("faces", (1, 64, 64), 0, (), loader=lambda s, r, d: load_faces(s, r)),
    Dataset(STACKED, (3, 28, 28), MODES, ("modes",)),
    Dataset("gaussian1d", (1,), 0, (), lambda c: gaussian_1d(c.mean, c.std)),
    Dataset("ring", (2,), 0, ("modes",), lambda c: ring(c.modes, c.radius, c.std)),
    Dataset("grid", (2,), 0, ("modes",), lambda c: grid(c.std)),
):
    DATASETS.add(entry.name, entry)
