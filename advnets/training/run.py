"""A training run: everything built from a `Config`, and its state as a checkpoint."""

import dataclasses
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from advnets.checkpoint import FORMAT, load_checkpoint, rng_state, set_rng_state
from advnets.config import Config, apply_overrides
from advnets.data import TrainingData, build_data, sample_labels, sample_noise
from advnets.data.batches import Batches
from advnets.errors import CheckpointError, ConfigError
from advnets.methods import METHODS, Counters, Method, Stats
from advnets.runs import checkpoint_config, load_weights
from advnets.sampling import SAMPLES_PER_CLASS, class_rows
from advnets.training.ema import WeightEMA
from advnets.training.guard import LossGuard
from advnets.training.optim import build_optimizer
from advnets.training.precision import autocast_factory, resolve_device
from advnets.training.step import Player, Step
from advnets.validation import validate


@dataclass
class Run:
    """Players, method, data and counters of one training run."""

    cfg: Config
    device: torch.device
    data: TrainingData
    players: dict[str, Player]
    method: Method
    step: Step
    fixed_noise: Tensor
    fixed_labels: Tensor | None = None  # conditional runs: the labels of fixed_noise's rows
    world_size: int = 1  # processes of a data-parallel run (torchrun), as last trained

    @property
    def counters(self) -> Counters:
        return self.step.counters

    @property
    def nets(self) -> dict[str, nn.Module]:
        return {name: p.net for name, p in self.players.items()}

    @property
    def G(self) -> nn.Module:
        """The generator (the method's sampling player), as trained."""
        return self.players[self._sample_player()].net

    def _sample_player(self) -> str:
        if self.method.sample_player is None:
            raise ConfigError(f"this run (method {self.cfg.method}) has no generator")
        return self.method.sample_player

    @property
    def D(self) -> nn.Module:
        return self.players["D"].net

    @property
    def classifier(self) -> nn.Module:
        """The classifier to score: the average of its weights if the run keeps one."""
        name = self.method.classifier_player
        if name is None:
            raise ConfigError(f"this run (method {self.cfg.method}) has no classifier")
        return self.players[name].scored

    @property
    def G_sample(self) -> nn.Module:
        """The generator to sample from: the weight average if the run keeps one, else G."""
        return self.players[self._sample_player()].scored

    def update(self, player: str) -> Stats:
        """One update of `player` alone, as the method defines it (e.g. a D update)."""
        return self.step.run(self.method.solo(player))

    def noise(self, n: int) -> Tensor:
        """n draws of the noise prior from the training RNG stream, on the run's device."""
        return self.step.batches.noise(n)

    def with_net(self, name: str, net: nn.Module) -> "Run":
        """This run with player `name` playing `net` instead (e.g. a fixed generator of known
        density); everything else, the other players' weights included, is shared."""
        players = {
            **self.players,
            name: dataclasses.replace(self.players[name], net=net, average=None),
        }
        method = type(self.method)(
            self.cfg,
            {n: p.net for n, p in players.items()},
            {n: p.optimizer for n, p in players.items()},
        )
        method.load_state_dict(self.method.state_dict())
        step = dataclasses.replace(self.step, players=players, method=method)
        return dataclasses.replace(self, players=players, method=method, step=step)

    def total_steps(self) -> int:
        t = self.cfg.train
        if t.steps is not None:
            return t.steps
        if t.epochs is not None:
            return math.ceil(t.epochs * self.counters.steps_per_epoch)
        raise ConfigError("set train.steps or train.epochs (e.g. --steps 1000)")

    def state_dict(self) -> dict[str, Any]:
        players = self.players.values()
        return {
            "format": FORMAT,
            "config": self.cfg.to_dict(),
            "data_shape": list(self.data.shape),
            "counters": {
                "step": self.counters.step,
                "steps_per_epoch": self.counters.steps_per_epoch,
                "updates": {p.name: p.updates for p in players},
            },
            "nets": {p.name: p.net.state_dict() for p in players},
            "optimizers": {p.name: p.optimizer.state_dict() for p in players},
            "averages": {p.name: p.average.state_dict() for p in players if p.average},
            "method": self.method.state_dict(),
            "sampler": self.data.sampler.state_dict(),
            **({"labelled": self.data.labelled.state_dict()} if self.data.labelled else {}),
            **({"g_real": self.data.g_real.state_dict()} if self.data.g_real else {}),
            "fixed_noise": self.fixed_noise.cpu(),
            "rng": rng_state(),
            "world_size": self.world_size,
        }

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        for name, player in self.players.items():
            load_weights(player.net, ckpt["nets"][name], name)
            player.optimizer.load_state_dict(ckpt["optimizers"][name])
            player.updates = int(ckpt["counters"]["updates"][name])
            self._load_average(player, ckpt["averages"].get(name))
        self.method.load_state_dict(ckpt.get("method", {}))
        self.data.sampler.load_state_dict(ckpt["sampler"])
        if self.data.labelled is not None:
            self.data.labelled.load_state_dict(ckpt["labelled"])
        if self.data.g_real is not None and "g_real" in ckpt:
            self.data.g_real.load_state_dict(ckpt["g_real"])
        self.counters.step = int(ckpt["counters"]["step"])
        self.fixed_noise = ckpt["fixed_noise"].to(self.device)
        set_rng_state(ckpt["rng"])
        self.world_size = int(ckpt.get("world_size", 1))

    def _load_average(self, player: Player, state: dict | None) -> None:
        if player.average is None:
            return
        if state is not None:
            load_weights(player.average.module, state["weights"], f"{player.name}'s average")
            player.average.load_state_dict(state)
        else:  # the average is switched on at resume: it starts from the loaded weights
            t = self.cfg.train
            player.average = WeightEMA(player.net, t.ema_decay, t.ema_start)
            player.average.seen = player.updates


