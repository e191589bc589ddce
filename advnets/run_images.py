"""Images a user hands a trained run (classify, encode, reconstruct, arithmetic), read by
advnets.image_files and checked against the run's own data (its shape and value range)."""

from pathlib import Path

import torch

from advnets.config import DataConfig
from advnets.data import check_images
from advnets.image_files import MAX_PIXELS, ValueRange, read_image_batch


def images_for_run(
    path: str | Path,
    data: DataConfig,
    run_range: ValueRange,
    given_range: ValueRange = (0.0, 1.0),
    max_pixels: int = MAX_PIXELS,
) -> torch.Tensor:
    """Images a user hands a run (classify, encode, reconstruct, arithmetic): a picture or
    a .npy batch on `given_range` ([0, 1] unless --range says otherwise), mapped onto the
    run's own range, in the run's layout."""
    x = read_image_batch(path, given_range, max_pixels, channels=(), has_range_flag=True)
    lo, hi = run_range
    x = lo + (hi - lo) * x
    check_images(x, data, (lo, hi), str(path))
    return x
