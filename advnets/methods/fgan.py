"""f-GAN (Nowozin, Cseke & Tomioka 2016): G and a variational function V trained on the
variational lower bound of an f-divergence D_f(P || Q),

    F(G, V) = E_P[g_f(V(x))] - E_Q[f*(g_f(V(G(z))))],

where g_f is the divergence's output activation (the paper's Table 2) and f* the convex
conjugate of its generator function f (Table 1). V ascends F; G descends it (`generator:
saddle`) or, as the paper does in practice, ascends E_Q[g_f(V(G(z)))] (`generator:
practical`). Each divergence also has f*(g_f(v)) written in v directly (softplus,
logsigmoid), the form the losses use. `single_step: true` is the paper's Algorithm 1: one
simultaneous update of both players from the same minibatch per step.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.errors import ConfigError
from advnets.methods.base import (
    Counters,
    Losses,
    Method,
    Phase,
    Stats,
    check_one_update_per_step,
    check_plain_d,
)
from advnets.nets import build_discriminator, build_generator
from advnets.registry import Registry

Fn = Callable[[Tensor], Tensor]
LOG2 = math.log(2.0)


@dataclass(frozen=True)
class Divergence:
    """One f-divergence: f, its conjugate f*, the activation g_f mapping V's output into
    f*'s domain, and f*(g_f(v)) in a numerically stable form."""

    f: Fn  # the generator function f(u), u > 0 (Table 1), for checks of f*
    activation: Fn  # g_f(v) (Table 2)
    conjugate: Fn  # f*(t) on dom f* (Table 1)
    conjugate_of_activation: Fn  # f*(g_f(v)), stable for every real v


DIVERGENCES: Registry[Divergence] = Registry("options.divergence")
DIVERGENCES.add(
    "kl",
    Divergence(
        f=lambda u: u * torch.log(u),
        activation=lambda v: v,
        conjugate=lambda t: torch.exp(t - 1),
        conjugate_of_activation=lambda v: torch.exp(v - 1),
    ),
)
DIVERGENCES.add(
    "reverse_kl",
    Divergence(
        f=lambda u: -torch.log(u),
        activation=lambda v: -torch.exp(-v),
        conjugate=lambda t: -1 - torch.log(-t),
        conjugate_of_activation=lambda v: v - 1,  # -1 - log(exp(-v))
    ),
)
DIVERGENCES.add(
    "pearson",
    Divergence(
        f=lambda u: (u - 1) ** 2,
        activation=lambda v: v,
        conjugate=lambda t: t**2 / 4 + t,
        conjugate_of_activation=lambda v: v**2 / 4 + v,
    ),
)
DIVERGENCES.add(
    "neyman",
    Divergence(
        f=lambda u: (1 - u) ** 2 / u,
        activation=lambda v: 1 - torch.exp(-v),
        conjugate=lambda t: 2 - 2 * torch.sqrt(1 - t),
        conjugate_of_activation=lambda v: 2 - 2 * torch.exp(-v / 2),  # sqrt(exp(-v))
    ),
)
DIVERGENCES.add(
    "squared_hellinger",
    Divergence(
        f=lambda u: (torch.sqrt(u) - 1) ** 2,
        activation=lambda v: 1 - torch.exp(-v),
        conjugate=lambda t: t / (1 - t),
        conjugate_of_activation=lambda v: torch.expm1(v),  # (1 - e^-v) / e^-v
    ),
)
DIVERGENCES.add(
    "jensen_shannon",
    Divergence(
        f=lambda u: -(u + 1) * torch.log((1 + u) / 2) + u * torch.log(u),
        activation=lambda v: LOG2 + F.logsigmoid(v),  # log 2 - log(1 + e^-v)
        conjugate=lambda t: -torch.log(2 - torch.exp(t)),
        conjugate_of_activation=lambda v: F.softplus(v) - LOG2,  # -log(2 sigmoid(-v))
    ),
)
DIVERGENCES.add(
    "gan",
    Divergence(
        f=lambda u: u * torch.log(u) - (u + 1) * torch.log(u + 1),
        activation=F.logsigmoid,  # -log(1 + e^-v)
        conjugate=lambda t: -torch.log(1 - torch.exp(t)),
        conjugate_of_activation=F.softplus,  # -log(1 - sigmoid(v))
    ),
)

