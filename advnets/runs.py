"""One way to load a trained run, for every reader (sample, eval, classify, encode,
reconstruct, restore, the pictures, the Python API).

`load_run(path)` reads a run folder or a checkpoint file (checkpoint.pt, best.pt, or a
restorer file written by `advnets.restore.ship`), rebuilds every player it holds with the
run's own method (`Method.build_nets`, from the run's config and data shape), loads their
weights (each player's weight average where the run kept one, unless `average=False`), and
returns them in eval mode on the device asked for. A reader then asks for a *role*, never a
player's name: `run.sampler()`, `run.classifier()`, `run.encoder()`, `run.restorer()`; the
method says which player plays it (`Method.sample_player`, `classifier_player`,
`encoder_player`, `restorer_player`), and a run whose method has none is refused in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from advnets.checkpoint import as_checkpoint, checkpoint_path, read_file
from advnets.config import Config, config_from_dict
from advnets.data.registry import spec
from advnets.devices import resolve_device
from advnets.errors import CheckpointError, ConfigError
from advnets.methods import METHODS, Method
from advnets.methods.netkeys import build_without_data
from advnets.validation import validate


@dataclass(frozen=True)
class Role:
    """A part a player may play for readers: the Method attribute naming the player, what
    the part is called, and what a reader needing it should be given instead."""

    attribute: str
    what: str
    hint: str  # {methods}: the methods with a player in this role


ROLES = {
    "sampler": Role(
        "sample_player",
        "generator that samples from noise",
        "sample and the sample metrics need a run of method {methods}; score this one with "
        "its own metric (eval --metric accuracy: semi-supervised, psnr: restoration)",
    ),
    "classifier": Role(
        "classifier_player",
        "classifier",
        "accuracy and classify need a semi-supervised run (method {methods})",
    ),
    "encoder": Role(
        "encoder_player", "encoder", "reconstruct and encode need a run of method {methods}"
    ),
    "restorer": Role(
        "restorer_player",
        "restorer (it is not a restoration run)",
        "give a run of a restore-* preset (method {methods}), or --method NAME for a "
        "classical restorer",
    ),
}


def methods_with(role: str) -> list[str]:
    """The registered methods that have a player in `role`."""
    attribute = ROLES[role].attribute
    return [name for name in METHODS if getattr(METHODS.get(name), attribute) is not None]


def _or_list(names: list[str]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


@dataclass
class LoadedRun:
    """A trained run as its readers see it: the config, the method, and the nets of the
    players the file holds (trained weights, eval mode, on `device`)."""

    path: Path  # the file read (a folder's checkpoint.pt)
    given: str  # the folder or file as the reader named it, for messages
    cfg: Config
    method: type[Method]
    nets: dict[str, nn.Module]
    step: int  # training iterations done
    data_shape: tuple[int, ...]
    device: torch.device

    @property
    def folder(self) -> Path:
        """The run folder (where eval appends its scores)."""
        return self.path.parent

    def player(self, role: str) -> nn.Module:
        """The net that plays `role` (a key of ROLES) for this run's method; one line
        (ConfigError) if the method has no such player."""
        name = getattr(self.method, ROLES[role].attribute)
        if name is None:
            r = ROLES[role]
            raise ConfigError(
                f"{self.given} was trained with method {self.cfg.method}, which has no "
                f"{r.what}; " + r.hint.format(methods=_or_list(methods_with(role)))
            )
        if name not in self.nets:
            raise CheckpointError(
                f"{self.given} does not hold the {role} ({name}) of method {self.cfg.method}; "
                f"pass the run folder it was trained in"
            )
        return self.nets[name]

    def sampler(self) -> nn.Module:
        """The net samples come from: G(z), or G(z, y) for a conditional run."""
        return self.player("sampler")

    def classifier(self) -> nn.Module:
        """The net whose outputs hold the class logits (semi-supervised runs)."""
        return self.player("classifier")

    def encoder(self) -> nn.Module:
        """The encoder of q(z|x); its decoder is `sampler()` (vae, vaegan)."""
        return self.player("encoder")

    def restorer(self) -> nn.Module:
        """The net that restores corrupted images (restoration runs)."""
        return self.player("restorer")


def load_run(
    path: Path | str, device: str | torch.device = "cpu", average: bool = True
) -> LoadedRun:
    """The run in a folder or checkpoint file, its players rebuilt by its method with their
    trained weights (with `average`, each player's weight average where the run kept one),
    in eval mode on `device`. Checked in one line each: the file, its config, its data
    shape, its players, and weights that fit and are finite."""
    file, device = checkpoint_path(Path(path)), resolve_device(device)
    ckpt, partial = read_run_file(file, device)
    cfg = checkpoint_config(ckpt, partial)
    method = METHODS.get(cfg.method)
    nets = build_without_data(cfg, method, tuple(ckpt["data_shape"]))
    averages = ckpt.get("averages", {}) if average else {}
    for name in list(nets):
        if name not in ckpt["nets"]:
            del nets[name]  # a restorer file holds its G alone
        elif name in averages:
            load_weights(nets[name], averages[name].get("weights"), f"{name}'s average")
        else:
            load_weights(nets[name], ckpt["nets"][name], name)
    return LoadedRun(
        path=file,
        given=str(path),
        cfg=cfg,
        method=method,
        nets={name: net.to(device).eval() for name, net in nets.items()},
        step=int(ckpt["counters"]["step"]),
        data_shape=tuple(ckpt["data_shape"]),
        device=device,
    )


def read_run_file(file: Path, device: torch.device) -> tuple[dict[str, Any], bool]:
    """(checkpoint, partial): a training checkpoint (format 1 upgraded), or a restorer file
    (config, channels, G) in the checkpoint's layout, holding one player (partial)."""
    raw = read_file(file, device)
    if not (isinstance(raw, dict) and "format" not in raw and {"config", "G"} <= set(raw)):
        return as_checkpoint(raw, file), False
    try:
        shape = spec(config_from_dict(raw["config"]).data).shape
    except ConfigError as err:
        raise CheckpointError(f"{file}: the restorer's config is invalid: {err}") from None
    if int(raw.get("channels", -1)) != shape[0]:
        raise CheckpointError(f"{file}: the restorer's channels do not fit its config")
    ckpt = {
        "format": 2,
        "config": raw["config"],
        "data_shape": list(shape),
        "counters": {"step": int(raw.get("step", 0)), "updates": {}},
        "nets": {"G": raw["G"]},
        "averages": {},
    }
    return as_checkpoint(ckpt, file), True


def checkpoint_config(ckpt: dict, partial: bool = False) -> Config:
    """The checkpoint's config, validated, with its data shape and players checked against
    it: one line (CheckpointError) for another preset's or a damaged checkpoint. `partial`:
    the file may hold some of the method's players (a restorer file), not all."""
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
    players, held = METHODS.get(cfg.method).players, sorted(ckpt["nets"])
    if not (set(held) <= set(players) if partial else held == sorted(players)):
        raise CheckpointError(
            f"the checkpoint holds nets {', '.join(held)} but method "
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
