"""The runs a demo page shows: each folder loaded once at start-up, read-only, into the nets
its tabs need (a generator, a classifier, an encoder, a restorer), by what its method has."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from advnets.config import Config
from advnets.errors import AdvnetsError, ConfigError

CALIBRATION_DRAWS = 1000  # draws whose Jacobian norms set a truncation threshold
WATCHED_FILES = ("metrics.jsonl", "samples", "config.yaml")  # a run still training has these


@dataclass
class DemoRun:
    """One run folder as the page knows it. Nets are in eval mode on the demo's device; a
    folder with no checkpoint yet (a run still training) is only watched."""

    name: str  # shown in the page; the only way the page names a run (never a path)
    folder: Path
    cfg: Config | None = None
    G: nn.Module | None = None  # samples from noise
    D: nn.Module | None = None  # classifies (semi-supervised runs)
    E: nn.Module | None = None  # encodes (VAE and VAE/GAN runs)
    restorer: object | None = None  # a restoration run's G, as a Restorer
    images: bool = False  # G makes images (not points)
    calibrations: dict = field(default_factory=dict)  # Jacobian norms per (class, psi), made once
    curves: tuple = ()  # (metrics.jsonl's size and time, the picture of its curves)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def conditional(self) -> bool:
        return bool(self.cfg is not None and self.cfg.model.num_classes)

    @property
    def unconditional_images(self) -> bool:
        return self.G is not None and self.images and not self.conditional

    @property
    def task(self) -> str | None:
        return self.cfg.restore.task if self.restorer is not None else None


def load_demo_run(folder: Path, name: str, device: torch.device) -> DemoRun:
    """The nets of one run folder (loaded once, by `advnets.runs.load_run`), or a watched
    folder without a checkpoint yet; a one-line AdvnetsError for anything else."""
    from advnets.checkpoint import checkpoint_path
    from advnets.restore import from_generator
    from advnets.runs import load_run

    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder; give the run folders written by advnets train")
    if not checkpoint_path(folder).is_file():
        if not any((folder / f).exists() for f in WATCHED_FILES):
            raise ConfigError(f"{folder}: holds no run (no checkpoint.pt or metrics.jsonl)")
        return DemoRun(name, folder)
    loaded = load_run(folder, device)
    run, method = DemoRun(name, folder, loaded.cfg), loaded.method
    run.images = len(loaded.data_shape) == 3
    if method.sample_player is not None:
        run.G = loaded.sampler()
    if method.classifier_player is not None:
        run.D = loaded.classifier()
    if method.encoder_player is not None:
        run.E = loaded.encoder()
    if method.restorer_player is not None:
        run.restorer = from_generator(loaded.restorer(), loaded.data_shape[0])
    return run


def load_runs(folders: list[Path], device: torch.device) -> tuple[list[DemoRun], list[str]]:
    """The runs that load, each named by its folder (made unique), and one line for each
    folder that does not (the others are still served)."""
    runs, problems, names = [], [], set()
    for folder in folders:
        name = folder.resolve().name or str(folder)
        k = 2
        while name in names:
            name, k = f"{folder.resolve().name} ({k})", k + 1
        try:
            run = load_demo_run(folder, name, device)
        except AdvnetsError as err:
            problems.append(f"{folder}: skipped: {err}")
            continue
        except (OSError, RuntimeError, KeyError, TypeError, ValueError) as err:
            problems.append(f"{folder}: skipped: cannot load ({type(err).__name__}: {err})")
            continue
        names.add(name)
        runs.append(run)
    return runs, problems


def calibration(run: DemoRun, label: int | None, cfg: Config | None = None) -> Tensor:
    """The Jacobian norms that set a truncation threshold for `run` (of class `label`, z
    drawn as `cfg` says: the run's own by default): CALIBRATION_DRAWS draws of their own
    (fewer than `advnets sample --jacobian-keep` uses, so the page answers in seconds),
    computed on the first request and kept."""
    from advnets.sampling import draw_labels, draw_noise
    from advnets.truncation import CALIBRATION_SEED_OFFSET, jacobian_norms

    cfg = cfg or run.cfg
    key = (label, cfg.model.truncation)
    with run.lock:
        if key not in run.calibrations:
            seed, n = CALIBRATION_SEED_OFFSET, CALIBRATION_DRAWS
            z, y = draw_noise(cfg, n, seed), draw_labels(cfg, n, seed, label)
            norms = jacobian_norms(run.G, z, y)
            if not torch.isfinite(norms).all():
                raise ConfigError(f"{run.name}: G's Jacobian is not finite; truncation is off")
            run.calibrations[key] = norms
        return run.calibrations[key]
