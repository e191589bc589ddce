"""Every check a config gets before anything is built, in one place: each choice against
the registry that defines it (the one list of valid names), then ranges and combinations
that types alone cannot express. Code downstream trusts a validated config."""

import math
from typing import Any

from advnets.config import Config, DataConfig, NetConfig, OptimConfig, RestoreConfig
from advnets.data.corruptions import FILLS, MASKS, TASKS
from advnets.data.labelled import LABEL_DRAWS
from advnets.data.mnist import SPLITS
from advnets.data.noise import PRIORS
from advnets.data.registry import DATASETS, FOLDER, spec
from advnets.errors import ConfigError
from advnets.losses import D_LOSSES
from advnets.methods import METHODS
from advnets.methods.gan import GENERATOR_LOSSES, K_SCHEDULES, UPDATES
from advnets.metrics.evaluate import METRICS
from advnets.nets import DISCRIMINATORS, GENERATORS
from advnets.nets.dcgan import NORMS
from advnets.nets.layers import INITS, OUTPUTS
from advnets.nets.mlp import ACTIVATIONS
from advnets.training.optim import OPTIMIZERS
from advnets.training.precision import DEVICES, PRECISIONS

MAX_SEED = 2**63 - 1  # torch.manual_seed's range


def choices(cfg: Config) -> dict[str, tuple[Any, Any]]:
    """Config key -> (its value, the registry or table of the valid values)."""
    t, m = cfg.train, cfg.model
    out = {
        "method": (cfg.method, METHODS),
        "data.name": (cfg.data.name, DATASETS),
        "data.split": (cfg.data.split, _splits(cfg.data.name)),
        "data.labels_draw": (cfg.data.labels_draw, LABEL_DRAWS),
        "model.noise": (m.noise, PRIORS),
        "loss.discriminator": (cfg.loss.discriminator, D_LOSSES),
        "loss.generator": (cfg.loss.generator, GENERATOR_LOSSES),
        "train.update": (t.update, UPDATES),
        "train.k_schedule": (t.k_schedule, K_SCHEDULES),
        "train.precision": (t.precision, PRECISIONS),
        "train.device": (t.device, DEVICES),
        "train.eval_metric": (t.eval_metric, ["auto", "accuracy", *METRICS]),
        "restore.task": (cfg.restore.task, TASKS),
        "restore.mask": (cfg.restore.mask, MASKS),
        "restore.fill": (cfg.restore.fill, FILLS),
    }
    nets = (("generator", GENERATORS), ("discriminator", DISCRIMINATORS))
    for which, archs in (*nets, ("encoder", DISCRIMINATORS)):
        net = getattr(m, which)
        tables = {"arch": archs, "activation": ACTIVATIONS, "init": INITS}
        tables.update(output=OUTPUTS, norm=NORMS)
        for key, table in tables.items():
            out[f"model.{which}.{key}"] = (getattr(net, key), table)
    for player, optim in cfg.optim.items():
        out[f"optim.{player}.name"] = (optim.name, OPTIMIZERS)
    return out


def _splits(name: str) -> tuple[str, ...]:
    """The splits of data set `name` (an unknown name is refused by its own check)."""
    return DATASETS.get(name).splits if name in DATASETS else tuple(SPLITS)


def check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def check_truncation(psi: float, name: str = "--truncation") -> float:
    """The truncation trick's psi, in (0, 1]; returned as a float."""
    ok = isinstance(psi, int | float) and not isinstance(psi, bool) and 0 < psi <= 1
    check(ok, f"{name}={psi!r} must be in (0, 1]: 1 draws z from the whole prior, smaller "
          f"values draw it nearer the prior's centre (e.g. 0.5)")  # fmt: skip
    return float(psi)


def check_choices(cfg: Config) -> None:
    for key, (value, table) in choices(cfg).items():
        own = " (a data source of your own: name its module in ADVNETS_PLUGINS)"
        hint = own if key == "data.name" else ""
        check(value in table, f"{key}={value!r}; choose one of: {', '.join(table)}{hint}")


def check_finite(node: dict[str, Any], prefix: str = "") -> None:
    for key, value in node.items():
        if isinstance(value, dict):
            check_finite(value, f"{prefix}{key}.")
        for v in value if isinstance(value, list) else [value]:
            check(
                not (isinstance(v, float) and not math.isfinite(v)),
                f"config key {prefix + key!r} must be finite, got {v!r}",
            )
            check(
                not (isinstance(v, int) and abs(v) > MAX_SEED),
                f"config key {prefix + key!r} is out of range (at most 2**63 - 1), got {v}",
            )


