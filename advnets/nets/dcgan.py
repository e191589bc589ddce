"""DCGAN networks (Radford et al. 2015) for any square resolution and channel count.

The paper's guidelines: strided convolutions in D and fractional-strided (transposed) ones
in G instead of pooling; batch norm in both, but not on G's output or D's input; no fully
connected hidden layers; ReLU in G with a tanh output; LeakyReLU (0.2) in D. The layout is
pytorch/examples' dcgan/main.py, with the number of 2x stages derived from the resolution:
28 px = 7 -> 14 -> 28, 32 px = 4 -> 8 -> 16 -> 32, 64 px = 4 -> 8 -> 16 -> 32 -> 64.
"""

from collections.abc import Callable

from torch import Tensor, nn

from advnets.config import NetConfig
from advnets.errors import ConfigError
from advnets.nets.layers import OUTPUTS, init_weights_, minibatch_features
from advnets.registry import Registry


def stages(size: int) -> tuple[int, int]:
    """(base size, number of 2x stages): halve while even and at least 4 remain."""
    base, n = size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base, n = base // 2, n + 1
    if n == 0:
        raise ConfigError(
            f"DCGAN nets need a resolution of 8 px or more that halves at "
            f"least once to >= 4 px (e.g. 28, 32, 64), got {size}"
        )
    return base, n


def _image_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """(channels, size) of a square (C, H, W) image shape."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConfigError(
            f"DCGAN nets need square (C, H, W) images, got data of shape "
            f"{tuple(shape)}; use model.*.arch=mlp for other data"
        )
    return shape[0], shape[1]


# conv nets' normalisation: batch | layer (over C, H, W with a per-channel affine map, as
# WGAN-GP's tflib layernorm) | none
NORMS: Registry[Callable[[int], list[nn.Module]]] = Registry("norm")
NORMS.add("batch", lambda channels: [nn.BatchNorm2d(channels)])
NORMS.add("layer", lambda channels: [nn.GroupNorm(1, channels)])
NORMS.add("none", lambda channels: [])


def norm_layer(kind: str, channels: int) -> list[nn.Module]:
    """The normalisation layers named `kind` for `channels` channels."""
    return NORMS.get(kind)(channels)


class DCGANGenerator(nn.Module):
    """z (N, z_dim) -> images (N, C, H, W): z projected to base x base (a transposed conv of
    a 1x1 input), then 2x transposed-conv stages halving the channels, the last one to C."""

    def __init__(
        self, cfg: NetConfig, z_dim: int, out_shape: tuple[int, ...], mean01: Tensor | None = None
    ) -> None:
        super().__init__()
        if cfg.output_bias_from_data:
            raise ConfigError("model.generator.output_bias_from_data is for MLP generators")
        colours, size = _image_shape(out_shape)
        base, n = stages(size)
        widths = [cfg.channels * 2 ** (n - 1 - i) for i in range(n)]  # 28 px: [128, 64]
        bias = cfg.norm == "none"  # a norm layer's shift makes a bias redundant
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, widths[0], base, 1, 0, bias=bias),
            *norm_layer(cfg.norm, widths[0]),
            nn.ReLU(inplace=True),
        ]
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias),
                *norm_layer(cfg.norm, c_out),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], colours, 4, 2, 1), OUTPUTS.get(cfg.output)()]
        self.net = nn.Sequential(*layers)
        init_weights_(self, cfg.init, cfg.init_scale)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(len(z), -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (N, C, H, W) -> logits (N,): 2x strided-conv stages doubling the channels
    (no norm on the first), then a base x base convolution to one output."""

    def __init__(self, cfg: NetConfig, in_shape: tuple[int, ...], outputs: int = 1) -> None:
        super().__init__()
        colours, size = _image_shape(in_shape)
        base, n = stages(size)
        self.outputs = outputs
        widths = [cfg.channels * 2**i for i in range(n)]  # 28 px: [64, 128]
        bias = cfg.norm == "none"
        layers: list[nn.Module] = [
            nn.Conv2d(colours, widths[0], 4, 2, 1),
            nn.LeakyReLU(cfg.leaky_slope, inplace=True),
        ]
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias),
                *norm_layer(cfg.norm, c_out),
                nn.LeakyReLU(cfg.leaky_slope, inplace=True),
            ]
        if cfg.minibatch_kernels:  # on the flattened last feature map, then a linear map
            width = widths[-1] * base * base
            layers.append(
                nn.Sequential(
                    nn.Flatten(),
                    minibatch_features(width, cfg.minibatch_kernels, cfg.minibatch_kernel_dim),
                    nn.Linear(width + cfg.minibatch_kernels, outputs),
                )
            )
        else:
            layers.append(nn.Conv2d(widths[-1], outputs, base, 1, 0))
        self.net = nn.Sequential(*layers)
        self.feature_shape = (widths[-1], base, base)
        init_weights_(self, cfg.init, cfg.init_scale)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer's output, flattened (N, channels * base * base)."""
        return self.net[:-1](x).flatten(1)

    def head(self, h: Tensor) -> Tensor:
        """Logits from the flattened features `h` (the last layer)."""
        out = self.net[-1](h.view(len(h), *self.feature_shape))
        return out.flatten() if self.outputs == 1 else out.flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N,), or (N, outputs) for a classifier's several."""
        return self.net(x).flatten() if self.outputs == 1 else self.net(x).flatten(1)
