"""Label fidelity: how often a conditional G draws the class it is asked for, read by an
independent classifier (the shipped one of MNIST, Fashion-MNIST or CIFAR-10, or a folder's
own, trained by `advnets classifier --images`). A G that ignores its label scores chance,
1 / classes."""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from advnets.config import Config, DataConfig
from advnets.data.registry import spec
from advnets.errors import CheckpointError, ConfigError

# a periodic score within this fraction of the way from chance (1 / classes) to 1 is
# reported as G ignoring its label
NEAR_CHANCE = 0.1

Reader = Callable[[Tensor], Tensor]  # images on [0, 1] -> predicted classes (N,)


def fidelity_reader(data: DataConfig, required: bool = False) -> Reader | None:
    """The classifier that reads a run's samples: the shipped one of its data set, or the
    folder's own; None if there is none (`required`: a one-line error instead)."""
    from advnets.metrics.classifier import SPECS, load_classifier, predict
    from advnets.metrics.folder_classifier import as_cifar, load_folder_classifier

    if data.name == "folder":
        model = load_folder_classifier(data, required=required)
        if model is None:
            return None
        return lambda x: predict(model, as_cifar(x))[1].argmax(1)
    if data.name not in SPECS:
        if required:
            raise ConfigError(
                f"no classifier reads {data.name!r} samples; label fidelity is scored on "
                f"{', '.join(SPECS)} and labelled folders"
            )
        return None
    try:
        shipped = load_classifier(data.name)
    except CheckpointError:
        if required:
            raise
        return None
    return lambda x: predict(shipped, x)[1].argmax(1)


@torch.no_grad()
def label_fidelity(
    G: nn.Module, cfg: Config, per_class: int, seed: int = 0, reader: Reader | None = None
) -> dict[str, float]:
    """The fraction of G(z, y) read as y: overall (`fidelity`) and per class
    (`fidelity_<name>`), `per_class` samples of each class from seeded noise."""
    from advnets.sampling import draw_samples

    reader = reader or fidelity_reader(cfg.data, required=True)
    names = spec(cfg.data).class_names or tuple(map(str, range(cfg.model.num_classes)))
    lo, hi = cfg.data.value_range
    out, hits = {}, []
    for c, name in enumerate(names):
        x = (draw_samples(G, cfg, per_class, seed + c, c) - lo) / (hi - lo)
        right = reader(x.clamp(0, 1)) == c
        out[f"fidelity_{name}"] = float(right.float().mean())
        hits.append(right)
    return {"fidelity": float(torch.cat(hits).float().mean()), **out}


def ignores_label(fidelity: float, classes: int) -> bool:
    """Whether a fidelity is near chance: G draws much the same whatever it is asked for."""
    chance = 1 / classes
    return fidelity < chance + NEAR_CHANCE * (1 - chance)


def fidelity_warning(fidelity: float, classes: int, step: int) -> str | None:
    """The line a periodic evaluation logs when G ignores its label, else None."""
    if not ignores_label(fidelity, classes):
        return None
    return (
        f"step {step}: G draws the requested class {100 * fidelity:.1f}% of the time, near "
        f"chance ({100 / classes:.0f}%): it is ignoring its label (see docs/conditional.md)"
    )
