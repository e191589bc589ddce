"""A classifier of one's own labelled pictures (first-level subfolders): trained on the
folder's training split, checked on its held-out split and kept in the folder's prepared
cache. FID / KID of runs on that folder are then measured in its features, and a
conditional run's label fidelity (does G draw the class it is asked for?) is read by it."""

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from advnets.checkpoint import save_atomic
from advnets.config import DataConfig
from advnets.data import load_split01
from advnets.data.folder import prepare
from advnets.errors import CheckpointError, ConfigError
from advnets.metrics.classifier import SPECS, DomainClassifier, predict

FEATURE_SPACE = "folder-classifier"
SPEC = SPECS["cifar10"]  # the CIFAR-10 network on 32 x 32 colour input; no flips (digits)
FILE = "classifier.pt"


def classifier_file(data: DataConfig) -> Path:
    """Where the folder's classifier lives: in its prepared cache (keyed by the files)."""
    found = prepare(data.path, tuple(data.image_size), data.channels, data.cache)
    return found.cache / f"{FILE[:-3]}-s{data.split_seed}-v{data.valid_fraction:g}.pt"


def as_cifar(x: Tensor) -> Tensor:
    """Images on [0, 1] of any size and 1 or 3 channels as CIFAR-10's (N, 3, 32, 32)."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[2:]) != (32, 32):
        x = F.interpolate(x, size=(32, 32), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1)


def train_folder_classifier(
    data: DataConfig, epochs: int = 30, seed: int = 0, log=print
) -> tuple[float, Path]:
    """Train on the folder's training split (seeded), save it beside the cache, and return
    its accuracy on the held-out split and where it was saved."""
    if len(data.class_names) < 2:
        raise ConfigError(
            f"{data.path}: a classifier needs labelled pictures: two or more subfolders"
        )
    torch.manual_seed(seed)
    x, y = load_split01(data, "train")
    x = as_cifar(x)
    model = DomainClassifier(len(data.class_names), SPEC)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = min(128, len(x))
    steps = max(1, len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * steps)
    for epoch in range(epochs):
        t, perm = time.perf_counter(), torch.randperm(len(x))
        model.train()
        for i in range(steps):
            idx = perm[i * batch : (i + 1) * batch]
            shift = torch.randint(-2, 3, (2,)).tolist()
            loss = F.cross_entropy(model(torch.roll(x[idx], shift, dims=(2, 3))), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if epoch == epochs - 1 or (epoch + 1) % 10 == 0:
            accuracy = held_out_accuracy(model.eval(), data)
            seconds = time.perf_counter() - t
            log(f"epoch {epoch + 1}: held-out accuracy {accuracy:.4f} ({seconds:.1f} s)")
    path = classifier_file(data)
    save_atomic({"weights": model.state_dict(), "classes": list(data.class_names)}, path)
    return accuracy, path


def held_out_accuracy(model: DomainClassifier, data: DataConfig) -> float:
    x, y = load_split01(data, "valid")
    if len(x) == 0:
        raise ConfigError("the folder holds no held-out pictures: raise data.valid_fraction")
    return float((predict(model, as_cifar(x))[1].argmax(1) == y).float().mean())


def load_folder_classifier(data: DataConfig, required: bool = False) -> DomainClassifier | None:
    """The folder's classifier (eval mode), or None if none was trained (`required`: a
    one-line error naming the command that trains it)."""
    path = classifier_file(data) if len(data.class_names) >= 2 else None
    if path is None or not path.is_file():
        if required:
            raise CheckpointError(
                f"no classifier of {data.path} yet; train one with `advnets classifier "
                f"--images {data.path} --size {_size(data.image_size)}`"
            )
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if list(saved.get("classes", [])) != list(data.class_names):
        raise CheckpointError(f"{path}: trained on other classes; train it again")
    model = DomainClassifier(len(data.class_names), SPEC)
    model.load_state_dict(saved["weights"])
    return model.eval()


def _size(size: list[int]) -> str:
    """A size as --size takes it: N for a square, else HxW."""
    return str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"
