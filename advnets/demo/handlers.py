"""What each tab of the demo page does, as plain functions of a loaded run and the page's
inputs (testable without a server). They return pictures as uint8 arrays and files in the
outbox, and raise a one-line AdvnetsError for anything a visitor can get wrong."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from torch import Tensor

from advnets.config import Config
from advnets.demo.runs import DemoRun, calibration
from advnets.demo.uploads import Outbox, fit_image, read_drawing, read_upload
from advnets.errors import ConfigError
from advnets.viz import LABEL_HEIGHT, image_grid, numbered_grid, zoom

MAX_SAMPLES = 256  # a generate request's n
MAX_STEPS = 64  # a walk's steps
PICK_GRID = 16  # the numbered grid a walk's ends are picked from (4 x 4)
ARITHMETIC_GRID = 36  # the numbered grid arithmetic's A, B and C are picked from (6 x 6)
CELL_PIXELS = 64  # small images are zoomed to about this side in the page


def whole(value: object, name: str, least: int, most: int) -> int:
    """A number field of the page as an int in [least, most], else one line naming it."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not least <= value <= most:
        raise ConfigError(f"{name} must be between {least} and {most:,}, got {value}")
    return int(value)


def _seed(value: object) -> int:
    return whole(value, "the seed", 0, 2**62)


def _generator(run: DemoRun) -> None:
    if run.G is None:
        raise ConfigError(f"{run.name} has no generator that samples from noise")


def _image_run(run: DemoRun) -> None:
    """Latent-space pictures (walks, arithmetic) need an unconditional image generator."""
    _generator(run)
    if not run.unconditional_images:
        kind = "conditional" if run.conditional else "a toy (points) run"
        raise ConfigError(
            f"{run.name} is {kind}; walks and arithmetic need an unconditional image run"
        )