def check_optim(o: OptimConfig, which: str) -> None:
    check(o.lr > 0, f"{which}.lr must be > 0, got {o.lr}")
    check(o.lr_decay >= 1, f"{which}.lr_decay divides the lr each update: must be >= 1")
    check(o.lr_min >= 0 and o.weight_decay >= 0, f"{which}.lr_min and .weight_decay must be >= 0")
    check(0 < o.lr_gamma <= 1, f"{which}.lr_gamma must be in (0, 1], got {o.lr_gamma}")
    check(
        all(m > 0 for m in o.lr_milestones) and o.lr_milestones == sorted(o.lr_milestones),
        f"{which}.lr_milestones must be increasing update counts > 0, got {o.lr_milestones}",
    )
    ramp = o.lr_ramp_down
    check(
        not ramp or (len(ramp) == 2 and 0 <= ramp[0] < ramp[1]),
        f"{which}.lr_ramp_down must be [start, end] update counts with 0 <= start < end "
        f"(e.g. [90000,180000]), or [] for none; got {ramp}",
    )
    check(
        len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas),
        f"{which}.betas must be two numbers in [0, 1), got {o.betas}",
    )
    check(o.eps > 0, f"{which}.eps must be > 0, got {o.eps}")
    momenta = [o.momentum] + ([] if o.momentum_final is None else [o.momentum_final])
    check(all(mu >= 0 for mu in momenta), f"{which}.momentum and momentum_final must be >= 0")


def check_init_keys(net: NetConfig, prefix: str) -> None:
    """pylearn2's inits of an MLP G: one hidden_bias per hidden layer, and output_sparse_init
    within the output layer's inputs."""
    check(
        not net.hidden_bias or len(net.hidden_bias) == len(net.hidden),
        f"{prefix}hidden_bias has {len(net.hidden_bias)} entries for {len(net.hidden)} hidden "
        "layers: give one per layer of `hidden`, or []",
    )
    sparse, inputs = net.output_sparse_init, net.hidden[-1] if net.hidden else 0
    check(
        sparse == 0 or 1 <= sparse <= inputs,
        f"{prefix}output_sparse_init={sparse} must be between 1 and the output layer's "
        f"{inputs} inputs (the last of {prefix}hidden; 0: off)",
    )


def check_net(net: NetConfig, prefix: str, num_classes: int) -> None:
    check(all(w >= 1 for w in net.hidden), f"{prefix}hidden widths must be >= 1")
    check(net.pieces >= 1, f"{prefix}pieces must be >= 1")
    check(
        not net.activations or len(net.activations) == len(net.hidden),
        f"{prefix}activations needs one per hidden layer ({len(net.hidden)}), got "
        f"{len(net.activations)}; or [] for {prefix}activation on every layer",
    )
    for act in net.activations:
        check(
            act in ACTIVATIONS,
            f"unknown {prefix}activations entry {act!r}; choose from: {', '.join(ACTIVATIONS)}",
        )
    check(net.channels >= 1 and net.init_scale > 0, f"{prefix}channels, init_scale must be > 0")
    check(
        net.weight_norm_layers in ("all", "output"),
        f"{prefix}weight_norm_layers must be all or output, got {net.weight_norm_layers!r}",
    )
    check(net.weight_norm_init_out > 0, f"{prefix}weight_norm_init_out must be > 0")
    check(
        net.max_col_norm >= 0 and not (net.max_col_norm and net.weight_norm),
        f"{prefix}max_col_norm must be >= 0 (0: off) and bounds plain weights: not with "
        f"{prefix}weight_norm, got {net.max_col_norm}",
    )
    for name in ("input_dropout", "hidden_dropout"):
        p = getattr(net, name)
        check(0 <= p <= 0.99, f"{prefix}{name}={p} must be a drop probability in [0, 0.99]")
    check(
        net.pack >= 1 and net.minibatch_kernels >= 0 and net.minibatch_kernel_dim >= 1,
        f"{prefix}pack and {prefix}minibatch_kernel_dim must be >= 1, "
        f"{prefix}minibatch_kernels >= 0",
    )
    check(net.label_embedding >= 0, f"{prefix}label_embedding must be >= 0 (0: one-hot)")
    check_init_keys(net, prefix)
    check(
        net.branch_pieces is None or net.branch_pieces >= 1,
        f"{prefix}branch_pieces must be >= 1 (null: {prefix}pieces)",
    )
    check(
        not net.branches or (len(net.branches) == 2 and min(net.branches) >= 1),
        f"{prefix}branches must be [] or two widths >= 1 (input, label), got {net.branches}",
    )
    check(
        not net.branches or (num_classes > 0 and net.arch == "mlp"),
        f"{prefix}branches is for conditional MLPs (model.num_classes > 0, arch mlp)",
    )


