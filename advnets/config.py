"""Typed configuration: one dataclass per component, filled from YAML presets and dotted overrides.

Every key is checked when the config is built: an unknown key or a value of the wrong type
raises a one-line `ConfigError` that names the key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from advnets.errors import ConfigError


@dataclass
class DataConfig:
    """Where training samples come from."""

    # mnist | fashion | cifar10 | faces | stacked-mnist | gaussian1d | ring | grid |
    # folder (your own pictures: data.path)
    name: str = "mnist"
    split: str = "train"  # train (first 50k) | valid (last 10k) | test | full (all 60k)
    root: str | None = None  # data folder; else $ADVNETS_DATA, else ~/.cache/advnets
    # folder: a folder of pictures (subfolders: classes) or a .npy/.npz array of images
    path: str | None = None
    # folder: [H, W] of the training images (shorter side resized, centre cropped); empty:
    # recorded from the preset's own data set when --images swaps it in
    image_size: list[int] = field(default_factory=list)
    channels: int = 0  # folder: 1 (grey) | 3 (colour); 0: 1 if every picture is grey, else 3
    # folder: the class names (first-level subfolders), recorded when the run starts
    class_names: list[str] = field(default_factory=list)
    valid_fraction: float = 0.1  # folder: share of each class held out as the valid split
    split_seed: int = 0  # folder: which images are held out
    cache: str | None = None  # folder: prepared caches; else $ADVNETS_CACHE, else ~/.cache
    download: bool = True  # fetch from the official mirrors (sha256-checked) if files are absent
    value_range: list[float] = field(default_factory=lambda: [0.0, 1.0])  # pixel range fed to D
    mean: float = 4.0  # gaussian1d: mean of p_data
    std: float = 0.5  # gaussian1d: std of p_data; ring/grid: std of each mode
    radius: float = 1.0  # ring: radius of the circle of modes
    modes: int = 8  # ring: number of modes
    epoch_size: int = 50_000  # toy data: samples that make one nominal epoch; stacked-mnist:
    # images stacked from the split's digits
    stack_seed: int = 0  # stacked-mnist: which digits are stacked together
    # semi-supervised methods: labelled examples, balanced over the classes and drawn by
    # train.seed from the split; every image of the split is also seen unlabelled (0: none)
    labels: int = 0
    # the seed that draws the labelled examples instead of train.seed (null: train.seed), as
    # the improved-GAN code's --seed_data: one subset under several initialisations
    labels_seed: int | None = None
    # how the labelled examples are drawn: "default" (a torch draw within each class) or
    # "improved-gan" (their code's: a NumPy RandomState(seed) permutation of the split, then
    # the first labels / classes of each class in that order; with data.split=full and
    # data.labels_seed=K, the subset of their train_mnist_feature_matching.py --seed_data K)
    labels_draw: str = "default"
    # and each labelled image drawn shifted by a random whole number of pixels in [-s, s]
    # along each axis, the border filled with value_range's low end (0: unshifted)
    labelled_shift: int = 0
    # image data: G's real batches (feature matching, unrolling) from a second permutation
    # of the data, as the improved-GAN code's trainx_unl2, so that each epoch is one pass
    # for D and one for G; false: D's and G's batches come in turn from the one stream
    g_real_stream: bool = False


@dataclass
class NetConfig:
    """A generator or discriminator network (the architecture is chosen by name)."""

    arch: str = "mlp"  # registry name; see advnets.nets
    hidden: list[int] = field(default_factory=lambda: [1200, 1200])
    activation: str = "relu"  # relu | leaky_relu | tanh | softplus | sigmoid | maxout
    # MLPs: one nonlinearity per hidden layer, overriding `activation` ([]: `activation` for
    # every layer); the paper's CIFAR-10 and TFD generators: [relu, sigmoid]
    activations: list[str] = field(default_factory=list)
    pieces: int = 5  # maxout: linear pieces per unit
    leaky_slope: float = 0.2
    batch_norm: bool = False  # after each hidden linear layer but the first (PyTorch-GAN style)
    batch_norm_first: bool = False  # also after the first hidden layer
    bn_eps: float = 1e-5  # PyTorch-GAN passes 0.8 here by accident; its preset keeps that
    input_dropout: float = 0.0  # probability of dropping an input unit (D only)
    hidden_dropout: float = 0.0  # probability of dropping a hidden unit (D only)
    # D only, MLPs: std of Gaussian noise added to the input and to each hidden layer's output
    # in training (Salimans et al. 2016's MNIST D: 0.3 and 0.5)
    input_noise: float = 0.0
    hidden_noise: float = 0.0
    weight_norm: bool = False  # MLPs: weight normalisation of every linear layer
    # MLPs: after every update, each unit's incoming weight vector (each maxout piece's) is
    # scaled back to this norm where longer (pylearn2's max_col_norm; the paper's TFD model:
    # 1.9365); 0: off
    max_col_norm: float = 0.0
    # which layers weight_norm covers: all | output (Salimans et al.'s MNIST G: batch norm
    # in the hidden layers, weight norm on the output)
    weight_norm_layers: str = "all"
    # whether the hidden layers' weight-norm scales g train (Salimans et al.'s MNIST D fixes
    # them at their data-dependent init; only the output layer's train)
    weight_norm_train_hidden: bool = True
    # D only: the std of the output layer's logits after the data-dependent init
    weight_norm_init_out: float = 0.1
    # D only: PacGAN (Lin et al. 2018): D sees m samples concatenated, all real or all
    # generated, one logit per pack (1: off); train.batch_size counts samples, a multiple of m
    pack: int = 1
    # D only: minibatch discrimination (Salimans et al. 2016) on the last hidden layer:
    # B kernels (0: off) of C = minibatch_kernel_dim rows each
    minibatch_kernels: int = 0
    minibatch_kernel_dim: int = 5
    # default (PyTorch's) | uniform (U(-init_scale, init_scale), zero bias) |
    # normal (N(0, init_scale); batch-norm scales N(1, init_scale); DCGAN: 0.02) |
    # xavier (Glorot uniform, zero bias; init_scale unused)
    init: str = "default"
    init_scale: float = 0.05
    channels: int = 64  # conv nets: channels at the full-resolution end (doubled per halving)
    blocks: int = 4  # restorer G (arch resnet): residual blocks at full resolution
    # conv nets: batch | layer (over C, H, W, as WGAN-GP's critic) | none; never on G's
    # output or D's input
    norm: str = "batch"
    output: str = "sigmoid"  # G only: sigmoid | tanh | linear
    output_bias_from_data: bool = False  # G only: output bias = logit(mean pixel), as pylearn2
    # G only, MLPs: each hidden layer's initial bias (pylearn2's init_bias; the paper's TFD
    # G: [0, -2]); empty: the init's (zero)
    hidden_bias: list[float] = field(default_factory=list)
    # G only, MLPs: pylearn2's sparse_init for the output layer: each output unit starts with
    # this many non-zero incoming weights, N(0, 1) at random inputs (the TFD G: 100); 0: off
    output_sparse_init: int = 0
    # conditional nets (model.num_classes > 0): the label y enters as a one-hot vector (0) or
    # a learned embedding of this size, concatenated to z (G), to x's features (MLP D) or as
    # constant maps to x's channels (DCGAN D)
    label_embedding: int = 0
    # conditional MLPs: widths of two separate first hidden layers, one for the input (z or x)
    # and one for y, joined into `hidden` (Mirza & Osindero 2014: G [200, 1000], D [240, 50]);
    # empty: y is concatenated to the input
    branches: list[int] = field(default_factory=list)
    branch_pieces: int | None = None  # maxout pieces of the branch layers; null: `pieces`
    # D only: spectral normalisation of every weight (Miyato et al. 2018)
    spectral_norm: bool = False
    # D only: DiffAugment (Zhao et al. 2020) of every image D sees while training, real and
    # generated alike: a comma-separated policy of translation, cutout, color ("": off)
    augment: str = ""


@dataclass
class ModelConfig:
    """The generator, the discriminator and the noise prior p_z."""

    z_dim: int = 100
    noise: str = "uniform"  # uniform | normal
    noise_scale: float = 3**0.5  # uniform: half-width; normal: std
    # the truncation trick (Brock et al. 2019) for draws from a trained G (sample, eval,
    # demo, the latent pictures): z scaled by psi towards the prior's centre, 0 < psi <= 1
    # (1: off). With a uniform prior that is the prior truncated to [-psi s, psi s]. Fewer
    # unusual samples, less variety; training noise is never truncated
    truncation: float = 1.0
    # conditional GAN (Mirza & Osindero 2014): classes of the label y that G and D both see
    # (the data set's labels for real samples, uniform draws for fakes); 0: unconditional
    num_classes: int = 0
    generator: NetConfig = field(default_factory=NetConfig)
    discriminator: NetConfig = field(default_factory=NetConfig)
    # VAE and VAE/GAN: the encoder q(z|x), a discriminator-shaped net (arch mlp | dcgan)
    # with 2 * z_dim outputs, the mean and log-variance of z
    encoder: NetConfig = field(default_factory=NetConfig)


@dataclass
class LossConfig:
    """The value function and the generator's objective, chosen by name."""

    # minimax (maximise V(D,G) = E log D(x) + E log(1 - D(G(z)))) | wasserstein |
    # least_squares | hinge; see advnets.losses
    discriminator: str = "minimax"
    # non_saturating (-E log D(G(z))) | minimax | maximum_likelihood | wasserstein |
    # least_squares | hinge | feature_matching (Salimans et al. 2016: ||E f(x) - E f(G(z))||^2
    # on D's last hidden layer f)
    generator: str = "non_saturating"
    # the rest of a method's loss (LSGAN's targets, a gradient penalty, VAE/GAN's gamma, ...)
    # is the method's own: its `options:` section (older `loss.*` keys: LEGACY_LOSS_KEYS)


