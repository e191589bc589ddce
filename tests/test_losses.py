import math

import pytest
import torch
from torch import nn

from advnets.errors import ConfigError
from advnets.losses import (
    D_LOSSES,
    G_LOSSES,
    clip_weights_,
    d_hinge,
    d_least_squares,
    d_minimax,
    d_wasserstein,
    g_least_squares,
    g_maximum_likelihood,
    g_minimax,
    g_non_saturating,
    g_wasserstein,
    gradient_penalty,
    interpolates,
    value,
)
from advnets.methods.gan import GANOptions, bind_options


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


# --- Wasserstein, least-squares, hinge and maximum-likelihood losses; critic regularisers ---

REAL = torch.tensor([2.0, -0.5, 0.25])
FAKE = torch.tensor([-1.5, 0.5])


def close(actual: torch.Tensor, expected: float) -> None:
    assert actual.item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_wasserstein_hand_values():
    # E f(fake) - E f(real) = 0.5 * (-1.5 + 0.5) - (2 - 0.5 + 0.25) / 3
    close(d_wasserstein(REAL, FAKE), -0.5 - 1.75 / 3)
    close(g_wasserstein(FAKE), 0.5)


def test_least_squares_hand_values():
    # defaults a=0, b=1: 1/2 mean((real-1)^2) + 1/2 mean(fake^2)
    real_sq = ((2 - 1) ** 2 + (-0.5 - 1) ** 2 + (0.25 - 1) ** 2) / 3  # (1 + 2.25 + 0.5625) / 3
    close(d_least_squares(REAL, FAKE), 0.5 * real_sq + 0.5 * (2.25 + 0.25) / 2)
    close(g_least_squares(FAKE), 0.5 * ((-2.5) ** 2 + (-0.5) ** 2) / 2)
    # Mao et al.'s eq. 9 coding a=-1, b=1, c=0, bound from the config as the objective does
    cfg = GANOptions(lsgan_a=-1.0, lsgan_b=1.0, lsgan_c=0.0)
    d_loss = bind_options(d_least_squares, cfg)
    g_loss = bind_options(g_least_squares, cfg)
    close(d_loss(REAL, FAKE), 0.5 * real_sq + 0.5 * ((-0.5) ** 2 + 1.5**2) / 2)
    close(g_loss(FAKE), 0.5 * (2.25 + 0.25) / 2)


def test_hinge_hand_values():
    # relu(1 - real) = [0, 1.5, 0.75]; relu(1 + fake) = [0, 1.5]
    close(d_hinge(REAL, FAKE), 2.25 / 3 + 1.5 / 2)
    assert G_LOSSES.get("hinge") is g_wasserstein


def test_maximum_likelihood_hand_value_and_gradient():
    """J = -1/2 mean(exp(l)) and dJ/dl_i = -exp(l_i) / (2n): at the optimal D,
    exp(logit) = D/(1 - D) = p_data/p_g (tutorial eq. 16)."""
    logits = torch.tensor([0.0, math.log(3.0), -1.0], dtype=torch.float64, requires_grad=True)
    d = torch.sigmoid(logits.detach())
    loss = g_maximum_likelihood(logits)
    close(loss, -0.5 * (1 + 3 + math.exp(-1)) / 3)
    torch.testing.assert_close(-0.5 * (d / (1 - d)).mean(), loss.detach())
    (grad,) = torch.autograd.grad(loss, logits)
    torch.testing.assert_close(grad, -torch.exp(logits.detach()) / 6, rtol=1e-12, atol=0)


