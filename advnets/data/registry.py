"""The data sets advnets knows, one entry each, and the one contract they share: a data set
*describes* itself (`spec`: the shape of a sample, its classes and their names, the metrics
that score it) and *loads* a split as uint8 images and labels. Nets, samplers, readers and
metrics take the shape and classes from `spec(cfg.data)`, never from a constant, so a new
data source is one file: one of your own registers itself (`register_dataset`) from a
module named in ADVNETS_PLUGINS; a built-in one also adds its line to the table below.

A folder of one's own pictures (`folder`) describes itself from the run's config, whose
data.image_size, data.channels and data.class_names are recorded when the run starts
(`advnets.data.resolve`): a saved run is read without its pictures."""

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advnets.config import DataConfig
from advnets.data.mnist import load_images
from advnets.data.photos import load_cifar10, load_faces
from advnets.data.sample_photos import PICTURES, TILE, load_sample_photos
from advnets.data.stacked import MODES
from advnets.data.toy import GaussianMixture, gaussian_1d, grid, ring
from advnets.errors import ConfigError
from advnets.registry import Registry

STACKED = "stacked-mnist"  # three MNIST digits as the channels of one image: 1,000 modes
FOLDER = "folder"
DIGITS = tuple(str(i) for i in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat")
FASHION += ("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer")
CIFAR10 += ("dog", "frog", "horse", "ship", "truck")
PAPER_SPLITS = ("train", "valid", "test", "full")
# a folder's samples: FID / KID in a classifier's features, and the copying check
FOLDER_METRICS = ("kid", "fid", "precision-recall", "memorization")  # kid: from 2 held out


@dataclass(frozen=True)
class Spec:
    """What one data set's samples are: the run records it, everything else reads it."""

    shape: tuple[int, ...]  # one sample: (C, H, W) images, (D,) points
    class_names: tuple[str, ...] = ()  # labels' names; empty: unlabelled
    metrics: tuple[str, ...] = ()  # `advnets eval` metrics; the first: the periodic default

    @property
    def classes(self) -> int:
        return len(self.class_names)

    @property
    def images(self) -> bool:
        return len(self.shape) == 3


@dataclass
class Images:
    """A split of an image data set: uint8 (N, C, H, W) pixels (possibly memory-mapped),
    int64 labels (-1: none) and, for a split cut from a larger array, the rows it uses."""

    pixels: np.ndarray
    labels: np.ndarray
    index: np.ndarray | None = None
    mean01: np.ndarray | None = None  # the mean picture on [0, 1], where prepared with it

    def __len__(self) -> int:
        return len(self.pixels) if self.index is None else len(self.index)


@dataclass(frozen=True)
class Dataset:
    """One data set's entry: its spec (fixed, or described from the run's data config),
    its splits and how to load them."""

    name: str
    spec: Spec | Callable[[DataConfig], Spec]
    splits: tuple[str, ...] = PAPER_SPLITS
    # toy data: its known distribution, from the data config; None for images
    mixture: Callable[[DataConfig], GaussianMixture] | None = None
    # images: (data config, split) -> the split's pixels and labels
    loader: Callable[[DataConfig, str], Images] | None = None

    def describe(self, cfg: DataConfig) -> Spec:
        return self.spec(cfg) if callable(self.spec) else self.spec


def _idx_loader(name: str) -> Callable[[DataConfig, str], Images]:
    def load(cfg: DataConfig, split: str) -> Images:
        images, labels = load_images(name, split, cfg.root, cfg.download)
        return Images(images[:, None], labels.astype(np.int64))

    return load


def _folder_spec(cfg: DataConfig) -> Spec:
    """A folder run's spec, from its recorded config (no file is read)."""
    if cfg.channels not in (1, 3) or len(cfg.image_size) != 2:
        raise ConfigError(
            "data.name=folder needs data.channels (1 or 3) and data.image_size [H, W]; they "
            "are recorded when a run starts (advnets train ... --images DIR --size N)"
        )
    names = tuple(cfg.class_names) if len(cfg.class_names) >= 2 else ()
    return Spec((cfg.channels, *cfg.image_size), names, FOLDER_METRICS)


def _load_folder(cfg: DataConfig, split: str) -> Images:
    from advnets.data.folder import held_out, prepare

    found = prepare(cfg.path, tuple(cfg.image_size), cfg.channels, cfg.cache)
    mask = held_out(found.labels, cfg.valid_fraction, cfg.split_seed)  # -1: unlabelled
    rows = {"train": ~mask, "valid": mask, "full": np.ones_like(mask)}[split]
    return Images(found.images, found.labels, np.flatnonzero(rows), found.mean01)


def _cifar10(split: str, root: str | None) -> tuple:
    return load_cifar10(split, root)


def _faces(split: str, root: str | None) -> tuple:
    return load_faces(split, root)


def _sample_photos(split: str, root: str | None) -> tuple:
    return load_sample_photos(split)  # they ship with scikit-image: no data folder


def _photo_loader(load: Callable[[str, str | None], tuple]) -> Callable[[DataConfig, str], Images]:
    """A loader of (split, root) -> (uint8 images, labels) as the contract's; `load` looks
    its reader up when called (so a caching wrapper of the module's reader applies)."""

    def loader(cfg: DataConfig, split: str) -> Images:
        images, labels = load(split, cfg.root)
        return Images(images, labels.astype(np.int64))

    return loader


SCORED = ("fid", "kid", "parzen")  # MNIST-like digits: a shipped classifier, the paper's Parzen
DATASETS: Registry[Dataset] = Registry("dataset")
for entry in (
    Dataset("mnist", Spec((1, 28, 28), DIGITS, SCORED), loader=_idx_loader("mnist")),
    Dataset("fashion", Spec((1, 28, 28), FASHION, SCORED), loader=_idx_loader("fashion")),
    Dataset("cifar10", Spec((3, 32, 32), CIFAR10, SCORED[:2]), loader=_photo_loader(_cifar10)),
    # the faces are unlabelled, so no classifier scores their samples; the Parzen protocol
    # does (as the paper's on TFD): sigma chosen on the validation people, the test people scored
    Dataset("faces", Spec((1, 64, 64), (), ("parzen",)), loader=_photo_loader(_faces)),
    # scikit-image's sample pictures as 96x96 tiles, split by picture (restorers' photos)
    Dataset("photos", Spec((3, TILE, TILE)), tuple(PICTURES), loader=_photo_loader(_sample_photos)),
    Dataset(STACKED, Spec((3, 28, 28), tuple(f"{i:03d}" for i in range(MODES)), ("modes",))),
    Dataset(FOLDER, _folder_spec, ("train", "valid", "full"), loader=_load_folder),
    Dataset("gaussian1d", Spec((1,)), mixture=lambda c: gaussian_1d(c.mean, c.std)),
    Dataset("ring", Spec((2,), (), ("modes",)), mixture=lambda c: ring(c.modes, c.radius, c.std)),
    Dataset("grid", Spec((2,), (), ("modes",)), mixture=lambda c: grid(c.std)),
):  # fmt: skip
    DATASETS.add(entry.name, entry)


def register_dataset(entry: Dataset) -> Dataset:
    """Add a data source: a module of one's own defines its Spec and loader and registers
    them here; `data.name` then names it in any preset. The command line imports such
    modules from ADVNETS_PLUGINS (`import_plugins`)."""
    if not isinstance(entry, Dataset):
        raise ConfigError(f"register_dataset takes a Dataset, got {type(entry).__name__}")
    if entry.name in DATASETS:
        raise ConfigError(f"a data set named {entry.name!r} is already registered; rename it")
    if (entry.loader is None) == (entry.mixture is None):
        raise ConfigError(f"data set {entry.name!r}: give it a loader (images) or a mixture")
    return DATASETS.add(entry.name, entry)


def import_plugins(names: str) -> None:
    """Import the modules a comma-separated list names (module names or .py files), each of
    which may register data sources; the one place a user's own code is run, by their
    choice (never from a run's files)."""
    for name in filter(None, (part.strip() for part in names.split(","))):
        try:
            _import_one(name)
        except Exception as err:  # any failure of the user's module: one line
            raise ConfigError(
                f"ADVNETS_PLUGINS: cannot import {name!r} ({type(err).__name__}: {err}); "
                "fix the module or remove it from ADVNETS_PLUGINS"
            ) from None


def _import_one(name: str) -> None:
    if not name.endswith(".py"):
        importlib.import_module(name)
        return
    path = Path(name).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]  # two files of one name
    module_name = f"advnets_plugin_{path.stem}_{digest}"
    if module_name in sys.modules:
        return
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise


def spec(cfg: DataConfig) -> Spec:
    """The spec of the data set a data config names."""
    return DATASETS.get(cfg.name).describe(cfg)


def static_spec(name: str) -> Spec:
    """The spec of a built-in data set by name (not `folder`, which a run describes)."""
    entry = DATASETS.get(name)
    if callable(entry.spec):
        raise ConfigError(f"{name} samples are described by their run; give the run folder")
    return entry.spec
