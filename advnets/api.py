"""The Python API: train a run, load its generator, draw samples and score them.

    import advnets

    run = advnets.train("gan-ring", "runs/ring", overrides={"train.steps": 2000})
    x = advnets.sample("runs/ring", 1000, seed=0)         # float32 (1000, 2)
    advnets.evaluate("runs/ring")                         # {'modes': 8, 'high_quality': ...}
    advnets.evaluate(x, dataset="ring", n=1000)           # samples from anywhere

The `advnets` command line is built on the same functions (`advnets train/sample/eval`).
Torch and the training code are imported on first use, so `import advnets` stays light.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advnets.config import Config, apply_overrides, load_preset
from advnets.devices import resolve_device
from advnets.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import Tensor, nn

    from advnets.metrics.evaluate import EvalSettings
    from advnets.training import Run

PathLike = str | os.PathLike
Overrides = Sequence[str] | Mapping[str, Any]
LARGEST = 2**62  # no count or seed is larger (torch's generators take int64)


def whole_number(value: Any, name: str, least: int) -> int:
    """`value` as an int in [least, 2**62], else a one-line ConfigError naming `name`."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if value < least:
        raise ConfigError(f"{name} must be at least {least}, got {value}")
    if value > LARGEST:
        raise ConfigError(f"{name} must be at most 2**62, got {value}")
    return int(value)


def override_strings(overrides: Overrides | None) -> list[str]:
    """`section.key=value` strings from a list of them or a {"section.key": value} dict."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        raise ConfigError(
            f"overrides must be a list of 'section.key=value' strings or a dict, "
            f"got the string {overrides!r}; wrap it in a list"
        )
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    return [str(item) for item in overrides]


def resolve_config(cfg_or_preset: Config | PathLike, overrides: Overrides | None = None) -> Config:
    """A Config from a Config, a preset name or a .yaml path, with `overrides` applied."""
    items = override_strings(overrides)
    if isinstance(cfg_or_preset, Config):
        return apply_overrides(cfg_or_preset, items)
    if isinstance(cfg_or_preset, str | os.PathLike):
        return load_preset(os.fspath(cfg_or_preset), items)
    raise ConfigError(
        f"expected a Config or a preset name (see `advnets presets`), got "
        f"{type(cfg_or_preset).__name__}"
    )


def train(
    cfg_or_preset: Config | PathLike | None,
    run_dir: PathLike,
    *,
    overrides: Overrides | None = None,
    resume: bool = False,
) -> Run:
    """Train a Config or a preset (name or .yaml path) into `run_dir`; returns the Run.

    `overrides`: ["train.steps=200", ...] or {"train.steps": 200, ...}, applied after the
    preset. With `resume=True`, pass None as the config: the run saved in `run_dir`
    continues with its own config (override only train.* keys, e.g. a larger train.steps).
    A new run refuses a folder that already holds one."""
    from advnets.training import train as train_run

    items = override_strings(overrides)
    if resume:
        if cfg_or_preset is not None:
            raise ConfigError(
                "resume=True continues the run in run_dir with its own config: "
                "pass None as the config, and train.* keys as overrides"
            )
        return train_run(None, Path(run_dir), resume=True, overrides=items)
    if cfg_or_preset is None:
        raise ConfigError(
            "name a preset (see `advnets presets`) or a Config, or pass "
            "resume=True to continue the run in run_dir"
        )
    cfg = resolve_config(cfg_or_preset, items)
    return train_run(cfg, Path(run_dir))  # refuses a folder holding another run's files


def load_generator(
    run_dir: PathLike, device: str | torch.device = "cpu"
) -> tuple[nn.Module, Config]:
    """(G, cfg) of a run folder (or checkpoint file): the generator (its moving average where
    the run kept one) in eval mode on `device` ("cpu", "cuda" or "auto"), and the config it
    was trained with. G(z) takes z of shape (n, cfg.model.z_dim) from the run's prior
    (`advnets.sampling.draw_noise(cfg, n, seed)`); a conditional G also takes labels y.
    The whole run (every player, by role) comes from `advnets.runs.load_run`."""
    from advnets.runs import load_run

    run = load_run(run_dir, resolve_device(device))
    return run.sampler(), run.cfg


def sample(
    run_dir: PathLike,
    n: int,
    *,
    seed: int = 0,
    label: int | None = None,
    device: str | torch.device = "cpu",
    truncation: float | None = None,
) -> Tensor:
    """n samples of a run's generator as a float32 CPU Tensor (n, *data_shape), in the data
    range of its preset (e.g. [0, 1] images, points in the plane); the same as `advnets
    sample RUN --n n --seed seed`, which writes images on [0, 1] whatever the preset's range
    (`--range=LO,HI` for another). `label`: conditional runs only, every sample of that
    class (else uniform labels). `truncation`: psi in (0, 1] (default: the run's own)."""
    from advnets.sampling import check_finite, draw_samples, truncated

    n, seed = whole_number(n, "n", 1), whole_number(seed, "seed", 0)
    G, cfg = load_generator(run_dir, device)
    cfg = truncated(cfg, truncation, "truncation")
    return check_finite(draw_samples(G, cfg, n, seed, label))


def eval_settings(n: int | None = None, data_root: PathLike | None = None) -> EvalSettings:
    """The protocol's settings, with every metric's sample count set to `n` if given."""
    from advnets.metrics.evaluate import EvalSettings

    settings = EvalSettings(data_root=None if data_root is None else os.fspath(data_root))
    if n is not None:
        n = whole_number(n, "n (--n)", 2)
        settings.parzen_samples = settings.mode_samples = settings.fid_samples = n
        settings.stacked_samples = n
    return settings


def run_samples(
    run_dir: PathLike,
    settings: EvalSettings,
    seed: int = 0,
    device: str | torch.device = "cpu",
    truncation: float | None = None,
) -> tuple[Tensor, str, int]:
    """(samples, dataset, step) of a run for its metrics: as many draws as they need, images
    mapped onto [0, 1], checked, at the run's truncation psi unless `truncation` is given.
    Points `settings` at the run's data (its mixture, its data folder unless one is set)."""
    from advnets.data.registry import DATASETS
    from advnets.metrics.evaluate import check_samples, sample_count
    from advnets.runs import load_run
    from advnets.sampling import draw_samples, truncated

    run = load_run(run_dir, resolve_device(device))
    G, cfg = run.sampler(), truncated(run.cfg, truncation)
    settings.truncation = cfg.model.truncation
    dataset = cfg.data.name
    if DATASETS.get(dataset).mixture is not None:
        settings.toy = cfg.data
    settings.data = cfg.data
    settings.data_root = settings.data_root or cfg.data.root
    settings.trained_on = cfg.data.split
    samples = draw_samples(G, cfg, sample_count(dataset, settings), seed)
    lo, hi = cfg.data.value_range
    if samples.ndim == 4 and (lo, hi) != (0.0, 1.0):
        samples = (samples - lo) / (hi - lo)  # the metrics' images are on [0, 1]
    return check_samples(samples, dataset, settings), dataset, run.step


def score_samples(
    samples: Tensor, dataset: str, metric: str, settings: EvalSettings
) -> dict[str, dict[str, Any]]:
    """{metric name: its scores} for checked samples: `metric`, or with "all" every metric
    that applies to `dataset` (Parzen, FID, KID for images; modes for mixtures)."""
    from advnets.metrics.evaluate import METRICS, metrics_for

    if metric != "all" and metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}, all")
    names = metrics_for(dataset, settings) if metric == "all" else [metric]
    if dataset == "folder":
        names = _folder_metrics(names, metric, settings)
    return {name: METRICS[name](samples, dataset, settings) for name in names}


