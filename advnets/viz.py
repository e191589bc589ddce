"""Pictures: image grids (Pillow), toy-data plots, latent-space figures, training curves, GIFs."""

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from advnets.errors import CheckpointError, ConfigError, DataError
from advnets.files import save_figure, save_image


def check_drawable(images: Tensor, value_range: tuple[float, float]) -> None:
    """Images a picture can show: (N, C, H, W) with N >= 1, C = 1 (grey) or 3 (RGB), every
    pixel finite (NaN would come out black), in a value range of positive width."""
    if images.ndim != 4 or len(images) == 0 or images.shape[1] not in (1, 3):
        raise DataError(
            f"a picture needs at least one image of shape (C, H, W) with C = 1 (grey) or 3 "
            f"(RGB); got an array of shape {tuple(images.shape)}: write a .npy instead"
        )
    lo, hi = value_range
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ConfigError(
            f"a picture maps the value range [{lo}, {hi}] onto black..white, which needs "
            f"low < high; set data.value_range to the images' [low, high]"
        )
    bad = int((~torch.isfinite(images.detach())).flatten(1).any(1).sum())
    if bad:
        raise DataError(
            f"{bad} of the {len(images)} images hold NaN or Inf pixels, which a picture "
            f"would show as black; the generator diverged: resume from an earlier checkpoint"
        )