def zoom_factor(images: Tensor) -> int:
    return max(1, min(8, CELL_PIXELS // max(images.shape[-2:])))


def picture(images: Tensor, run: DemoRun, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Images in the run's value range as one zoomed uint8 mosaic."""
    return image_grid(zoom(images, zoom_factor(images)), tuple(run.cfg.data.value_range), nrow, pad)


def unit_range(images: Tensor, run: DemoRun) -> Tensor:
    lo, hi = run.cfg.data.value_range
    return ((images - lo) / (hi - lo)).clamp(0, 1)


def class_names(run: DemoRun) -> list[str]:
    """The class names of a run's data (numbers where it has none)."""
    from advnets.data.registry import spec

    names = list(spec(run.cfg.data).class_names)
    return names or [str(i) for i in range(run.cfg.model.num_classes)]


def _label(run: DemoRun, name: str | None) -> int | None:
    if not name or not run.conditional:
        return None
    names = class_names(run)
    if name not in names:
        raise ConfigError(
            f"{name!r} is not a class of {run.name}; choose one of: {', '.join(names)}"
        )
    return names.index(name)


def draw(
    run: DemoRun, cfg: Config, n: int, seed: int, keep: float, label: int | None
) -> tuple[Tensor, int]:
    """n samples (and the grid's row length): all of class `label`, or for a conditional run
    without one a row per class; `keep` < 1 keeps the draws with the smallest Jacobian; z
    drawn as `cfg` (the run's, perhaps at another truncation psi) says."""
    from advnets.sampling import class_grid, draw_samples
    from advnets.truncation import draw_truncated

    if run.conditional and label is None and keep == 1.0:
        per_class = max(1, round(n / cfg.model.num_classes))
        return class_grid(run.G, cfg, per_class, seed), per_class
    if keep < 1.0:
        cal = calibration(run, label, cfg)
        return draw_truncated(run.G, cfg, n, keep, seed, label, cal), math.ceil(math.sqrt(n))
    return draw_samples(run.G, cfg, n, seed, label), math.ceil(math.sqrt(n))


def truncation(run: DemoRun) -> float:
    """The run's own truncation psi (1 where it has no generator)."""
    return run.cfg.model.truncation if run.G is not None else 1.0


def generate(
    run: DemoRun,
    seed: object,
    n: object,
    keep: float,
    label: str | None,
    outbox: Outbox,
    psi: object = None,
) -> tuple[np.ndarray, str, str]:
    """(a grid of n samples, its PNG, the samples as .npy: images on [0, 1], points as
    drawn) for seed `seed`; `keep` (0, 1] is the Jacobian truncation's kept fraction, `psi`
    (0, 1] the truncation trick's (None: the run's own)."""
    from advnets.sampling import check_finite, truncated

    _generator(run)
    n, seed = whole(n, "n", 1, MAX_SAMPLES), _seed(seed)
    if not 0.0 < float(keep) <= 1.0:
        raise ConfigError(f"the kept fraction must be in (0, 1], got {keep}")
    cfg = truncated(run.cfg, psi, "psi")
    with torch.no_grad():
        x, nrow = draw(run, cfg, n, seed, float(keep), _label(run, label))
    check_finite(x)
    stem = f"{run.name}-seed{seed}"
    if not run.images:
        path = outbox.path(stem, ".png")
        from advnets.viz import save_points_plot

        save_points_plot(x, path, title=f"{run.name}, seed {seed}")
        from PIL import Image

        grid = np.asarray(Image.open(path).convert("RGB"))
        return grid, str(path), outbox.npy(x.numpy().astype(np.float32), stem)
    grid = picture(x, run, nrow)
    return grid, outbox.png(grid, stem), outbox.npy(unit_range(x, run).numpy(), stem)


def pick_grid(run: DemoRun, seed: object, n: int = PICK_GRID) -> np.ndarray:
    """The numbered grid of n samples (seed `seed`) that walk and arithmetic pick from."""
    from advnets.latent import candidates

    _image_run(run)
    _, images = candidates(run.G, run.cfg, n, _seed(seed))
    nrow = math.ceil(math.sqrt(n))
    return numbered_grid(zoom(images, zoom_factor(images)), tuple(run.cfg.data.value_range), nrow)


def clicked_index(run: DemoRun, x: int, y: int, n: int = PICK_GRID, pad: int = 2) -> int:
    """The sample of a numbered grid of n under the pixel (x, y) clicked; ConfigError
    between cells."""
    c, h, w = run_shape(run)
    f = max(1, min(8, CELL_PIXELS // max(h, w)))
    nrow = math.ceil(math.sqrt(n))
    col, row = (x - pad) // (w * f + pad), (y - pad) // (h * f + LABEL_HEIGHT + pad)
    index = row * nrow + col
    if x < pad or y < pad or not 0 <= col < nrow or not 0 <= index < n:
        raise ConfigError("click on one of the numbered samples")
    return int(index)


def run_shape(run: DemoRun) -> tuple[int, ...]:
    from advnets.data.registry import spec

    return tuple(spec(run.cfg.data).shape)


def walk(
    run: DemoRun,
    ends: tuple[object, object, object, object],
    mode: str,
    steps: object,
    outbox: Outbox,
) -> tuple[np.ndarray, str]:
    """(a strip of G along the path between two samples, a GIF of it): each end is sample
    `index` of the numbered grid of PICK_GRID with seed `seed`; ends = (seed_a, index_a,
    seed_b, index_b); mode linear or slerp."""
    from advnets.latent import candidate_noise, interpolation_images

    _image_run(run)
    steps = whole(steps, "steps", 2, MAX_STEPS)
    seed_a, seed_b = _seed(ends[0]), _seed(ends[2])
    i_a = whole(ends[1], "the first sample", 0, PICK_GRID - 1)
    i_b = whole(ends[3], "the second sample", 0, PICK_GRID - 1)
    z_a = candidate_noise(run.cfg, PICK_GRID, seed_a)[i_a : i_a + 1]
    z_b = candidate_noise(run.cfg, PICK_GRID, seed_b)[i_b : i_b + 1]
    images = interpolation_images(run.G, z_a, z_b, steps, mode)
    frames = [picture(image[None], run, pad=0) for image in images]
    return picture(images, run, nrow=steps), outbox.gif(frames, f"{run.name}-walk")


def _indices(text: str, name: str, n: int) -> list[int]:
    """'3, 17 22' -> [3, 17, 22], each a sample of the numbered grid of n."""
    try:
        picks = [int(part) for part in str(text).replace(" ", ",").split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"{name} takes sample numbers like 3, 17, 22; got {text!r}") from None
    if not picks:
        raise ConfigError(f"{name} is empty; pick at least one sample from the numbered grid")
    bad = [i for i in picks if not 0 <= i < n]
    if bad:
        raise ConfigError(
            f"{name}: there is no sample {bad[0]}; the grid's are numbered 0 to {n - 1}"
        )
    return picks


def arithmetic(run: DemoRun, seed: object, a: str, b: str, c: str) -> np.ndarray:
    """DCGAN's Figure 7 for the samples picked (by number) from the numbered grid of
    ARITHMETIC_GRID with seed `seed`: mean z_A - mean z_B + mean z_C, decoded."""
    from advnets.latent import vector_arithmetic
    from advnets.viz import arithmetic_grid

    _image_run(run)
    picks = [_indices(t, k, ARITHMETIC_GRID) for t, k in ((a, "A"), (b, "B"), (c, "C"))]
    out = vector_arithmetic(run.G, run.cfg, *picks, grid=ARITHMETIC_GRID, seed=_seed(seed))
    f = zoom_factor(out.means)
    return arithmetic_grid(
        [zoom(p, f) for p in out.picks],
        zoom(out.means, f),
        zoom(out.result, f),
        zoom(out.neighbours, f),
        tuple(run.cfg.data.value_range),
    )


def probabilities(run: DemoRun, x: Tensor) -> dict[str, float]:
    """softmax over D's first `classes` logits (an SGAN D's last one is "generated")."""
    names = class_names(run)
    with torch.no_grad():
        logits = run.D(x.to(next(run.D.parameters()).device))[:, : len(names)]
    p = torch.softmax(logits.double().cpu(), dim=1)[0]
    return {name: float(v) for name, v in zip(names, p, strict=True)}


def run_input(run: DemoRun, upload: str | None, drawing: object, invert: bool) -> Tensor:
    """A drawing (preferred when there is one) or an uploaded picture in the run's layout
    and value range, (1, C, H, W)."""
    from advnets.data import to_range

    x = read_drawing(drawing)
    x = read_upload(upload, "the picture") if x is None else x
    return to_range(fit_image(x, run_shape(run), invert), tuple(run.cfg.data.value_range))


def classify(
    run: DemoRun, upload: str | None, drawing: object, invert: bool = False
) -> tuple[dict[str, float], np.ndarray]:
    """(D's class probabilities, the picture as D saw it) for a drawing or an upload."""
    if run.D is None:
        raise ConfigError(f"{run.name} has no classifier (semi-supervised and CatGAN runs do)")
    x = run_input(run, upload, drawing, invert)
    return probabilities(run, x), picture(x, run)


def reconstruct(run: DemoRun, upload: str | None, invert: bool = False) -> tuple[np.ndarray, float]:
    """(the picture in the run's layout beside its reconstruction G(E(x)), their PSNR)."""
    from advnets.reconstruction import psnr
    from advnets.reconstruction import reconstruct as encode_decode

    if run.E is None:
        raise ConfigError(f"{run.name} has no encoder (VAE and VAE/GAN runs do)")
    x = run_input(run, upload, None, invert)
    y = encode_decode(run.E, run.G, x)
    return picture(torch.cat([x, y]), run, nrow=2), float(
        psnr(unit_range(x, run), unit_range(y, run))
    )
