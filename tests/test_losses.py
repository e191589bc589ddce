import math

import pytest
import torch

from advnets.errors import ConfigError
from advnets.losses import D_LOSSES, G_LOSSES, d_minimax, g_minimax, g_non_saturating, value


def test_value_matches_hand_computation():
    # D(x) = sigmoid(l): l=0 -> 0.5; l=log 3 -> 0.75
    real = torch.tensor([0.0, math.log(3.0)])
    fake = torch.tensor([-math.log(3.0)])  # D(G(z)) = 0.25, log(1 - 0.25) = log 0.75
    expected = 0.5 * (math.log(0.5) + math.log(0.75)) + math.log(0.75)
    assert value(real, fake).item() == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert d_minimax(real, fake).item() == pytest.approx(-expected, rel=1e-6, abs=1e-7)


def test_value_at_confused_discriminator_is_minus_log4():
    zeros = torch.zeros(7)
    assert value(zeros, zeros).item() == pytest.approx(-math.log(4), rel=1e-7, abs=1e-7)


def test_generator_losses_hand_values():
    fake = torch.tensor([math.log(3.0)])  # D(G(z)) = 0.75
    assert g_minimax(fake).item() == pytest.approx(math.log(0.25), rel=1e-6, abs=1e-7)
    assert g_non_saturating(fake).item() == pytest.approx(-math.log(0.75), rel=1e-6, abs=1e-7)


def test_losses_finite_for_extreme_logits():
    big = torch.tensor([-200.0, 200.0])
    for loss in (d_minimax(big, big), g_minimax(big), g_non_saturating(big)):
        assert torch.isfinite(loss)
    # log(1 - D) for D(G(z)) -> 1 is -200 exactly, not -inf
    assert g_minimax(torch.tensor([200.0])).item() == pytest.approx(-200.0, rel=1e-6)


def test_saturation_is_real():
    """When D rejects samples confidently, the minimax G loss has a vanishing gradient and the
    non-saturating one does not (paper, Sec. 3)."""
    logits = torch.tensor([-8.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(g_minimax(logits), logits)
    (g_ns,) = torch.autograd.grad(g_non_saturating(logits), logits)
    assert abs(g_mm.item()) == pytest.approx(torch.sigmoid(torch.tensor(-8.0)).item(), rel=1e-5)
    assert abs(g_ns.item()) == pytest.approx(1 - torch.sigmoid(torch.tensor(-8.0)).item(), rel=1e-5)
    assert abs(g_ns.item()) > 1000 * abs(g_mm.item())


def test_registry_lists_names_on_error():
    assert "non_saturating" in G_LOSSES and "minimax" in D_LOSSES
    with pytest.raises(ConfigError, match="non_saturating"):
        G_LOSSES.get("nonsaturating")
