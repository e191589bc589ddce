import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    for candidate in (os.environ.get("ADVNETS_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            return Path(candidate)
    return None


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if root is None:
        pytest.skip("MNIST not found: set ADVNETS_DATA to a folder holding mnist/*.gz")
    return root


@pytest.fixture
def quiet() -> list[str]:
    """Overrides that keep test runs silent and free of per-epoch pictures."""
    return ["train.progress=false", "train.samples_per_epoch=false", "train.checkpoint_every=0"]
