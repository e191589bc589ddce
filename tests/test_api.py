"""The notebook API: advnets.train / load_generator / sample / evaluate."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import advnets
from advnets.checkpoint import load_checkpoint
from advnets.errors import CheckpointError, ConfigError

QUIET = {"train.progress": False, "train.samples_per_epoch": False, "train.checkpoint_every": 0}


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    """A 3-step gan-ring run, trained once for the module (read-only in the tests)."""
    run_dir = tmp_path_factory.mktemp("api") / "ring"
    run = advnets.train("gan-ring", run_dir, overrides={**QUIET, "train.steps": 3})
    assert run.counters.step == 3
    return run_dir


def test_public_names_do_not_clash_with_the_packages():
    code = (
        "import advnets, advnets.training, advnets.training.hooks, advnets.metrics.evaluate;"
        "import inspect;"
        "assert all(inspect.isfunction(getattr(advnets, n)) for n in "
        "('train', 'load_generator', 'sample', 'evaluate'));"
        "assert inspect.ismodule(advnets.training)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_train_from_a_config_refuses_a_used_folder_and_resumes(tmp_path):
    cfg = advnets.load_preset("gan-ring")
    run = advnets.train(
        cfg, tmp_path / "r", overrides=[f"{k}={v}" for k, v in QUIET.items()] + ["train.steps=2"]
    )
    assert run.counters.step == 2 and (tmp_path / "r" / "checkpoint.pt").is_file()
    with pytest.raises(ConfigError, match="already holds a run"):
        advnets.train("gan-ring", tmp_path / "r", overrides=QUIET)
    with pytest.raises(ConfigError, match="pass None"):
        advnets.train("gan-ring", tmp_path / "r", resume=True)
    with pytest.raises(ConfigError, match="list of"):
        advnets.train("gan-ring", tmp_path / "s", overrides="train.steps=2")
    run = advnets.train(None, tmp_path / "r", resume=True, overrides={"train.steps": 4})
    assert run.counters.step == 4 == load_checkpoint(tmp_path / "r")["counters"]["step"]


def test_sample_and_load_generator(ring_run):
    x = advnets.sample(ring_run, 50, seed=1)
    assert x.shape == (50, 2) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert torch.equal(x, advnets.sample(str(ring_run), 50, seed=1))
    assert not torch.equal(x, advnets.sample(ring_run, 50, seed=2))
    G, cfg = advnets.load_generator(ring_run)
    assert not G.training and cfg.data.name == "ring"
    with pytest.raises(ConfigError, match="n must be at least 1, got 0"):
        advnets.sample(ring_run, 0)
    with pytest.raises(ConfigError, match="conditional"):
        advnets.sample(ring_run, 5, label=1)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        advnets.sample(ring_run / "missing", 5)


def test_evaluate_a_run_or_its_samples(ring_run):
    scores = advnets.evaluate(ring_run, metric="modes", n=500)
    assert "modes" in scores and scores["mode_samples"] == 500
    samples = advnets.sample(ring_run, 500, seed=0)
    assert advnets.evaluate(samples, dataset="ring", metric="modes", n=500) == scores
    assert advnets.evaluate(samples.numpy(), dataset="ring", n=500) == scores  # all = modes
    assert advnets.evaluate(ring_run, dataset="ring", n=500) == scores


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda run: advnets.evaluate(np.zeros((10, 2), np.float32)), "needs dataset="),
        (lambda run: advnets.evaluate(run, dataset="mnist"), "is a run on ring"),
        (lambda run: advnets.evaluate(run, metric="bleu"), "unknown metric 'bleu'"),
        (lambda run: advnets.evaluate(run, n=1), r"n \(--n\) must be at least 2, got 1"),
        (lambda run: advnets.evaluate(run, n=3.5), "n .* must be a whole number, got 3.5"),
        (lambda run: advnets.evaluate(run, seed=-1), "seed must be at least 0, got -1"),
        (lambda run: advnets.sample(run, 2.5), "n must be a whole number, got 2.5"),
        (lambda run: advnets.sample(run, "5"), "n must be a whole number, got '5'"),
        (lambda run: advnets.sample(run, 5, seed=2**70), r"seed must be at most 2\*\*62"),
        (lambda run: advnets.sample(run, True), "n must be a whole number, got True"),
        (lambda run: advnets.load_generator(run, device="tpu"), "unknown device"),
    ],
)
def test_api_errors_are_one_line(ring_run, call, message):
    with pytest.raises(ConfigError, match=message) as info:
        call(ring_run)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_names_the_fix(ring_run):
    with pytest.raises(ConfigError, match="use device=cpu or device=auto"):
        advnets.sample(ring_run, 5, device="cuda")
    assert advnets.sample(ring_run, 5, device="auto").shape == (5, 2)
