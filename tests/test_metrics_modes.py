import math

import pytest
import torch

from advnets.data.toy import grid, ring
from advnets.metrics import mode_metrics


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
