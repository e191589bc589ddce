"""CatGAN: its entropies and losses against hand computations, the cluster -> class map,
unsupervised and semi-supervised runs that train and classify, exact resume, bad options."""

import math
import re

import numpy as np
import pytest
import torch
from conftest import assert_resumes_exactly

from advnets import load_preset
from advnets.cli import main
from advnets.data import load_images01
from advnets.errors import ConfigError
from advnets.methods.catgan import (
    catgan_d_loss,
    catgan_g_loss,
    cluster_labels,
    conditional_entropy,
    marginal_entropy,
)
from advnets.metrics.accuracy import accuracy, predict_classes
from advnets.training import build_run, train

SMALL = [
    "model.discriminator.hidden=[64,32]",
    "model.generator.hidden=[32]",
    "train.progress=false",
    "train.samples_per_epoch=false",
    "train.eval_every=0",
    "train.checkpoint_every=0",
]

# hand-made class probabilities over K = 3, passed as logits log p (+ a constant a row)
REAL = [[0.5, 0.25, 0.25], [0.8, 0.1, 0.1]]
FAKE = [[1 / 3, 1 / 3, 1 / 3], [0.6, 0.2, 0.2]]
H_REAL = (1.5 * math.log(2) + (-0.8 * math.log(0.8) - 0.2 * math.log(0.1))) / 2
H_FAKE = (math.log(3) + (-0.6 * math.log(0.6) - 0.4 * math.log(0.2))) / 2
# the batch marginals: REAL's mean [0.65, 0.175, 0.175], FAKE's [7/15, 4/15, 4/15]
H_MARGINAL_REAL = -0.65 * math.log(0.65) - 0.35 * math.log(0.175)
H_MARGINAL_FAKE = -7 / 15 * math.log(7 / 15) - 8 / 15 * math.log(4 / 15)


def logits(p: list[list[float]]) -> torch.Tensor:
    shift = torch.tensor([[3.0], [-1.5]])  # softmax ignores a row's constant
    return torch.tensor(p, dtype=torch.float64).log() + shift


def close(value: torch.Tensor, expected: float) -> None:
    torch.testing.assert_close(value.item(), expected, rtol=1e-9, atol=1e-12)


def test_entropies_match_hand_values():
    close(conditional_entropy(logits(REAL)), H_REAL)
    close(conditional_entropy(logits(FAKE)), H_FAKE)
    close(marginal_entropy(logits(REAL)), H_MARGINAL_REAL)
    close(marginal_entropy(logits(FAKE)), H_MARGINAL_FAKE)
    # uniform marginal of certain rows: no conditional entropy, the most marginal one
    certain = torch.eye(3, dtype=torch.float64) * 60
    close(conditional_entropy(certain), 0.0)
    close(marginal_entropy(certain), math.log(3))


@pytest.mark.parametrize("w", [1.0, 0.5])
def test_losses_match_hand_values(w):
    """L_D = -w H_X[p(y|D)] + E_x H[p(y|x,D)] - E_z H[p(y|G(z),D)],
    L_G = -w H_G[p(y|D)] + E_z H[p(y|G(z),D)]."""
    close(catgan_d_loss(logits(REAL), logits(FAKE), w), -w * H_MARGINAL_REAL + H_REAL - H_FAKE)
    close(catgan_g_loss(logits(FAKE), w), -w * H_MARGINAL_FAKE + H_FAKE)


def test_cluster_labels_take_the_best_one_to_one_map():
    # counts (cluster x class): c0 = {1: 2}, c1 = {2: 1, 0: 1}, c2 = {0: 2, 2: 1}: the best
    # map 0->1, 1->2, 2->0 gets 5 of 7 right (0->1, 1->0, 2->2 gets 4)
    clusters = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    labels = torch.tensor([1, 1, 2, 0, 0, 0, 2])
    assert cluster_labels(clusters, labels, 3).tolist() == [1, 1, 2, 2, 0, 0, 0]
    # both clusters hold mostly 0s: one-to-one, the smaller takes class 1 (3 + 1 right)
    clusters, labels = torch.tensor([0, 0, 0, 1, 1, 1]), torch.tensor([0, 0, 0, 0, 0, 1])
    assert cluster_labels(clusters, labels, 2).tolist() == [0, 0, 0, 1, 1, 1]


