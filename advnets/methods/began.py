"""BEGAN (Berthelot, Schumm & Metz 2017): D is an autoencoder, L(v) = |v - D(v)| its mean
absolute reconstruction error, and the players descend

    D's loss: L(x) - k_t L(G(z))        G's loss: L(G(z))

from one minibatch, both at once. After each update the balance k_t moves toward
E[L(G(z))] = gamma E[L(x)]:

    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)

k_t is the method's own state, saved in checkpoints. Each step logs k_t and the
convergence measure M_global = L(x) + |gamma L(x) - L(G(z))|.
"""

import os
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.errors import ConfigError
from advnets.methods.base import Counters, Losses, Method, Phase, Stats
from advnets.methods.ebgan import autoencoder_players, check_autoencoder_d
from advnets.nets.autoencoder import reconstruction_l1


@dataclass(frozen=True)
class BEGANOptions:
    gamma: float = 0.5  # diversity ratio E[L(G(z))] / E[L(x)] the balance aims at, in (0, 1]
    lambda_k: float = 0.001  # the balance's learning rate
    k_0: float = 0.0  # the balance's start, in [0, 1]
    code: int = 64  # units of D's code (the paper's h)


def next_k(k: float, lambda_k: float, gamma: float, real_l: float, fake_l: float) -> float:
    """k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1)."""
    return min(max(k + lambda_k * (gamma * real_l - fake_l), 0.0), 1.0)


def convergence(real_l: Tensor, fake_l: Tensor, gamma: float) -> Tensor:
    """M_global = L(x) + |gamma L(x) - L(G(z))|."""
    return real_l + (gamma * real_l - fake_l).abs()


class BEGAN(Method):
    """G against an autoencoder D, balanced by k_t."""

    players = ("G", "D")
    Options = BEGANOptions

    @staticmethod
    def check(cfg: Config) -> None:
        o = BEGAN.options(cfg)
        if not 0 < o.gamma <= 1:
            raise ConfigError(f"options.gamma must be in (0, 1], got {o.gamma}")
        if o.lambda_k < 0:
            raise ConfigError(f"options.lambda_k must be >= 0, got {o.lambda_k}")
        if not 0 <= o.k_0 <= 1:
            raise ConfigError(f"options.k_0 must be in [0, 1], got {o.k_0}")
        check_autoencoder_d(cfg, o.code)
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # torchrun: k_t would drift apart
            raise ConfigError(
                "method began keeps its balance k_t in one process; train it without torchrun"
            )

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        return autoencoder_players(cfg, data, BEGAN.options(cfg).code)

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        o = self.options(cfg)
        self.G, self.D = nets["G"], nets["D"]
        self.gamma, self.lambda_k, self.k = o.gamma, o.lambda_k, o.k_0
        self.pending: float | None = None  # k after the D update in flight

    def state_dict(self) -> dict[str, Tensor]:
        return {"k": torch.tensor(self.k, dtype=torch.float64)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if "k" in state:  # a checkpoint without it: k_0
            self.k = float(state["k"])

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [Phase(("D", "G"), ("real", "noise"), self.joint_phase)]

    def solo(self, player: str) -> Phase:
        if player == "D":
            return Phase(("D",), ("real", "noise"), self.d_phase)
        return Phase(("G",), ("noise",), self.g_phase)

    def after_update(self, player: str) -> None:
        if player == "D" and self.pending is not None:
            self.k, self.pending = self.pending, None

    def _d_loss(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor, Stats]:
        """D's loss, L(G(z)) (with its graph) and the step's statistics; sets the k that
        the D update's end brings."""
        real_l = reconstruction_l1(self.D(real), real).mean()
        fake_l = reconstruction_l1(self.D(fake), fake).mean()
        loss = real_l - self.k * fake_l
        r, f = float(real_l.detach()), float(fake_l.detach())
        self.pending = next_k(self.k, self.lambda_k, self.gamma, r, f)
        stats = {
            "loss_d": loss.detach(),
            "loss_real": real_l.detach(),
            "loss_fake": fake_l.detach(),
            "k_t": torch.tensor(self.pending),
            "m_global": convergence(real_l.detach(), fake_l.detach(), self.gamma),
        }
        return loss, fake_l, stats

    def joint_phase(self, b: Batch) -> tuple[Losses, Stats]:
        """The paper's step: D and G descend their losses from the same minibatch."""
        loss, fake_l, stats = self._d_loss(b.real, self.G(b.z))
        return {"D": loss, "G": fake_l}, {**stats, "loss_g": fake_l.detach()}

    def d_phase(self, b: Batch) -> tuple[Losses, Stats]:
        with torch.no_grad():
            fake = self.G(b.z)
        loss, _, stats = self._d_loss(b.real, fake)
        return {"D": loss}, stats

    def g_phase(self, b: Batch) -> tuple[Losses, Stats]:
        fake = self.G(b.z)
        loss = reconstruction_l1(self.D(fake), fake).mean()
        return {"G": loss}, {"loss_g": loss.detach()}
