"""The domain classifiers whose penultimate features FID and KID use (Inception weights
cannot be fetched here; TF-GAN's MNIST evaluation also uses a frozen MNIST classifier). Each
is trained by `advnets classifier DATASET` with a fixed seed and its weights ship with the
package, so scores are comparable across machines."""

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.checkpoint import save_atomic
from advnets.data import load_images01
from advnets.errors import CheckpointError, ConfigError

FEATURES = 128


@dataclass(frozen=True)
class Spec:
    """One data set's classifier: its input and conv widths, and how it is trained."""

    channels: int
    side: int
    widths: tuple[int, ...]
    batch_norm: bool = False
    flips: bool = False  # random horizontal flips in training (natural scenes, not digits)
    epochs: int = 4


SPECS = {
    "mnist": Spec(1, 28, (32, 64)),
    "fashion": Spec(1, 28, (32, 64), epochs=6),
    "cifar10": Spec(3, 32, (32, 64, 128), batch_norm=True, flips=True, epochs=10),
}


class DomainClassifier(nn.Module):
    """Conv blocks (3x3, ReLU, 2x2 max-pool) and a 128-unit feature layer; input (N, C, H, W)
    on [0, 1]. The default is the MNIST/Fashion-MNIST network."""

    def __init__(self, classes: int = 10, spec: Spec = SPECS["mnist"]) -> None:
        super().__init__()
        layers, width, side = [], spec.channels, spec.side
        for out in spec.widths:
            layers.append(nn.Conv2d(width, out, 3, padding=1))
            layers += [nn.BatchNorm2d(out)] if spec.batch_norm else []
            layers += [nn.ReLU(), nn.MaxPool2d(2)]
            width, side = out, side // 2
        self.conv = nn.Sequential(*layers)
        self.features = nn.Sequential(
            nn.Flatten(), nn.Linear(width * side * side, FEATURES), nn.ReLU()
        )
        self.head = nn.Linear(FEATURES, classes)

    def embed(self, x: Tensor) -> Tensor:
        return self.features(self.conv(x - 0.5))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))


def spec_for(dataset: str) -> Spec:
    if dataset not in SPECS:
        raise ConfigError(
            f"no evaluation classifier for {dataset!r}; there is one for {', '.join(SPECS)}"
        )
    return SPECS[dataset]


def weights_path(dataset: str) -> Path:
    return Path(str(resources.files("advnets") / "metrics" / "weights" / f"{dataset}.pt"))


def load_classifier(dataset: str) -> DomainClassifier:
    """The shipped classifier for `dataset`, in eval mode."""
    path = weights_path(dataset)
    if not path.is_file():
        raise CheckpointError(
            f"no classifier weights for {dataset!r} at {path}; "
            f"train them with `advnets classifier {dataset}`"
        )
    model = DomainClassifier(spec=spec_for(dataset))
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as err:
        raise CheckpointError(
            f"{path}: not usable classifier weights ({type(err).__name__}); "
            f"retrain them with `advnets classifier {dataset}`"
        ) from None
    return model.eval()


@torch.no_grad()
def predict(model: DomainClassifier, images01: Tensor, chunk: int = 1000) -> tuple[Tensor, Tensor]:
    """(features (N, 128), class probabilities (N, 10)) of images on [0, 1]."""
    feats, probs = [], []
    for part in images01.split(chunk):
        f = model.embed(part.float())
        feats.append(f)
        probs.append(F.softmax(model.head(f), dim=1))
    return torch.cat(feats), torch.cat(probs)


def train_classifier(
    dataset: str,
    root: str | None = None,
    epochs: int | None = None,
    seed: int = 0,
    out: Path | None = None,
    log=print,
) -> float:
    """Train on every training image (seeded), save the weights, return test accuracy."""
    spec = spec_for(dataset)
    epochs = spec.epochs if epochs is None else epochs
    if epochs < 1:
        raise ConfigError(f"the classifier needs at least one epoch, got {epochs}")
    torch.manual_seed(seed)
    x, y = load_images01(dataset, "full", root)
    model = DomainClassifier(spec=spec)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=epochs * (len(x) // 128))
    for epoch in range(epochs):
        t = time.perf_counter()
        perm = torch.randperm(len(x))
        model.train()
        for i in range(len(x) // 128):
            idx = perm[i * 128 : (i + 1) * 128]
            loss = F.cross_entropy(model(_augment(x[idx], spec)), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        accuracy = test_accuracy(model.eval(), dataset, root)
        log(f"epoch {epoch + 1}: test accuracy {accuracy:.4f} ({time.perf_counter() - t:.0f} s)")
    save_atomic(model.state_dict(), out or weights_path(dataset))
    return accuracy


def _augment(batch: Tensor, spec: Spec) -> Tensor:
    """Small random translations of the whole batch (and, for photos, flips of half of it)."""
    shift = torch.randint(-2, 3, (2,))
    batch = torch.roll(batch, (int(shift[0]), int(shift[1])), dims=(2, 3))
    if spec.flips:
        flip = torch.rand(len(batch)) < 0.5
        batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
    return batch


def test_accuracy(model: DomainClassifier, dataset: str, root: str | None = None) -> float:
    x, y = load_images01(dataset, "test", root)
    _, probs = predict(model, x)
    return float((probs.argmax(1) == y).float().mean())
