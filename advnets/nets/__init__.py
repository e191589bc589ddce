"""Networks (the paper's MLPs, DCGAN), built by name from a `NetConfig`. Networks know
nothing of losses or optimizers."""

from torch import Tensor, nn

from advnets.config import ModelConfig
from advnets.errors import ConfigError
from advnets.nets.augment import DiffAugment, parse_policy, spectral_norm_
from advnets.nets.conditional import conditional_discriminator, conditional_generator
from advnets.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from advnets.nets.layers import Maxout, Packed
from advnets.nets.mlp import MLPDiscriminator, MLPGenerator
from advnets.registry import Registry

GENERATORS: Registry = Registry("generator architecture")
DISCRIMINATORS: Registry = Registry("discriminator architecture")
GENERATORS.register("mlp")(MLPGenerator)
DISCRIMINATORS.register("mlp")(MLPDiscriminator)
GENERATORS.register("dcgan")(DCGANGenerator)
DISCRIMINATORS.register("dcgan")(DCGANDiscriminator)

__all__ = [
    "GENERATORS",
    "DISCRIMINATORS",
    "Maxout",
    "build_generator",
    "build_discriminator",
    "build_encoder",
]


def build_generator(
    cfg: ModelConfig, out_shape: tuple[int, ...], mean01: Tensor | None = None
) -> nn.Module:
    """G(z), or G(z, y) when `cfg.num_classes` > 0 (conditional GAN)."""
    net = GENERATORS.get(cfg.generator.arch)
    if cfg.num_classes:
        return conditional_generator(
            net, cfg.generator, cfg.z_dim, out_shape, mean01, cfg.num_classes
        )
    return net(cfg.generator, cfg.z_dim, out_shape, mean01)


def build_encoder(cfg: ModelConfig, in_shape: tuple[int, ...]) -> nn.Module:
    """q(z|x) for a VAE: a discriminator-shaped net (`cfg.encoder`) with 2 * z_dim outputs,
    the mean and the log-variance of z."""
    return DISCRIMINATORS.get(cfg.encoder.arch)(cfg.encoder, in_shape, 2 * cfg.z_dim)


def build_discriminator(
    cfg: ModelConfig, in_shape: tuple[int, ...], outputs: int = 1, conditioning: str = "concat"
) -> nn.Module:
    """D(x), or D(x, y) when `cfg.num_classes` > 0 (conditional GAN, y entering as
    `conditioning` says: advnets.nets.conditional); with `outputs` > 1 a classifier's logits
    (unconditional, unpacked D only). Spectral normalisation and DiffAugment
    (model.discriminator.spectral_norm, .augment) wrap whichever D it is."""
    D = _discriminator(cfg, in_shape, outputs, conditioning)
    if cfg.discriminator.spectral_norm:
        spectral_norm_(D)
    policy = parse_policy(cfg.discriminator.augment)
    return DiffAugment(D, policy) if policy else D


def _discriminator(
    cfg: ModelConfig, in_shape: tuple[int, ...], outputs: int, conditioning: str
) -> nn.Module:
    net = DISCRIMINATORS.get(cfg.discriminator.arch)
    if cfg.num_classes:
        return conditional_discriminator(
            net, cfg.discriminator, in_shape, cfg.num_classes, conditioning
        )
    m = cfg.discriminator.pack
    if m > 1:  # PacGAN: D of m samples, concatenated along their first feature axis
        try:
            return Packed(net(cfg.discriminator, (m * in_shape[0], *in_shape[1:])), m)
        except ConfigError as err:
            raise ConfigError(
                f"{err} (model.discriminator.pack={m}: packs of samples of shape {tuple(in_shape)})"
            ) from None
    if outputs > 1:
        return net(cfg.discriminator, in_shape, outputs)
    return net(cfg.discriminator, in_shape)
