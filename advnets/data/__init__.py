"""Datasets: MNIST-like images from IDX files and toy mixtures, as in-memory samplers."""

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from advnets.config import DataConfig
from advnets.data.labelled import LABEL_DRAWS, labelled_subset
from advnets.data.mnist import load_images
from advnets.data.noise import sample_labels, sample_noise
from advnets.data.registry import DATASETS, FOLDER, STACKED, Images, Spec, spec
from advnets.data.sampler import (
    CyclingSampler,
    DistributionSampler,
    MappedSampler,
    Sampler,
    TensorSampler,
)
from advnets.data.stacked import stack_digits
from advnets.data.toy import GaussianMixture
from advnets.errors import ConfigError, DataError

__all__ = [
    "TrainingData",
    "labelled_subset",
    "build_data",
    "load_split01",
    "spec",
    "Spec",
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
    """The first `n` images of a built-in data set's split as float32 (N, C, H, W) on
    [0, 1], and int64 labels."""
    return load_split01(DataConfig(name=dataset, root=root, download=download), split, n)


def load_split01(cfg: DataConfig, split: str, n: int | None = None) -> tuple[Tensor, Tensor]:
    """The first `n` images of a split of the data set `cfg` names (a folder included) as
    float32 (N, C, H, W) on [0, 1], and int64 labels (-1: unlabelled)."""
    loader = DATASETS.get(cfg.name).loader
    if loader is None:
        raise DataError(f"{cfg.name} is not a data set of images")
    images = loader(cfg, split)
    rows = images.index if images.index is not None else np.arange(len(images.pixels))
    rows = rows[:n]
    pixels = images.pixels[rows] if images.index is not None else images.pixels[:n]
    x01 = torch.from_numpy(np.array(pixels)).float().div_(255)
    return x01, torch.from_numpy(images.labels[rows].astype("int64"))


def to_range(images01: Tensor, value_range: tuple[float, float]) -> Tensor:
    """Map values on [0, 1] to [lo, hi]."""
    lo, hi = value_range
    return images01 * (hi - lo) + lo


def check_images(
    x: Tensor, data: DataConfig, value_range: tuple[float, float], name: str = "images"
) -> None:
    """Images a user hands a run (classify, encode, reconstruct): the run's sample layout
    (N, *shape) with N >= 1, finite floats within the run's value range."""
    shape = spec(data).shape
    if x.ndim != 1 + len(shape) or tuple(x.shape[1:]) != shape or len(x) == 0:
        raise DataError(
            f"{name}: images for this {data.name} run must have shape (N, "
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
    """A built-in image set's split held on the device in the value range (stacked MNIST
    made from MNIST's digits); a folder's is gathered from its cache instead."""
    if cfg.name == STACKED:
        digits, digit_labels = load_images01("mnist", cfg.split, cfg.root, download=cfg.download)
        x01, labels = stack_digits(digits, digit_labels, cfg.epoch_size, cfg.stack_seed)
    elif cfg.name == FOLDER:
        return _mapped_data(cfg, value_range, device, seed)
    else:
        x01, labels = load_split01(cfg, cfg.split)
    mean01 = x01.mean(0).flatten()
    lo, hi = value_range  # to_range in place: the [0, 1] copy is not needed after
    data = x01.mul_(hi - lo).add_(lo).to(device)
    classes = spec(cfg).classes
    labelled = None
    if cfg.labels:
        idx = _labelled_rows(cfg, labels, seed)
        labelled = _cycling(cfg, data[idx.to(device)], labels[idx].to(device), value_range[0])
    labels = labels.to(device)
    return TrainingData(
        TensorSampler(data, labels),
        tuple(data.shape[1:]),
        value_range,
        len(data),
        mean01=mean01,
        num_classes=classes,
        labelled=labelled,
        g_real=TensorSampler(data, labels) if cfg.g_real_stream else None,
    )


def _mapped_data(
    cfg: DataConfig, value_range: tuple[float, float], device, seed: int
) -> TrainingData:
    """A prepared folder's split, gathered batch by batch from its memory-mapped cache."""
    images: Images = DATASETS.get(cfg.name).loader(cfg, cfg.split)
    rows = images.index
    if rows is None or len(rows) == 0:
        raise DataError(
            f"data.split={cfg.split} of {cfg.path} holds no images; use data.split=train "
            "or raise data.valid_fraction"
        )
    shape = tuple(images.pixels.shape[1:])
    if shape != spec(cfg).shape:
        raise DataError(
            f"{cfg.path}: the prepared images are {shape}, the run records {spec(cfg).shape}; "
            "set data.channels and data.image_size as the run had them"
        )
    sampler = MappedSampler(images.pixels, rows, images.labels, value_range, device)
    mean01 = torch.from_numpy(images.mean01)  # of every prepared picture, kept by the cache
    labelled = None
    if cfg.labels:
        labels = torch.from_numpy(images.labels[rows])
        idx = _labelled_rows(cfg, labels, seed)
        x, y = sampler.gather(rows[idx.numpy()]), labels[idx].to(device)
        labelled = _cycling(cfg, x, y, value_range[0])
    return TrainingData(
        sampler,
        shape,
        value_range,
        len(rows),
        mean01=mean01.flatten(),
        num_classes=spec(cfg).classes,
        labelled=labelled,
        g_real=MappedSampler(images.pixels, rows, images.labels, value_range, device)
        if cfg.g_real_stream
        else None,
    )


def _labelled_rows(cfg: DataConfig, labels: Tensor, seed: int) -> Tensor:
    """Which images of the split carry labels in a semi-supervised run (data.labels_seed,
    else the run's seed, draws them)."""
    if cfg.labels_seed is not None:
        seed = cfg.labels_seed
    return LABEL_DRAWS[cfg.labels_draw](labels, cfg.labels, spec(cfg).classes, seed)


def _cycling(cfg: DataConfig, x: Tensor, y: Tensor, fill: float) -> CyclingSampler:
    """The labelled subset of a semi-supervised run, cycled (and shifted) in batches."""
    if cfg.labelled_shift >= min(x.shape[2:]):
        raise ConfigError(
            f"data.labelled_shift={cfg.labelled_shift} must be smaller than the images "
            f"({x.shape[2]}x{x.shape[3]}); MNIST-sized digits take 1-3"
        )
    return CyclingSampler(x, y, cfg.labelled_shift, fill)


def build_data(cfg: DataConfig, device: torch.device | str = "cpu", seed: int = 0) -> TrainingData:
    """Load or generate the training data described by `cfg`, held in memory on `device`;
    `seed` draws the labelled subset of a semi-supervised run unless data.labels_seed is set."""
    value_range = (cfg.value_range[0], cfg.value_range[1])
    if DATASETS.get(cfg.name).mixture is not None:
        return _toy_data(cfg, value_range, device)
    return _image_data(cfg, value_range, device, seed)
