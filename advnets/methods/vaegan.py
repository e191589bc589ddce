"""VAE/GAN (Larsen et al. 2016): a VAE whose decoder is also a GAN's generator, with the
reconstruction measured in the discriminator's features instead of pixels.

    L_prior = KL(q(z|x) || N(0, I))
    L_llike = -E_q(z|x) log N(Dis_l(x) | Dis_l(x~), I),   x~ = Dec(z), z ~ q(z|x)
    L_GAN   = log Dis(x) + log(1 - Dis(x~)) + log(1 - Dis(Dec(z_p))),   z_p ~ N(0, I)

and the three updates, each player descending its own loss from the same forward:
Enc: L_prior + L_llike; Dec: gamma L_llike + log(1 - Dis(x~)) + log(1 - Dis(Dec(z_p))),
i.e. Dec works against L_GAN; Dis: -L_GAN, i.e. Dis ascends the log-likelihood of telling
data from reconstructions and samples. (The seed writes the updates as theta_Dec <-
-grad(gamma L_llike - L_GAN), theta_Dis <- -grad(L_GAN) with L_GAN as a loss; read with
L_GAN as the log-likelihood above, the signs are these.) Dis gets no gradient from L_llike
(its loss does not contain it; `options.dis_llike` > 0 adds that weight of it, the
option Larsen et al. leave off) and Enc none from L_GAN. Dis_l is D's last hidden layer
(`D.features`). With `loss.generator=non_saturating` the decoder's adversarial term is
-log Dis(x~) - log Dis(Dec(z_p)) instead of the minimax one. With
`options.joint_batch=true` Dis sees x and x~ as one batch for L_llike and x, x~ and
Dec(z_p) as one batch for L_GAN, as the authors' code concatenates them: a batch-norm Dis
then normalises them together, so L_llike also sees an error shared by the whole batch
(brightness, contrast) that separate batches' statistics would take out.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.errors import ConfigError
from advnets.losses import feature_reconstruction, gaussian_kl
from advnets.methods.base import (
    Counters,
    Losses,
    Method,
    Phase,
    Stats,
    check_one_update_per_step,
    check_plain_d,
)
from advnets.nets import build_discriminator, build_encoder, build_generator


def encode(E: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """The mean and log-variance of q(z|x)."""
    mean, logvar = E(x).float().chunk(2, dim=1)
    return mean, logvar


def reparameterize(mean: Tensor, logvar: Tensor) -> Tensor:
    """z = mean + sigma * eps, eps ~ N(0, I): a draw of q(z|x) differentiable in both."""
    return mean + (0.5 * logvar).exp() * torch.randn_like(mean)


def check_vae(cfg: Config) -> None:
    """A VAE's prior is N(0, I); the decoder is an unconditional G."""
    if cfg.model.noise != "normal" or cfg.model.noise_scale != 1.0:
        raise ConfigError(
            f"method {cfg.method} samples z from its prior N(0, I): set "
            f"model.noise=normal and model.noise_scale=1.0"
        )
    check_plain_d(cfg, "it is unconditional and unpacked")
    check_one_update_per_step(cfg)


@dataclass(frozen=True)
class VAEGANOptions:
    """The VAE/GAN's options (the config's `options:` section)."""

    # gamma, the weight of the feature reconstruction loss in the decoder's update
    gamma: float = 1.0
    # weight of L_llike in the discriminator's own loss (0: the seed's update, Dis gets no
    # gradient from L_llike; Larsen et al. keep it out to stabilise training)
    dis_llike: float = 0.0
    # Dis takes x and x~ (L_llike), and x, x~ and Dec(z_p) (L_GAN), as one batch each, as
    # the authors' code does (a batch-norm Dis normalises them together); false: a batch each
    joint_batch: bool = False


class VAEGAN(Method):
    """Encoder E, decoder G (the generator) and discriminator D, updated together."""

    players = ("E", "G", "D")
    encoder_player = "E"
    Options = VAEGANOptions

    @classmethod
    def check(cls, cfg: Config) -> None:
        check_vae(cfg)
        opts = cls.options(cfg)
        if not (opts.gamma >= 0 and opts.dis_llike >= 0):
            raise ConfigError("options.gamma and options.dis_llike must be >= 0")
        if cfg.loss.generator not in ("minimax", "non_saturating"):
            raise ConfigError(
                "method vaegan: loss.generator must be minimax (the paper's "
                "L_GAN) or non_saturating"
            )

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        E = build_encoder(cfg.model, data.shape)
        G = build_generator(cfg.model, data.shape, data.mean01)
        return {"E": E, "G": G, "D": build_discriminator(cfg.model, data.shape)}

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        self.E, self.G, self.D = nets["E"], nets["G"], nets["D"]
        opts = self.options(cfg)
        self.gamma, self.dis_llike, self.joint = opts.gamma, opts.dis_llike, opts.joint_batch
        self.minimax = cfg.loss.generator == "minimax"

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [self.solo("all")]

    def solo(self, player: str) -> Phase:
        """The paper's one update of all three players (each on its own loss)."""
        return Phase(("E", "G", "D"), ("real", "noise"), self.losses)

    def losses(self, b: Batch) -> tuple[Losses, Stats]:
        mean, logvar = encode(self.E, b.real)
        x_tilde, x_p = self.G(reparameterize(mean, logvar)), self.G(b.z)
        prior = gaussian_kl(mean, logvar).mean()
        (f_real, f_tilde), (real_l, tilde_l, p_l) = self._dis(b.real, x_tilde, x_p)
        llike = feature_reconstruction(f_real, f_tilde).mean()
        fake_terms = F.logsigmoid(-tilde_l).mean() + F.logsigmoid(-p_l).mean()
        l_gan = F.logsigmoid(real_l).mean() + fake_terms
        if self.minimax:
            adversarial = fake_terms  # G descends log(1 - D(x~)) + log(1 - D(Dec(z_p)))
        else:
            adversarial = -(F.logsigmoid(tilde_l).mean() + F.logsigmoid(p_l).mean())
        d_loss = -l_gan + self.dis_llike * llike if self.dis_llike else -l_gan
        losses = {"E": prior + llike, "G": self.gamma * llike + adversarial, "D": d_loss}
        stats = {
            "loss_prior": prior.detach(),
            "loss_llike": llike.detach(),
            "loss_d": -l_gan.detach(),
            "d_real": torch.sigmoid(real_l).mean().detach(),
            "d_fake": torch.sigmoid(p_l).mean().detach(),
        }
        return losses, stats

    def _dis(self, real: Tensor, x_tilde: Tensor, x_p: Tensor) -> tuple[tuple, tuple]:
        """Dis_l's features of x and x~, and Dis's logits of x, x~ and Dec(z_p): from a
        batch each, or (vaegan_joint_batch) from one batch for the features and one for
        the logits."""
        if not self.joint:
            features = self.D.features(real), self.D.features(x_tilde)
            return features, tuple(self.D(x).float() for x in (real, x_tilde, x_p))
        sizes = [len(real), len(x_tilde), len(x_p)]
        features = self.D.features(torch.cat([real, x_tilde])).split(sizes[:2])
        return tuple(features), self.D(torch.cat([real, x_tilde, x_p])).float().split(sizes)
