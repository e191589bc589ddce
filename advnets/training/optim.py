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
    """Adam with fused kernels (fewer launches per step), or with its epsilon inside the
    square root (`eps_inside_sqrt`)."""
    betas = tuple(cfg.betas)
    if cfg.eps_inside_sqrt:
        return AdamEpsInsideSqrt(params, cfg.lr, betas, cfg.eps, cfg.weight_decay)
    return torch.optim.Adam(
        params, lr=cfg.lr, betas=betas, eps=cfg.eps, weight_decay=cfg.weight_decay, fused=fused
    )


class AdamEpsInsideSqrt(torch.optim.Optimizer):
    """Adam whose step is lr m_hat / sqrt(v_hat + eps), as the improved-GAN code's
    `adam_updates` (Salimans et al. 2016). With eps 1e-8 a gradient far below sqrt(eps) =
    1e-4 moves its weight by less than lr, where torch's lr m_hat / (sqrt(v_hat) + eps)
    moves every weight whose gradient is above ~1e-8 by ~lr."""

    def __init__(
        self,
        params: Params,
        lr: float,
        betas: tuple[float, float],
        eps: float,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params)

    def _update(self, group: dict, params: list[torch.Tensor]) -> None:
        (beta1, beta2), lr, eps = group["betas"], group["lr"], group["eps"]
        grads = [p.grad for p in params]
        if group["weight_decay"]:
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            state["step"] += 1
        m = [self.state[p]["exp_avg"] for p in params]
        v = [self.state[p]["exp_avg_sq"] for p in params]
        torch._foreach_lerp_(m, grads, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - beta2)
        for p, m_p, v_p in zip(params, m, v, strict=True):
            t = self.state[p]["step"].item()
            denom = (v_p / (1 - beta2**t)).add_(eps).sqrt_()
            p.addcdiv_(m_p, denom, value=-lr / (1 - beta1**t))


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
    """lr divided by `lr_decay` after every update, never below `lr_min`, multiplied by
    `lr_gamma` from each of `lr_milestones` (update counts) on, and by the linear ramp
    down to 0 of `lr_ramp_down`."""
    lr = cfg.lr * cfg.lr_gamma ** sum(updates >= m for m in cfg.lr_milestones)
    if cfg.lr_decay != 1.0:
        lr = max(lr * math.exp(-updates * math.log(cfg.lr_decay)), cfg.lr_min)
    return lr * ramp_down_factor(cfg.lr_ramp_down, updates)


def ramp_down_factor(ramp: list[int], updates: int) -> float:
    """1 before ramp[0] updates, falling linearly to 0 at ramp[1] and staying there; 1 when
    `ramp` is empty."""
    if not ramp:
        return 1.0
    start, end = ramp
    return min(max((end - updates) / (end - start), 0.0), 1.0)


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
