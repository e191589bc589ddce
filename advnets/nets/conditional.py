"""Conditional networks (Mirza & Osindero 2014): G(z, y) and D(x, y) for a class label y.

Two ways for y to enter, both from a `NetConfig`:

- concatenation (any architecture): y as a one-hot vector (or a learned embedding,
  `label_embedding`) is concatenated to z in G, to the flattened x in an MLP D, and as
  constant feature maps to x's channels in a DCGAN D; the network behind it is the
  unconditional one with a wider input;
- branches (MLPs, `branches: [a, b]`, the paper's MNIST model): the input and the one-hot y
  each go through their own hidden layer (widths a and b), whose outputs are concatenated
  and go through `hidden`. The paper: G z -> 200 and y -> 1000 (ReLU), joined 1200 (ReLU)
  -> 784 sigmoid; D x -> maxout 240x5 and y -> maxout 50x5, joined maxout 240x4 -> 1.

D may instead take y in one of two other ways (the GAN method's `options.conditioning`):

- acgan (Odena et al. 2017): D sees x alone and has 1 + C outputs, the real/fake logit and
  C class logits (an auxiliary classifier on D's features); the class loss is the method's;
- projection (Miyato & Koyama 2018): D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, phi the
  unconditional D's last hidden layer and psi its output layer;
- projection_acgan: both, the projection's real/fake logit and AC-GAN's C class logits from
  the same phi(x), so G is pulled towards its class by the projection and by the class loss;
- projection_classifier: the projection's real/fake logit and C class logits from a
  classifier of D's architecture with weights of its own, which the real/fake loss never
  reaches: the class boundary G is pulled across is learnt from the labels alone.
"""

import math

import torch
from torch import Tensor, nn

from advnets.config import NetConfig
from advnets.nets.layers import OUTPUTS, Dropout, init_weights_, minibatch_features
from advnets.nets.mlp import _hidden_layer, _trunk, init_output_bias_


class LabelVector(nn.Module):
    """y (N,) int64 -> (N, dim): one-hot (dim = classes), or a learned embedding (dim = size)."""

    def __init__(self, classes: int, embedding: int = 0) -> None:
        super().__init__()
        self.classes = classes
        self.embed = nn.Embedding(classes, embedding) if embedding else None
        self.dim = embedding or classes

    def forward(self, y: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        if self.embed is not None:
            return self.embed(y).to(dtype)
        # rows of the identity, not one_hot: one_hot reads y's values in Python, which vmap
        # (the Jacobian truncation's per-draw derivative) cannot; a bad y still raises
        eye = torch.eye(self.classes, dtype=dtype, device=y.device)
        return nn.functional.embedding(y, eye)


class ConcatGenerator(nn.Module):
    """G(z, y) = G'([z, label(y)]) for an unconditional generator G' with a wider z."""

    def __init__(
        self,
        net: type[nn.Module],
        cfg: NetConfig,
        z_dim: int,
        out_shape: tuple[int, ...],
        mean01: Tensor | None,
        classes: int,
    ) -> None:
        super().__init__()
        self.label = LabelVector(classes, cfg.label_embedding)
        self.net = net(cfg, z_dim + self.label.dim, out_shape, mean01)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([z, self.label(y, z.dtype)], dim=1))