@dataclass
class OptimConfig:
    """One optimizer with its schedules (the paper's decay and momentum ramp)."""

    name: str = "sgd"  # sgd | adam | rmsprop (PyTorch's defaults: alpha 0.99, no momentum)
    lr: float = 0.1
    momentum: float = 0.5  # sgd
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])  # adam
    eps: float = 1e-8  # adam: the denominator's epsilon
    # adam: steps lr m / sqrt(v + eps), as the improved-GAN code, not lr m / (sqrt(v) + eps)
    eps_inside_sqrt: bool = False
    weight_decay: float = 0.0
    lr_decay: float = 1.0  # lr is divided by this after every update (paper: 1.000004)
    lr_min: float = 0.0  # floor of the decayed lr (paper: 1e-6)
    # step decay, as torch's MultiStepLR: lr x lr_gamma at each of these update counts
    lr_milestones: list[int] = field(default_factory=list)
    lr_gamma: float = 0.1
    # linear decay, as CycleGAN's and the improved-GAN CIFAR code's: [start, end] update
    # counts; from start on, lr falls linearly to 0 at end (empty: off)
    lr_ramp_down: list[int] = field(default_factory=list)
    momentum_final: float | None = None  # sgd: ramp momentum to this value (paper: 0.7)
    momentum_start: int = 1  # first epoch of the ramp
    momentum_saturate: int = 250  # epoch at which momentum_final is reached


