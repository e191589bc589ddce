"""Pictures of samples: image grids (Pillow) and scatter/histogram plots for toy data."""

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def image_grid(images: Tensor, value_range: tuple[float, float], nrow: int | None = None,
               pad: int = 2) -> np.ndarray:
    """(N, C, H, W) images in `value_range` -> one uint8 (rows, cols[, 3]) mosaic."""
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


def save_image_grid(images: Tensor, path: Path, value_range: tuple[float, float],
                    nrow: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(images, value_range, nrow)).save(path)
    return path


def save_points_plot(samples: Tensor, path: Path, modes: Tensor | None = None,
                     title: str = "") -> Path:
    """A histogram (1-D) or scatter plot (2-D) of samples, with the data's modes marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
    fig.savefig(path)
    plt.close(fig)
    return path
