"""CIFAR-10 (official binary version) and the Olivetti faces: find the files, check them and
cut the splits. Images come back as uint8 (N, C, H, W) with int64-able labels (N,)."""

import zipfile
import zlib
from pathlib import Path

import numpy as np

from advnets.data.mnist import data_root
from advnets.errors import DataError

CIFAR_RECORD = 1 + 3 * 32 * 32  # a label byte, then the red, green and blue 32x32 planes
CIFAR_FILE_RECORDS = 10_000  # every official batch file, training and test
CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
# the last 5,000 official training images choose checkpoints and baseline settings
CIFAR_SPLITS = {
    "train": (CIFAR_TRAIN, 0, 45_000),
    "valid": (CIFAR_TRAIN, 45_000, 50_000),
    "full": (CIFAR_TRAIN, 0, 50_000),
    "test": (("test_batch.bin",), 0, 10_000),
}

FACES_FILE = Path("faces") / "olivetti" / "olivetti_faces.npz"
# whole people (ids 0-39, 10 images each) per split, so test faces are never seen in
# training; full is train + valid, as for the other data sets
FACES_SPLITS = {
    "train": range(0, 28),
    "valid": range(28, 32),
    "test": range(32, 40),
    "full": range(0, 32),
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
    if raw.size != CIFAR_FILE_RECORDS * CIFAR_RECORD:
        raise DataError(
            f"{path}: {raw.size} bytes, where an official CIFAR-10 binary batch holds "
            f"{CIFAR_FILE_RECORDS} records of {CIFAR_RECORD} bytes "
            f"({CIFAR_FILE_RECORDS * CIFAR_RECORD}); delete it and fetch it again"
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
    return images[start:stop], labels[start:stop]


def load_faces(split: str = "train", root: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 1, 64, 64) and person ids (N,) of the Olivetti faces, split by person."""
    people = _split(FACES_SPLITS, split)
    path = data_root(root) / FACES_FILE
    if not path.is_file():
        raise DataError(f"faces: {path} not found; {_FETCH_HINT}")
    images, labels = _read_faces(path)
    keep = np.isin(labels, np.asarray(people))
    return images[keep][:, None], labels[keep]


def _read_faces(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The archive's images and person ids, checked: 40 people of 10 uint8 64x64 images."""
    damaged = f"{path}: not the Olivetti faces .npz (arrays images, labels)"
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{damaged}: it holds one array; delete it and fetch it again")
        with archive as f:
            missing = [key for key in ("images", "labels") if key not in f.files]
            if missing:
                raise DataError(f"{damaged}: no {missing[0]!r} in it; delete it and fetch it again")
            images, labels = f["images"], f["labels"]  # members decompress as they are read
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        raise DataError(f"{damaged}: it is damaged; delete it and fetch it again") from None
    if images.dtype != np.uint8 or images.shape != (400, 64, 64) or labels.shape != (400,):
        raise DataError(f"{damaged}: expected 400 uint8 images (64, 64) with one label each")
    ids, counts = np.unique(labels, return_counts=True)
    if not (np.array_equal(ids, np.arange(40)) and (counts == 10).all()):
        raise DataError(f"{damaged}: person ids must be 0-39 with 10 images each")
    return images, labels
