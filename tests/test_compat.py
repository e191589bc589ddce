"""Checkpoints written by the two-player core (format 1: generator, discriminator, opt_g,
opt_d, optim_d / optim_g in the config) still sample, score and resume. The shipped run
and the expected numbers were made by that code: a 20-step gan-ring run with small nets
and a weight average; its samples (seed 3) and its weights after resuming to step 30."""

import shutil
from pathlib import Path

import pytest
import torch

import advnets
from advnets.checkpoint import FORMAT, load_checkpoint, save_atomic
from advnets.errors import CheckpointError

OLD = Path(__file__).parent / "data" / "format1-gan-ring"


def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


@pytest.fixture
def old_run(tmp_path) -> Path:
    run = tmp_path / "old"
    run.mkdir()
    shutil.copy(OLD / "checkpoint.pt", run / "checkpoint.pt")
    return run


@pytest.fixture(scope="module")
def expected() -> dict:
    return torch.load(OLD / "expected.pt", weights_only=True)


def test_the_shipped_checkpoint_is_format_1():
    raw = torch.load(OLD / "checkpoint.pt", weights_only=True)
    assert raw["format"] == 1 and {"generator", "opt_d", "generator_ema"} <= set(raw)
    assert "optim_d" in raw["config"]


def test_format1_samples_as_before(old_run, expected):
    x = advnets.sample(old_run, 8, seed=3)
    torch.testing.assert_close(x, expected["samples_seed3"], rtol=1e-6, atol=1e-7)


def test_format1_scores(old_run):
    scores = advnets.evaluate(old_run, metric="modes")
    assert 0 <= scores["modes"] <= 8 and 0.0 <= scores["high_quality"] <= 1.0


def test_format1_resumes_as_the_old_code_did(old_run, expected):
    run = advnets.train(None, old_run, resume=True, overrides=["train.steps=30"])
    assert run.counters.step == 30 and run.players["G"].updates == 30
    assert run.cfg.optim["D"].name == "adam"  # read from the old optim_d section
    for key, net in (("G", run.G), ("D", run.D), ("average", run.G_sample)):
        torch.testing.assert_close(flat(net), expected[f"resumed30_{key}"], rtol=1e-5, atol=1e-6)
    assert torch.load(old_run / "checkpoint.pt", weights_only=True)["format"] == FORMAT


def test_a_damaged_format1_checkpoint_is_one_line(old_run):
    raw = torch.load(old_run / "checkpoint.pt", weights_only=True)
    del raw["opt_d"]
    save_atomic(raw, old_run / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="format-1 checkpoint without its 'opt_d'") as err:
        load_checkpoint(old_run)
    assert "\n" not in str(err.value)
