"""Behaviour: Algorithm 1 does what the paper says, and GANs actually learn."""

import math

import pytest
import torch

from advnets.config import load_preset
from advnets.metrics import mode_metrics
from advnets.sampling import generate
from advnets.training import build_run, run_loop


def train_preset(name: str, *overrides: str):
    cfg = load_preset(name, ["train.progress=false", *overrides])
    run = build_run(cfg)
    return run_loop(run, [], run.total_steps())


@pytest.mark.parametrize("k", [1, 3])
def test_k_discriminator_updates_per_iteration(k):
    run = train_preset("gan-ring", f"train.k={k}", "train.steps=4")
    c = run.counters
    assert (c.step, run.players["D"].updates, run.players["G"].updates) == (4, 4 * k, 4)


def test_generator_step_leaves_discriminator_untouched():
    run = train_preset("gan-ring", "train.steps=1")
    before = [p.clone() for p in run.D.parameters()]
    run.players["D"].optimizer.zero_grad(set_to_none=True)
    run.update("G")
    for a, b in zip(before, run.D.parameters(), strict=True):
        assert torch.equal(a, b)
    # no D weight gradient is even computed in the G step, and D is trainable again after it
    assert all(p.grad is None for p in run.D.parameters())
    assert all(p.requires_grad for p in run.D.parameters())


def test_every_update_draws_fresh_batches():
    """Algorithm 1: each of the k D updates gets its own data and noise minibatch, and the G
    update its own noise."""
    run = train_preset("gan-ring", "train.steps=0", "train.k=3")
    reals, noises = [], []
    batches = run.step.batches
    sampler_next, noise = batches.data.next, batches.noise
    batches.data.next = lambda m: reals.append(sampler_next(m)) or reals[-1]
    batches.noise = lambda m: noises.append(noise(m)) or noises[-1]
    run.step()
    assert len(reals) == 3 and len(noises) == 4
    for group in (reals, noises):
        for i in range(len(group)):
            for j in range(i):
                assert not torch.equal(group[i], group[j])


def test_simultaneous_update_moves_both_players():
    run = train_preset("gan-ring", "train.steps=1")
    g0 = [p.clone() for p in run.G.parameters()]
    d0 = [p.clone() for p in run.D.parameters()]
    run.cfg.train.update = "simultaneous"
    run.step()
    assert not all(torch.equal(a, b) for a, b in zip(g0, run.G.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d0, run.D.parameters(), strict=True))
    assert (run.players["D"].updates, run.players["G"].updates) == (2, 2)


def test_ring_gan_places_samples_on_modes():
    run = train_preset("gan-ring", "train.steps=3000", "train.seed=0")
    samples = generate(run.G, torch.randn(2500, 2))
    m = mode_metrics(samples, run.data.distribution.means, run.cfg.data.std)
    # untrained, no sample is within 3 std (0.03) of a mode; see test below
    assert m["modes"] >= 6 and m["high_quality"] >= 0.05, m


def test_untrained_ring_generator_misses_every_mode():
    run = train_preset("gan-ring", "train.steps=0")
    m = mode_metrics(generate(run.G, torch.randn(2500, 2)), run.data.distribution.means, 0.01)
    assert m["high_quality"] < 0.01


