"""The `photos` data set: scikit-image's sample pictures as 96x96 tiles at their own
resolution, split by picture, so the restorers' test photographs are never trained on."""

import numpy as np
import pytest

from advnets.config import DataConfig
from advnets.data import load_split01
from advnets.data.registry import spec
from advnets.data.sample_photos import DARK, PICTURES, TILE, load_sample_photos, picture, tiles
from advnets.errors import DataError


def test_splits_are_whole_pictures_and_the_test_photos_are_never_trained_on():
    assert not set(PICTURES["test"]) & set(PICTURES["full"])
    assert not set(PICTURES["train"]) & set(PICTURES["valid"])
    assert set(PICTURES["full"]) == set(PICTURES["train"]) | set(PICTURES["valid"])


def test_tiles_are_the_pictures_own_pixels_and_skip_dark_ones():
    image = picture("camera.png")  # 512 x 512 grey: 25 tiles, its channels equal
    found = tiles(image)
    assert 0 < len(found) <= (512 // TILE) ** 2
    for i, j, tile in found:
        assert tile.shape == (TILE, TILE, 3) and tile.mean() >= DARK
        assert np.array_equal(tile, image[i * TILE : (i + 1) * TILE, j * TILE : (j + 1) * TILE])
        assert np.array_equal(tile[..., 0], tile[..., 2])
    dark = np.zeros((2 * TILE, TILE, 3), np.uint8)
    dark[:TILE] = DARK  # the top tile is just bright enough, the bottom one black
    assert [(i, j) for i, j, _ in tiles(dark)] == [(0, 0)]


def test_a_split_loads_through_the_data_contract():
    images, labels = load_sample_photos("valid")
    assert images.dtype == np.uint8 and images.shape[1:] == (3, TILE, TILE)
    assert (labels == -1).all() and len(images) == len(labels)
    cfg = DataConfig(name="photos")
    assert spec(cfg).shape == (3, TILE, TILE) and spec(cfg).classes == 0
    x, _ = load_split01(cfg, "valid", n=4)
    assert x.shape == (4, 3, TILE, TILE) and x.min() >= 0 and x.max() <= 1
    with pytest.raises(DataError, match="unknown split 'nope'; choose one of: train"):
        load_sample_photos("nope")
