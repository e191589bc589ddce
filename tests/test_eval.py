import json
import math

import numpy as np
import pytest
import torch

from advnets.cli import main
from advnets.errors import DataError
from advnets.metrics.evaluate import EvalSettings, check_samples, modes, parzen


@pytest.mark.parametrize(
    "array, dataset, message",
    [
        (np.zeros((5, 28, 28), np.float32), "mnist", r"shape \(N, 1, 28, 28\)"),
        (np.zeros((5, 1, 28, 28), np.uint8), "mnist", "floating point"),
        (np.full((5, 1, 28, 28), np.nan, np.float32), "mnist", "NaN"),
        (np.full((5, 1, 28, 28), -1.0, np.float32), "mnist", r"\(x \+ 1\) / 2"),
        (np.zeros((5, 3), np.float32), "ring", r"shape \(N, 2\)"),
        (np.zeros((5, 2), np.float32), "cifar", "unknown dataset 'cifar'"),
        (np.zeros((0, 1, 28, 28), np.float32), "mnist", "empty"),
        (np.array(["a", "b"]), "ring", "floating point"),
    ],
)
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
    assert (
        main(
            [
                "eval",
                "--samples",
                str(path),
                "--dataset",
                "mnist",
                "--metric",
                "parzen",
                "--n",
                "2000",
                "--data",
                str(data_root),
            ]
        )
        == 0
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    name, mean, pm, se = last.split()
    assert name == "parzen" and pm == "+-" and float(se) > 0
    assert 150 < float(mean) < 260  # fewer centres than the protocol's 10,000


def test_eval_run_end_to_end_appends_metrics(tmp_path, capsys):
    run_dir = tmp_path / "ring"
    assert (
        main(
            [
                "train",
                "gan-ring",
                "--steps",
                "20",
                "--out",
                str(run_dir),
                "--set",
                "train.progress=false",
            ]
        )
        == 0
    )
    assert main(["eval", str(run_dir), "--metric", "modes"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("modes ") and "high_quality" in last
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 20 and rows[-1]["eval"]["modes_total"] == 8
    assert main(["eval", str(run_dir), "--metric", "parzen"]) == 2
    err = capsys.readouterr().err
    assert "Parzen protocol is the paper's for faces, fashion, mnist, not 'ring'" in err


@pytest.mark.parametrize("metric, better", [("fid", min), ("parzen", max)])
def test_training_runs_periodic_evaluation_and_keeps_the_best(tmp_path, data_root, metric, better):
    from advnets.checkpoint import load_checkpoint
    from advnets.config import load_preset
    from advnets.training import train

    cfg = load_preset(
        "gan-mnist-fast",
        [
            "train.progress=false",
            "train.samples_per_epoch=false",
            "train.steps=40",
            "train.eval_every=20",
            f"train.eval_metric={metric}",
            "train.eval_samples=500",
            f"data.root={data_root}",
            "model.generator.hidden=[64]",
            "model.discriminator.hidden=[32]",
        ],
    )
    train(cfg, tmp_path / "run")
    rows = [
        json.loads(line)
        for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
        if "eval" in line
    ]
    assert [r["step"] for r in rows] == [20, 40]
    scores = [r["eval"][metric] for r in rows]
    assert len(set(scores)) == 2
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["counters"]["step"] == [20, 40][scores.index(better(scores))]
    assert best["eval"][metric] == better(scores)


def test_big_endian_floats_are_accepted():
    x = check_samples(np.zeros((3, 2), ">f4"), "ring")
    assert x.dtype == torch.float32 and x.shape == (3, 2)


def test_cli_eval_input_errors(tmp_path, capsys):
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.zeros(2))
    np.save(tmp_path / "ring.npy", np.zeros((10, 2), np.float32))
    cases = [
        (["eval", "--samples", str(tmp_path / "two.npz"), "--dataset", "ring"], ".npz"),
        (["eval", "--samples", str(tmp_path / "ring.npy"), "--dataset", "mnist"], "shape"),
        (
            ["eval", "--samples", str(tmp_path / "ring.npy"), "--dataset", "ring", "--n", "1"],
            "at least 2",
        ),
        (["eval", "--samples", str(tmp_path / "ring.npy")], "needs --dataset"),
        (["classifier", "mnist"], "--out FILE"),
    ]
    for args, message in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_eval_accepts_a_checkpoint_file(tmp_path, capsys):
    run_dir = tmp_path / "ring"
    assert (
        main(
            [
                "train",
                "gan-ring",
                "--steps",
                "5",
                "--out",
                str(run_dir),
                "--set",
                "train.progress=false",
            ]
        )
        == 0
    )
    assert main(["eval", str(run_dir / "checkpoint.pt")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("modes ")
    row = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 5 and "modes" in row["eval"]


def test_periodic_eval_rejects_a_metric_that_does_not_fit(tmp_path):
    from advnets.config import load_preset
    from advnets.errors import ConfigError
    from advnets.training import train

    with pytest.raises(ConfigError, match="cannot score gaussian1d"):
        train(
            load_preset("gan-1d", ["train.progress=false", "train.steps=2", "train.eval_every=1"]),
            tmp_path / "r",
        )


def test_best_checkpoint_survives_resume(tmp_path):
    from advnets.checkpoint import load_checkpoint
    from advnets.config import load_preset
    from advnets.training import train

    cfg = load_preset(
        "gan-ring",
        [
            "train.progress=false",
            "train.samples_per_epoch=false",
            "train.steps=400",
            "train.eval_every=200",
            "train.eval_samples=2500",
        ],
    )
    train(cfg, tmp_path / "r")
    best = load_checkpoint(tmp_path / "r" / "best.pt")
    train(None, tmp_path / "r", resume=True, overrides=["train.steps=401", "train.eval_every=401"])
    after = load_checkpoint(tmp_path / "r" / "best.pt")
    rows = [
        json.loads(x)
        for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
        if '"eval"' in x
    ]
    ranks = [r["eval"]["modes"] + r["eval"]["high_quality"] for r in rows]
    assert after["eval_rank"] == pytest.approx(max(ranks))
    if ranks[-1] <= best["eval_rank"]:  # the resumed evaluation did not beat the old best
        assert after["counters"]["step"] == best["counters"]["step"]


def test_fid_features_are_not_confused_between_sample_sets(data_root):
    from advnets.metrics.evaluate import fid

    settings = EvalSettings(fid_samples=200, data_root=str(data_root))
    g = torch.Generator().manual_seed(0)
    first = fid(torch.rand(200, 1, 28, 28, generator=g), "mnist", settings)["fid"]
    second = fid(torch.zeros(200, 1, 28, 28), "mnist", settings)["fid"]
    assert first != second


def test_training_time_scores_use_the_validation_split(data_root):
    """Checkpoint choice must never look at the test set: with reference="valid" the
    validation images after the first `parzen_valid` are scored (and FID compares with the
    validation set), so a sample set made of exactly those images scores far better there."""
    from advnets.data import load_images01

    valid = load_images01("mnist", "valid", data_root)[0]
    held_out = valid[1000:3000]
    settings = dict(
        parzen_samples=2000, parzen_valid=1000, parzen_test=2000, data_root=str(data_root)
    )
    on_valid = parzen(held_out, "mnist", EvalSettings(reference="valid", **settings))
    on_test = parzen(held_out, "mnist", EvalSettings(**settings))
    # every scored image is a kernel centre, whose own term dominates the sum
    sigma = on_valid["parzen_sigma"]
    own_term = -math.log(2000) - 784 * math.log(sigma * math.sqrt(2 * math.pi))
    assert on_valid["parzen"] == pytest.approx(own_term, abs=0.5)
    assert 100 < on_test["parzen"] < 250 < own_term


def test_a_resume_scored_otherwise_starts_a_new_best(tmp_path):
    """best.pt records how it was scored; a resume with another train.eval_samples (or
    eval_metric) does not rank its scores against the old best's, it starts afresh."""
    from advnets.checkpoint import load_checkpoint
    from advnets.config import load_preset
    from advnets.training import train

    sets = ["train.progress=false", "train.samples_per_epoch=false", "train.eval_every=2"]
    train(load_preset("gan-ring", [*sets, "train.steps=4", "train.eval_samples=500"]), tmp_path)
    before = load_checkpoint(tmp_path / "best.pt")
    assert (before["eval_metric"], before["eval_samples"]) == ("modes", 500)
    train(None, tmp_path, resume=True, overrides=["train.steps=6", "train.eval_samples=400"])
    after = load_checkpoint(tmp_path / "best.pt")
    assert (after["counters"]["step"], after["eval_samples"]) == (6, 400)


def test_resume_from_a_best_pt_is_refused(tmp_path, capsys):
    """--resume continues a folder from its checkpoint.pt; naming best.pt used to resume
    the folder's checkpoint.pt instead, silently."""
    from advnets.cli import main

    (tmp_path / "best.pt").write_bytes(b"not read")
    assert main(["train", "--resume", str(tmp_path / "best.pt"), "--steps", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--resume continues a run from its folder's checkpoint.pt; pass" in err


def test_parzen_on_a_run_that_trained_on_the_validation_images_warns(
    tmp_path, capsys, quiet, data_root
):
    """A run of data.split=full has seen the images that choose Parzen's sigma: eval says
    its score is optimistic."""
    from advnets.config import load_preset
    from advnets.training import train

    sets = [*quiet, "train.steps=1", "train.eval_every=0", "data.split=full"]
    sets.append(f"data.root={data_root}")
    train(load_preset("gan-mnist-fast", sets), tmp_path / "full")
    assert main(["eval", str(tmp_path / "full"), "--metric", "parzen", "--n", "200"]) == 0
    assert "trained on (data.split=full); its score is optimistic" in capsys.readouterr().err
