import math

import pytest
import torch

from advnets.data import load_images01, stack_digits
from advnets.data.toy import grid, ring
from advnets.errors import DataError
from advnets.metrics import mode_metrics
from advnets.metrics.evaluate import METRICS, EvalSettings, check_samples
from advnets.metrics.modes import stacked_mode_metrics


def test_all_modes_uniform():
    g = grid()
    samples = g.means.repeat(100, 1) + 0.01 * torch.randn(2500, 2)
    m = mode_metrics(samples, g.means, g.std)
    assert m["modes"] == 25 and m["high_quality"] == 1.0
    assert m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_half_the_modes_and_junk():
    r = ring()
    half = r.means[:4].repeat(50, 1)
    junk = torch.zeros(200, 2)  # the centre of the ring is 1 from every mode
    m = mode_metrics(torch.cat([half, junk]), r.means, r.std)
    assert m["modes"] == 4 and m["high_quality"] == pytest.approx(0.5)
    assert m["reverse_kl"] == pytest.approx(math.log(2), rel=1e-9)
    assert mode_metrics(junk, r.means, r.std)["reverse_kl"] == math.inf


def test_stacked_mode_metrics_by_hand():
    every = torch.stack(torch.meshgrid(*[torch.arange(10)] * 3, indexing="ij"), -1).view(-1, 3)
    m = stacked_mode_metrics(every.repeat(2, 1))
    assert m["modes"] == 1000 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    ten = torch.tensor([[d, d, d] for d in range(10)]).repeat(5, 1)  # 10 modes, uniformly
    m = stacked_mode_metrics(ten)
    assert m["modes"] == 10 and m["reverse_kl"] == pytest.approx(math.log(100), rel=1e-9)


def test_stack_digits_channels_and_mode_ids():
    images = torch.arange(10.0).view(10, 1, 1, 1).expand(10, 1, 28, 28) / 10
    labels = torch.arange(10)
    stacked, ids = stack_digits(images, labels, 500, seed=3)
    assert stacked.shape == (500, 3, 28, 28)
    digits = (stacked[:, :, 0, 0] * 10).round().long()  # each channel is one whole digit
    assert torch.equal(ids, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    assert len(ids.unique()) > 350  # independent draws cover most of the 1,000 modes
    again, _ = stack_digits(images, labels, 500, seed=3)
    assert torch.equal(stacked, again)


def test_stacked_mnist_real_and_collapsed_sets(data_root):
    digits, labels = load_images01("mnist", "test", str(data_root), 3000)
    real, _ = stack_digits(digits, labels, 1000, seed=1)
    settings = EvalSettings(stacked_samples=1000)
    m = METRICS["modes"](check_samples(real, "stacked-mnist"), "stacked-mnist", settings)
    assert m["modes"] > 550 and m["reverse_kl"] < 0.7  # 1,000 draws over 1,000 modes: ~632
    collapsed = real[:1].repeat(1000, 1, 1, 1)  # one image: one mode
    m = METRICS["modes"](collapsed, "stacked-mnist", settings)
    assert m["modes"] == 1 and m["reverse_kl"] == pytest.approx(math.log(1000))
    with pytest.raises(DataError, match=r"shape \(N, 3, 28, 28\)"):
        check_samples(digits, "stacked-mnist")


def test_high_quality_means_within_three_standard_deviations():
    """Samples at 2.9 std from a mode count for it; at 3.1 std they count for none."""
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    std = 0.1
    inside = torch.tensor([[0.29, 0.0], [10.0, -0.29]])
    outside = torch.tensor([[0.0, 0.31], [9.69, 0.0]])
    scores = mode_metrics(torch.cat([inside, outside]), means, std)
    assert scores["modes"] == 2 and scores["high_quality"] == pytest.approx(0.5)
    assert mode_metrics(outside, means, std)["modes"] == 0