def image_grid(
    images: Tensor, value_range: tuple[float, float], nrow: int | None = None, pad: int = 2
) -> np.ndarray:
    """(N, C, H, W) images in `value_range` -> one uint8 (rows, cols[, 3]) mosaic; refuses
    what a picture cannot show (`check_drawable`)."""
    check_drawable(images, value_range)
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    lo, hi = value_range
    x = ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1)
    canvas = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i in range(n):
        r, q = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        canvas[:, top : top + h, left : left + w] = x[i]
    out = (canvas * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return out[..., 0] if c == 1 else out


def save_image_grid(
    images: Tensor, path: Path, value_range: tuple[float, float], nrow: int | None = None
) -> Path:
    return save_image(image_grid(images, value_range, nrow), path)


def save_points_plot(
    samples: Tensor, path: Path, modes: Tensor | None = None, title: str = ""
) -> Path:
    """A histogram (1-D) or scatter plot (2-D) of samples, with the data's modes marked."""
    if samples.ndim != 2 or len(samples) == 0 or samples.shape[1] not in (1, 2):
        raise DataError(
            f"a plot of points needs at least one sample of 1 or 2 numbers; got an array of "
            f"shape {tuple(samples.shape)}: write a .npy instead"
        )
    if not torch.isfinite(samples.detach()).all():
        raise DataError(
            "some samples are NaN or Inf, which a plot would leave out; the generator "
            "diverged: resume from an earlier checkpoint"
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    s = samples.detach().float().cpu().numpy()
    if s.shape[1] == 1:
        ax.hist(s[:, 0], bins=60, density=True, alpha=0.6, color="g", label="G(z)")
        if modes is not None:
            for x in modes.cpu().numpy()[:, 0]:
                ax.axvline(x, color="k", linestyle="--", label="data mode")
        ax.legend(loc="upper right")
    else:
        ax.scatter(s[:, 0], s[:, 1], s=2, c="g", alpha=0.6, label="G(z)")
        if modes is not None:
            r = modes.cpu().numpy()
            ax.scatter(r[:, 0], r[:, 1], s=30, c="k", marker="x", label="data modes")
        ax.set_aspect("equal")
    ax.set_title(title)
    fig.tight_layout()
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


# --- latent-space pictures (advnets interpolate / arithmetic) ---------------------------------

LABEL_HEIGHT = 12  # pixels of the text strip under each numbered cell and above each GIF frame


def zoom(images: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour upscaling of (N, C, H, W) images by an integer factor."""
    if factor == 1:
        return images
    return images.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)


def _draw_text(grid: np.ndarray, texts: list[tuple[int, int, str]], size: int = 10) -> np.ndarray:
    """Black text at (left, top) pixel positions on a uint8 mosaic, in Pillow's default font
    (at `size` pixels where Pillow has FreeType, else its fixed bitmap font)."""
    from PIL import ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType
        font = ImageFont.load_default()
    picture = Image.fromarray(grid)
    draw = ImageDraw.Draw(picture)
    ink = 0 if picture.mode == "L" else (0, 0, 0)
    for left, top, text in texts:
        draw.text((left, top), text, fill=ink, font=font)
    return np.asarray(picture)


def numbered_grid(
    images: Tensor, value_range: tuple[float, float], nrow: int | None = None, pad: int = 2
) -> np.ndarray:
    """`image_grid` with each image's index (row-major, from 0) written in a strip under it."""
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    strip = torch.full((n, c, LABEL_HEIGHT, w), value_range[1], dtype=images.dtype)
    grid = image_grid(torch.cat([images, strip], dim=2), value_range, nrow, pad)
    cell_h = h + LABEL_HEIGHT + pad
    return _draw_text(
        grid,
        [
            (pad + (i % nrow) * (w + pad) + 1, pad + (i // nrow) * cell_h + h, str(i))
            for i in range(n)
        ],
    )


def labelled_rows(
    rows: list[Tensor],
    labels: list[str],
    value_range: tuple[float, float],
    label_width: int = 72,
    pad: int = 2,
) -> np.ndarray:
    """One row of images per label (each (N, C, H, W), N equal), the label written at the
    left of its row: a comparison picture of several models' samples."""
    _, c, h, w = rows[0].shape
    grid = image_grid(torch.cat(rows), value_range, nrow=len(rows[0]), pad=pad)
    margin = np.full((grid.shape[0], label_width, *grid.shape[2:]), 255, dtype=np.uint8)
    grid = np.concatenate([margin, grid], axis=1)
    size = max(10, min(14, h // 2))
    return _draw_text(
        grid,
        [(pad, pad + r * (h + pad) + (h - size) // 2, text) for r, text in enumerate(labels)],
        size,
    )


def arithmetic_grid(
    picks: list[Tensor],
    means: Tensor,
    result: Tensor,
    neighbours: Tensor,
    value_range: tuple[float, float],
    pad: int = 2,
) -> np.ndarray:
    """DCGAN Figure 7 as four rows of cells, read down the second column as an equation:

        A   G(mean z_A)  |  the A picks
        -B  G(mean z_B)  |  the B picks
        +C  G(mean z_C)  |  the C picks
        =   G(Y)         |  G(Y + U(-r, r)) ...

    Column 0 holds the labels, column 2 is left blank; the grid is 3 + max(picks, neighbours)
    cells wide and 4 high, each cell (H + pad) x (W + pad) pixels, plus pad."""
    _, c, h, w = means.shape
    cols = 3 + max(*(len(p) for p in picks), len(neighbours))
    blank = torch.full((c, h, w), value_range[1], dtype=means.dtype)
    cells = []
    for centre, right in zip([*means, result[0]], [*picks, neighbours], strict=True):
        row = [blank, centre, blank, *right]
        cells += row + [blank] * (cols - len(row))
    grid = image_grid(torch.stack(cells), value_range, nrow=cols, pad=pad)
    size = max(10, h // 2)
    labels = ["A", "-B", "+C", "="]
    return _draw_text(
        grid,
        [(pad + 2, pad + r * (h + pad) + (h - size) // 2, text) for r, text in enumerate(labels)],
        size,
    )


def save_picture(grid: np.ndarray, path: Path) -> Path:
    return save_image(grid, path)


# --- training curves and the samples GIF (advnets plot) ----------------------------------------

PANEL_INCHES = (8, 3)  # width, height of one panel of `save_training_curves`
PLOT_DPI = 100
EVAL_KEYS = {  # score in an eval row of metrics.jsonl -> its error bar and axis label
    "parzen": ("parzen_se", "Parzen log-likelihood (nats)"),
    "fid": (None, "FID (classifier features)"),
    "kid": ("kid_std", "KID"),
    "inception_score": (None, "Inception score (classifier)"),
    "modes": (None, "modes captured"),
    "high_quality": (None, "high-quality fraction"),
    "reverse_kl": (None, "reverse KL to uniform over modes"),
    "accuracy": (None, "classifier accuracy"),
    "recon_psnr": (None, "reconstruction PSNR (dB)"),
}


def read_metrics(path: Path) -> tuple[list[dict], list[dict]]:
    """The training rows and the evaluation rows ({"eval": {...}, "step": N}) of a
    metrics.jsonl, each sorted by step. A last line cut short (a run still writing) is
    skipped; an unreadable line before it stops with one line."""
    import json

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no {path.name} at {path}; pass a run folder written by `advnets train`"
        )
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    rows, eval_rows = [], []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise CheckpointError(f"{path}:{number} is not a JSON row") from None
        if isinstance(row, dict) and isinstance(row.get("eval"), dict) and "step" in row:
            eval_rows.append(row)
        elif isinstance(row, dict) and "step" in row:
            rows.append(row)
    if not rows and not eval_rows:
        raise CheckpointError(
            f"{path} holds no metrics yet; train longer than train.log_every steps"
        )
    return sorted(rows, key=lambda r: r["step"]), sorted(eval_rows, key=lambda r: r["step"])


def eval_panels(eval_rows: list[dict]) -> list[str]:
    """The scores of `EVAL_KEYS` that some eval row holds, one panel each."""
    return [
        k for k in EVAL_KEYS if any(isinstance(r["eval"].get(k), int | float) for r in eval_rows)
    ]


def _plot_losses_and_d(axes, rows: list[dict]) -> None:
    """axes[0]: every loss_* column; axes[1]: D(x) and D(G(z)), 1/2 marked."""
    steps = [r["step"] for r in rows]
    losses = [k for k in rows[0] if k.startswith("loss_")] if rows else []
    for key in losses:
        axes[0].plot(steps, [r.get(key, float("nan")) for r in rows], label=key, lw=1)
    axes[0].set_ylabel("loss")
    for key, label in (("d_real", "D(x)"), ("d_fake", "D(G(z))")):
        if any(key in r for r in rows):
            axes[1].plot(steps, [r.get(key, float("nan")) for r in rows], label=label, lw=1)
    axes[1].axhline(0.5, color="k", ls="--", lw=0.8, label="1/2")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("mean D output")


TRAIN_PANELS = {  # a step statistic with a panel of its own where the rows hold it
    "m_global": "BEGAN's convergence M_global",
}


def train_panels(rows: list[dict]) -> list[str]:
    """The statistics of `TRAIN_PANELS` that some training row holds, one panel each."""
    return [k for k in TRAIN_PANELS if any(isinstance(r.get(k), int | float) for r in rows)]


def plot_statistic(ax, rows: list[dict], key: str) -> None:
    """One training statistic against the step."""
    points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), int | float)]
    ax.plot(*zip(*points, strict=True), lw=1, label=key)
    ax.set_ylabel(TRAIN_PANELS[key])


def plot_score(ax, eval_rows: list[dict], key: str) -> None:
    """One evaluation score against the step, with its error bar where `EVAL_KEYS` names one;
    one line per split where the rows name it (`accuracy_split`: valid during training, test
    once at the end)."""
    series: dict[str, list[tuple]] = {}
    for r in eval_rows:
        if isinstance(r["eval"].get(key), int | float):
            error = r["eval"].get(EVAL_KEYS[key][0] or "", 0.0)
            split = r["eval"].get(f"{key}_split")
            label = f"{key} ({split})" if isinstance(split, str) else key
            error = error if isinstance(error, int | float) else 0.0
            series.setdefault(label, []).append((r["step"], r["eval"][key], error))
    for label, points in series.items():
        x, y, err = zip(*points, strict=True)
        ax.errorbar(x, y, yerr=err, marker="o", ms=3, lw=1, capsize=2, label=label)
    ax.set_ylabel(EVAL_KEYS[key][1])


def _add_epoch_axis(ax, rows: list[dict]) -> None:
    """Epochs on ax's top axis, from the last row's epoch / step ratio (when it has one)."""
    last = rows[-1] if rows else None
    if last and last.get("epoch") and last["step"]:
        ratio = last["epoch"] / last["step"]
        top = ax.secondary_xaxis("top", functions=(lambda s: s * ratio, lambda e: e / ratio))
        top.set_xlabel("epoch")


def save_training_curves(
    rows: list[dict], eval_rows: list[dict], path: Path, title: str = ""
) -> Path:
    """Panels against the step (epochs on the top axis): the losses, D(x) and D(G(z)) (1/2
    marked: D* = 1/2 once p_g = p_data), one panel per statistic of `TRAIN_PANELS` the rows
    hold (BEGAN's M_global), then one per evaluation score. The picture is
    PANEL_INCHES * PLOT_DPI pixels per panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores, statistics = eval_panels(eval_rows), train_panels(rows)
    panels = 2 + len(statistics) + len(scores)
    width, height = PANEL_INCHES
    fig, axes = plt.subplots(panels, 1, figsize=(width, height * panels), dpi=PLOT_DPI, sharex=True)
    _plot_losses_and_d(axes, rows)
    for ax, key in zip(axes[2:], statistics, strict=False):
        plot_statistic(ax, rows, key)
    for ax, key in zip(axes[2 + len(statistics) :], scores, strict=True):
        plot_score(ax, eval_rows, key)
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=8)
    axes[-1].set_xlabel("step")
    _add_epoch_axis(axes[0], rows)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def save_gif(
    frames: list[Path], path: Path, labels: list[str] | None = None, duration_ms: int = 500
) -> Path:
    """An animated GIF of pictures of one size (looping), each with its label in a white
    strip of LABEL_HEIGHT pixels above it."""
    pictures = [Image.open(f) for f in frames]
    mode = "L" if all(p.mode == "L" for p in pictures) else "RGB"
    out = []
    for i, picture in enumerate(pictures):
        picture = picture.convert(mode)
        canvas = Image.new(
            mode,
            (picture.width, picture.height + LABEL_HEIGHT),
            255 if mode == "L" else (255, 255, 255),
        )
        canvas.paste(picture, (0, LABEL_HEIGHT))
        if labels:
            canvas = Image.fromarray(_draw_text(np.asarray(canvas), [(2, 0, labels[i])]))
        out.append(canvas)
    return save_image(
        out[0], path, save_all=True, append_images=out[1:], duration=duration_ms, loop=0
    )
