"""Shape flows from the data to the config to the nets: `with_images` puts a user's folder
in a preset's place, and `resolve` records what the data reports (channels, size, class
names; a conditional model's classes) in the config before the run is built, so the run's
config.yaml and checkpoint describe its data and no reader looks at the pictures again."""

import dataclasses
from pathlib import Path

from advnets.config import Config
from advnets.data.registry import FOLDER, FOLDER_METRICS, spec
from advnets.errors import ConfigError


def parse_size(text: str) -> list[int]:
    """`--size N` (square) or `--size HxW` as [H, W]."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        size = [int(p) for p in parts]
    except ValueError:
        size = []
    if len(size) == 1:
        size *= 2
    if len(size) != 2 or min(size) < 1:
        raise ConfigError(f"--size {text}: give N (N x N pixels) or HxW, each >= 1 (e.g. 64)")
    return size


def with_images(cfg: Config, path: str, size: list[int] | None = None) -> Config:
    """The preset `cfg` trained on the pictures at `path` (a folder or a .npy/.npz array):
    its method, nets, losses and optimisers kept, its data swapped. Without `size`, the
    preset's own image size."""
    own = spec(cfg.data)
    if not own.images:
        raise ConfigError(
            f"--images swaps the images of an image preset; this preset's data "
            f"({cfg.data.name}) are not images (try dcgan-mnist)"
        )
    if not Path(path).expanduser().exists():
        raise ConfigError(f"--images {path}: no such folder or file")
    split = cfg.data.split if cfg.data.split in ("train", "full") else "train"
    data = dataclasses.replace(
        cfg.data,
        name=FOLDER,
        path=str(Path(path).expanduser().resolve()),
        image_size=list(size or own.shape[1:]),
        class_names=[],
        split=split,
    )
    train = cfg.train
    if train.eval_metric not in ("auto", "accuracy", *FOLDER_METRICS):
        train = dataclasses.replace(train, eval_metric="auto")  # the preset's data set's metric
    return dataclasses.replace(cfg, data=data, train=train)


def resolve(cfg: Config, progress: bool = True) -> Config:
    """`cfg` with its data's facts recorded: for a folder, its channels, size and class
    names (preparing the folder's cache if needed), and a conditional model's number of
    classes. Built-in data sets describe themselves already and pass unchanged."""
    if cfg.data.name != FOLDER:
        return cfg
    from advnets.data.folder import prepare

    d = cfg.data
    if not d.path:
        raise ConfigError("data.name=folder needs data.path (train ... --images DIR)")
    if len(d.image_size) != 2:
        raise ConfigError(f"data.image_size must be [H, W] (e.g. --size 64), got {d.image_size}")
    progress = progress and cfg.train.progress
    found = prepare(d.path, tuple(d.image_size), d.channels, d.cache, progress)
    if found.built:
        print(summary(d.path, found))
    if d.class_names and d.class_names != found.class_names:
        raise ConfigError(
            f"{d.path}: the folder's classes are now {found.class_names}, the run was "
            f"started with {d.class_names}; train a new run on the changed folder"
        )
    data = dataclasses.replace(
        d, channels=int(found.images.shape[1]), class_names=list(found.class_names)
    )
    _check_held_out(dataclasses.replace(cfg, data=data), found)
    model = cfg.model
    if model.num_classes:
        if found.classes < 2:
            raise ConfigError(
                f"method {cfg.method} with a conditional model needs labelled pictures: put "
                f"each class in its own subfolder of {d.path}"
            )
        model = dataclasses.replace(model, num_classes=found.classes)
    return dataclasses.replace(cfg, data=data, model=model)


def _check_held_out(cfg: Config, found) -> None:
    """A periodic score needs enough held-out pictures (FID: more than 128): refused
    before the run folder is made, not after its first steps."""
    from advnets.data.folder import held_out
    from advnets.metrics.folder import LEAST_REFERENCE
    from advnets.validation import periodic_metric

    metric = periodic_metric(cfg)
    if not cfg.train.eval_every or metric not in LEAST_REFERENCE:
        return
    n = int(held_out(found.labels, cfg.data.valid_fraction, cfg.data.split_seed).sum())
    if n < LEAST_REFERENCE[metric]:
        raise ConfigError(
            f"train.eval_metric={metric} needs at least {LEAST_REFERENCE[metric]} held-out "
            f"pictures and this folder holds {n}; raise data.valid_fraction, choose kid, or "
            "set train.eval_every=0"
        )


def summary(path: str, found) -> str:
    """What preparing a folder found, in one line (and the first files skipped)."""
    n, c, h, w = found.images.shape
    classes = f"{found.classes} classes ({', '.join(found.class_names[:5])}" + (
        ", ...)" if found.classes > 5 else ")"
    )
    line = f"{path}: {n} images at {h}x{w}, {c} channel{'s' if c > 1 else ''}, "
    line += classes if found.classes else "unlabelled"
    if found.skipped:
        first = ", ".join(found.skipped[:3])
        line += f"; skipped {len(found.skipped)} unreadable file(s): {first}"
        line += ", ..." if len(found.skipped) > 3 else ""
    return line + f"; cache {found.cache}"
