"""MNIST and Fashion-MNIST: locate (or download) the IDX files and cut the paper's splits."""

import hashlib
import http.client
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advnets.data.idx import REFETCH, read_idx
from advnets.errors import DataError
from advnets.files import missing_folders


@dataclass(frozen=True)
class IdxDataset:
    """The four files of an MNIST-like dataset, their checksums and where to fetch them."""

    folder: str
    mirrors: tuple[str, ...]
    sha256: dict[str, str]
    torchvision_folder: str = ""  # where torchvision keeps the same files: ROOT/<this>/raw


DATASETS = {
    "mnist": IdxDataset(
        folder="mnist",
        torchvision_folder="MNIST",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        sha256={
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion": IdxDataset(
        folder="fashion-mnist",
        torchvision_folder="FashionMNIST",
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        sha256={
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    ),
}

CLASSES = 10  # MNIST's digits, Fashion-MNIST's garments

# The paper's split of the 60,000 official training images (goodfeli/adversarial mnist.yaml).
SPLITS = {
    "train": ("train", 0, 50_000),
    "valid": ("train", 50_000, 60_000),
    "test": ("t10k", 0, 10_000),
    "full": ("train", 0, 60_000),
}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: `root`, else $ADVNETS_DATA, else ~/.cache/advnets."""
    if root:
        return Path(root).expanduser()
    if os.environ.get("ADVNETS_DATA"):
        return Path(os.environ["ADVNETS_DATA"]).expanduser()
    return Path("~/.cache/advnets").expanduser()


def _candidates(root: Path, spec: IdxDataset, name: str) -> list[Path]:
    # Never the bare root: MNIST and Fashion-MNIST share their file names.
    raw = name.removesuffix(".gz")
    folders = [
        root / spec.folder,
        root / spec.folder / "raw",
        root / spec.torchvision_folder / "raw",
    ]
    return [folder / n for folder in folders for n in (name, raw)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download(spec: IdxDataset, name: str, dest: Path) -> bool:
    """Fetch `name` from the first mirror that serves the official bytes (sha256-checked)."""
    tmp, created = dest.with_suffix(".part"), missing_folders(dest.parent)
    for mirror in spec.mirrors:
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(mirror + name, timeout=30) as response:
                tmp.write_bytes(response.read())
            if _sha256(tmp) == spec.sha256[name]:
                os.replace(tmp, dest)
                return True
        except (OSError, http.client.HTTPException):
            pass
        tmp.unlink(missing_ok=True)
    for folder in created:  # a failed download leaves no folder it created (not even --data)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return False


def find_file(dataset: str, name: str, root: str | None = None, download: bool = True) -> Path:
    """Path of one IDX file (`name` as officially distributed, .gz), fetching it if allowed."""
    spec = DATASETS[dataset]
    base = data_root(root)
    for path in _candidates(base, spec, name):
        if path.is_file():
            return path
    target = base / spec.folder / name
    if download and _download(spec, name, target):
        return target
    tried = "downloading failed" if download else "downloading is off"
    raise DataError(
        f"{dataset}: {name} not found in {base / spec.folder} ({tried}); "
        f"put the official IDX files there, or point at them with --data DIR or ADVNETS_DATA"
    )


def load_images(
    dataset: str, split: str = "train", root: str | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and labels (N,) of one of the paper's splits."""
    if dataset not in DATASETS:
        raise DataError(f"unknown image dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    prefix, start, stop = SPLITS[split]
    images_path = find_file(dataset, f"{prefix}-images-idx3-ubyte.gz", root, download)
    labels_path = find_file(dataset, f"{prefix}-labels-idx1-ubyte.gz", root, download)
    images = read_idx(images_path, ndim=3, dims=(28, 28))
    labels = read_idx(labels_path, ndim=1)
    if labels.max(initial=0) >= CLASSES:
        raise DataError(f"{labels_path}: a label of {labels.max()}, not a class 0-9; {REFETCH}")
    if len(images) != len(labels):
        raise DataError(f"{images_path}: {len(images)} images but {len(labels)} labels; {REFETCH}")
    if len(images) < stop:
        raise DataError(
            f"{images_path}: {len(images)} images, the {split} split needs {stop}; {REFETCH}"
        )
    return images[start:stop], labels[start:stop]
