"""EBGAN (Zhao, Mathieu & LeCun 2017): D is an autoencoder whose energy D(x) is the
reconstruction's mean squared error. With margin m:

    D's loss: D(x) + [m - D(G(z))]^+        G's loss: D(G(z)) + pt_weight * PT

where PT, the pulling-away term on the encoder's codes S of the fake batch, is the mean
squared cosine similarity of distinct codes: 1/(N(N-1)) sum_{i != j} (S_i.S_j / |S_i||S_j|)^2.
Each iteration is one D update, then one G update on fresh fakes.
"""

from dataclasses import dataclass

import torch
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
from advnets.nets import build_generator
from advnets.nets.autoencoder import build_autoencoder, reconstruction_mse


@dataclass(frozen=True)
class EBGANOptions:
    margin: float = 1.0  # m: fakes with energy above it push D no further
    pt_weight: float = 0.1  # weight of the pulling-away term in G's loss (0: off)
    code: int = 64  # units of D's code (the encoder's output, which PT reads)


def margin_loss(real_energy: Tensor, fake_energy: Tensor, margin: float) -> Tensor:
    """D's loss: mean D(x) + mean [m - D(G(z))]^+."""
    return real_energy.mean() + torch.relu(margin - fake_energy).mean()


def pulling_away(codes: Tensor) -> Tensor:
    """PT of a batch of codes (N, ...): the mean over ordered pairs i != j of the squared
    cosine similarity; 0 for orthogonal codes, 1 for parallel ones."""
    s = codes.flatten(1).float()
    n = len(s)
    if n < 2:
        return s.new_zeros(())
    unit = s / s.norm(dim=1, keepdim=True).clamp_min(1e-12)
    cos2 = (unit @ unit.T).square()
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


def check_autoencoder_d(cfg: Config, code: int) -> None:
    """EBGAN's and BEGAN's D is an autoencoder (a code of `code` units): no D-only variants
    of the GAN's critic."""
    if code < 1:
        raise ConfigError(f"options.code must be >= 1 (units of D's code), got {code}")
    check_plain_d(cfg, "its D is an autoencoder")
    d = cfg.model.discriminator
    if d.spectral_norm or d.augment or d.minibatch_kernels or d.weight_norm:
        raise ConfigError(
            f"method {cfg.method}: the autoencoder D takes no spectral_norm, augment, "
            "minibatch_kernels or weight_norm; unset them under model.discriminator"
        )
    dropout = d.input_dropout or d.hidden_dropout
    if d.arch == "mlp" and (d.activation == "maxout" or d.batch_norm or dropout):
        raise ConfigError(
            f"method {cfg.method}: the fully connected autoencoder D takes no maxout, "
            "batch_norm or dropout; set model.discriminator.activation=leaky_relu and unset them"
        )
    check_one_update_per_step(cfg)


def autoencoder_players(cfg: Config, data: TrainingData, code: int) -> dict[str, nn.Module]:
    """G, then the autoencoder D with a code of `code` units (EBGAN's and BEGAN's nets)."""
    G = build_generator(cfg.model, data.shape, data.mean01)
    return {"G": G, "D": build_autoencoder(cfg.model, data.shape, code)}


class EBGAN(Method):
    """G against an autoencoder D whose reconstruction error is the energy."""

    players = ("G", "D")
    Options = EBGANOptions

    @staticmethod
    def check(cfg: Config) -> None:
        o = EBGAN.options(cfg)
        if o.margin <= 0:
            raise ConfigError(f"options.margin must be > 0, got {o.margin}")
        if o.pt_weight < 0:
            raise ConfigError(f"options.pt_weight must be >= 0 (0: no PT), got {o.pt_weight}")
        check_autoencoder_d(cfg, o.code)

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        return autoencoder_players(cfg, data, EBGAN.options(cfg).code)

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        o = self.options(cfg)
        self.G, self.D = nets["G"], nets["D"]
        self.margin, self.pt_weight = o.margin, o.pt_weight

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [self.solo("D"), self.solo("G")]

    def solo(self, player: str) -> Phase:
        if player == "D":
            return Phase(("D",), ("real", "noise"), self.d_phase)
        return Phase(("G",), ("noise",), self.g_phase)

    def d_phase(self, b: Batch) -> tuple[Losses, Stats]:
        """D lowers the energy of data and raises that of fakes up to the margin."""
        with torch.no_grad():
            fake = self.G(b.z)
        real_e = reconstruction_mse(self.D(b.real), b.real)
        fake_e = reconstruction_mse(self.D(fake), fake)
        loss = margin_loss(real_e, fake_e, self.margin)
        stats = {
            "loss_d": loss.detach(),
            "energy_real": real_e.mean().detach(),
            "energy_fake": fake_e.mean().detach(),
        }
        return {"D": loss}, stats

    def g_phase(self, b: Batch) -> tuple[Losses, Stats]:
        """G lowers its samples' energy, and spreads their codes apart (PT)."""
        fake = self.G(b.z)
        code = self.D.encode(fake)  # one pass through D: its batch-norm statistics move once
        energy = reconstruction_mse(self.D.decode(code), fake).mean()
        if not self.pt_weight:
            return {"G": energy}, {"loss_g": energy.detach()}
        pt = pulling_away(code)
        loss = energy + self.pt_weight * pt
        return {"G": loss}, {"loss_g": loss.detach(), "pulling_away": pt.detach()}