@dataclass
class TrainConfig:
    """Algorithm 1 and its bookkeeping."""

    # m: noise and data samples per minibatch (under torchrun: the total of all processes)
    batch_size: int = 100
    k: int = 1  # discriminator updates per generator update
    # constant: k every iteration | wgan: 100 for the first 25 G updates and every 500th
    # (Arjovsky et al. 2017's reference code), k otherwise
    k_schedule: str = "constant"
    # alternating: Algorithm 1 | simultaneous: the paper code's joint update |
    # reuse_fakes: one G forward per iteration, D then G on the same fakes (pytorch/examples)
    update: str = "alternating"
    steps: int | None = None  # Algorithm-1 iterations (k D updates + 1 G update)
    # used when steps is null; one epoch = one pass of D over the data at k D batches an
    # iteration (under k_schedule=wgan a nominal one: the 100-update iterations draw more)
    epochs: float | None = None
    precision: str = "fp32"  # fp32 | bf16
    device: str = "cpu"  # cpu | cuda | auto
    threads: int | None = None  # torch intra-op threads; null = PyTorch's default
    seed: int = 0
    log_every: int = 100  # steps between metrics.jsonl / TensorBoard rows
    checkpoint_every: int = 2000  # steps between checkpoints (one is always written at the end)
    samples_per_epoch: bool = True  # write a sample picture with fixed noise after each epoch
    progress: bool = True  # tqdm progress bar
    eval_every: int = 0  # steps between cheap evaluations (0: off); the best run -> best.pt
    eval_metric: str = "auto"  # fid | kid | parzen | modes; auto: fid for images, modes else
    eval_samples: int = 2000  # samples per cheap evaluation
    # decay of an exponential moving average of G's weights, sampled instead of G (0: off)
    ema_decay: float = 0.0
    ema_start: int = 0  # G updates before the average starts (until then it copies G)
    # the players averaged (null: the one samples come from, G); a semi-supervised run's
    # D listed here is scored (accuracy, best.pt, classify) by its average
    ema_players: list[str] | None = None
    # stop with an error when a player's loss is NaN, Inf or larger than this in magnitude
    # (an exploding critic); null: stop on NaN / Inf only
    max_loss: float | None = 1e6

    # torchrun runs: batch norm statistics over all processes' shares (CUDA only)
    sync_bn: bool = False


