import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from advnets import sample, truncation
from advnets.cli import main
from advnets.config import load_preset
from advnets.errors import ConfigError
from advnets.metrics.fidelity import label_fidelity
from advnets.nets import build_generator
from advnets.sampling import draw_noise, draw_samples, truncated
from advnets.truncation import (
    calibration_norms,
    draw_truncated,
    jacobian_norms,
    jacobian_threshold,
)


class TwoModes(nn.Module):
    """G(z) = (tanh(20 z_1), 0.01 z_2): two tight modes at x_1 = -1 and +1, joined by a
    bridge that the draws with z_1 near 0 fall on, where G is steepest."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([20.0, 0.01]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * self.scale
        return torch.stack([torch.tanh(x[:, 0]), x[:, 1]], dim=1)


@pytest.fixture
def ring_cfg():
    return load_preset("gan-ring")


@pytest.mark.parametrize("preset", ["gan-ring", "pacgan-grid"])  # the second: batch norm
def test_jacobian_norms_match_autograd(preset):
    cfg = load_preset(preset)
    G = build_generator(cfg.model, (2,), torch.zeros(2)).eval()
    z = draw_noise(cfg, 5, seed=3)
    expected = torch.stack(
        [torch.autograd.functional.jacobian(lambda v: G(v[None])[0], zi).norm() for zi in z]
    )
    assert_close(jacobian_norms(G, z, chunk=2), expected)
    assert G.training is False


def test_truncation_removes_the_bridge_and_keeps_both_modes(ring_cfg):
    G = TwoModes()
    plain = draw_samples(G, ring_cfg, 4000, seed=1)
    kept = draw_truncated(G, ring_cfg, 4000, keep=0.9, seed=1)
    on_bridge = lambda x: (x[:, 0].abs() < 0.95).float().mean().item()  # noqa: E731
    assert on_bridge(plain) > 0.04  # |z_1| < 0.09: about 7 % of the draws
    assert on_bridge(kept) == 0.0
    assert kept.shape == (4000, 2)
    assert 0.45 < (kept[:, 0] > 0).float().mean().item() < 0.55


def test_threshold_keeps_the_asked_fraction_of_fresh_draws(ring_cfg):
    G = build_generator(ring_cfg.model, (2,), torch.zeros(2))
    threshold = jacobian_threshold(G, ring_cfg, 0.8, seed=0)
    norms = jacobian_norms(G, draw_noise(ring_cfg, 5000, seed=7))
    assert abs((norms <= threshold).float().mean().item() - 0.8) < 0.03


def test_reused_calibration_draws_the_same_samples(ring_cfg):
    G = TwoModes()
    calibration = calibration_norms(G, ring_cfg, seed=2)
    for keep in (0.95, 0.8):
        assert torch.equal(
            draw_truncated(G, ring_cfg, 300, keep, seed=2, calibration=calibration),
            draw_truncated(G, ring_cfg, 300, keep, seed=2),
        )


def test_keep_one_is_plain_sampling_and_bad_keeps_are_refused(ring_cfg):
    G = build_generator(ring_cfg.model, (2,), torch.zeros(2))
    assert torch.equal(
        draw_truncated(G, ring_cfg, 50, 1.0, seed=4), draw_samples(G, ring_cfg, 50, seed=4)
    )
    for keep in (0.0, 1.5, -0.1):
        with pytest.raises(ConfigError, match="kept fraction"):
            draw_truncated(G, ring_cfg, 10, keep)


@pytest.mark.parametrize("embedding", [10, 0])  # a learned label vector, a one-hot one
def test_conditional_generator_of_one_class(monkeypatch, embedding):
    monkeypatch.setattr(truncation, "CALIBRATION_DRAWS", 200)
    sets = ["model.generator.hidden=[16]", "model.z_dim=8"]
    cfg = load_preset("cgan-mnist", [*sets, f"model.generator.label_embedding={embedding}"])
    G = build_generator(cfg.model, (1, 28, 28), torch.full((784,), 0.5)).eval()
    x = draw_truncated(G, cfg, 30, 0.9, seed=0, label=3)
    assert x.shape == (30, 1, 28, 28)
    # the kept samples are some of the draws of class 3 (the first m of them, m >= 46)
    for label, expected in ((3, True), (4, False)):
        candidates = draw_samples(G, cfg, 400, seed=0, label=label).flatten(1)
        found = (torch.cdist(x.flatten(1), candidates).min(dim=1).values == 0).all()
        assert bool(found) == expected
    z = draw_noise(cfg, 1, seed=0)
    assert jacobian_norms(G, z, torch.tensor([3])).shape == (1,)


def test_cli_sample_with_jacobian_truncation(tmp_path, capsys):
    run_dir = tmp_path / "ring"
    assert (
        main(
            [
                "train",
                "gan-ring",
                "--out",
                str(run_dir),
                "--steps",
                "3",
                "--set",
                "train.progress=false",
            ]
        )
        == 0
    )
    out = tmp_path / "kept.npy"
    assert (
        main(["sample", str(run_dir), "--n", "40", "--out", str(out), "--jacobian-keep", "0.9"])
        == 0
    )
    assert np.load(out).shape == (40, 2)
    assert "Jacobian truncation keeping 90%" in capsys.readouterr().out
    assert (
        main(["sample", str(run_dir), "--n", "4", "--out", str(out), "--jacobian-keep", "2"]) != 0
    )
    assert "kept fraction of draws must be in (0, 1]" in capsys.readouterr().err


def test_a_generator_with_nan_weights_is_refused(ring_cfg):
    G = build_generator(ring_cfg.model, (2,), torch.zeros(2))
    with torch.no_grad():
        next(G.parameters()).fill_(float("nan"))
    with pytest.raises(ConfigError, match="Jacobian is not finite"):
        draw_truncated(G, ring_cfg, 10, 0.9)


# --- the truncation trick (Brock et al. 2019): z drawn psi times nearer the prior's centre


@pytest.mark.parametrize("prior", ["uniform", "normal"])
def test_truncation_trick_scales_every_draw_towards_the_centre(prior):
    cfg = load_preset("gan-ring", [f"model.noise={prior}"])
    z = draw_noise(cfg, 500, seed=4)
    assert torch.equal(draw_noise(truncated(cfg, 1.0), 500, seed=4), z)
    assert_close(draw_noise(truncated(cfg, 0.3), 500, seed=4), 0.3 * z)
    if prior == "uniform":  # the prior truncated to [-0.3 s, 0.3 s], filled evenly
        small = draw_noise(truncated(cfg, 0.3), 500, seed=4)
        assert small.abs().max() <= 0.3 * cfg.model.noise_scale
        assert small.abs().max() > 0.29 * cfg.model.noise_scale


class _LabelPlusNoise(nn.Module):
    """G(z, y): a picture of brightness y / 10 shifted by 0.1 z_1, so that the draws far
    from the prior's centre are read as a neighbouring class."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, z, y):
        level = y.float() / 10 + 0.1 * z[:, 0] + 0 * self.w
        return level.view(-1, 1, 1, 1).expand(-1, 1, 28, 28)


