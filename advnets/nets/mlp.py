"""Configurable MLPs: the paper's MNIST models (ReLU/sigmoid G, maxout + dropout D),
PyTorch-GAN's gan.py models, and small nets for toy data — all from one `NetConfig`."""

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from advnets.config import NetConfig
from advnets.errors import ConfigError
from advnets.nets.layers import (
    OUTPUTS,
    Dropout,
    GaussianNoise,
    Maxout,
    init_weights_,
    limit_norms,
    logit,
    minibatch_features,
    weight_norm_,
)
from advnets.registry import Registry

# hidden-layer nonlinearities: name -> (cfg -> module); maxout is a layer of its own
ACTIVATIONS: Registry[Callable[[NetConfig], nn.Module] | None] = Registry("activation")
ACTIVATIONS.add("relu", lambda cfg: nn.ReLU())
ACTIVATIONS.add("leaky_relu", lambda cfg: nn.LeakyReLU(cfg.leaky_slope))
ACTIVATIONS.add("tanh", lambda cfg: nn.Tanh())
ACTIVATIONS.add("softplus", lambda cfg: nn.Softplus())
ACTIVATIONS.add("sigmoid", lambda cfg: nn.Sigmoid())
ACTIVATIONS.add("maxout", None)


def _hidden_layer(
    cfg: NetConfig, n_in: int, n_out: int, activation: str | None = None, pieces: int = 0
) -> list[nn.Module]:
    activation = activation or cfg.activation
    if activation == "maxout":
        return [Maxout(n_in, n_out, pieces or cfg.pieces)]
    return [nn.Linear(n_in, n_out), ACTIVATIONS.get(activation)(cfg)]


def layer_activations(cfg: NetConfig) -> list[str]:
    """Each hidden layer's nonlinearity: `activations` where given (the paper's CIFAR-10
    and TFD generators: ReLU, then sigmoid), else `activation` for all."""
    return list(cfg.activations) or [cfg.activation] * len(cfg.hidden)


def _trunk(
    cfg: NetConfig, n_in: int, dropout: bool, input_dropout: bool = True
) -> tuple[list[nn.Module], int]:
    """Hidden layers; batch norm goes between the linear map and the nonlinearity. With
    `dropout` (D), noise and dropout as configured (`input_dropout` False: none on the
    input, which other layers have seen first)."""
    layers: list[nn.Module] = []
    if dropout and cfg.input_noise > 0:
        layers.append(GaussianNoise(cfg.input_noise))
    if dropout and input_dropout and cfg.input_dropout > 0:
        layers.append(Dropout(cfg.input_dropout))
    for i, (width, act) in enumerate(zip(cfg.hidden, layer_activations(cfg), strict=True)):
        block = _hidden_layer(cfg, n_in, width, act)
        if cfg.batch_norm and (i > 0 or cfg.batch_norm_first) and act != "maxout":
            block.insert(1, nn.BatchNorm1d(width, eps=cfg.bn_eps))
        layers += block
        if dropout and cfg.hidden_noise > 0:
            layers.append(GaussianNoise(cfg.hidden_noise))
        if dropout and cfg.hidden_dropout > 0:
            layers.append(Dropout(cfg.hidden_dropout))
        n_in = width
    return layers, n_in


def init_output_bias_(out: nn.Linear, cfg: NetConfig, mean01: Tensor | None) -> None:
    """With `output_bias_from_data`, G's output bias = logit(mean pixel), as pylearn2 does:
    an untrained G then outputs the average image."""
    if not cfg.output_bias_from_data:
        return
    if mean01 is None or cfg.output != "sigmoid":
        raise ConfigError(
            "model.generator.output_bias_from_data needs image data and a sigmoid output"
        )
    with torch.no_grad():
        out.bias.copy_(logit(mean01.to(out.bias)))


def init_hidden_bias_(body: nn.Module, cfg: NetConfig) -> None:
    """Each hidden layer's bias set to its `hidden_bias` entry (pylearn2's init_bias; one per
    layer, as validation checks)."""
    if not cfg.hidden_bias:
        return
    layers = [m for m in body if isinstance(m, nn.Linear | Maxout)]
    with torch.no_grad():
        for layer, bias in zip(layers, cfg.hidden_bias, strict=True):
            (layer.linear if isinstance(layer, Maxout) else layer).bias.fill_(bias)


@torch.no_grad()
def sparse_init_(out: nn.Linear, nonzero: int) -> None:
    """pylearn2's sparse_init: each unit of `out` keeps `nonzero` incoming weights, N(0, 1)
    at inputs drawn without replacement; every other weight is zero."""
    rows, inputs = out.weight.shape
    device = out.weight.device
    picked = torch.rand(rows, inputs, device=device).topk(nonzero, dim=1).indices
    out.weight.zero_().scatter_(1, picked, torch.randn(rows, nonzero, device=device))


class MLPGenerator(nn.Module):
    """z (N, z_dim) -> samples (N, *out_shape)."""

    def __init__(
        self, cfg: NetConfig, z_dim: int, out_shape: tuple[int, ...], mean01: Tensor | None = None
    ) -> None:
        super().__init__()
        self.out_shape = tuple(out_shape)
        layers, width = _trunk(cfg, z_dim, dropout=False)
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, math.prod(out_shape))
        self.act = OUTPUTS.get(cfg.output)()
        init_weights_(self, cfg.init, cfg.init_scale)
        init_hidden_bias_(self.body, cfg)
        if cfg.output_sparse_init:
            sparse_init_(self.out, cfg.output_sparse_init)
        init_output_bias_(self.out, cfg, mean01)
        if cfg.weight_norm:
            weight_norm_(self, self.out, cfg.weight_norm_layers, cfg.weight_norm_train_hidden)
        if cfg.max_col_norm > 0:
            limit_norms(self, cfg.max_col_norm)

    def forward(self, z: Tensor) -> Tensor:
        x = self.act(self.out(self.body(z)))
        return x.view(len(z), *self.out_shape)


class MLPDiscriminator(nn.Module):
    """samples (N, *in_shape) -> logits (N,), or (N, outputs) for a classifier's several.
    Dropout and Gaussian noise are active only in train mode."""

    def __init__(self, cfg: NetConfig, in_shape: tuple[int, ...], outputs: int = 1) -> None:
        super().__init__()
        layers, width = _trunk(cfg, math.prod(in_shape), dropout=True)
        cut = len(layers)
        while cut and isinstance(layers[cut - 1], GaussianNoise | Dropout):
            cut -= 1
        self.body = nn.Sequential(*layers[:cut])
        self.noise = nn.Sequential(*layers[cut:])  # the last hidden layer's train-time noise
        self.minibatch = minibatch_features(width, cfg.minibatch_kernels, cfg.minibatch_kernel_dim)
        self.out = nn.Linear(width + cfg.minibatch_kernels, outputs)
        self.outputs = outputs
        init_weights_(self, cfg.init, cfg.init_scale)
        if cfg.weight_norm:
            weight_norm_(self, self.out, cfg.weight_norm_layers, cfg.weight_norm_train_hidden)
        if cfg.max_col_norm > 0:
            limit_norms(self, cfg.max_col_norm)

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer's activations (N, width), before the noise or dropout that
        follows them in training: what feature matching compares (as Salimans et al. 2016's
        code does)."""
        return self.body(x.flatten(1))

    def head(self, h: Tensor) -> Tensor:
        """Logits from the features `h` (train-time noise, minibatch features, output layer)."""
        logits = self.out(self.minibatch(self.noise(h)))
        return logits.squeeze(1) if self.outputs == 1 else logits

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
