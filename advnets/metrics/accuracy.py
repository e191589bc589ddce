"""Test accuracy of a semi-supervised run's classifier (D's class outputs)."""

import dataclasses

import torch
from torch import Tensor, nn

from advnets.config import Config, DataConfig
from advnets.data import load_split01, to_range
from advnets.data.registry import FOLDER, spec
from advnets.errors import DataError
from advnets.methods import METHODS


def first_images(
    data: DataConfig | str, split: str, root: str | None = None, n: int | None = None
) -> tuple[Tensor, Tensor]:
    """The first `n` images of a split on [0, 1] and their labels (all for None) of a data
    config (a run's: a folder of its own pictures too) or a built-in data set by name; an n
    larger than the split is refused rather than quietly cut to its size. A folder's test
    split is its held-out one."""
    if isinstance(data, str):
        data = DataConfig(name=data)
    data = dataclasses.replace(data, root=root or data.root)
    if data.name == FOLDER and split == "test":
        split = "valid"
    images01, labels = load_split01(data, split)
    dataset = data.name
    if n is not None and n > len(images01):
        raise DataError(
            f"--n {n} asks for more images than the {len(images01):,} of {dataset}'s {split} "
            f"split; pass --n {len(images01)} or leave --n out"
        )
    return images01[:n], labels[:n]


@torch.no_grad()
def predict_classes(D: nn.Module, images: Tensor, classes: int, chunk: int = 1000) -> Tensor:
    """argmax over D's first `classes` outputs (an SGAN D's last one is "generated"), in
    eval mode (no noise, no dropout), int64 on the CPU."""
    was_training = D.training
    D.eval()
    try:
        device = next(D.parameters()).device
        parts = [D(x.to(device))[:, :classes].argmax(1).cpu() for x in images.split(chunk)]
        return torch.cat(parts)
    finally:
        D.train(was_training)


def accuracy(
    D: nn.Module, cfg: Config, split: str = "test", n: int | None = None, root: str | None = None
) -> dict[str, float]:
    """Accuracy and error count of D on the first `n` images of `split` (all by default),
    fed in the run's value range."""
    images01, labels = first_images(cfg.data, split, root, n)
    x = to_range(images01, tuple(cfg.data.value_range))
    predicted = predict_classes(D, x, spec(cfg.data).classes)
    predicted = METHODS.get(cfg.method).label_predictions(cfg, predicted, labels)
    wrong = int((predicted != labels).sum())
    return {
        "accuracy": (len(labels) - wrong) / len(labels),
        "errors": wrong,
        "accuracy_images": len(labels),
        "accuracy_split": split,
    }
