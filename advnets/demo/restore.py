"""The Restore tab: an uploaded photo restored by a generator (the one shipped for the task,
or a restoration run's) beside the classical methods, with PSNR and SSIM against a clean
original when there is one (the photo itself when the page corrupts it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from advnets.data.corruptions import TASKS, Degraded, degrade
from advnets.demo.runs import DemoRun
from advnets.demo.uploads import fit_image, read_drawing, read_upload
from advnets.errors import ConfigError, DataError

SHIPPED = "shipped G (CIFAR-10)"
MAX_RESTORE_PIXELS = 512 * 512  # a photo's width x height: the classical methods are slow
Panel = tuple[np.ndarray, str]


class Shipped:
    """The generators shipped with the package, each loaded on its first use and kept."""

    def __init__(self, device: torch.device) -> None:
        self.device, self._loaded, self._lock = device, {}, threading.Lock()

    def __call__(self, task: str):
        from advnets.restore import load_shipped

        with self._lock:
            if task not in self._loaded:
                self._loaded[task] = load_shipped(task, self.device)
            return self._loaded[task]


def restorer_names(task: str, runs: list[DemoRun]) -> list[str]:
    """The generators that restore `task`: the shipped one and the runs trained for it."""
    return [SHIPPED, *(run.name for run in runs if run.task == task)]


def classical_names(task: str) -> list[str]:
    from advnets.restore import baselines_for

    return [name for name in baselines_for(task) if name != "input"]


def _mask(drawing: object, x: Tensor) -> Tensor:
    """The drawn mask (1 = missing) at the photo's size, for inpainting an already
    corrupted photo."""
    from advnets.cli_restore import check_known_pixels

    ink = read_drawing(drawing)
    if ink is None:
        raise ConfigError("inpaint: paint the missing region on the mask pad first")
    size = tuple(x.shape[-2:])
    mask = (torch.nn.functional.interpolate(ink, size=size, mode="nearest") > 0.5).float()
    check_known_pixels(mask, "the drawn mask", "leave some of the photo unpainted")
    if not mask.any():
        raise ConfigError("inpaint: the drawn mask marks no pixel of the photo missing")
    return mask


def corrupted_input(task: str, x: Tensor, clean_photo: bool, drawing: object, settings):
    """(the Degraded a restorer sees, the clean photo or None): the photo corrupted here as
    the task's training inputs were (seed 0), or taken as already corrupted."""
    if clean_photo:
        scale = TASKS.get(task).scale
        h, w = (s - s % scale for s in x.shape[-2:])
        if min(h, w) < 8:
            raise DataError(f"the photo is {x.shape[-1]}x{x.shape[-2]}; give one at least 8x8")
        x = x[..., :h, :w]
        return degrade(x, settings, torch.Generator().manual_seed(0)), x
    if TASKS.get(task).masked:
        mask = _mask(drawing, x)
        return Degraded(x * (1 - mask), mask), None
    return Degraded(x), None


def _run_restorer(name: str, task: str, runs: list[DemoRun], shipped: Callable):
    """(restorer, its restore settings) of the generator named in the page."""
    if name == SHIPPED:
        restorer, cfg = shipped(task)
        return restorer, cfg.restore
    for run in runs:
        if run.name == name and run.task == task:
            return run.restorer, run.cfg.restore
    raise ConfigError(
        f"{name!r} does not restore {task}; choose one of: {', '.join(restorer_names(task, runs))}"
    )


def score_rows(clean: Tensor, outputs: list[tuple[str, Tensor, float]]) -> list[list]:
    """[restorer, PSNR dB, SSIM, ms] for each restoration of the clean original."""
    from advnets.reconstruction import psnr
    from advnets.restore.evaluate import ssim

    rows = []
    for name, y, ms in outputs:
        if y.shape[-2:] != clean.shape[-2:]:
            raise DataError(
                f"the clean original is {clean.shape[-1]}x{clean.shape[-2]} but {name} gives "
                f"{y.shape[-1]}x{y.shape[-2]}; upload the original of this photo"
            )
        target = fit_image(clean, tuple(y.shape[1:]))
        rows.append(
            [name, round(float(psnr(target, y)), 2), round(float(ssim(target, y)), 4), round(ms)]
        )
    return rows


def restore(
    task: str,
    inputs: tuple[str | None, bool, str | None, object],
    generator: str,
    methods: list[str],
    runs: list[DemoRun],
    shipped: Callable,
) -> tuple[list[Panel], list[list]]:
    """(pictures with captions: the corrupted input, each restoration, the original; the
    PSNR/SSIM table, empty without an original). inputs = (photo upload, whether the page
    corrupts it, optional clean original upload, drawn mask for inpainting)."""
    from advnets.restore import classical

    photo, clean_photo, original, drawing = inputs
    TASKS.get(task)
    x = read_upload(photo, "the photo", max_pixels=MAX_RESTORE_PIXELS)
    restorer, s = _run_restorer(generator, task, runs, shipped)
    d, clean = corrupted_input(task, x, clean_photo, drawing, s)
    if clean is None and original:
        clean = read_upload(original, "the clean original", max_pixels=4 * 4 * MAX_RESTORE_PIXELS)
    unknown = sorted(set(methods) - set(classical_names(task)))
    if unknown:
        raise ConfigError(
            f"{unknown[0]} does not do {task}; choose from: {', '.join(classical_names(task))}"
        )
    outputs = []
    for name, fn in [(generator, restorer), *((m, classical(m, s)) for m in methods)]:
        start = time.perf_counter()
        outputs.append((name, fn(d).clamp(0, 1), 1000 * (time.perf_counter() - start)))
    panels = [(_pixels(d.image), "corrupted input")]
    panels += [(_pixels(y), name) for name, y, _ in outputs]
    if clean is None:
        return panels, []
    return [*panels, (_pixels(clean), "clean original")], score_rows(clean, outputs)


def _pixels(x: Tensor) -> np.ndarray:
    """One image on [0, 1] as uint8 (H, W) or (H, W, 3)."""
    p = (x[0].clamp(0, 1) * 255).round().byte()
    return p[0].numpy() if len(p) == 1 else p.permute(1, 2, 0).numpy()