def check_folder(d: DataConfig) -> None:
    """A folder of pictures: its path, size, channels and held-out share; the folder keys
    are refused on the built-in data sets, which would ignore them."""
    if d.name != FOLDER:
        check(
            d.path is None and not d.image_size and not d.channels and not d.class_names,
            f"data.path, data.image_size, data.channels and data.class_names describe a "
            f"folder of pictures, not {d.name}; train on a folder with --images DIR",
        )
        return
    check(bool(d.path), "data.name=folder needs data.path (advnets train ... --images DIR)")
    check(
        len(d.image_size) == 2 and min(d.image_size) >= 1,
        f"data.image_size must be [H, W] with each >= 1 (e.g. --size 64), got {d.image_size}",
    )
    check(d.channels in (0, 1, 3), f"data.channels must be 1, 3 or 0 (auto), got {d.channels}")
    check(
        0 <= d.valid_fraction < 1,
        f"data.valid_fraction must be in [0, 1), got {d.valid_fraction}",
    )


def check_small_data(cfg: Config) -> None:
    """Spectral norm and DiffAugment are D's; augmentation needs images."""
    from advnets.nets.augment import parse_policy

    m = cfg.model
    for which in ("generator", "encoder"):
        net = getattr(m, which)
        check(
            not net.spectral_norm and not net.augment,
            f"model.{which}.spectral_norm and .augment are for the discriminator; "
            f"set model.discriminator.* instead",
        )
    if parse_policy(m.discriminator.augment):
        check(
            spec(cfg.data).images,
            f"model.discriminator.augment transforms images; {cfg.data.name} holds points: "
            'set model.discriminator.augment=""',
        )


def check_data_and_model(cfg: Config) -> None:
    d, m = cfg.data, cfg.model
    lo_hi = d.value_range
    check(
        len(lo_hi) == 2 and lo_hi[0] < lo_hi[1],
        f"data.value_range must be [low, high], got {lo_hi}",
    )
    check(d.std > 0, f"data.std must be > 0, got {d.std}")
    check(d.modes >= 1 and d.epoch_size >= 1, "data.modes and data.epoch_size must be >= 1")
    check(
        d.labelled_shift >= 0 and (d.labels > 0 or d.labelled_shift == 0),
        f"data.labelled_shift={d.labelled_shift} must be >= 0 and shifts the labelled images "
        "of a semi-supervised run: set data.labels too, or data.labelled_shift=0",
    )
    check(
        d.labels > 0 or d.labels_seed is None,
        f"data.labels_seed={d.labels_seed} draws the labelled examples of a semi-supervised "
        "run: set data.labels too, or data.labels_seed=null",
    )
    check(
        not (d.g_real_stream and DATASETS.get(d.name).mixture is not None),
        f"data.g_real_stream gives G its own pass over a set of images; {d.name} is drawn "
        "afresh for every batch already: set data.g_real_stream=false",
    )
    check_folder(d)
    check(m.num_classes >= 0, "model.num_classes must be >= 0 (0: unconditional)")
    check(m.z_dim >= 1, "model.z_dim must be >= 1")
    check(m.noise_scale > 0, "model.noise_scale must be > 0")
    check_truncation(m.truncation, "model.truncation")
    for which in ("generator", "discriminator", "encoder"):
        check_net(getattr(m, which), f"model.{which}.", m.num_classes)
    check_small_data(cfg)
    pack = m.discriminator.pack
    check(
        cfg.train.batch_size % pack == 0,
        f"train.batch_size={cfg.train.batch_size} must be a multiple of "
        f"model.discriminator.pack={pack} (PacGAN feeds D 100 packs: batch_size={100 * pack})",
    )
    check(pack == 1 or m.num_classes == 0, "model.discriminator.pack is for unconditional GANs")


