"""Unrolled GAN (Metz et al. 2016). G descends the surrogate

    f_K(theta_G, theta_D) = f(theta_G, theta_D^K(theta_G, theta_D)),
    theta_D^0 = theta_D,  theta_D^{k+1} = theta_D^k + eta^k df(theta_G, theta_D^k)/dtheta_D^k,

its loss taken at D after K updates of D's own optimizer (its update rule, hyper-parameters
and current state: Adam's moments, SGD's momentum), on the G step's real batch and fakes.
With `backprop` the gradient flows through the K updates (create_graph=True), so G sees how
D would react; without it (the cheap variant) theta_D^K is held fixed. D itself takes
ordinary steps. K = 0 is the plain GAN (the GAN method then builds no unroller).
"""

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from advnets.errors import ConfigError

Params = dict[str, Tensor]
State = dict[str, Any]  # one parameter's optimizer state (tensors, or a step count)
DLossOf = Callable[..., tuple[Tensor, dict[str, Tensor]]]


class _Method(nn.Module):
    """module.<name>(...) as a forward, so that functional_call can reach it."""

    def __init__(self, module: nn.Module, name: str) -> None:
        super().__init__()
        self.module, self.name = module, name

    def forward(self, *args: Tensor) -> Tensor:
        return getattr(self.module, self.name)(*args)


class AtParams:
    """D evaluated at other parameter values (and buffers): D(x), D(x, y) and
    D.features(x), differentiable in the given tensors (torch.func.functional_call)."""

    def __init__(self, D: nn.Module, params: Params, buffers: Params) -> None:
        self.D, self.tensors = D, {**params, **buffers}

    def __call__(self, *args: Tensor) -> Tensor:
        return functional_call(self.D, self.tensors, args)

    def features(self, *args: Tensor) -> Tensor:
        tensors = {f"module.{k}": v for k, v in self.tensors.items()}
        return functional_call(_Method(self.D, "features"), tensors, args)


# --- optimizer update rules as functions of (parameter, gradient, state), PyTorch's formulas ---


def _tiny_sqrt(x: Tensor) -> Tensor:
    """sqrt(x) with a finite derivative where x = 0 (an unused weight's second moment); the
    floor, ~1e-19 in float32, is far below the eps that is added next."""
    return x.clamp_min(torch.finfo(x.dtype).tiny).sqrt()


def sgd_step(p: Tensor, g: Tensor, state: State, group: dict) -> tuple[Tensor, State]:
    if group["weight_decay"]:
        g = g + group["weight_decay"] * p
    mu = group["momentum"]
    if not mu:
        return p - group["lr"] * g, {}
    buf = state.get("momentum_buffer")
    buf = g if buf is None else mu * buf + (1 - group["dampening"]) * g
    step = g + mu * buf if group["nesterov"] else buf
    return p - group["lr"] * step, {"momentum_buffer": buf}


def adam_step(p: Tensor, g: Tensor, state: State, group: dict) -> tuple[Tensor, State]:
    b1, b2 = group["betas"]
    if group["weight_decay"]:
        g = g + group["weight_decay"] * p
    t = float(state.get("step", 0)) + 1
    m = (1 - b1) * g if "exp_avg" not in state else b1 * state["exp_avg"] + (1 - b1) * g
    v = (
        (1 - b2) * g * g
        if "exp_avg_sq" not in state
        else (b2 * state["exp_avg_sq"] + (1 - b2) * g * g)
    )
    denom = _tiny_sqrt(v) / math.sqrt(1 - b2**t) + group["eps"]
    return p - group["lr"] / (1 - b1**t) * m / denom, {"step": t, "exp_avg": m, "exp_avg_sq": v}


def rmsprop_step(p: Tensor, g: Tensor, state: State, group: dict) -> tuple[Tensor, State]:
    alpha = group["alpha"]
    if group["weight_decay"]:
        g = g + group["weight_decay"] * p
    sq = (
        (1 - alpha) * g * g
        if "square_avg" not in state
        else (alpha * state["square_avg"] + (1 - alpha) * g * g)
    )
    return p - group["lr"] * g / (_tiny_sqrt(sq) + group["eps"]), {"square_avg": sq}