def build_players(
    cfg: Config, method: type[Method], nets: dict[str, nn.Module], device: torch.device
) -> dict[str, Player]:
    """Each of the method's players with its optimizer (and a weight average, when
    train.ema_decay > 0, for those train.ema_players names: by default the sampling one)."""
    t, players = cfg.train, {}
    averaged = t.ema_players if t.ema_players is not None else [method.sample_player]
    for name in method.players:
        net = nets[name].to(device)
        optimizer = build_optimizer(cfg.optim[name], net.parameters(), device)
        average = (
            WeightEMA(net, t.ema_decay, t.ema_start)
            if t.ema_decay > 0 and name in averaged
            else None
        )
        players[name] = Player(name, net, optimizer, cfg.optim[name], average=average)
    return players


def build_run(cfg: Config, validated: bool = False) -> Run:
    """Seed, then build data, players, the method and its step from `cfg` (checked by
    `validate` first, unless the caller has just done so: `validated`)."""
    if not validated:
        validate(cfg)
    t = cfg.train
    method_cls = METHODS.get(cfg.method)
    device = resolve_device(t.device)
    autocast = autocast_factory(t.precision, device)
    if t.threads:
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    data = build_data(cfg.data, device, t.seed)
    if t.batch_size > data.size:
        raise ConfigError(
            f"train.batch_size={t.batch_size} is larger than the data set ({data.size} samples); "
            f"lower it, e.g. --set train.batch_size={max(1, data.size // 2)}"
        )
    players = build_players(cfg, method_cls, method_cls.build_nets(cfg, data), device)
    method = method_cls(
        cfg, {n: p.net for n, p in players.items()}, {n: p.optimizer for n, p in players.items()}
    )
    fixed_noise, fixed_labels, labels = fixed_and_labels(cfg, data, device)
    m = cfg.model
    noise = partial(sample_noise, dim=m.z_dim, prior=m.noise, scale=m.noise_scale, device=device)
    batches = Batches(data.sampler, noise, t.batch_size, labels, data.labelled, data.g_real)
    size = method.data_batches_per_step() * t.batch_size
    counters = Counters(steps_per_epoch=max(1, math.ceil(data.size / size)))
    step = Step(players, method, batches, autocast, counters, LossGuard(t.max_loss))
    return Run(
        cfg,
        device,
        data,
        players,
        method,
        step,
        fixed_noise.to(device),
        None if fixed_labels is None else fixed_labels.to(device),
    )


def fixed_and_labels(cfg: Config, data: TrainingData, device: torch.device):
    """The fixed noise of the per-epoch pictures (one row per class in a conditional run,
    with those rows' labels), and the label sampler of a conditional run's fakes."""
    m = cfg.model
    fixed = torch.Generator().manual_seed(cfg.train.seed + 1)
    fixed_noise = sample_noise(64, m.z_dim, m.noise, m.noise_scale, generator=fixed)
    if not m.num_classes:
        return fixed_noise, None, None
    fixed_noise, fixed_labels = class_rows(fixed_noise[:SAMPLES_PER_CLASS], m.num_classes)
    return (
        fixed_noise,
        fixed_labels,
        partial(sample_labels, num_classes=m.num_classes, device=device),
    )


RESUME_KEYS = ("optimizers", "sampler", "rng", "fixed_noise")  # beyond what sampling needs


def resume_run(run_dir: Path, overrides: list[str] | None = None) -> Run:
    """Rebuild a run from its checkpoint (config included) and restore its exact state."""
    return restore_run(load_checkpoint(run_dir), run_dir, overrides)


def restore_run(ckpt: dict[str, Any], where: Path, overrides: list[str] | None = None) -> Run:
    """The run a loaded checkpoint holds, checked first (keys, config, data shape, finite
    weights that fit the config's nets), with `overrides` (train.* keys) applied."""
    missing = [key for key in RESUME_KEYS if key not in ckpt]
    if missing:
        raise CheckpointError(
            f"{where}: the checkpoint has no {missing[0]!r} entry, so it cannot resume "
            f"(it can still sample); the file is damaged or not a training checkpoint"
        )
    cfg = apply_overrides(checkpoint_config(ckpt), overrides or [])
    run = build_run(cfg)
    if tuple(ckpt["data_shape"]) != tuple(run.data.shape):
        raise CheckpointError(
            f"{where}: the checkpoint was trained on data of shape {tuple(ckpt['data_shape'])}"
            f", the config builds {tuple(run.data.shape)}"
        )
    _check_epoch_length(ckpt, run, where)
    try:
        run.load_state_dict(ckpt)
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{where}: the checkpoint does not fit the (overridden) "
            f"config ({first}); on resume override only train.* keys"
        ) from None
    return run


def _check_epoch_length(ckpt: dict[str, Any], run: Run, where: Path) -> None:
    """A resume keeps the run's steps per epoch (checkpoints that record it): a change of
    train.batch_size, train.k or train.update would renumber its epochs and jump the
    schedules that follow them."""
    saved = ckpt["counters"].get("steps_per_epoch")
    now = run.counters.steps_per_epoch
    if saved is not None and not isinstance(saved, int):
        raise CheckpointError(f"{where}: the checkpoint's steps_per_epoch is damaged")
    if saved is not None and saved != now:
        raise ConfigError(
            f"{where}: the overrides make an epoch {now} steps where the run's took {saved}, "
            f"which would renumber its epochs; resume without changing train.batch_size, "
            f"train.k or train.update, or train a new run"
        )