@dataclass
class RestoreConfig:
    """Image restoration: the corruption a restorer undoes (advnets.data.corruptions)."""

    task: str = "denoise"  # sr2 | sr4 | denoise | deblur | inpaint
    noise: float = 25 / 255  # denoise: std of the additive Gaussian noise on [0, 1] pixels
    blur: float = 1.0  # deblur: std of the Gaussian blur kernel, in pixels
    blur_noise: float = 0.01  # deblur: std of the small Gaussian noise added after blurring
    mask: str = "centre"  # inpaint: centre | holes (squares) | rectangles | strokes | mixed
    mask_size: float = 0.25  # inpaint: side of the centre square / of each hole, per image side
    holes: int = 4  # inpaint, mask=holes: squares per image
    crop: int = 0  # training: random square crops of this side (0: whole images)
    noise_max: float = 0.0  # denoise: > 0: each image's noise std drawn from [noise, noise_max]
    sigma_input: bool = False  # denoise: G sees the noise std as an input channel
    fill: str = "smooth"  # inpaint: what G corrects: smooth (coarse-to-fine) | biharmonic
    augment: bool = False  # training: crops flipped and turned by multiples of 90 degrees


@dataclass
class Config:
    """A whole experiment: what a preset describes and a checkpoint carries."""

    description: str = ""
    paper: str = ""  # the published result this preset follows
    method: str = "gan"  # the training method (advnets.methods): which players, which phases
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    # one optimizer per player, keyed by the player's name (G, D, ...)
    optim: dict[str, OptimConfig] = field(
        default_factory=lambda: {"D": OptimConfig(), "G": OptimConfig()}
    )
    train: TrainConfig = field(default_factory=TrainConfig)
    restore: RestoreConfig = field(default_factory=RestoreConfig)
    # the method's own options (its `Options` dataclass, advnets.methods.base): the keys
    # are the method's, checked by its rules; empty: the method's defaults
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp`; ints are accepted where floats are."""
    if tp is Any:  # a method's options: checked by the method (`parse_section`)
        return value
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError:
                pass
        raise ConfigError(f"config key {key!r} must be {_type_name(tp)}, got {value!r}")
    if origin is dict:
        _, item = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} must be a mapping, got {value!r}")
        return {str(k): _coerce(v, item, f"{key}.{k}") for k, v in value.items()}
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config key {key!r} must be a list, got {value!r}")
        return [_coerce(v, item, key) for v in value]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} must be a mapping, got {value!r}")
        return _from_dict(tp, value, prefix=key + ".")
    if tp is float and isinstance(value, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is bool and isinstance(value, bool):
        return value
    if tp in (int, str) and isinstance(value, tp) and not isinstance(value, bool):
        return value
    raise ConfigError(f"config key {key!r} must be {_type_name(tp)}, got {value!r}")


def parse_section(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """The dataclass `cls` from plain values: unknown keys and wrong types refused in one
    line naming the key (`prefix` + key)."""
    return _from_dict(cls, values, prefix)


def _from_dict(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        key = str(key)
        if key not in hints:
            raise ConfigError(
                f"unknown config key {prefix + key!r}; valid keys here: {', '.join(names)}"
            )
        kwargs[key] = _coerce(value, hints[key], prefix + key)
    return cls(**kwargs)


# the two-player sections of older presets and checkpoints, and where they live now
LEGACY_SECTIONS = {"optim_d": "optim.D", "optim_g": "optim.G"}


def upgrade_legacy(values: dict[str, Any]) -> dict[str, Any]:
    """Older configs' `optim_d` / `optim_g` sections as `optim: {D: ..., G: ...}`."""
    if not any(key in values for key in LEGACY_SECTIONS):
        return values
    values = dict(values)
    optim = dict(values.get("optim") or {})
    for old, new in LEGACY_SECTIONS.items():
        if old not in values:
            continue
        player = new.split(".")[1]
        if player in optim:
            raise ConfigError(
                f"the config has both {new} and {old}, the older name of the same section; "
                f"keep one (optim: {{{player}: ...}})"
            )
        optim[player] = values.pop(old)
    values["optim"] = optim
    return values


# loss keys of older presets and checkpoints that are now a method's options:
# old key -> (option name, the methods that read it, the old default)
LEGACY_LOSS_KEYS: dict[str, tuple[str, tuple[str, ...], Any]] = {
    "feature_matching_mean": ("feature_matching_mean", ("gan", "sgan", "improved-gan"), False),
    "lsgan_a": ("lsgan_a", ("gan",), 0.0),
    "lsgan_b": ("lsgan_b", ("gan",), 1.0),
    "lsgan_c": ("lsgan_c", ("gan",), 1.0),
    "ml_normalize": ("ml_normalize", ("gan",), False),
    "gradient_penalty": ("gradient_penalty", ("gan",), 0.0),
    "clip": ("clip", ("gan",), 0.0),
    "unroll_steps": ("unroll_steps", ("gan",), 0),
    "unroll_backprop": ("unroll_backprop", ("gan",), True),
    "unsupervised_weight": ("unsupervised_weight", ("sgan", "improved-gan"), 1.0),
    "consistency_weight": ("consistency_weight", ("sgan", "improved-gan"), 0.0),
    "vaegan_gamma": ("gamma", ("vaegan",), 1.0),
    "vaegan_dis_llike": ("dis_llike", ("vaegan",), 0.0),
    "vaegan_joint_batch": ("joint_batch", ("vaegan",), False),
    "vae_likelihood": ("likelihood", ("vae",), "bernoulli"),
    "content_weight": ("content_weight", ("restoration", "restoration-content"), 0.9),
    "adversarial_weight": ("adversarial_weight", ("restoration",), 0.1),
}


def legacy_loss_option(method: str, key: str, value: Any) -> str | None:
    """The option that an older `loss.<key>` is now for `method` (None: a default that
    `method` never read, dropped); a value the method never read is refused."""
    name, methods, default = LEGACY_LOSS_KEYS[key]
    if method in methods:
        return name
    if value == default:
        return None
    raise ConfigError(
        f"loss.{key} is not read by method {method} (only by {', '.join(methods)}); drop it"
    )


def upgrade_loss_keys(values: dict[str, Any]) -> dict[str, Any]:
    """Older configs' method-specific `loss.*` keys as the method's `options.*`."""
    loss = values.get("loss")
    if not isinstance(loss, dict) or not any(key in LEGACY_LOSS_KEYS for key in loss):
        return values
    values, method = dict(values), str(values.get("method", "gan"))
    options = dict(values.get("options") or {})
    values["loss"] = {k: v for k, v in loss.items() if k not in LEGACY_LOSS_KEYS}
    for key in [k for k in loss if k in LEGACY_LOSS_KEYS]:
        name = legacy_loss_option(method, key, loss[key])
        if name is not None and options.setdefault(name, loss[key]) != loss[key]:
            raise ConfigError(
                f"the config has both loss.{key} and options.{name}, the older name of the "
                f"same setting; keep options.{name}"
            )
    values["options"] = options
    return values


def config_from_dict(values: dict[str, Any]) -> Config:
    """Build a validated `Config` from nested plain values (YAML, a checkpoint)."""
    return _from_dict(Config, upgrade_loss_keys(upgrade_legacy(values)))


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if child is None and parts[0] == "options" and node is not tree:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"unknown config key {dotted!r}: {part!r} is not a section")
        node = child
    if parts[-1] not in node and parts[0] != "options":  # options: the method checks its keys
        raise ConfigError(f"unknown config key {dotted!r}; see `advnets presets --show NAME`")
    old = node.get(parts[-1])  # a whole section is merged key by key, as based_on merges it
    both = isinstance(old, dict) and isinstance(value, dict)
    node[parts[-1]] = _merged(old, value) if both else value


def path_override(key: str, path: str | os.PathLike) -> str:
    """`key=path` as an override that YAML reads back as the very same string (quoted): a
    path may hold ' #' or ': ', or look like null, a number or a list."""
    return f"{key}={json.dumps(os.fspath(path))}"


def _dotted_keys(key: str, value: Any) -> list[str]:
    """The leaf keys an override sets: `key` itself, or each key of a section it merges."""
    if not isinstance(value, dict):
        return [key]
    return [leaf for k, v in value.items() for leaf in _dotted_keys(f"{key}.{k}", v)]


# which NetConfig keys a config's nets read ({section: keys}, None: they cannot be built),
# installed by advnets.methods (it builds the nets and imports this module, so this one
# cannot call it directly): what check_read compares overrides with
NetReads = Callable[["Config"], "dict[str, frozenset[str]] | None"]
NET_READS: list[NetReads] = []


def register_net_reads(reader: NetReads) -> None:
    """Install `reader(config) -> {model section: NetConfig keys its net reads} | None`."""
    NET_READS[:] = [reader]


def _changed_net_keys(before: Config, after: Config, keys: list[str]) -> list[tuple[str, str]]:
    """(section, key) of each override of a model net key that changed its value to one
    other than the default (setting a key back to its default unsets it: always allowed)."""
    out, default = [], NetConfig()
    for key in keys:
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != "model":
            continue
        old, new = getattr(before.model, parts[1], None), getattr(after.model, parts[1], None)
        if not isinstance(new, NetConfig) or not hasattr(default, parts[2]):
            continue
        value = getattr(new, parts[2])
        if value != getattr(old, parts[2]) and value != getattr(default, parts[2]):
            out.append((parts[1], parts[2]))
    return out


def check_read(before: Config, after: Config, keys: list[str]) -> None:
    """No override changes a key of one of the run's nets that the net never reads (an
    MLP-only key on a DCGAN net, `arch` of a restorer): it would have no effect. Keys a
    preset carries over when only its arch is switched are not overrides."""
    changed = _changed_net_keys(before, after, keys)
    # the reader comes with advnets.methods, which every command and training loads (a
    # config read without the methods, which cannot build nets, skips the check)
    reads = NET_READS[0](after) if changed and NET_READS else None
    if reads is None:  # nothing to check, or the nets cannot be built: validation says why
        return
    for section, name in changed:
        # a net the method does not build (the encoder of a GAN): a sweep's overrides for
        # several methods at once set it for the others, so it is left alone, unused
        if section in reads and name not in reads[section]:
            net = getattr(after.model, section)
            whose = f"arch {net.arch}" if "arch" in reads[section] else f"{after.method}'s own"
            raise ConfigError(
                f"model.{section}.{name} is not read by this run's {section} net ({whose}), "
                "so it would have no effect; drop the override"
            )


# each method's option names, told by advnets.methods as it registers the methods (they
# import this module, so it cannot look them up): what a switch of method keeps
METHOD_OPTIONS: dict[str, frozenset[str]] = {}


def register_options(method: str, options: type | None) -> None:
    """Record the option names of `method` (its `Options` dataclass; None: it takes none)."""
    fields = dataclasses.fields(options) if options is not None else ()
    METHOD_OPTIONS[method] = frozenset(f.name for f in fields)


def _options_after_switch(tree: dict[str, Any], keys: list[str]) -> None:
    """After `method=...` switched the method: the options the new method takes, and those the
    overrides set; the old method's other options go with it."""
    names = METHOD_OPTIONS.get(str(tree["method"]), frozenset())
    given = {key.split(".")[1] for key in keys if key.startswith("options.")}
    tree["options"] = {k: v for k, v in tree["options"].items() if k in names | given}


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply `section.key=value` strings (values parsed as YAML) and re-validate; an override
    that a net would ignore is refused (`check_read`); switching the method keeps only the
    options it takes (`_options_after_switch`)."""
    tree, keys = config.to_dict(), []
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        try:
            value = yaml.load(raw, Loader=_UniqueKeyLoader)
        except YAMLOneOneNumber as err:
            raise ConfigError(f"override {item!r}: {err.problem}") from None
        except yaml.YAMLError:
            raise ConfigError(f"override {item!r}: the value is not valid YAML") from None
        key = key.strip()
        section, dot, rest = key.partition(".")
        if section in LEGACY_SECTIONS and dot:  # optim_g.lr -> optim.G.lr
            key = f"{LEGACY_SECTIONS[section]}.{rest}"
        if section == "loss" and rest in LEGACY_LOSS_KEYS:  # loss.clip -> options.clip
            name = legacy_loss_option(str(tree["method"]), rest, value)
            if name is None:  # a default the method never read, as a checkpoint's is
                continue
            key = f"options.{name}"
        _set_dotted(tree, key, value)
        keys += _dotted_keys(key, value)
    if tree["method"] != config.method:
        _options_after_switch(tree, keys)
    out = config_from_dict(tree)
    check_read(config, out, keys)
    return out


def _preset_files() -> dict[str, Any]:
    folder = resources.files("advnets") / "presets"
    return {p.name.removesuffix(".yaml"): p for p in folder.iterdir() if p.name.endswith(".yaml")}


def preset_names() -> list[str]:
    return sorted(_preset_files())


def preset_description(name: str) -> str:
    """The one-line `description` of a shipped preset."""
    return str(load_yaml(_preset_files()[name]).get("description", ""))


# an integer as written in decimal; YAML 1.1 also reads 010 as 8 (octal), 0x10 as 16, 0b11
# as 3 and 1:30 as 90 (base 60), which a config refuses rather than guess
DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9_]*)")


class YAMLOneOneNumber(yaml.constructor.ConstructorError):
    """A number written in one of YAML 1.1's other forms (octal, hex, binary, base 60)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml's safe loader, refusing a key given twice in one mapping (plain YAML keeps the
    last silently; keys merged in from an anchor (`<<`) may still be overridden) and a
    number in a YAML 1.1 form other than decimal (`010`, `0x10`, `0b11`, `1:30`)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value = super().construct_yaml_int(node)
        if not DECIMAL.fullmatch(node.value):
            raise YAMLOneOneNumber(None, None, _number_problem(node.value, value), node.start_mark)
        return value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = super().construct_yaml_float(node)
        if ":" in node.value:
            raise YAMLOneOneNumber(None, None, _number_problem(node.value, value), node.start_mark)
        return value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, typing.Hashable):
                continue  # yaml's own constructor refuses it, with its message
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _UniqueKeyLoader.construct_yaml_int)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:float", _UniqueKeyLoader.construct_yaml_float)


def _number_problem(text: str, value: float) -> str:
    return (
        f"the number {text} would be read as {value} (YAML 1.1: a leading 0 is octal, 0x hex, "
        f"0b binary, a colon base 60); write it in plain decimal, or quote it for a string"
    )


def load_yaml(path: Path | Any) -> dict[str, Any]:
    try:
        values = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except YAMLOneOneNumber as err:
        line = err.problem_mark.line + 1 if err.problem_mark else "?"
        raise ConfigError(f"{path}, line {line}: {err.problem}") from None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or err.__class__.__name__
        raise ConfigError(f"{path}: not valid YAML ({problem})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read ({err.__class__.__name__})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a preset must be a mapping of sections")
    return values


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` with `update`'s keys put in: sections merged key by key, the rest replaced."""
    out = dict(base)
    for key, value in update.items():
        both_sections = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both_sections else value
    return out