GENERATOR_OBJECTIVES = ("practical", "saddle")


@dataclass(frozen=True)
class FGANOptions:
    divergence: str = "gan"  # one of DIVERGENCES
    # practical: G ascends E_Q[g_f(V(G(z)))] (the paper's choice); saddle: G descends F
    generator: str = "practical"
    single_step: bool = False  # Algorithm 1: one simultaneous update of V and G per step


def d_loss(div: Divergence, real_v: Tensor, fake_v: Tensor) -> Tensor:
    """-F: V's loss, E_Q[f*(g_f(V(G(z))))] - E_P[g_f(V(x))]."""
    return div.conjugate_of_activation(fake_v).mean() - div.activation(real_v).mean()


def g_loss(div: Divergence, fake_v: Tensor, objective: str) -> Tensor:
    """G's loss: -E_Q[g_f(V(G(z)))] (practical), or F's G-dependent term (saddle)."""
    if objective == "practical":
        return -div.activation(fake_v).mean()
    return -div.conjugate_of_activation(fake_v).mean()


class FGAN(Method):
    """G against a variational function D = V, on the chosen f-divergence's bound."""

    players = ("G", "D")
    Options = FGANOptions

    @staticmethod
    def check(cfg: Config) -> None:
        o = FGAN.options(cfg)
        if o.divergence not in DIVERGENCES:
            raise ConfigError(
                f"options.divergence={o.divergence!r}; choose one of: {', '.join(DIVERGENCES)}"
            )
        if o.generator not in GENERATOR_OBJECTIVES:
            raise ConfigError(
                f"options.generator={o.generator!r}; choose one of: "
                f"{', '.join(GENERATOR_OBJECTIVES)}"
            )
        check_plain_d(cfg, "f-GAN's V is one unconditional output per sample")
        check_one_update_per_step(cfg)

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        G = build_generator(cfg.model, data.shape, data.mean01)
        return {"G": G, "D": build_discriminator(cfg.model, data.shape)}

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        o = self.options(cfg)
        self.G, self.D = nets["G"], nets["D"]
        self.div, self.objective, self.single_step = (
            DIVERGENCES.get(o.divergence),
            o.generator,
            o.single_step,
        )

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        if self.single_step:
            return [Phase(("D", "G"), ("real", "noise"), self.joint_phase)]
        return [self.solo("D"), self.solo("G")]

    def solo(self, player: str) -> Phase:
        if player == "D":
            return Phase(("D",), ("real", "noise"), self.d_phase)
        return Phase(("G",), ("noise",), self.g_phase)

    def _d_terms(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Stats]:
        real_v, fake_v = self.D(real).float(), self.D(fake).float()
        loss = d_loss(self.div, real_v, fake_v)
        # -loss is F at the current V: a lower bound on the divergence
        return loss, {"loss_d": loss.detach(), "divergence_bound": -loss.detach()}

    def d_phase(self, b: Batch) -> tuple[Losses, Stats]:
        """V ascends F on a real batch and fresh fakes."""
        with torch.no_grad():
            fake = self.G(b.z)
        loss, stats = self._d_terms(b.real, fake)
        return {"D": loss}, stats

    def g_phase(self, b: Batch) -> tuple[Losses, Stats]:
        loss = g_loss(self.div, self.D(self.G(b.z)).float(), self.objective)
        return {"G": loss}, {"loss_g": loss.detach()}

    def joint_phase(self, b: Batch) -> tuple[Losses, Stats]:
        """Algorithm 1: both players' gradients at the same parameters and minibatch."""
        real_v, fake_v = self.D(b.real).float(), self.D(self.G(b.z)).float()
        dl, gl = d_loss(self.div, real_v, fake_v), g_loss(self.div, fake_v, self.objective)
        stats = {"loss_d": dl.detach(), "loss_g": gl.detach(), "divergence_bound": -dl.detach()}
        return {"D": dl, "G": gl}, stats
