"""Drawing samples from a trained generator (loaded by advnets.runs.load_run)."""

from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import sample_labels, sample_noise
from advnets.data.registry import spec
from advnets.errors import CheckpointError, ConfigError
from advnets.runs import load_run


@torch.no_grad()
def generate(G: nn.Module, z: Tensor, y: Tensor | None = None, chunk: int = 1000) -> Tensor:
    """G(z), or G(z, y) for a conditional G and labels y, in eval mode (batch norm uses
    running statistics), as float32 on the CPU."""
    was_training = G.training
    G.eval()
    try:
        if y is None:
            return torch.cat([G(part).float().cpu() for part in z.split(chunk)])
        y = y.to(z.device)
        return torch.cat(
            [G(zs, ys).float().cpu() for zs, ys in zip(z.split(chunk), y.split(chunk), strict=True)]
        )
    finally:
        G.train(was_training)


def check_finite(x: Tensor, what: str = "G's output") -> Tensor:
    """`x` if it is all finite, else a one-line error (a net that overflows)."""
    if not bool(torch.isfinite(x).all()):
        raise CheckpointError(
            f"{what} holds NaN or Inf values: the run diverged or overflows; "
            f"use an earlier checkpoint"
        )
    return x


def sample_from_run(
    run_dir: Path, n: int, seed: int = 0, label: int | None = None
) -> tuple[Tensor, Config]:
    """n samples (N, *data_shape), float32, in the data range of the run's preset (all of
    class `label` if given: conditional runs only)."""
    run = load_run(run_dir)
    return draw_samples(run.sampler(), run.cfg, n, seed, label), run.cfg


def truncated(cfg: Config, psi: object, name: str = "--truncation") -> Config:
    """`cfg` drawing at the truncation `psi` (None: at the run's own, cfg unchanged); a psi
    outside (0, 1] is refused in one line naming `name`."""
    if psi is None:
        return cfg
    from advnets.validation import check_truncation

    return replace(cfg, model=replace(cfg.model, truncation=check_truncation(psi, name)))


def truncation_note(cfg: Config) -> str:
    """ ", truncation psi P" where the run's draws are truncated, else ""."""
    psi = cfg.model.truncation
    return "" if psi == 1 else f", truncation psi {psi:g}"


def draw_noise(
    cfg: Config, n: int, seed: int = 0, generator: torch.Generator | None = None
) -> Tensor:
    """The n draws of the run's noise prior that `draw_samples(G, cfg, n, seed)` decodes,
    (n, z_dim) on the CPU, from a seeded generator of their own (or `generator`), scaled by
    the run's truncation psi towards the prior's centre (0 for every prior)."""
    m = cfg.model
    z = sample_noise(
        n,
        m.z_dim,
        m.noise,
        m.noise_scale,
        generator=generator or torch.Generator().manual_seed(seed),
    )
    return z if m.truncation == 1 else z * m.truncation


SAMPLES_PER_CLASS = 10  # columns of a conditional run's sample pictures during training


def class_rows(z: Tensor, classes: int) -> tuple[Tensor, Tensor]:
    """The same n noise vectors for each class, one class after another: (classes * n)
    z's and labels (0 x n, 1 x n, ...) for a picture with one row per class."""
    return z.repeat(classes, 1), torch.arange(classes).repeat_interleave(len(z))


def label_index(cfg: Config, label: str | int | None) -> int | None:
    """A class given by number or by name (a folder run's subfolder names, MNIST's digits,
    CIFAR-10's "cat") as its index; None stays None."""
    if label is None or isinstance(label, int):
        return label
    names = list(spec(cfg.data).class_names)
    if label in names:
        return names.index(label)
    try:
        return int(label)
    except ValueError:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise ConfigError(
            f"--label {label!r} is not a class of this run; choose a number"
            + (f" or one of: {shown}" if names else "")
        ) from None


def check_label(cfg: Config, label: int | None) -> None:
    """A label is for conditional runs, and must be one of their classes."""
    classes = cfg.model.num_classes
    if label is not None and not classes:
        raise ConfigError(
            "--label needs a conditional run (model.num_classes > 0, e.g. the "
            "cgan-mnist preset); this run is unconditional"
        )
    if label is not None and not 0 <= label < classes:
        raise ConfigError(f"--label {label} is not a class of this run; choose 0-{classes - 1}")


def draw_labels(cfg: Config, n: int, seed: int = 0, label: int | None = None) -> Tensor | None:
    """The labels `draw_samples(G, cfg, n, seed, label)` asks a conditional G for: all
    `label`, or uniform over the classes, drawn after the noise from the same seeded
    generator; None for an unconditional run."""
    check_label(cfg, label)
    classes = cfg.model.num_classes
    if not classes:
        return None
    if label is not None:
        return torch.full((n,), label, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    draw_noise(cfg, n, seed, generator)  # the noise comes first from this stream
    return sample_labels(n, classes, generator=generator)


def draw_samples(
    G: nn.Module, cfg: Config, n: int, seed: int = 0, label: int | None = None
) -> Tensor:
    """G(z) for n draws of the run's noise prior from a seeded generator of their own (so
    the training RNG is untouched), as float32 on the CPU. A conditional G gets labels from
    `draw_labels`: uniform over the classes, or all `label`."""
    z = draw_noise(cfg, n, seed)
    return generate(G, z.to(next(G.parameters()).device), draw_labels(cfg, n, seed, label))


def class_grid(G: nn.Module, cfg: Config, per_class: int, seed: int = 0) -> Tensor:
    """A conditional G's samples, one row per class: the same `per_class` z's (the first of
    `draw_samples(..., seed)`) decoded with label 0, then 1, ... (classes * per_class, ...)."""
    if not cfg.model.num_classes:
        raise ConfigError(
            "a grid with one row per class needs a conditional run (model.num_classes > 0)"
        )
    z, y = class_rows(draw_noise(cfg, per_class, seed), cfg.model.num_classes)
    return generate(G, z.to(next(G.parameters()).device), y)
