"""Training methods: each says which players it has and what each iteration's phases
compute (advnets.methods.base); the generic step in advnets.training.step runs them.
A new method is one file here plus its presets, registered in METHODS."""

from functools import partial

from advnets.config import register_net_reads, register_options
from advnets.methods.base import Counters, Method, Phase, Stats
from advnets.methods.began import BEGAN
from advnets.methods.catgan import CatGAN
from advnets.methods.ebgan import EBGAN
from advnets.methods.fgan import FGAN
from advnets.methods.gan import GAN, UPDATES
from advnets.methods.netkeys import net_reads
from advnets.methods.restoration import ContentOnly, Restoration
from advnets.methods.ssgan import ImprovedGAN, SemiSupervisedGAN
from advnets.methods.supervised import Supervised
from advnets.methods.vae import VAE
from advnets.methods.vaegan import VAEGAN
from advnets.registry import Registry

METHODS: Registry[type[Method]] = Registry("method")
METHODS.add("gan", GAN)
METHODS.add("sgan", SemiSupervisedGAN)  # Odena 2016: D with C + 1 outputs
METHODS.add("improved-gan", ImprovedGAN)  # Salimans et al. 2016: C logits, fake logit 0
METHODS.add("supervised", Supervised)  # the semi-supervised methods' baseline
METHODS.add("vaegan", VAEGAN)  # Larsen et al. 2016: encoder, decoder = G, discriminator
METHODS.add("vae", VAE)  # Kingma & Welling 2014, on the VAE/GAN networks
METHODS.add("restoration", Restoration)  # G restores corrupted images, D judges them
METHODS.add("restoration-content", ContentOnly)  # the same G on the L1 loss alone
METHODS.add("fgan", FGAN)  # Nowozin et al. 2016: any f-divergence's variational bound
METHODS.add("ebgan", EBGAN)  # Zhao et al. 2017: autoencoder D, energy = reconstruction MSE
METHODS.add("began", BEGAN)  # Berthelot et al. 2017: autoencoder D, L1 energy, balance k_t
METHODS.add("catgan", CatGAN)  # Springenberg 2016: D a K-way classifier, entropy losses
for _name in METHODS:  # what a config keeps of its options when its method is switched
    register_options(_name, METHODS.get(_name).Options)
register_net_reads(partial(net_reads, methods=METHODS))  # what an override of a net key hits

__all__ = ["Counters", "GAN", "METHODS", "Method", "Phase", "Stats", "UPDATES"]