def test_truncated_draws_are_read_as_their_label_more_often():
    cfg = load_preset("cgan-mnist")  # images on [0, 1], z ~ U(-1.73, 1.73)
    read = lambda x: (x.mean((1, 2, 3)) * 10).round().long()  # noqa: E731
    G = _LabelPlusNoise()
    whole = label_fidelity(G, cfg, 200, reader=read)["fidelity"]
    near = label_fidelity(G, truncated(cfg, 0.25), 200, reader=read)["fidelity"]
    assert 0.3 < whole < 0.8  # |0.1 z_1| > 0.05 misreads: most draws of U(-1.73, 1.73)
    assert near == 1.0  # |0.1 z_1| <= 0.043


def _ring_run(tmp_path, *overrides: str):
    run_dir = tmp_path / "ring"
    args = ["train", "gan-ring", "--out", str(run_dir), "--steps", "2"]
    for kv in ["train.progress=false", *overrides]:
        args += ["--set", kv]
    assert main(args) == 0
    return run_dir


def _last_eval(run_dir):
    return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["eval"]


def test_sample_and_eval_draw_at_the_runs_truncation_unless_told(tmp_path, capsys):
    run_dir = _ring_run(tmp_path, "model.truncation=0.5")
    whole, half = tmp_path / "whole.npy", tmp_path / "half.npy"
    assert main(["sample", str(run_dir), "--n", "50", "--out", str(half)]) == 0
    assert "truncation psi 0.5" in capsys.readouterr().out
    assert (
        main(["sample", str(run_dir), "--n", "50", "--out", str(whole), "--truncation", "1"]) == 0
    )
    assert "truncation" not in capsys.readouterr().out
    spread = lambda f: np.load(f).std(0).sum()  # noqa: E731
    assert spread(half) < spread(whole)
    assert np.array_equal(sample(run_dir, 50).numpy(), np.load(half))  # the library's too
    assert np.array_equal(sample(run_dir, 50, truncation=1).numpy(), np.load(whole))
    with pytest.raises(ConfigError, match=r"truncation=0 must be in \(0, 1\]"):
        sample(run_dir, 5, truncation=0)
    assert main(["eval", str(run_dir), "--metric", "modes", "--n", "100"]) == 0
    assert _last_eval(run_dir)["truncation"] == 0.5
    assert "truncation       0.5000" in capsys.readouterr().out
    args = ["eval", str(run_dir), "--metric", "modes", "--n", "100", "--truncation", "0.2"]
    assert main(args) == 0 and _last_eval(run_dir)["truncation"] == 0.2
    assert main([*args[:-1], "1"]) == 0 and "truncation" not in _last_eval(run_dir)


@pytest.mark.parametrize(
    "args, message",
    [
        (["sample", "RUN", "--out", "x.npy", "--truncation", "0"], "takes a number in (0, 1]"),
        (["sample", "RUN", "--out", "x.npy", "--truncation", "1.5"], "takes a number in (0, 1]"),
        (["eval", "RUN", "--truncation", "nan"], "takes a number in (0, 1]"),
        (["eval", "RUN", "--metric", "accuracy", "--truncation", "0.5"], "scores no draws of z"),
        (
            ["eval", "--samples", "x.npy", "--dataset", "mnist", "--truncation", "0.5"],
            "drawn already",
        ),
        (
            ["train", "gan-ring", "--out", "RUN", "--set", "model.truncation=2"],
            "truncation=2.0 must",
        ),
    ],
)
def test_bad_truncations_are_one_line_errors(args, message, tmp_path, capsys):
    args = [str(tmp_path / "run") if a == "RUN" else a for a in args]
    try:
        code = main(args)
    except SystemExit as stop:  # argparse's refusal: the usage, then one error line
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and sum("error" in line for line in err) == 1
    assert not (tmp_path / "run").exists()
