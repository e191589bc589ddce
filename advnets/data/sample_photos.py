"""scikit-image's sample pictures as a data set of photo-scale tiles (`data.name: photos`):
every whole 96x96 square of each picture at its own resolution, as RGB (a grey picture's
three channels equal), for restorers that must work on photographs rather than on 32x32
thumbnails. The pictures ship with scikit-image, so nothing is downloaded.

Splits by picture, never by tile: `train` is ten photographs and micrographs (no drawings,
charts or blurred shots), `valid` two more to choose a checkpoint on, `test` the four photos
that `benchmarks/restoration.py --photos` scores whole (astronaut, coffee, chelsea, rocket),
`full` train + valid. A tile darker than 16/255 on average is left out (the black surround
of the retina and the night sky: mostly noise clipped at zero)."""

from pathlib import Path

import numpy as np
from PIL import Image

from advnets.errors import DataError

TILE = 96
DARK = 16
PICTURES = {
    "train": (
        "motorcycle_left.png",
        "motorcycle_right.png",
        "moon.png",
        "brick.png",
        "grass.png",
        "gravel.png",
        "cell.png",
        "ihc.png",
        "retina.jpg",
        "hubble_deep_field.jpg",
    ),
    "valid": ("camera.png", "coins.png"),
    "test": ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"),
}
PICTURES["full"] = PICTURES["train"] + PICTURES["valid"]


def picture(name: str) -> np.ndarray:
    """One of scikit-image's sample pictures as uint8 (H, W, 3)."""
    from skimage import data

    path = Path(data.data_dir) / name
    if not path.is_file():
        raise DataError(f"photos: {path} not found; reinstall scikit-image (it ships them)")
    return np.asarray(Image.open(path).convert("RGB"))


def tiles(image: np.ndarray, side: int = TILE) -> list[tuple[int, int, np.ndarray]]:
    """(row, column, tile) of every whole side x side square of `image` (H, W, 3) that is
    not dark, in reading order."""
    rows, cols = image.shape[0] // side, image.shape[1] // side
    out = []
    for i in range(rows):
        for j in range(cols):
            part = image[i * side : (i + 1) * side, j * side : (j + 1) * side]
            if part.mean() >= DARK:
                out.append((i, j, part))
    return out


def load_sample_photos(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """uint8 tiles (N, 3, 96, 96) of a split's pictures and labels (N,) of -1 (unlabelled)."""
    if split not in PICTURES:
        raise DataError(f"unknown split {split!r}; choose one of: {', '.join(PICTURES)}")
    parts = [t for name in PICTURES[split] for _, _, t in tiles(picture(name))]
    images = np.stack(parts).transpose(0, 3, 1, 2).copy()
    return images, np.full(len(images), -1, dtype=np.int64)