UPDATE_RULES: dict[type, Callable[..., tuple[Tensor, State]]] = {
    torch.optim.SGD: sgd_step,
    torch.optim.Adam: adam_step,
    torch.optim.RMSprop: rmsprop_step,
}
_UNSUPPORTED = ("amsgrad", "maximize", "centered", "decoupled_weight_decay")


class FunctionalOptimizer:
    """D's optimizer as a differentiable map (params, grads, state) -> (params, state), with
    the hyper-parameters its parameter group holds now and starting from its current state.
    The training step sets every player's schedule before each phase, so the group then
    holds the lr (and momentum) of D's next update."""

    def __init__(self, opt: torch.optim.Optimizer, D: nn.Module) -> None:
        if type(opt) not in UPDATE_RULES:
            raise ConfigError(
                f"options.unroll_steps: cannot unroll {type(opt).__name__}; "
                f"use optim.D.name=adam, sgd or rmsprop"
            )
        group = opt.param_groups[0]
        if (
            len(opt.param_groups) != 1
            or any(group.get(k) for k in _UNSUPPORTED)
            or (type(opt) is torch.optim.RMSprop and group["momentum"])
        ):
            raise ConfigError(
                "options.unroll_steps: D's optimizer must have one parameter group "
                f"and none of: {', '.join(_UNSUPPORTED)}, RMSprop momentum"
            )
        self.opt, self.rule = opt, UPDATE_RULES[type(opt)]
        self.params = dict(D.named_parameters())
        # the parameters D's optimizer moves: those that train (read now, as the G phase
        # freezes all of D); a frozen one (e.g. a fixed weight-norm scale) stays put
        self.trainable = tuple(name for name, p in self.params.items() if p.requires_grad)

    def initial_state(self) -> dict[str, State]:
        """The optimizer's state for each named parameter, detached (empty before its first
        step)."""
        return {
            name: {
                k: v.detach() if torch.is_tensor(v) else v
                for k, v in self.opt.state.get(p, {}).items()
            }
            for name, p in self.params.items()
        }

    def step(
        self, params: Params, grads: dict[str, Tensor | None], state: dict[str, State]
    ) -> tuple[Params, dict[str, State]]:
        """One update of every parameter with a gradient; one without (frozen, or unused by
        the loss) keeps its value and state, as torch's optimizers skip a None .grad."""
        group = self.opt.param_groups[0]
        new_params, new_state = dict(params), dict(state)
        for name, g in grads.items():
            if g is not None:
                new_params[name], new_state[name] = self.rule(params[name], g, state[name], group)
        return new_params, new_state


class Unroller:
    """D after `steps` updates of its own optimizer on the G step's (real, fake) batch: a
    function of G through `fake` when backpropagating (Metz et al.), held fixed otherwise."""

    def __init__(self, steps: int, optimizer: FunctionalOptimizer, backprop: bool = True) -> None:
        self.steps, self.optimizer, self.backprop = steps, optimizer, backprop

    def __call__(
        self,
        d_loss: DLossOf,
        D: nn.Module,
        real: Tensor | None,
        fake: Tensor,
        real_y: Tensor | None = None,
        fake_y: Tensor | None = None,
    ) -> AtParams:
        """`d_loss(D, real, fake, real_y, fake_y) -> (loss, stats)` is D's own loss. The
        updates use copies of D's buffers (its batch-norm statistics stay as they are); the
        returned D uses D's own."""
        moving = self.optimizer.trainable
        params = {n: p.detach() for n, p in D.named_parameters()}
        copies = {n: b.clone() for n, b in D.named_buffers()}
        state = self.optimizer.initial_state()
        fake = fake if self.backprop else fake.detach()
        for _ in range(self.steps if moving else 0):
            for name in moving:
                if not params[name].requires_grad:  # a leaf: the first step, or held fixed
                    params[name].requires_grad_()
            loss, _ = d_loss(AtParams(D, params, copies), real, fake, real_y, fake_y)
            grads = torch.autograd.grad(
                loss, [params[n] for n in moving], create_graph=self.backprop, allow_unused=True
            )
            named = dict(zip(moving, grads, strict=True))
            with torch.set_grad_enabled(self.backprop):
                params, state = self.optimizer.step(params, named, state)
        if not self.backprop:
            params = {n: p.detach() for n, p in params.items()}
        return AtParams(D, params, dict(D.named_buffers()))
