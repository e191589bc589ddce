import io

import pytest
import torch

from advnets.config import OptimConfig, load_preset
from advnets.training.optim import apply_schedule, build_optimizer, scheduled_lr, scheduled_momentum


def test_paper_lr_decay_and_floor():
    cfg = load_preset("gan-mnist").optim["G"]
    assert scheduled_lr(cfg, 0) == pytest.approx(0.1, rel=1e-12)
    assert scheduled_lr(cfg, 250_000) == pytest.approx(0.1 / 1.000004**250_000, rel=1e-9)
    assert scheduled_lr(cfg, 10**8) == pytest.approx(1e-6, rel=1e-12)
    assert scheduled_lr(cfg, 10**15) == pytest.approx(cfg.lr_min, rel=1e-12)  # no overflow


def test_lr_milestones_multiply_by_gamma_as_multistep_lr():
    cfg = OptimConfig(name="adam", lr=2e-4, lr_milestones=[3, 5], lr_gamma=0.1)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=cfg.lr)
    reference = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[3, 5], gamma=0.1)
    for updates in range(8):
        assert scheduled_lr(cfg, updates) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
        opt.step()
        reference.step()


def test_lr_ramp_down_falls_linearly_to_zero_as_linear_lr():
    cfg = OptimConfig(name="adam", lr=3e-3, lr_ramp_down=[4, 10])
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=cfg.lr)
    reference = torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.0, total_iters=6)
    for updates in range(4):
        assert scheduled_lr(cfg, updates) == pytest.approx(3e-3, rel=1e-12)
    for updates in range(4, 13):  # LinearLR's step k is update 4 + k
        assert scheduled_lr(cfg, updates) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-15)
        opt.step()
        reference.step()
    assert scheduled_lr(cfg, 7) == pytest.approx(1.5e-3, rel=1e-12)  # half way
    assert scheduled_lr(cfg, 10) == 0.0 and scheduled_lr(cfg, 10**9) == 0.0


def test_lr_ramp_down_multiplies_the_other_schedules():
    cfg = OptimConfig(name="adam", lr=1.0, lr_milestones=[2], lr_gamma=0.5, lr_ramp_down=[0, 4])
    assert [scheduled_lr(cfg, u) for u in range(5)] == pytest.approx([1, 0.75, 0.25, 0.125, 0])


def test_paper_momentum_ramp():
    cfg = load_preset("gan-mnist").optim["D"]
    # pylearn2's MomentumAdjustor(start=1, saturate=250): epoch e (1-based) runs with
    # alpha = (e - 1) / 249; the argument here is the number of epochs already done.
    assert scheduled_momentum(cfg, 0) == pytest.approx(0.5, rel=1e-12)
    assert scheduled_momentum(cfg, 1) == pytest.approx(0.5 + 0.2 / 249, rel=1e-12)
    assert scheduled_momentum(cfg, 124) == pytest.approx(0.5 + 0.2 * 124 / 249, rel=1e-12)
    assert scheduled_momentum(cfg, 248) == pytest.approx(0.5 + 0.2 * 248 / 249, rel=1e-12)
    assert scheduled_momentum(cfg, 249) == pytest.approx(0.7, rel=1e-12)
    assert scheduled_momentum(cfg, 900) == pytest.approx(0.7, rel=1e-12)


def test_schedule_is_applied_to_the_optimizer():
    cfg = OptimConfig(
        name="sgd",
        lr=0.1,
        momentum=0.5,
        lr_decay=2.0,
        lr_min=0.01,
        momentum_final=0.7,
        momentum_start=0,
        momentum_saturate=10,
    )
    opt = build_optimizer(cfg, [torch.nn.Parameter(torch.zeros(3))], torch.device("cpu"))
    apply_schedule(opt, cfg, updates=2, epochs_done=5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025, rel=1e-12)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.62, rel=1e-12)  # in epoch 6


def _reference_adam_eps_inside_sqrt(w, grads, lr, betas, eps):
    """The improved-GAN code's `adam_updates`, step by step in float64."""
    m = v = torch.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        w = w - lr * m_hat / torch.sqrt(v_hat + eps)
    return w


def test_adam_with_eps_inside_the_sqrt_matches_its_formula():
    torch.manual_seed(0)
    w0 = torch.randn(50, dtype=torch.float64)
    # gradients from 1e-6 to 1: the small ones are where the two Adams differ
    grads = [torch.randn(50, dtype=torch.float64) * torch.logspace(-6, 0, 50) for _ in range(6)]
    cfg = OptimConfig(name="adam", lr=0.003, betas=[0.5, 0.999], eps=1e-8, eps_inside_sqrt=True)
    param = torch.nn.Parameter(w0.clone())
    opt = build_optimizer(cfg, [param], torch.device("cpu"))
    for g in grads:
        param.grad = g.clone()
        opt.step()
    expected = _reference_adam_eps_inside_sqrt(w0, grads, 0.003, (0.5, 0.999), 1e-8)
    torch.testing.assert_close(param.detach(), expected, rtol=1e-12, atol=1e-14)
    # torch's Adam moves the 1e-6 gradients' weights by ~lr a step; this one by ~lr / 100
    torch_adam = torch.nn.Parameter(w0.clone())
    reference = torch.optim.Adam([torch_adam], lr=0.003, betas=(0.5, 0.999), eps=1e-8)
    for g in grads:
        torch_adam.grad = g.clone()
        reference.step()
    ours, theirs = (param.detach() - w0).abs(), (torch_adam.detach() - w0).abs()
    assert 0.002 < (ours[:5] / theirs[:5]).max() < 0.1  # gradients ~1e-6: damped
    torch.testing.assert_close(ours[-5:], theirs[-5:], rtol=1e-3, atol=0)  # ~1: the same


def test_adam_eps_inside_sqrt_resumes_exactly():
    cfg = OptimConfig(name="adam", lr=0.01, eps_inside_sqrt=True)
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    opt_a, opt_b = build_optimizer(cfg, [a], torch.device("cpu")), None
    for step in range(4):
        a.grad = torch.full((3,), float(step + 1))
        opt_a.step()
        if step == 1:  # "save" after two steps, then continue a copy from the saved state
            b.data.copy_(a.data)
            opt_b = build_optimizer(cfg, [b], torch.device("cpu"))
            saved = io.BytesIO()
            torch.save(opt_a.state_dict(), saved)
            saved.seek(0)
            opt_b.load_state_dict(torch.load(saved, weights_only=True))
        elif step > 1:
            b.grad = a.grad.clone()
            opt_b.step()
    assert torch.equal(a, b)