def test_maximum_likelihood_normalised_weights():
    """Normalised: the gradient is -softmax(l), the plain gradient rescaled per batch."""
    logits = torch.tensor([0.0, math.log(3.0), -1.0], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(g_maximum_likelihood(logits, normalize=True), logits)
    w = torch.exp(logits.detach()) / torch.exp(logits.detach()).sum()
    torch.testing.assert_close(grad, -w, rtol=1e-12, atol=0)
    (plain,) = torch.autograd.grad(g_maximum_likelihood(logits), logits)
    torch.testing.assert_close(
        grad / plain, torch.full((3,), 6 / torch.exp(logits).sum().item(), dtype=torch.float64)
    )
    assert bind_options(g_maximum_likelihood, GANOptions(ml_normalize=True)).keywords == {
        "normalize": True
    }


def test_maximum_likelihood_is_stable_where_d_over_one_minus_d_is_not():
    big = torch.tensor([40.0, -200.0, 0.0], requires_grad=True)
    d = torch.sigmoid(big.detach())
    assert not torch.isfinite(d / (1 - d)).all()  # sigmoid(40) rounds to 1 in float32
    loss = g_maximum_likelihood(big)
    (grad,) = torch.autograd.grad(loss, big)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    huge = torch.tensor([500.0, 0.0], requires_grad=True)  # exp(500) overflows float32
    (grad,) = torch.autograd.grad(g_maximum_likelihood(huge, normalize=True), huge)
    torch.testing.assert_close(grad, torch.tensor([-1.0, 0.0]))


def test_interpolates_lie_on_segments():
    real, fake = torch.zeros(2, 3), torch.ones(2, 3)
    x = interpolates(real, fake, torch.tensor([0.25, 1.0]))
    torch.testing.assert_close(x, torch.tensor([[0.75] * 3, [0.0] * 3]))


def test_gradient_penalty_matches_finite_differences():
    """(||grad D(x_hat)|| - 1)^2 averaged over the batch, the gradient taken by central
    differences on a tiny float64 critic."""
    torch.manual_seed(1)
    D = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    real, fake = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    alpha = torch.rand(4, dtype=torch.float64)
    x_hat = alpha[:, None] * real + (1 - alpha[:, None]) * fake
    h = 1e-6
    grads = torch.stack(
        [
            (D(x_hat + h * e) - D(x_hat - h * e)).squeeze(1) / (2 * h)
            for e in torch.eye(3, dtype=torch.float64)
        ],
        1,
    )
    expected = ((grads.norm(dim=1) - 1) ** 2).mean()
    penalty = gradient_penalty(D, real, fake, alpha)
    torch.testing.assert_close(penalty, expected, rtol=1e-7, atol=1e-10)
    # it is differentiable in D's weights (the penalty trains the critic)
    (g,) = torch.autograd.grad(penalty, D[0].weight)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_gradient_penalty_of_a_1_lipschitz_linear_critic_is_zero():
    D = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[0.6, 0.0, 0.8, 0.0]]))  # ||w|| = 1
    close(gradient_penalty(D, torch.randn(8, 4), torch.randn(8, 4)), 0.0)


def test_clip_weights_clamps_every_parameter():
    D = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    with torch.no_grad():
        for p in D.parameters():
            p.normal_(0, 1)
    clip_weights_(D, 0.01)
    values = torch.cat([p.flatten() for p in D.parameters()])
    assert values.abs().max().item() == pytest.approx(0.01, rel=1e-6)


@pytest.mark.parametrize("name", ["wasserstein", "least_squares", "hinge"])
def test_new_losses_are_registered_for_both_players(name):
    assert name in D_LOSSES and name in G_LOSSES
    assert "maximum_likelihood" in G_LOSSES


def test_gradient_penalty_of_a_packed_critic_takes_one_norm_per_pack():
    """PacGAN: the critic's input is a pack of m samples, so the norm is over the pack."""
    from advnets.nets.layers import Packed

    lin = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.6, 0.0, 0.8, 0.0]]))  # ||w|| = 1 over the pack
    D = Packed(nn.Sequential(nn.Flatten(), lin), 2)
    close(gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2)), 0.0)
    # each interpolated pack lies between a real and a fake pack: one alpha per pack
    x_hat = interpolates(torch.zeros(8, 2), torch.ones(8, 2), pack=2)
    packs = x_hat.reshape(4, 4)
    assert torch.equal(packs, packs[:, :1].expand(4, 4))
    assert len(packs[:, 0].unique()) == 4
