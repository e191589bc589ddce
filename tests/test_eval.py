import json

import numpy as np
import pytest
import torch

from advnets.cli import main
from advnets.errors import DataError
from advnets.metrics.evaluate import EvalSettings, check_samples, modes, parzen


@pytest.mark.parametrize("array, dataset, message", [
    (np.zeros((5, 28, 28), np.float32), "mnist", r"shape \(N, 1, 28, 28\)"),
    (np.zeros((5, 1, 28, 28), np.uint8), "mnist", "floating point"),
    (np.full((5, 1, 28, 28), np.nan, np.float32), "mnist", "NaN"),
    (np.full((5, 1, 28, 28), -1.0, np.float32), "mnist", r"\(x \+ 1\) / 2"),
    (np.zeros((5, 3), np.float32), "ring", r"shape \(N, 2\)"),
    (np.zeros((5, 2), np.float32), "cifar", "unknown dataset 'cifar'"),
])
def test_bad_samples_are_rejected(array, dataset, message):
    with pytest.raises(DataError, match=message) as err:
        check_samples(array, dataset)
    assert "\n" not in str(err.value)


def test_too_few_samples_and_wrong_metric():
    settings = EvalSettings()
    with pytest.raises(DataError, match="parzen needs 10000 samples, got 10"):
        parzen(torch.zeros(10, 1, 28, 28), "mnist", settings)
    with pytest.raises(DataError, match="mode metrics are for the ring and grid"):
        modes(torch.zeros(3000, 1, 28, 28), "mnist", settings)


def test_eval_of_real_images_as_samples(data_root, capsys, tmp_path):
    from advnets.data import load_images

    images, _ = load_images("mnist", "train", str(data_root), download=False)
    path = tmp_path / "real.npy"
    np.save(path, (images[:2000, None] / 255.0).astype(np.float32))
    assert main(["eval", "--samples", str(path), "--dataset", "mnist", "--metric", "parzen",
                 "--n", "2000", "--data", str(data_root)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    name, mean, pm, se = last.split()
    assert name == "parzen" and pm == "+-" and float(se) > 0
    assert 150 < float(mean) < 260  # fewer centres than the protocol's 10,000


def test_eval_run_end_to_end_appends_metrics(tmp_path, capsys):
    run_dir = tmp_path / "ring"
    assert main(["train", "gan-ring", "--steps", "20", "--out", str(run_dir),
                 "--set", "train.progress=false"]) == 0
    assert main(["eval", str(run_dir), "--metric", "modes"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("modes ") and "high_quality" in last
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 20 and rows[-1]["eval"]["modes_total"] == 8
    assert main(["eval", str(run_dir), "--metric", "parzen"]) == 2
    assert "Parzen protocol is for image data" in capsys.readouterr().err


def test_training_runs_periodic_evaluation_and_keeps_the_best(tmp_path, data_root):
    from advnets.checkpoint import load_checkpoint
    from advnets.config import load_preset
    from advnets.train import train

    cfg = load_preset("gan-mnist-fast", [
        "train.progress=false", "train.samples_per_epoch=false", "train.steps=40",
        "train.eval_every=20", "train.eval_samples=500", f"data.root={data_root}",
        "model.generator.hidden=[64]", "model.discriminator.hidden=[32]"])
    train(cfg, tmp_path / "run")
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
            .splitlines() if "eval" in line]
    assert [r["step"] for r in rows] == [20, 40]
    fids = [r["eval"]["fid"] for r in rows]
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["counters"]["step"] == [20, 40][fids.index(min(fids))]