def test_config_errors_are_one_line(data_root):
    cases = [
        (
            ["options.marginal_weight=-1"],
            "options.marginal_weight must be a finite number >= 0, got -1.0",
        ),
        (
            ["options.supervised_weight=-0.5"],
            "options.supervised_weight must be a finite number >= 0, got -0.5",
        ),
        (["options.margin=1"], "'options.margin'"),
        (["data.labels=5"], "data.labels=5 must be 0 (unsupervised) or at least the 10 classes"),
        (["model.num_classes=10"], "needs model.num_classes=0"),
        (["train.k=2"], "keep train.update=alternating and train.k=1"),
    ]
    for overrides, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)) as err:
            build_run(load_preset("catgan-mnist", [*SMALL, f"data.root={data_root}", *overrides]))
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="needs images of a data set with classes"):
        build_run(load_preset("gan-ring", ["method=catgan"]))


def test_unsupervised_run_trains_classifies_and_scores_mapped(data_root, tmp_path, capsys):
    """A few hundred steps on small nets find clusters well above chance; `classify`
    writes clusters, `eval --metric accuracy` scores them mapped one-to-one onto digits."""
    run_dir = tmp_path / "catgan"
    sets = [*SMALL, f"data.root={data_root}", "train.steps=200", "optim.D.lr=0.003"]
    run = train(load_preset("catgan-mnist", sets), run_dir)
    images01, labels = load_images01("mnist", "test", str(data_root), 500)
    clusters = predict_classes(run.classifier, images01, 10)
    mapped = cluster_labels(clusters, labels, 10)
    scores = accuracy(run.classifier, run.cfg, "test", 500, str(data_root))
    assert scores["errors"] == int((mapped != labels).sum())
    assert 0.3 < scores["accuracy"] <= 1.0  # no marginal term (collapse): 0.13
    np.save(tmp_path / "x.npy", images01[:20].numpy())
    y_path = tmp_path / "y.npy"
    classify = ["classify", str(run_dir), "--samples", str(tmp_path / "x.npy")]
    assert main([*classify, "--out", str(y_path), "--device", "cpu"]) == 0
    assert np.load(y_path).tolist() == clusters[:20].tolist()
    assert "cluster numbers" in capsys.readouterr().out
    assert not y_path.with_suffix(".names.txt").exists()  # clusters name no class
    evaluate = ["eval", str(run_dir), "--metric", "accuracy", "--n", "500"]
    assert main([*evaluate, "--data", str(data_root), "--device", "cpu"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"accuracy {scores['accuracy']:.4f} errors {scores['errors']}"


def test_semi_supervised_run_learns_the_labelled_classes(data_root, tmp_path, capsys):
    """100 labels: D's outputs are the classes themselves (no map), and `sample`, `eval` of
    G's samples and `plot` work on the run."""
    run_dir = tmp_path / "catgan100"
    sets = [*SMALL, f"data.root={data_root}", "train.steps=150", "optim.D.lr=0.003"]
    run = train(load_preset("catgan-mnist-100", sets), run_dir)
    images01, labels = load_images01("mnist", "test", str(data_root), 500)
    raw = predict_classes(run.classifier, images01, 10)
    scores = accuracy(run.classifier, run.cfg, "test", 500, str(data_root))
    assert scores["errors"] == int((raw != labels).sum())
    assert 0.5 < scores["accuracy"] <= 1.0
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert '"loss_supervised"' in rows[-1]
    assert main(["sample", str(run_dir), "--n", "4", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (4, 1, 28, 28)
    evaluate = ["eval", str(run_dir), "--metric", "parzen", "--n", "100"]
    assert main([*evaluate, "--data", str(data_root), "--device", "cpu"]) == 0
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_supervised_weight_adds_the_labelled_cross_entropy(data_root):
    """D's loss with lambda = 2 is its loss with lambda = 0 plus twice the cross-entropy,
    on the same batch from the same start."""
    losses = {}
    for weight in (0.0, 2.0):
        torch.manual_seed(0)
        cfg = load_preset(
            "catgan-mnist-100",
            [*SMALL, f"data.root={data_root}", f"options.supervised_weight={weight}"],
        )
        run = build_run(cfg)
        run.method.D.eval()  # no noise: the same D twice
        phase = run.method.solo("D")
        losses[weight] = phase.loss(run.step.batches.draw(phase.needs))
    (zero, _), (two, stats) = losses[0.0], losses[2.0]
    torch.testing.assert_close(
        two["D"], zero["D"] + 2 * stats["loss_supervised"], rtol=1e-6, atol=1e-6
    )
    assert stats["loss_supervised"] > 0.1


@pytest.mark.parametrize("preset", ["catgan-mnist", "catgan-mnist-100"])
def test_run_resumes_exactly(data_root, tmp_path, preset):
    assert_resumes_exactly(preset, [*SMALL, f"data.root={data_root}"], tmp_path)
