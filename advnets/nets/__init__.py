"""Networks, built by name from a `NetConfig`. Networks know nothing of losses or optimizers."""

from torch import Tensor, nn

from advnets.config import ModelConfig
from advnets.nets.layers import Maxout
from advnets.nets.mlp import MLPDiscriminator, MLPGenerator
from advnets.registry import Registry

GENERATORS: Registry = Registry("generator architecture")
DISCRIMINATORS: Registry = Registry("discriminator architecture")
GENERATORS.register("mlp")(MLPGenerator)
DISCRIMINATORS.register("mlp")(MLPDiscriminator)

__all__ = ["GENERATORS", "DISCRIMINATORS", "Maxout", "build_generator", "build_discriminator"]


def build_generator(cfg: ModelConfig, out_shape: tuple[int, ...],
                    mean01: Tensor | None = None) -> nn.Module:
    return GENERATORS.get(cfg.generator.arch)(cfg.generator, cfg.z_dim, out_shape, mean01)


def build_discriminator(cfg: ModelConfig, in_shape: tuple[int, ...]) -> nn.Module:
    return DISCRIMINATORS.get(cfg.discriminator.arch)(cfg.discriminator, in_shape)