def _with_base(values: dict[str, Any], files: dict[str, Any], chain: list[str]) -> dict[str, Any]:
    """Resolve a preset's `based_on: NAME`: the shipped preset NAME with this one's keys
    merged over it, so a variant states only what it changes."""
    values = upgrade_legacy(dict(values))
    parent = values.pop("based_on", None)
    if parent is None:
        return values
    if not isinstance(parent, str) or parent not in files:
        raise ConfigError(
            f"{chain[-1]}: based_on {parent!r} is not a shipped preset; "
            f"run `advnets presets` to list them"
        )
    if parent in chain:
        raise ConfigError(f"{chain[-1]}: based_on makes a cycle ({' -> '.join([*chain, parent])})")
    base = _with_base(load_yaml(files[parent]), files, [*chain, parent])
    return _merged(base, values)


def load_preset(name: str, overrides: list[str] | None = None) -> Config:
    """A shipped preset by name, or a YAML file by path (either may say `based_on: NAME`
    of a shipped preset), with dotted overrides applied."""
    files = _preset_files()
    if name in files:
        values = load_yaml(files[name])
    elif name.endswith((".yaml", ".yml")) and Path(name).is_file():
        values = load_yaml(Path(name))
    else:
        raise ConfigError(
            f"unknown preset {name!r}; run `advnets presets` to list them "
            f"(or pass a path to a .yaml file)"
        )
    values = _with_base(values, files, [name])
    return apply_overrides(config_from_dict(values), overrides or [])
