"""Drawing samples from a trained generator."""

from pathlib import Path

import torch
from torch import Tensor, nn

from advnets.checkpoint import load_checkpoint
from advnets.config import Config, config_from_dict
from advnets.data import TrainingData, sample_labels, sample_noise
from advnets.data.registry import spec
from advnets.errors import CheckpointError, ConfigError
from advnets.methods import METHODS
from advnets.nets import build_generator
from advnets.validation import validate


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


def load_generator(run_dir: Path, device: str | torch.device = "cpu") -> tuple[nn.Module, Config]:
    """The generator of a run folder (or checkpoint file) and the config it was trained with."""
    return generator_from_checkpoint(load_checkpoint(run_dir, map_location=device), device)


def generator_from_checkpoint(
    ckpt: dict, device: str | torch.device = "cpu", average: bool = True
) -> tuple[nn.Module, Config]:
    """Rebuild G from a loaded checkpoint (its state dict, data shape and config); with
    `average`, the moving average of G's weights where the run kept one."""
    cfg = checkpoint_config(ckpt)
    if METHODS.get(cfg.method).sample_player is None:
        raise ConfigError(
            f"this run (method {cfg.method}) has no generator that samples from noise; score "
            f"it with its own metric (eval --metric accuracy: semi-supervised, psnr: restoration)"
        )
    shape = tuple(ckpt["data_shape"])
    G = build_generator(cfg.model, shape, _placeholder_mean(shape))
    averages = ckpt.get("averages", {})
    if average and "G" in averages:
        load_weights(G, averages["G"].get("weights"), "G's average")
    else:
        load_weights(G, ckpt["nets"]["G"], "G")
    return G.to(device), cfg


def checkpoint_config(ckpt: dict) -> Config:
    """The checkpoint's config, validated, with its data shape and players checked against
    it: one line (CheckpointError) for another preset's or a damaged checkpoint."""
    try:
        cfg = config_from_dict(ckpt["config"])
        validate(cfg, training=False)
    except ConfigError as err:
        raise CheckpointError(f"the checkpoint's config is invalid: {err}") from None
    expected = spec(cfg.data).shape
    if tuple(ckpt["data_shape"]) != expected:
        raise CheckpointError(
            f"the checkpoint's data shape {tuple(ckpt['data_shape'])} is not that of its "
            f"data set {cfg.data.name} {expected}; the file is damaged"
        )
    players = METHODS.get(cfg.method).players
    if sorted(ckpt["nets"]) != sorted(players):
        raise CheckpointError(
            f"the checkpoint holds nets {', '.join(sorted(ckpt['nets']))} but method "
            f"{cfg.method} has players {', '.join(players)}; the file is damaged"
        )
    return cfg


def load_weights(net: nn.Module, state: object, what: str) -> nn.Module:
    """Load a checkpoint's `state` into `net` once it is known to fit: the keys and shapes
    the config builds, and finite values (a diverged run's NaN weights are refused)."""
    expected = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        theirs = set(state) if isinstance(state, dict) else set()
        odd = sorted(set(expected) ^ theirs)
        raise CheckpointError(
            f"the checkpoint's {what} does not fit the config ({len(odd)} entries differ, "
            f"e.g. {odd[0] if odd else 'its type'}); it is another run's or damaged"
        )
    for key, value in state.items():
        if not isinstance(value, Tensor) or value.shape != expected[key].shape:
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise CheckpointError(
                f"the checkpoint's {what} does not fit the config: {key} is {got}, the "
                f"config builds {tuple(expected[key].shape)}"
            )
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(
                f"the checkpoint's {what} holds NaN or Inf weights ({key}): the run "
                f"diverged; train again with lower learning rates"
            )
    net.load_state_dict(state)
    return net


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
    G, cfg = load_generator(run_dir)
    return draw_samples(G, cfg, n, seed, label), cfg


def draw_noise(
    cfg: Config, n: int, seed: int = 0, generator: torch.Generator | None = None
) -> Tensor:
    """The n draws of the run's noise prior that `draw_samples(G, cfg, n, seed)` decodes,
    (n, z_dim) on the CPU, from a seeded generator of their own (or `generator`)."""
    m = cfg.model
    return sample_noise(
        n,
        m.z_dim,
        m.noise,
        m.noise_scale,
        generator=generator or torch.Generator().manual_seed(seed),
    )


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


def classifier_from_checkpoint(
    ckpt: dict, device: str | torch.device = "cpu"
) -> tuple[nn.Module, Config]:
    """The classifier D of a semi-supervised (or supervised baseline) run's checkpoint: the
    average of D's weights where the run kept one (train.ema_players), else D."""
    cfg = checkpoint_config(ckpt)
    method = METHODS.get(cfg.method)
    if not method.classifies:
        raise ConfigError(
            f"this run (method {cfg.method}) has no classifier; accuracy and classify need a "
            f"semi-supervised run (method sgan, improved-gan or supervised)"
        )
    D = nets_from_checkpoint(ckpt, cfg, ("D",), device)["D"]
    average = ckpt.get("averages", {}).get("D")
    if average is not None:
        load_weights(D, average.get("weights"), "D's average")
    return D, cfg


def _placeholder_mean(shape: tuple[int, ...]) -> torch.Tensor:
    """A stand-in for the data's per-feature mean (flat, as the data's is), which only
    initialises an output bias that the checkpoint's weights then replace."""
    return torch.full((int(torch.tensor(shape).prod()),), 0.5)


def nets_from_checkpoint(
    ckpt: dict, cfg: Config, names: tuple[str, ...], device: str | torch.device = "cpu"
) -> dict[str, nn.Module]:
    """The players `names` of a checkpoint's method, rebuilt from its config and data shape
    with their trained weights, on `device`, in eval mode."""
    shape = tuple(ckpt["data_shape"])
    info = TrainingData(None, shape, tuple(cfg.data.value_range), 0, _placeholder_mean(shape))
    nets = METHODS.get(cfg.method).build_nets(cfg, info)
    for name in names:
        load_weights(nets[name], ckpt["nets"][name], name)
    return {name: nets[name].to(device).eval() for name in names}


def load_classifier(run_dir: Path, device: str | torch.device = "cpu") -> tuple[nn.Module, Config]:
    """The classifier of a run folder (or checkpoint file) and the config it trained with."""
    return classifier_from_checkpoint(load_checkpoint(run_dir, map_location=device), device)