class ConcatDiscriminator(nn.Module):
    """D(x, y) = D'([x, label(y)]): y joins x's features (MLP; input dropout then drops
    label units too) or its channels as constant maps (conv nets, `maps=True`)."""

    def __init__(
        self,
        net: type[nn.Module],
        cfg: NetConfig,
        in_shape: tuple[int, ...],
        classes: int,
        maps: bool,
    ) -> None:
        super().__init__()
        self.label = LabelVector(classes, cfg.label_embedding)
        self.maps = maps
        if maps:
            inner_shape = (in_shape[0] + self.label.dim, *in_shape[1:])
        else:
            inner_shape = (math.prod(in_shape) + self.label.dim,)
        self.net = net(cfg, inner_shape)

    def joined(self, x: Tensor, y: Tensor) -> Tensor:
        v = self.label(y, x.dtype)
        if self.maps:
            return torch.cat([x, v[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        return torch.cat([x.flatten(1), v], dim=1)

    def features(self, x: Tensor, y: Tensor) -> Tensor:
        """The inner net's features of (x, y), where it has them (feature matching)."""
        return self.net.features(self.joined(x, y))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.net(self.joined(x, y))


class ACGANDiscriminator(nn.Module):
    """D(x) -> (N, 1 + C): the real/fake logit then C class logits, from the unconditional
    D with 1 + C outputs (its output layer is both heads). y is accepted and not used: D
    must tell the class from x alone."""

    def __init__(
        self, net: type[nn.Module], cfg: NetConfig, in_shape: tuple[int, ...], classes: int
    ):
        super().__init__()
        self.net = net(cfg, in_shape, 1 + classes)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net.features(x)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(x)


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = psi(phi(x)) + <embed(y), phi(x)> (Miyato & Koyama 2018): phi the
    unconditional D's features, psi its output layer; the class embedding starts at zero,
    so D starts unconditional and learns each class's direction in phi. With `class_head`
    the output layer also gives C class logits from phi (N, 1 + C), as an AC-GAN D's."""

    def __init__(
        self,
        net: type[nn.Module],
        cfg: NetConfig,
        in_shape: tuple[int, ...],
        classes: int,
        class_head: bool = False,
    ):
        super().__init__()
        self.net = net(cfg, in_shape, 1 + classes) if class_head else net(cfg, in_shape)
        self.class_head = class_head
        self.net.eval()  # eval mode: measuring phi's width draws no dropout noise
        with torch.no_grad():
            width = self.net.features(torch.zeros(2, *in_shape)).shape[1]
        self.net.train()
        self.embed = nn.Embedding(classes, width)
        nn.init.zeros_(self.embed.weight)

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net.features(x)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.net.features(x)
        out, projection = self.net.head(h), (self.embed(y).to(h.dtype) * h).sum(1)
        if not self.class_head:
            return out + projection
        return torch.cat([out[:, :1] + projection[:, None], out[:, 1:]], dim=1)


class WithClassifier(nn.Module):
    """D(x, y) -> (N, 1 + C): a conditional D's real/fake logit, then the C class logits of
    a classifier with weights of its own (as an AC-GAN D's outputs are laid out)."""

    def __init__(self, D: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.D, self.classifier = D, classifier

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.D.features(x, y)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.cat([self.D(x, y)[:, None], self.classifier(x)], dim=1)


def _branch(
    cfg: NetConfig, n_in: int, width: int, input_dropout: float = 0.0, hidden_dropout: float = 0.0
) -> nn.Sequential:
    """[dropout] -> one hidden layer (maxout with `branch_pieces`) -> [dropout]."""
    pieces = cfg.branch_pieces or cfg.pieces
    layers: list[nn.Module] = [Dropout(input_dropout)] if input_dropout > 0 else []
    layers += _hidden_layer(cfg, n_in, width, pieces=pieces)
    if hidden_dropout > 0:
        layers.append(Dropout(hidden_dropout))
    return nn.Sequential(*layers)


class BranchedMLPGenerator(nn.Module):
    """G(z, y): z and one-hot y through their own hidden layers, joined, then `hidden` and
    the output layer (Mirza & Osindero 2014's MNIST generator with branches [200, 1000],
    hidden [1200]). No dropout: the paper applies 0.5 to G as well; here G has none, as in
    the unconditional models."""

    def __init__(
        self,
        cfg: NetConfig,
        z_dim: int,
        out_shape: tuple[int, ...],
        mean01: Tensor | None,
        classes: int,
    ) -> None:
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.label = LabelVector(classes, cfg.label_embedding)
        self.z_branch = _branch(cfg, z_dim, cfg.branches[0])
        self.y_branch = _branch(cfg, self.label.dim, cfg.branches[1])
        layers, width = _trunk(cfg, sum(cfg.branches), dropout=False)
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, math.prod(out_shape))
        self.act = OUTPUTS.get(cfg.output)()
        init_weights_(self, cfg.init, cfg.init_scale)
        init_output_bias_(self.out, cfg, mean01)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = torch.cat([self.z_branch(z), self.y_branch(self.label(y, z.dtype))], dim=1)
        return self.act(self.out(self.body(h))).view(len(z), *self.out_shape)


class BranchedMLPDiscriminator(nn.Module):
    """D(x, y): x (after input dropout) and one-hot y through their own hidden layers, each
    followed by hidden dropout, joined, then `hidden` (Mirza & Osindero 2014's MNIST
    discriminator: branches [240, 50] with 5 maxout pieces, hidden [240] with 4)."""

    def __init__(self, cfg: NetConfig, in_shape: tuple[int, ...], classes: int) -> None:
        super().__init__()
        self.label = LabelVector(classes, cfg.label_embedding)
        drop_in, drop_hidden = cfg.input_dropout, cfg.hidden_dropout
        self.x_branch = _branch(cfg, math.prod(in_shape), cfg.branches[0], drop_in, drop_hidden)
        self.y_branch = _branch(cfg, self.label.dim, cfg.branches[1], 0.0, drop_hidden)
        layers, width = _trunk(cfg, sum(cfg.branches), dropout=True, input_dropout=False)
        self.body = nn.Sequential(*layers)
        self.minibatch = minibatch_features(width, cfg.minibatch_kernels, cfg.minibatch_kernel_dim)
        self.out = nn.Linear(width + cfg.minibatch_kernels, 1)
        init_weights_(self, cfg.init, cfg.init_scale)

    def features(self, x: Tensor, y: Tensor) -> Tensor:
        """The last hidden layer's output (N, width) for (x, y): what feature matching compares."""
        h = torch.cat([self.x_branch(x.flatten(1)), self.y_branch(self.label(y, x.dtype))], 1)
        return self.body(h)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.out(self.minibatch(self.features(x, y))).squeeze(1)


def conditional_generator(
    net: type[nn.Module],
    cfg: NetConfig,
    z_dim: int,
    out_shape: tuple[int, ...],
    mean01: Tensor | None,
    classes: int,
) -> nn.Module:
    """G(z, y) around the registered generator class `net`: the paper's branches for an MLP
    with `cfg.branches`, else concatenation."""
    if cfg.branches:
        return BranchedMLPGenerator(cfg, z_dim, out_shape, mean01, classes)
    return ConcatGenerator(net, cfg, z_dim, out_shape, mean01, classes)


# how y enters D (see the module doc)
CONDITIONINGS = ("concat", "acgan", "projection", "projection_acgan", "projection_classifier")
# the conditionings whose D also classifies x
CLASS_HEADS = ("acgan", "projection_acgan", "projection_classifier")


def conditional_discriminator(
    net: type[nn.Module],
    cfg: NetConfig,
    in_shape: tuple[int, ...],
    classes: int,
    conditioning: str = "concat",
) -> nn.Module:
    """D(x, y) around the registered discriminator class `net`: with `concat`, the paper's
    branches for an MLP with `cfg.branches`, else y concatenated to x's features (mlp) or
    channels; or AC-GAN's class head, or the projection discriminator (with a class head,
    or beside a classifier of its own)."""
    if conditioning == "acgan":
        return ACGANDiscriminator(net, cfg, in_shape, classes)
    if conditioning == "projection_classifier":
        D = ProjectionDiscriminator(net, cfg, in_shape, classes)
        return WithClassifier(D, net(cfg, in_shape, classes))
    if conditioning in ("projection", "projection_acgan"):
        head = conditioning == "projection_acgan"
        return ProjectionDiscriminator(net, cfg, in_shape, classes, class_head=head)
    if cfg.branches:
        return BranchedMLPDiscriminator(cfg, in_shape, classes)
    return ConcatDiscriminator(net, cfg, in_shape, classes, maps=cfg.arch != "mlp")
