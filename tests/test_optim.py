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