def _folder_metrics(names: list[str], metric: str, settings: EvalSettings) -> list[str]:
    """The metrics that can score a folder run: `all` keeps those its held-out pictures
    suffice for (saying which it leaves out); one metric named is checked."""
    from advnets.errors import DataError
    from advnets.metrics.evaluate import metrics_for
    from advnets.metrics.folder import check_reference

    if not set(names) <= set(metrics_for("folder", settings)):
        raise ConfigError(
            f"{metric} cannot score samples of your own pictures; choose one of: "
            f"{', '.join(metrics_for('folder', settings))}"
        )
    kept = []
    for name in names:
        try:
            check_reference(name, settings)
            kept.append(name)
        except DataError as err:
            if metric != "all":
                raise
            print(f"advnets: note: {err}", file=sys.stderr)
    if not kept:
        raise DataError("no metric can score this run: its folder holds too few held-out pictures")
    return kept


def evaluate(
    run_or_samples: PathLike | Tensor | np.ndarray,
    *,
    dataset: str | None = None,
    metric: str = "all",
    n: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    data_root: PathLike | None = None,
) -> dict[str, Any]:
    """Scores, as one flat dict (e.g. {"modes": 8, "high_quality": 0.9, ...}), like
    `advnets eval` (which also appends them to the run's metrics.jsonl; this does not).

    A run folder (or checkpoint file) is scored on samples drawn from its generator (noise
    seed `seed`, on `device`), against its own data set. A Tensor or array of samples needs
    `dataset` (mnist, fashion, stacked-mnist: images on [0, 1]; ring, grid: points).
    `n`: samples scored (default: the protocol's, e.g. 2,500 for modes, 10,000 for Parzen)."""
    from advnets.metrics.evaluate import check_samples, scorable

    settings = eval_settings(n, data_root)
    seed = whole_number(seed, "seed", 0)
    if isinstance(run_or_samples, str | os.PathLike):
        samples, run_dataset, _ = run_samples(run_or_samples, settings, seed, device)
        if dataset is not None and dataset != run_dataset:
            raise ConfigError(
                f"{run_or_samples} is a run on {run_dataset}, not {dataset}; "
                f"leave dataset out for a run"
            )
        dataset = run_dataset
    else:
        if dataset is None:
            hint = ", ".join(scorable())
            raise ConfigError(
                f"scoring samples needs dataset= ({hint}); a run folder knows its own"
            )
        samples = check_samples(run_or_samples, dataset)
    rows = score_samples(samples, dataset, metric, settings)
    return {key: value for row in rows.values() for key, value in row.items()}
