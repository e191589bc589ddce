"""Autoencoder discriminators (EBGAN, BEGAN): x -> code -> reconstruction of x, built by the
discriminator's arch name from its `NetConfig`. The methods score a sample by how well D
reconstructs it; `encode` gives the code (EBGAN's pulling-away term reads it).

`mlp`: fully connected layers of `hidden` widths down to a linear code of `code` units,
then the mirror image back up. `dcgan`: DCGAN-like strided convolutions (`channels`,
doubled per halving, `norm` after all but the first) to a linear code, then transposed
convolutions back. The reconstruction's nonlinearity is `output`; the code's width is the
method's (EBGAN's and BEGAN's `options.code`).
"""

import math

from torch import Tensor, nn

from advnets.config import ModelConfig, NetConfig
from advnets.nets.dcgan import _image_shape, norm_layer, stages
from advnets.nets.layers import OUTPUTS, init_weights_
from advnets.nets.mlp import ACTIVATIONS
from advnets.registry import Registry


def _activation(cfg: NetConfig) -> nn.Module:
    """The hidden layers' nonlinearity (maxout is refused by the methods' checks)."""
    return ACTIVATIONS.get(cfg.activation)(cfg)


class MLPAutoencoder(nn.Module):
    """samples (N, *shape) -> reconstructions (N, *shape), through a code of `code` units."""

    def __init__(self, cfg: NetConfig, shape: tuple[int, ...], code: int) -> None:
        super().__init__()
        self.shape = tuple(shape)
        widths = [math.prod(shape), *cfg.hidden, code]
        enc: list[nn.Module] = []
        for n_in, n_out in zip(widths[:-2], widths[1:-1], strict=True):
            enc += [nn.Linear(n_in, n_out), _activation(cfg)]
        self.encoder = nn.Sequential(nn.Flatten(), *enc, nn.Linear(widths[-2], code))
        # decoder: the mirror image
        dec: list[nn.Module] = []
        back = widths[::-1]  # code, ..., input
        for n_in, n_out in zip(back[:-2], back[1:-1], strict=True):
            dec += [nn.Linear(n_in, n_out), _activation(cfg)]
        self.decoder = nn.Sequential(*dec, nn.Linear(back[-2], back[-1]), OUTPUTS.get(cfg.output)())
        init_weights_(self, cfg.init, cfg.init_scale)

    def encode(self, x: Tensor) -> Tensor:
        """The code (N, code)."""
        return self.encoder(x)

    def decode(self, code: Tensor) -> Tensor:
        """The reconstruction (N, *shape) of a code."""
        return self.decoder(code).view(len(code), *self.shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


class DCGANAutoencoder(nn.Module):
    """images (N, C, H, W) -> reconstructions: strided convs, a linear code, transposed convs."""

    def __init__(self, cfg: NetConfig, shape: tuple[int, ...], code: int) -> None:
        super().__init__()
        colours, size = _image_shape(shape)
        base, n = stages(size)
        widths = [cfg.channels * 2**i for i in range(n)]
        self.top = (widths[-1], base, base)
        bias = cfg.norm == "none"
        enc: list[nn.Module] = [
            nn.Conv2d(colours, widths[0], 4, 2, 1),
            nn.LeakyReLU(cfg.leaky_slope),
        ]
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            enc += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias),
                *norm_layer(cfg.norm, c_out),
                nn.LeakyReLU(cfg.leaky_slope),
            ]
        flat = math.prod(self.top)
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, code))
        self.project = nn.Linear(code, flat)
        dec: list[nn.Module] = [*norm_layer(cfg.norm, widths[-1]), nn.ReLU()]
        for c_in, c_out in zip(widths[::-1], widths[::-1][1:], strict=False):
            dec += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias),
                *norm_layer(cfg.norm, c_out),
                nn.ReLU(),
            ]
        dec += [nn.ConvTranspose2d(widths[0], colours, 4, 2, 1), OUTPUTS.get(cfg.output)()]
        self.decoder = nn.Sequential(*dec)
        init_weights_(self, cfg.init, cfg.init_scale)

    def encode(self, x: Tensor) -> Tensor:
        """The code (N, code)."""
        return self.encoder(x)

    def decode(self, code: Tensor) -> Tensor:
        """The reconstruction (N, C, H, W) of a code."""
        return self.decoder(self.project(code).view(len(code), *self.top))

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


AUTOENCODERS: Registry = Registry("autoencoder architecture")
AUTOENCODERS.add("mlp", MLPAutoencoder)
AUTOENCODERS.add("dcgan", DCGANAutoencoder)


def build_autoencoder(cfg: ModelConfig, shape: tuple[int, ...], code: int) -> nn.Module:
    """D as an autoencoder of samples of `shape` through a code of `code` units, by
    model.discriminator.arch."""
    return AUTOENCODERS.get(cfg.discriminator.arch)(cfg.discriminator, shape, code)


def per_sample(errors: Tensor) -> Tensor:
    """The mean over every axis but the first: one number per sample (N,)."""
    return errors.flatten(1).mean(1)


def reconstruction_mse(reconstruction: Tensor, x: Tensor) -> Tensor:
    """EBGAN's energy: the mean squared reconstruction error of each sample (N,)."""
    return per_sample((reconstruction.float() - x.float()).square())


def reconstruction_l1(reconstruction: Tensor, x: Tensor) -> Tensor:
    """BEGAN's L(v) = |v - D(v)|: the mean absolute reconstruction error of each sample (N,)."""
    return per_sample((reconstruction.float() - x.float()).abs())


__all__ = ["AUTOENCODERS", "build_autoencoder", "reconstruction_l1", "reconstruction_mse"]
