"""Datasets: MNIST-like images from IDX files and toy mixtures, as in-memory samplers."""

from dataclasses import dataclass

import torch
from torch import Tensor

from advnets.config import DataConfig
from advnets.data.labelled import LABEL_DRAWS, labelled_subset
from advnets.data.mnist import load_images
from advnets.data.noise import sample_labels, sample_noise
from advnets.data.registry import DATASETS, STACKED
from advnets.data.sampler import CyclingSampler, DistributionSampler, Sampler, TensorSampler
from advnets.data.stacked import stack_digits
from advnets.data.toy import GaussianMixture
from advnets.errors import ConfigError, DataError

__all__ = [
    "TrainingData",
    "labelled_subset",
    "build_data",
    "check_images",
    "load_images",
    "load_images01",
    "sample_labels",
    "sample_noise",
    "stack_digits",
    "toy_distribution",
    "to_range",
    "GaussianMixture",
    "Sampler",
]


@dataclass
class TrainingData:
    """What the loop needs from a dataset: batches, the shape of one sample, its value range."""

    sampler: Sampler
    shape: tuple[int, ...]
    value_range: tuple[float, float]
    size: int  # samples in one epoch
    mean01: Tensor | None = None  # per-feature mean on [0, 1] (images), for output-bias init
    distribution: GaussianMixture | None = None  # toy data: the true distribution
    num_classes: int = 0  # labelled data (images): classes of the labels the sampler holds
    labelled: CyclingSampler | None = None  # semi-supervised runs: the labelled subset
    g_real: Sampler | None = None  # data.g_real_stream: G's own stream of the data


def load_images01(
    dataset: str, split: str, root: str | None = None, n: int | None = None, download: bool = False
) -> tuple[Tensor, Tensor]:
    """The first `n` images of a split as float32 (N, C, H, W) on [0, 1], and int64 labels."""
    loader = DATASETS.get(dataset).loader
    if loader is None:
        raise DataError(f"{dataset} is not a data set of images")
    images, labels = loader(split, root, download)
    x01 = torch.from_numpy(images[:n].copy()).float().div_(255)
    return x01, torch.from_numpy(labels[:n].astype("int64"))


def to_range(images01: Tensor, value_range: tuple[float, float]) -> Tensor:
    """Map values on [0, 1] to [lo, hi]."""
    lo, hi = value_range
    return images01 * (hi - lo) + lo


def check_images(
    x: Tensor, dataset: str, value_range: tuple[float, float], name: str = "images"
) -> None:
    """Images a user hands a run (classify, encode, reconstruct): `dataset`'s layout
    (N, *shape) with N >= 1, finite floats within the run's value range."""
    shape = DATASETS.get(dataset).shape
    if x.ndim != 1 + len(shape) or tuple(x.shape[1:]) != shape or len(x) == 0:
        raise DataError(
            f"{name}: images for this {dataset} run must have shape (N, "
            f"{', '.join(map(str, shape))}) with N >= 1, got {tuple(x.shape)}"
        )
    lo, hi = value_range
    if not x.is_floating_point():
        dtype = str(x.dtype).removeprefix("torch.")
        raise DataError(f"{name}: images must be floats in [{lo:g}, {hi:g}], got {dtype}")
    if not torch.isfinite(x).all():
        raise DataError(f"{name}: images hold NaN or infinite values")
    low, high = x.min().item(), x.max().item()
    if low < lo - 1e-4 or high > hi + 1e-4:
        raise DataError(
            f"{name}: images lie in [{low:.3f}, {high:.3f}] but this run takes pixels in "
            f"[{lo:g}, {hi:g}]; rescale them (e.g. 0-255 -> x / 255, [-1, 1] -> (x + 1) / 2)"
        )


def toy_distribution(cfg: DataConfig) -> GaussianMixture:
    """The known distribution of a toy data set (its registry entry's mixture)."""
    return DATASETS.get(cfg.name).mixture(cfg)


def _toy_data(cfg: DataConfig, value_range: tuple[float, float], device) -> TrainingData:
    dist = toy_distribution(cfg)
    sampler = DistributionSampler(dist, device)
    return TrainingData(sampler, (dist.dim,), value_range, cfg.epoch_size, distribution=dist)


def _image_data(
    cfg: DataConfig, value_range: tuple[float, float], device, seed: int = 0
) -> TrainingData:
    if cfg.name == STACKED:
        digits, digit_labels = load_images01("mnist", cfg.split, cfg.root, download=cfg.download)
        x01, labels = stack_digits(digits, digit_labels, cfg.epoch_size, cfg.stack_seed)
    else:
        x01, labels = load_images01(cfg.name, cfg.split, cfg.root, download=cfg.download)
    data = to_range(x01, value_range).to(device)
    labelled = _labelled_sampler(cfg, data, labels, value_range[0], seed) if cfg.labels else None
    labels = labels.to(device)
    return TrainingData(
        TensorSampler(data, labels),
        tuple(data.shape[1:]),
        value_range,
        len(data),
        mean01=x01.mean(0).flatten(),
        num_classes=DATASETS.get(cfg.name).classes,
        labelled=labelled,
        g_real=TensorSampler(data, labels) if cfg.g_real_stream else None,
    )


def _labelled_sampler(
    cfg: DataConfig, data: Tensor, labels: Tensor, fill: float, seed: int
) -> CyclingSampler:
    """The labelled subset of a semi-supervised run, cycled (and shifted) in batches."""
    if cfg.labelled_shift >= min(data.shape[2:]):
        raise ConfigError(
            f"data.labelled_shift={cfg.labelled_shift} must be smaller than the images "
            f"({data.shape[2]}x{data.shape[3]}); MNIST-sized digits take 1-3"
        )
    if cfg.labels_seed is not None:
        seed = cfg.labels_seed
    draw = LABEL_DRAWS[cfg.labels_draw]
    idx = draw(labels, cfg.labels, DATASETS.get(cfg.name).classes, seed)
    device = data.device
    return CyclingSampler(data[idx.to(device)], labels[idx].to(device), cfg.labelled_shift, fill)


def build_data(cfg: DataConfig, device: torch.device | str = "cpu", seed: int = 0) -> TrainingData:
    """Load or generate the training data described by `cfg`, held in memory on `device`;
    `seed` draws the labelled subset of a semi-supervised run unless data.labels_seed is set."""
    value_range = (cfg.value_range[0], cfg.value_range[1])
    if DATASETS.get(cfg.name).mixture is not None:
        return _toy_data(cfg, value_range, device)
    return _image_data(cfg, value_range, device, seed)
