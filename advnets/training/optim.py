"""Optimizers and the paper's schedules (pylearn2's ExponentialDecay and MomentumAdjustor)."""

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

from advnets.config import OptimConfig
from advnets.registry import Registry

Params = Iterable[nn.Parameter]

OPTIMIZERS: Registry[Callable[[OptimConfig, Params, bool], torch.optim.Optimizer]] = Registry(
    "optimizer"
)


@OPTIMIZERS.register("sgd")
def sgd(cfg: OptimConfig, params: Params, fused: bool) -> torch.optim.Optimizer:
    """SGD with (the schedule's) momentum, fused kernels."""
    return torch.optim.SGD(
        params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, fused=fused
    )


@OPTIMIZERS.register("adam")
def adam(cfg: OptimConfig, params: Params, fused: bool) -> torch.optim.Optimizer:
    """Adam with fused kernels (fewer launches per step)."""
    return torch.optim.Adam(
        params, lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay, fused=fused
    )


@OPTIMIZERS.register("rmsprop")
def rmsprop(cfg: OptimConfig, params: Params, fused: bool) -> torch.optim.Optimizer:
    """RMSProp with PyTorch's defaults (alpha 0.99, eps 1e-8, no momentum), as WGAN's
    reference code."""
    return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_optimizer(
    cfg: OptimConfig, params: Params, device: torch.device
) -> torch.optim.Optimizer:
    """The optimizer `cfg.name` over `params`."""
    return OPTIMIZERS.get(cfg.name)(cfg, params, device.type in ("cpu", "cuda"))


def scheduled_lr(cfg: OptimConfig, updates: int) -> float:
    """lr divided by `lr_decay` after every update, never below `lr_min`, and multiplied by
    `lr_gamma` from each of `lr_milestones` (update counts) on."""
    lr = cfg.lr * cfg.lr_gamma ** sum(updates >= m for m in cfg.lr_milestones)
    if cfg.lr_decay == 1.0:
        return lr
    return max(lr * math.exp(-updates * math.log(cfg.lr_decay)), cfg.lr_min)


def scheduled_momentum(cfg: OptimConfig, epochs_done: int) -> float:
    """Momentum ramped linearly from `momentum` (in epoch `momentum_start`, 1-based) to
    `momentum_final` (from epoch `momentum_saturate` on), as pylearn2's MomentumAdjustor."""
    if cfg.momentum_final is None:
        return cfg.momentum
    epoch = epochs_done + 1  # the epoch now running
    span = max(cfg.momentum_saturate - cfg.momentum_start, 1)
    alpha = min(max((epoch - cfg.momentum_start) / span, 0.0), 1.0)
    return (1 - alpha) * cfg.momentum + alpha * cfg.momentum_final


def apply_schedule(
    opt: torch.optim.Optimizer, cfg: OptimConfig, updates: int, epochs_done: int
) -> None:
    """Set this update's lr (and SGD momentum) on every parameter group."""
    lr = scheduled_lr(cfg, updates)
    momentum = scheduled_momentum(cfg, epochs_done)
    for group in opt.param_groups:
        group["lr"] = lr
        if cfg.name == "sgd":
            group["momentum"] = momentum
