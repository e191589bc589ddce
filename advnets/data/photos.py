"""CIFAR-10 (official binary version) and the Olivetti faces: find the files, check them and
cut the splits. Images come back as uint8 (N, C, H, W) with int64-able labels (N,)."""

from pathlib import Path

import numpy as np

from advnets.data.mnist import data_root
from advnets.errors import DataError

CIFAR_RECORD = 1 + 3 * 32 * 32  # a label byte, then the red, green and blue 32x32 planes
CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
# the last 5,000 official training images choose checkpoints and baseline settings
CIFAR_SPLITS = {
    "train": (CIFAR_TRAIN, 0, 45_000),
    "valid": (CIFAR_TRAIN, 45_000, 50_000),
    "full": (CIFAR_TRAIN, 0, 50_000),
    "test": (("test_batch.bin",), 0, 10_000),
}

FACES_FILE = Path("faces") / "olivetti" / "olivetti_faces.npz"
# whole people (ids 0-39, 10 images each) per split, so test faces are never seen in training
FACES_SPLITS = {
    "train": range(0, 28),
    "valid": range(28, 32),
    "test": range(32, 40),
    "full": range(0, 40),
}

_FETCH_HINT = "point at the data folder with --data DIR or ADVNETS_DATA (see shared data README)"


def _split(splits: dict, split: str):
    if split not in splits:
        raise DataError(f"unknown split {split!r}; choose one of: {', '.join(splits)}")
    return splits[split]


def _read_cifar_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DataError(f"cifar10: {path} not found; {_FETCH_HINT}")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR_RECORD:
        raise DataError(
            f"{path}: {raw.size} bytes is not a whole number of {CIFAR_RECORD}-byte CIFAR-10 "
            f"records; the file is truncated or not the official binary version"
        )
    records = raw.reshape(-1, CIFAR_RECORD)
    labels = records[:, 0]
    if labels.max() > 9:
        raise DataError(f"{path}: label {labels.max()} out of 0-9; not a CIFAR-10 binary file")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def load_cifar10(split: str = "train", root: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3, 32, 32) and labels (N,) of a CIFAR-10 split."""
    files, start, stop = _split(CIFAR_SPLITS, split)
    folder = data_root(root) / "cifar10"
    parts = [_read_cifar_file(folder / name) for name in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if len(images) < stop:
        raise DataError(
            f"cifar10: {len(images)} images in {folder}, the {split} split needs {stop}"
        )
    return images[start:stop], labels[start:stop]


def load_faces(split: str = "train", root: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 1, 64, 64) and person ids (N,) of the Olivetti faces, split by person."""
    people = _split(FACES_SPLITS, split)
    path = data_root(root) / FACES_FILE
    if not path.is_file():
        raise DataError(f"faces: {path} not found; {_FETCH_HINT}")
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path}: not the Olivetti faces .npz (arrays images, labels): {e}") from e
    if images.dtype != np.uint8 or images.shape[1:] != (64, 64) or len(images) != len(labels):
        raise DataError(f"{path}: expected uint8 images (N, 64, 64) with one label each")
    keep = np.isin(labels, np.asarray(people))
    return images[keep][:, None], labels[keep]