def check_train(cfg: Config) -> None:
    t = cfg.train
    check(t.k >= 1 and t.batch_size >= 1, "train.k and train.batch_size must be at least 1")
    check(t.steps is None or t.steps >= 0, "train.steps must be >= 0")
    check(t.epochs is None or t.epochs >= 0, "train.epochs must be >= 0")
    check(t.threads is None or t.threads >= 1, f"train.threads must be >= 1, got {t.threads}")
    check(0 <= t.seed <= MAX_SEED, f"train.seed must be in [0, 2**63 - 1], got {t.seed}")
    check(t.eval_every >= 0 and t.eval_samples >= 2, "train.eval_every >= 0, eval_samples >= 2")
    check(
        not (t.eval_every and cfg.data.split in ("full", "valid")),
        f"train.eval_every chooses best.pt on the validation images, which "
        f"data.split={cfg.data.split} trains on; use data.split=train or train.eval_every=0",
    )
    check(0.0 <= t.ema_decay < 1.0, f"train.ema_decay must be in [0, 1), got {t.ema_decay}")
    check(t.ema_start >= 0, f"train.ema_start must be >= 0, got {t.ema_start}")
    players = METHODS.get(cfg.method).players
    odd = [name for name in t.ema_players or () if name not in players]
    check(
        not odd,
        f"train.ema_players names {', '.join(map(repr, odd))}, not a player of method "
        f"{cfg.method} ({', '.join(players)})",
    )
    check(
        t.max_loss is None or t.max_loss > 0,
        f"train.max_loss must be > 0 (null: stop on NaN / Inf only), got {t.max_loss}",
    )
    check(
        t.log_every >= 1 and t.checkpoint_every >= 0, "train.log_every >= 1, checkpoint_every >= 0"
    )


PLAYER_NETS = {"G": "generator", "D": "discriminator", "E": "encoder"}


def check_nets_fit_data(cfg: Config) -> None:
    """The nets' rules that hang on the data's shape (its spec), before any net
    is built: a DCGAN net needs square images that halve to >= 4 px, and the MLP G's bias
    from the data needs images and a sigmoid output. Restoration builds nets of its own."""
    from advnets.nets.dcgan import _image_shape, stages

    method, shape = METHODS.get(cfg.method), spec(cfg.data).shape
    if cfg.method.startswith("restoration"):
        return
    for which in (PLAYER_NETS[p] for p in method.players if p in PLAYER_NETS):
        if getattr(cfg.model, which).arch != "dcgan":
            continue
        pack = cfg.model.discriminator.pack if which == "discriminator" else 1
        packs = f" (model.discriminator.pack={pack}: packs of samples of shape {shape})"
        try:
            stages(_image_shape(shape)[1])
        except ConfigError as err:
            raise ConfigError(
                f"model.{which}.arch=dcgan on {cfg.data.name}: {err}" + (packs if pack > 1 else "")
            ) from None
    G = cfg.model.generator
    check(
        not G.output_bias_from_data or (G.arch == "mlp" and len(shape) == 3),
        "model.generator.output_bias_from_data is for MLP generators of images",
    )
    check(
        not G.output_bias_from_data or G.output == "sigmoid",
        "model.generator.output_bias_from_data needs a sigmoid output (model.generator.output)",
    )


def check_data_fits(cfg: Config) -> None:
    """The data's rules that its spec settles: labels for a conditional run, a
    labelled shift smaller than the images, an optimizer for every player."""
    entry, m, d = spec(cfg.data), cfg.model, cfg.data
    check(
        not m.num_classes or entry.classes,
        f"model.num_classes={m.num_classes} needs labelled data (mnist, fashion, cifar10, "
        "a folder of class subfolders); "
        f"{d.name} has no labels",
    )
    check(
        not m.num_classes or m.num_classes == entry.classes,
        f"model.num_classes={m.num_classes} but {d.name} has {entry.classes} classes; set "
        f"model.num_classes={entry.classes}",
    )
    size = "x".join(map(str, entry.shape[1:]))
    check(
        not entry.images or d.labelled_shift < min(entry.shape[1:]),
        f"data.labelled_shift={d.labelled_shift} must be smaller than the images ({size}); "
        "MNIST-sized digits take 1-3",
    )
    players = METHODS.get(cfg.method).players
    missing = [name for name in players if name not in cfg.optim]
    check(
        not missing,
        f"method {cfg.method} has players {', '.join(players)} but no "
        f"optim.{missing[0] if missing else ''} section; add one to the preset",
    )


