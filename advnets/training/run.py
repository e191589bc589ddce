"""A training run: everything built from a `Config`, and its state as a checkpoint."""

import contextlib
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from advnets.checkpoint import FORMAT, load_checkpoint, rng_state, set_rng_state
from advnets.config import Config, apply_overrides, config_from_dict, validate
from advnets.data import TrainingData, build_data, sample_labels, sample_noise
from advnets.errors import CheckpointError, ConfigError
from advnets.nets import build_discriminator, build_generator
from advnets.sampling import SAMPLES_PER_CLASS, class_rows
from advnets.training.ema import GeneratorEMA
from advnets.training.objective import build_objective
from advnets.training.optim import build_optimizer
from advnets.training.step import Counters, GANStep

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
UPDATES = ("alternating", "simultaneous", "reuse_fakes")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is available; use cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {name!r}; choose one of: cpu, cuda, auto")
    return torch.device(name)


def autocast_factory(precision: str, device: torch.device):
    """A no-argument context-manager factory for the configured precision."""
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of: fp32, bf16")
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext
    return partial(torch.autocast, device_type=device.type, dtype=dtype)


def steps_per_epoch(cfg: Config, data_size: int) -> int:
    """Iterations for D to see `data_size` samples: k minibatches of m per iteration."""
    k = cfg.train.k if cfg.train.update == "alternating" else 1
    return max(1, math.ceil(data_size / (k * cfg.train.batch_size)))


@dataclass
class Run:
    """Networks, optimizers, data and counters of one training run."""

    cfg: Config
    device: torch.device
    data: TrainingData
    G: nn.Module
    D: nn.Module
    step: GANStep
    fixed_noise: Tensor
    fixed_labels: Tensor | None = None  # conditional runs: the labels of fixed_noise's rows

    @property
    def counters(self) -> Counters:
        return self.step.counters

    @property
    def G_sample(self) -> nn.Module:
        """The generator to sample from: the weight average if the run keeps one, else G."""
        return self.step.ema.module if self.step.ema is not None else self.G

    def total_steps(self) -> int:
        t = self.cfg.train
        if t.steps is not None:
            return t.steps
        if t.epochs is not None:
            return math.ceil(t.epochs * self.counters.steps_per_epoch)
        raise ConfigError("set train.steps or train.epochs (e.g. --steps 1000)")

    def state_dict(self) -> dict[str, Any]:
        c = self.counters
        return {
            "format": FORMAT,
            "config": self.cfg.to_dict(),
            "data_shape": list(self.data.shape),
            "counters": {"step": c.step, "d_updates": c.d_updates, "g_updates": c.g_updates},
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_g": self.step.opt_g.state_dict(),
            "opt_d": self.step.opt_d.state_dict(),
            "sampler": self.data.sampler.state_dict(),
            "fixed_noise": self.fixed_noise.cpu(),
            "rng": rng_state(),
            **({"generator_ema": self.step.ema.state_dict()} if self.step.ema else {}),
        }

    def load_state_dict(self, ckpt: dict[str, Any]) -> None:
        self.G.load_state_dict(ckpt["generator"])
        self.D.load_state_dict(ckpt["discriminator"])
        self.step.opt_g.load_state_dict(ckpt["opt_g"])
        self.step.opt_d.load_state_dict(ckpt["opt_d"])
        self.data.sampler.load_state_dict(ckpt["sampler"])
        for key, value in ckpt["counters"].items():
            setattr(self.counters, key, int(value))
        self.fixed_noise = ckpt["fixed_noise"].to(self.device)
        set_rng_state(ckpt["rng"])
        if self.step.ema is not None:
            if "generator_ema" in ckpt:
                self.step.ema.load_state_dict(ckpt["generator_ema"])
            else:  # the average is switched on at resume: it starts from the loaded G
                t = self.cfg.train
                self.step.ema = GeneratorEMA(self.G, t.ema_decay, t.ema_start)
                self.step.ema.seen = self.counters.g_updates


def build_run(cfg: Config) -> Run:
    """Seed, then build data, networks, optimizers and the Algorithm-1 step from `cfg`."""
    validate(cfg)
    t = cfg.train
    if t.update not in UPDATES:
        raise ConfigError(f"unknown train.update {t.update!r}; choose one of: {', '.join(UPDATES)}")
    if t.k < 1 or t.batch_size < 1:
        raise ConfigError("train.k and train.batch_size must be at least 1")
    if t.update != "alternating" and t.k_schedule != "constant":
        raise ConfigError(f"train.k_schedule={t.k_schedule} needs train.update=alternating")
    if t.update != "alternating" and t.k != 1:
        raise ConfigError(f"train.update={t.update} makes one D update per G update; "
                          f"set train.k=1 or use train.update=alternating")
    device = resolve_device(t.device)
    autocast = autocast_factory(t.precision, device)
    if t.threads:
        torch.set_num_threads(t.threads)
    torch.manual_seed(t.seed)
    data = build_data(cfg.data, device)
    if t.batch_size > data.size:
        raise ConfigError(f"train.batch_size={t.batch_size} is larger than the data set "
                          f"({data.size} samples)")
    G = build_generator(cfg.model, data.shape, data.mean01).to(device)
    D = build_discriminator(cfg.model, data.shape).to(device)
    opt_g = build_optimizer(cfg.optim_g, G.parameters(), device)
    opt_d = build_optimizer(cfg.optim_d, D.parameters(), device)
    counters = Counters(steps_per_epoch=steps_per_epoch(cfg, data.size))
    fixed = torch.Generator().manual_seed(t.seed + 1)
    m = cfg.model
    fixed_noise = sample_noise(64, m.z_dim, m.noise, m.noise_scale, generator=fixed)
    fixed_labels = labels = None
    if m.num_classes:
        check_labels(cfg, data)
        fixed_noise, fixed_labels = class_rows(fixed_noise[:SAMPLES_PER_CLASS], m.num_classes)
        labels = partial(sample_labels, num_classes=m.num_classes, device=device)
    noise = partial(sample_noise, dim=m.z_dim, prior=m.noise, scale=m.noise_scale, device=device)
    ema = GeneratorEMA(G, t.ema_decay, t.ema_start) if t.ema_decay > 0 else None
    step = GANStep(cfg, G, D, opt_g, opt_d, build_objective(cfg.loss, D, opt_d), data.sampler,
                   noise, autocast, counters, ema, labels)
    return Run(cfg, device, data, G, D, step, fixed_noise.to(device),
               None if fixed_labels is None else fixed_labels.to(device))


def check_labels(cfg: Config, data: TrainingData) -> None:
    """A conditional run needs labelled data with exactly model.num_classes classes."""
    if not data.num_classes:
        raise ConfigError(f"model.num_classes={cfg.model.num_classes} needs labelled data "
                          f"(mnist, fashion); {cfg.data.name} has no labels")
    if data.num_classes != cfg.model.num_classes:
        raise ConfigError(f"model.num_classes={cfg.model.num_classes} but {cfg.data.name} "
                          f"has {data.num_classes} classes; set model.num_classes="
                          f"{data.num_classes}")


def resume_run(run_dir: Path, overrides: list[str] | None = None) -> Run:
    """Rebuild a run from its checkpoint (config included) and restore its exact state."""
    ckpt = load_checkpoint(run_dir)
    cfg = apply_overrides(config_from_dict(ckpt["config"]), overrides or [])
    run = build_run(cfg)
    try:
        run.load_state_dict(ckpt)
    except (RuntimeError, KeyError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{run_dir}: the checkpoint does not fit the (overridden) "
                              f"config ({first}); on resume override only train.* keys") from None
    return run
