"""The variational autoencoder (Kingma & Welling 2014) on the VAE/GAN networks: encoder E
and decoder G, one update of both on the negative ELBO, KL(q(z|x) || N(0, I)) plus the
pixel reconstruction loss: Bernoulli (binary cross-entropy of images on [0, 1]) or
Gaussian with unit variance (1/2 the squared error). The element-wise likelihood is what
makes its samples blurred, the VAE/GAN's point of comparison."""

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.errors import ConfigError
from advnets.losses import gaussian_kl
from advnets.methods.base import Counters, Losses, Method, Phase, Stats
from advnets.methods.vaegan import check_vae, encode, reparameterize
from advnets.nets import build_encoder, build_generator

LIKELIHOODS = ("bernoulli", "gaussian")  # options.likelihood


@dataclass(frozen=True)
class VAEOptions:
    """The VAE's options (the config's `options:` section)."""

    likelihood: str = "bernoulli"  # the pixel likelihood: bernoulli (images on [0, 1]) | gaussian


def reconstruction_nll(x: Tensor, x_tilde: Tensor, likelihood: str) -> Tensor:
    """-log p(x | x~) per sample, up to constants, summed over pixels."""
    if likelihood == "bernoulli":
        nll = F.binary_cross_entropy(x_tilde.clamp(1e-6, 1 - 1e-6), x, reduction="none")
    else:
        nll = 0.5 * (x - x_tilde).square()
    return nll.flatten(1).sum(1)


class VAE(Method):
    """Encoder E and decoder G on the negative ELBO."""

    players = ("E", "G")
    encoder_player = "E"
    Options = VAEOptions

    @classmethod
    def check(cls, cfg: Config) -> None:
        check_vae(cfg)
        likelihood = cls.options(cfg).likelihood
        if likelihood not in LIKELIHOODS:
            raise ConfigError(
                f"options.likelihood={likelihood!r}; choose one of: {', '.join(LIKELIHOODS)}"
            )
        if likelihood == "bernoulli" and list(cfg.data.value_range) != [0.0, 1.0]:
            raise ConfigError(
                "options.likelihood=bernoulli needs data.value_range=[0, 1] "
                "and a sigmoid G; or use gaussian"
            )

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        E = build_encoder(cfg.model, data.shape)
        return {"E": E, "G": build_generator(cfg.model, data.shape, data.mean01)}

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        self.E, self.G = nets["E"], nets["G"]
        self.likelihood = self.options(cfg).likelihood

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [self.solo("all")]

    def solo(self, player: str) -> Phase:
        return Phase(("E", "G"), ("real",), self.losses)

    def losses(self, b: Batch) -> tuple[Losses, Stats]:
        mean, logvar = encode(self.E, b.real)
        x_tilde = self.G(reparameterize(mean, logvar)).float()
        prior = gaussian_kl(mean, logvar).mean()
        recon = reconstruction_nll(b.real.float(), x_tilde, self.likelihood).mean()
        loss = prior + recon
        stats = {
            "loss_elbo": loss.detach(),
            "loss_prior": prior.detach(),
            "loss_recon": recon.detach(),
        }
        return {"E": loss, "G": loss}, stats