def check_eval(cfg: Config) -> None:
    """The periodic evaluation scores what the method has: a classifier's accuracy, or
    samples of a generator that samples from noise."""
    t, method = cfg.train, METHODS.get(cfg.method)
    classifies = method.classifier_player is not None
    if not t.eval_every:
        return
    check(
        t.eval_metric != "accuracy" or classifies,
        f"train.eval_metric=accuracy needs a classifying method (sgan, improved-gan, "
        f"supervised), not {cfg.method}; choose another metric or train.eval_every=0",
    )
    check(
        t.eval_metric not in ("memorization", "precision-recall"),
        f"train.eval_metric={t.eval_metric} describes a finished run (advnets eval RUN "
        f"--metric {t.eval_metric}); choose fid or kid to pick best.pt while training",
    )
    by_accuracy = classifies and t.eval_metric in ("auto", "accuracy")
    check(
        by_accuracy or method.sample_player is not None,
        f"train.eval_metric={t.eval_metric} scores samples, and method {cfg.method} has no "
        "generator that samples from noise; set train.eval_every=0"
        + (" or train.eval_metric=accuracy" if classifies else ""),
    )
    metric, metrics = periodic_metric(cfg), spec(cfg.data).metrics
    check(
        metric == "accuracy" or metric in metrics,
        f"train.eval_metric={t.eval_metric} cannot score {cfg.data.name} samples; set "
        f"train.eval_every=0 or choose one of: {', '.join(metrics) or 'none'}",
    )


def periodic_metric(cfg: Config) -> str:
    """The periodic evaluation's metric: train.eval_metric, or for auto the accuracy of a
    classifying method, else the data set's default (its registry entry's first metric)."""
    t = cfg.train
    if t.eval_metric in ("auto", "accuracy") and METHODS.get(cfg.method).classifier_player:
        return "accuracy"
    metrics = spec(cfg.data).metrics
    return t.eval_metric if t.eval_metric != "auto" else (metrics[0] if metrics else "none")


def check_restore(r: RestoreConfig) -> None:
    """The corruption's settings: a negative noise or a mask as large as the image would
    silently destroy every picture, so each is refused with its key."""
    numbers = {
        "noise": r.noise,
        "blur": r.blur,
        "blur_noise": r.blur_noise,
        "mask_size": r.mask_size,
        "noise_max": r.noise_max,
    }
    for key, value in numbers.items():
        check(
            math.isfinite(value),
            f"restore.{key} must be a finite number, got {value}",
        )
    check(r.noise >= 0, f"restore.noise is a standard deviation: must be >= 0, got {r.noise}")
    check(r.blur > 0, f"restore.blur is the blur's std in pixels: must be > 0, got {r.blur}")
    check(r.blur_noise >= 0, f"restore.blur_noise must be >= 0, got {r.blur_noise}")
    check(
        0 < r.mask_size < 1,
        f"restore.mask_size is the hole's side per image side: must be in (0, 1), "
        f"got {r.mask_size}",
    )
    check(r.holes >= 1, f"restore.holes must be >= 1, got {r.holes}")
    check(r.crop >= 0, f"restore.crop must be >= 0 (0: whole images), got {r.crop}")
    check(
        r.noise_max == 0 or r.noise_max >= r.noise,
        f"restore.noise_max is the largest noise std drawn: 0 (off) or >= restore.noise "
        f"({r.noise:g}), got {r.noise_max}",
    )


def check_new_training(cfg: Config) -> None:
    """Rules for training from now on, not applied to the configs of saved runs (which are
    still sampled and scored): no training on the test images, and a periodic FID on more
    samples than its features."""
    from advnets.metrics.classifier import FEATURES

    check(
        cfg.data.split != "test",
        "data.split=test trains on the test images that score the run (advnets eval); "
        "use data.split=train (or full with train.eval_every=0)",
    )
    t = cfg.train
    check(
        not (t.eval_every and periodic_metric(cfg) == "fid" and t.eval_samples <= FEATURES),
        f"train.eval_samples={t.eval_samples}: FID needs more samples than the classifier's "
        f"{FEATURES} features; raise it, or set train.eval_metric=kid",
    )


def validate(cfg: Config, training: bool = True) -> None:
    """All of a config's checks; raises a one-line ConfigError naming the key. `training`:
    also the rules for a run about to train (off for a saved run's config)."""
    check_finite(cfg.to_dict())
    check_choices(cfg)
    check_data_and_model(cfg)
    for player, optim in cfg.optim.items():
        check_optim(optim, f"optim.{player}")
    check_train(cfg)
    check_data_fits(cfg)
    check_nets_fit_data(cfg)
    check_eval(cfg)
    check_restore(cfg.restore)
    if training:
        check_new_training(cfg)
    method = METHODS.get(cfg.method)
    method.options(cfg)  # the method's own options section, checked key by key
    method.check(cfg)