def test_mnist_losses_move_the_expected_way(data_root):
    """A few hundred paper-model steps: D learns to tell real from fake, so its loss falls
    from log 4 and D(x) > 1/2 > D(G(z)), and G's loss rises above log 2."""
    run = train_preset(
        "gan-mnist", f"data.root={data_root}", "data.download=false", "train.steps=0"
    )
    z = torch.rand(500, 100) * 2 * math.sqrt(3) - math.sqrt(3)
    stats0 = run.update("D")
    assert stats0["loss_d"].item() == pytest.approx(math.log(4), abs=0.01)
    rows = []
    for _ in range(300):
        rows.append(run.step())
    last = {k: torch.stack([r[k] for r in rows[-50:]]).mean().item() for k in rows[0]}
    assert last["loss_d"] < math.log(4) - 0.3
    assert last["d_real"] > 0.6 and last["d_fake"] < 0.4
    assert last["loss_g"] > math.log(2)
    samples = generate(run.G, z)
    assert samples.shape == (500, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1


def test_1d_gan_learns_mean_and_std():
    """Figure 1's set-up: G maps U(-1, 1) onto N(4, 0.5^2). Tolerance: 0.1 on both."""
    run = train_preset("gan-1d", "train.seed=0")
    x = generate(run.G, torch.rand(20_000, 1) * 2 - 1)
    assert x.mean().item() == pytest.approx(4.0, abs=0.1)
    assert x.std().item() == pytest.approx(0.5, abs=0.1)


def test_reuse_fakes_runs_one_generator_forward_per_iteration():
    run = train_preset("gan-ring", "train.steps=0", "train.update=reuse_fakes")
    calls = []
    run.G.register_forward_hook(lambda *_: calls.append(1))
    g0 = [p.clone() for p in run.G.parameters()]
    run.step()
    assert len(calls) == 1 and (run.players["D"].updates, run.players["G"].updates) == (1, 1)
    assert not all(torch.equal(a, b) for a, b in zip(g0, run.G.parameters(), strict=True))


def test_alternating_runs_fresh_generator_forwards():
    run = train_preset("gan-ring", "train.steps=0", "train.k=2")
    calls = []
    run.G.register_forward_hook(lambda *_: calls.append(1))
    run.step()
    assert len(calls) == 3  # one per D update (no grad) and one for the G update


def test_bf16_training_still_learns():
    """Under bf16 autocast the 1-D GAN still moves G(z) onto N(4, 0.5^2) (looser tolerance:
    fewer steps, since bf16 is slow on CPUs without native bf16 units)."""
    run = train_preset("gan-1d", "train.seed=0", "train.precision=bf16", "train.steps=300")
    x = generate(run.G, torch.rand(20_000, 1) * 2 - 1)
    untrained = generate(train_preset("gan-1d", "train.steps=0").G, torch.rand(1000, 1))
    assert abs(untrained.mean().item() - 4.0) > 3
    assert x.mean().item() == pytest.approx(4.0, abs=0.25)
    assert 0.2 < x.std().item() < 0.8


def test_batch_larger_than_data_is_a_config_error(data_root):
    from advnets.errors import ConfigError

    with pytest.raises(ConfigError, match="larger than the data set"):
        train_preset(
            "gan-mnist",
            f"data.root={data_root}",
            "data.split=valid",
            "train.eval_every=0",
            "train.batch_size=20000",
            "train.steps=1",
        )


def test_wgan_critic_schedule():
    """Arjovsky et al.'s reference code: 100 critic steps before each of the first 25
    generator updates and before every 500th, k otherwise."""
    from advnets.methods.gan import critic_steps

    assert [critic_steps(5, g, "wgan") for g in (0, 24, 25, 499, 500, 501, 1000)] == [
        100,
        100,
        5,
        5,
        100,
        5,
        100,
    ]
    assert {critic_steps(5, g, "constant") for g in (0, 24, 500)} == {5}
    run = train_preset("gan-ring", "train.k=5", "train.k_schedule=wgan", "train.steps=0")
    calls, run_phase, G = [], run.step.run, run.players["G"]

    def count_d_skip_work(phase):  # D updates are counted, not done; G updates are done
        return calls.append(G.updates) or {} if phase.trains == ("D",) else run_phase(phase)

    run.step.run = count_d_skip_work
    for _ in range(27):
        run.step()
    assert len(calls) == 25 * 100 + 2 * 5 and calls.count(25) == calls.count(26) == 5
    assert (run.counters.step, G.updates) == (27, 27)


def test_weight_clipping_keeps_critic_weights_in_range():
    run = train_preset(
        "gan-ring",
        "loss.discriminator=wasserstein",
        "loss.generator=wasserstein",
        "options.clip=0.01",
        "optim.D.name=rmsprop",
        "optim.D.lr=0.05",
        "train.steps=0",
    )
    before = torch.cat([p.detach().flatten() for p in run.D.parameters()])
    assert before.abs().max() > 0.01  # PyTorch's init is wider than the clip
    run.update("D")
    after = torch.cat([p.detach().flatten() for p in run.D.parameters()])
    assert after.abs().max().item() == pytest.approx(0.01, rel=1e-6)
    assert isinstance(run.players["D"].optimizer, torch.optim.RMSprop)


def test_gradient_penalty_objective_reports_and_trains():
    run = train_preset(
        "gan-ring",
        "loss.discriminator=wasserstein",
        "loss.generator=wasserstein",
        "options.gradient_penalty=10",
        "train.steps=0",
    )
    d0 = [p.clone() for p in run.D.parameters()]
    stats = run.step()
    assert stats["gradient_penalty"].item() >= 0 and torch.isfinite(stats["loss_d"])
    assert not all(torch.equal(a, b) for a, b in zip(d0, run.D.parameters(), strict=True))


def test_gradient_penalty_objective_adds_lambda_times_the_penalty():
    from torch import nn

    from advnets.losses import d_wasserstein, gradient_penalty

    gan = train_preset(
        "gan-ring",
        "loss.discriminator=wasserstein",
        "loss.generator=wasserstein",
        "options.gradient_penalty=10",
        "train.steps=0",
    ).method
    D = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    real, fake = torch.randn(16, 2), torch.randn(16, 2) + 1
    torch.manual_seed(5)  # the same interpolation weights in both computations
    loss, stats = gan.discriminator_loss(D, real, fake)
    torch.manual_seed(5)
    penalty = gradient_penalty(D, real, fake)
    assert penalty.item() > 0.01
    torch.testing.assert_close(stats["gradient_penalty"], penalty.detach())
    torch.testing.assert_close(loss, d_wasserstein(D(real), D(fake)) + 10.0 * penalty)


def test_simultaneous_update_keeps_the_gradient_penalty():
    run = train_preset(
        "gan-ring",
        "loss.discriminator=wasserstein",
        "loss.generator=wasserstein",
        "options.gradient_penalty=10",
        "train.update=simultaneous",
        "train.steps=0",
    )
    assert "gradient_penalty" in run.step()


def test_clip_and_penalty_together_is_a_config_error():
    from advnets.errors import ConfigError

    with pytest.raises(ConfigError, match="alternatives"):
        train_preset("gan-ring", "options.clip=0.01", "options.gradient_penalty=10")
    with pytest.raises(ConfigError, match="k_schedule"):
        train_preset("gan-ring", "train.k_schedule=wgan", "train.update=reuse_fakes")
