"""Remedies for mode collapse: Unrolled GAN, PacGAN, minibatch discrimination and feature
matching, against hand computations, finite differences and the plain GAN."""

import math

import pytest
import torch
from torch import nn

from advnets.config import NetConfig, load_preset
from advnets.errors import ConfigError
from advnets.losses import d_minimax, feature_matching, g_non_saturating
from advnets.methods.unrolled import AtParams, FunctionalOptimizer, Unroller
from advnets.metrics import mode_metrics
from advnets.nets import build_discriminator
from advnets.nets.dcgan import DCGANDiscriminator
from advnets.nets.layers import MinibatchDiscrimination, Packed, pack
from advnets.nets.mlp import MLPDiscriminator
from advnets.sampling import draw_samples
from advnets.training import build_run, run_loop
from advnets.training.optim import scheduled_lr


def ring_run(*overrides: str):
    return build_run(load_preset("gan-ring", ["train.progress=false", "train.steps=0", *overrides]))


def params_of(*modules: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for m in modules for p in m.parameters()]


# --- Unrolled GAN ---


@pytest.mark.parametrize(
    "extra",
    [[], ["model.discriminator.batch_norm=true", "model.discriminator.batch_norm_first=true"]],
)
def test_unrolled_with_zero_steps_is_the_plain_gan_exactly(extra):
    """K = 0: f_0(theta_G, theta_D) = f(theta_G, theta_D), through the unrolled code path
    (functional_call at D's own parameters), bit for bit over several Algorithm-1 steps."""
    plain = ring_run(*extra)  # each run seeds the global RNG when built: one after the other
    stats_plain = [plain.step() for _ in range(3)][-1]
    unrolled = ring_run(*extra)
    unrolled.method.unroller = Unroller(
        0, FunctionalOptimizer(unrolled.players["D"].optimizer, unrolled.D)
    )
    stats_unrolled = [unrolled.step() for _ in range(3)][-1]
    for a, b in zip(params_of(plain.G, plain.D), params_of(unrolled.G, unrolled.D), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(plain.D.buffers(), unrolled.D.buffers(), strict=True):
        assert torch.equal(a, b)
    assert stats_plain.keys() == stats_unrolled.keys()
    assert all(torch.equal(stats_plain[k], stats_unrolled[k]) for k in stats_plain)
    # and the config's default (unroll_steps = 0) builds no unroller at all
    assert ring_run().method.unroller is None


def d_loss64(D, real, fake, real_y=None, fake_y=None):
    """D's minimax loss without the GAN method's float32 cast of the logits (float64 checks)."""
    return d_minimax(D(real), D(fake)), {}


def unrolled_g_loss(unroller: Unroller, D: nn.Module, fake, real) -> torch.Tensor:
    """G's non-saturating loss at D unrolled on (real, fake)."""
    return g_non_saturating(unroller(d_loss64, D, real, fake)(fake))


def tiny_problem(optimizer: str):
    """A float64 G: z (4, 1) -> x (4, 2), a tanh D, a real batch, and D's optimizer with a
    non-empty state (two real steps taken), so the unroll starts mid-training."""
    torch.manual_seed(3)
    G = nn.Linear(1, 2).double()
    D = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Flatten(0)).double()
    z, real = torch.randn(4, 1, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    if optimizer == "adam":
        opt = torch.optim.Adam(D.parameters(), lr=0.05, betas=(0.5, 0.999))
    else:
        opt = torch.optim.SGD(D.parameters(), lr=0.2, momentum=0.5)
    for _ in range(2):
        opt.zero_grad()
        d_minimax(D(real), D(G(z).detach())).backward()
        opt.step()
    return G, D, z, real, opt


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_unrolled_gradient_matches_finite_differences(optimizer):
    """dF/dtheta_G of F(theta_G) = f(theta_G, theta_D^K(theta_G)), K = 3 differentiable
    optimizer steps, against central differences of F itself."""
    G, D, z, real, opt = tiny_problem(optimizer)
    unroller = Unroller(3, FunctionalOptimizer(opt, D))
    D.requires_grad_(False)  # as in the G step

    def F() -> torch.Tensor:
        return unrolled_g_loss(unroller, D, G(z), real)

    grads = torch.autograd.grad(F(), list(G.parameters()))
    h = 1e-6
    for p, grad in zip(G.parameters(), grads, strict=True):
        numeric = torch.zeros_like(p)
        for i in range(p.numel()):
            with torch.no_grad():
                p.view(-1)[i] += h
            up = F().item()
            with torch.no_grad():
                p.view(-1)[i] -= 2 * h
            down = F().item()
            with torch.no_grad():
                p.view(-1)[i] += h
            numeric.view(-1)[i] = (up - down) / (2 * h)
        torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-8)
    # looking ahead changes the gradient: it is not that of the plain loss
    plain = torch.autograd.grad(g_non_saturating(D(G(z))), list(G.parameters()))
    assert not torch.allclose(
        torch.cat([g.flatten() for g in grads]), torch.cat([g.flatten() for g in plain]), rtol=1e-3
    )


def test_cheap_unrolled_variant_holds_the_unrolled_discriminator_fixed():
    """Without backprop, G's gradient is that of its loss at theta_D^K taken as constants;
    theta_D^K is the same as with backprop."""
    G, D, z, real, opt = tiny_problem("adam")
    full = Unroller(3, FunctionalOptimizer(opt, D), backprop=True)
    cheap = Unroller(3, FunctionalOptimizer(opt, D), backprop=False)
    D.requires_grad_(False)  # as in the G step
    theta_k = cheap(d_loss64, D, real, G(z)).tensors
    for name, value in full(d_loss64, D, real, G(z)).tensors.items():
        torch.testing.assert_close(value.detach(), theta_k[name], rtol=1e-12, atol=1e-14)
    D_k = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Flatten(0)).double()
    D_k.load_state_dict(theta_k)
    expected = torch.autograd.grad(g_non_saturating(D_k(G(z))), list(G.parameters()))
    got = torch.autograd.grad(unrolled_g_loss(cheap, D, G(z), real), list(G.parameters()))
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.7, weight_decay=0.01),
        lambda ps: torch.optim.SGD(ps, lr=0.1),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01),
    ],
    ids=["adam", "sgd-momentum", "sgd", "rmsprop"],
)
def test_functional_optimizer_step_equals_torch_step(make):
    """The differentiable update rule is PyTorch's: from the same state, one step gives the
    same parameters (three steps: the first from an empty state, then with moments)."""
    D = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    D[0].bias.requires_grad_(False)  # a frozen parameter: torch's step leaves it alone
    opt = make(D.parameters())
    rule = FunctionalOptimizer(opt, D)
    assert rule.trainable == ("0.weight", "2.weight", "2.bias")
    frozen_bias = D[0].bias.detach().clone()
    for _ in range(3):
        x = torch.randn(5, 3)
        state = rule.initial_state()
        params = {n: p.detach().clone() for n, p in D.named_parameters()}
        opt.zero_grad()
        D(x).pow(2).mean().backward()
        grads = {n: D.get_parameter(n).grad for n in rule.trainable}
        predicted, _ = rule.step(params, grads, state)
        opt.step()
        for name, p in D.named_parameters():
            torch.testing.assert_close(predicted[name], p.detach(), rtol=1e-5, atol=1e-7)
    assert torch.equal(D[0].bias, frozen_bias)


def test_unrolled_look_ahead_leaves_frozen_weight_norm_scales_alone():
    """D's fixed weight-norm scales (weight_norm_train_hidden=false) never move under its
    optimizer, nor in the look-ahead; its trainable weights do."""
    run = ring_run(
        "options.unroll_steps=2",
        "model.discriminator.weight_norm=true",
        "model.discriminator.weight_norm_train_hidden=false",
    )
    unroller, D = run.method.unroller, run.D
    frozen = [n for n, p in D.named_parameters() if not p.requires_grad]
    assert frozen and set(frozen).isdisjoint(unroller.optimizer.trainable)
    run.step()
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    ahead = unroller(run.method.discriminator_loss, D, real, fake).tensors
    for name, p in D.named_parameters():
        moved = not torch.equal(ahead[name], p.detach())
        assert moved == (name not in frozen), name


def test_unrolled_training_composes_with_other_variants():
    """Unrolled (through Adam) with feature matching, packing and minibatch discrimination:
    D still takes one ordinary step per update, and everything stays finite."""
    run = ring_run(
        "options.unroll_steps=2",
        "loss.generator=feature_matching",
        "model.discriminator.pack=2",
        "model.discriminator.minibatch_kernels=3",
    )
    assert isinstance(run.method.unroller, Unroller) and run.method.feature_matching
    g0, d0 = params_of(run.G), params_of(run.D)
    stats = run.step()
    assert all(torch.isfinite(v) for v in stats.values())
    assert (run.players["D"].updates, run.players["G"].updates) == (1, 1)
    assert not any(torch.equal(a, b) for a, b in zip(g0, params_of(run.G), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d0, params_of(run.D), strict=True))


def test_unrolled_look_ahead_takes_the_lr_of_ds_next_update(monkeypatch):
    """Under lr decay the K look-ahead updates use the lr D's next real update will use,
    not the lr of its previous one."""
    run = ring_run("options.unroll_steps=1", "optim.D.lr_decay=2.0")
    seen: list[tuple[float, float]] = []
    step = FunctionalOptimizer.step

    def spy(self, params, grads, state):
        d = run.players["D"]
        seen.append((self.opt.param_groups[0]["lr"], scheduled_lr(d.optim_cfg, d.updates)))
        return step(self, params, grads, state)

    monkeypatch.setattr(FunctionalOptimizer, "step", spy)
    for _ in range(3):
        run.step()
    assert len(seen) == 3
    for used, expected in seen:
        assert used == pytest.approx(expected, rel=1e-12)
    lr0 = run.players["D"].optim_cfg.lr
    assert [used for used, _ in seen] == pytest.approx([lr0 / 2, lr0 / 4, lr0 / 8], rel=1e-12)


# --- PacGAN ---


def test_pack_concatenates_consecutive_samples():
    x = torch.arange(12.0).view(6, 2)
    packed = pack(x, 3)
    assert packed.shape == (2, 6)
    torch.testing.assert_close(packed[1], torch.cat([x[3], x[4], x[5]]))
    images = torch.arange(24.0).view(6, 1, 2, 2)  # images: the samples become channels
    packed = pack(images, 2)
    assert packed.shape == (3, 2, 2, 2)
    torch.testing.assert_close(packed[2, 1], images[5, 0])
    with pytest.raises(ValueError, match="packs of 4"):
        pack(x, 4)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_packed_discriminator_orders(arch):
    """D(x_1, ..., x_m) gives one logit per pack. Reordering whole packs only reorders the
    logits (D's loss is unchanged); reordering samples inside a pack, or swapping samples
    between packs, changes what D sees (packing is concatenation, not a set function)."""
    cfg = load_preset("gan-ring" if arch == "mlp" else "dcgan-mnist").model
    shape = (2,) if arch == "mlp" else (1, 16, 16)
    cfg.discriminator.pack, cfg.discriminator.channels = 3, 4
    D = build_discriminator(cfg, shape).eval()
    assert isinstance(D, Packed)
    first = next(m for m in D.modules() if isinstance(m, nn.Linear | nn.Conv2d))
    assert (first.in_features if arch == "mlp" else first.in_channels) == 3 * shape[0]
    real, fake = torch.randn(12, *shape), torch.randn(12, *shape)
    logits = D(real)
    assert logits.shape == (4,)
    by_pack = torch.tensor([2, 0, 3, 1])
    order = (by_pack[:, None] * 3 + torch.arange(3)).flatten()
    torch.testing.assert_close(D(real[order]), logits[by_pack])
    torch.testing.assert_close(d_minimax(D(real[order]), D(fake)), d_minimax(logits, D(fake)))
    inside = torch.tensor([1, 0, 2, *range(3, 12)])  # swap the first two samples of pack 0
    changed = D(real[inside])
    assert not torch.allclose(changed[0], logits[0]) and torch.equal(changed[1:], logits[1:])
    across = torch.tensor([3, *range(1, 3), 0, *range(4, 12)])  # x_0 <-> x_3: packs 0 and 1
    assert not torch.allclose(D(real[across])[:2], logits[:2])


def test_packed_training_step_splits_real_and_fake_packs():
    run = ring_run("model.discriminator.pack=4")
    stats = run.step()
    assert all(torch.isfinite(v) for v in stats.values())
    real, fake = torch.randn(100, 2), torch.randn(100, 2)
    real_logits, fake_logits = run.method.d_logits(run.D, real, fake)
    assert real_logits.shape == fake_logits.shape == (25,)
    torch.testing.assert_close(real_logits, run.D(real))  # no pack mixes real and fake
    with pytest.raises(ConfigError, match="multiple of model.discriminator.pack=3"):
        ring_run("model.discriminator.pack=3")
    with pytest.raises(ConfigError, match=r"pack=2: packs of samples of shape \(2,\)"):
        ring_run("model.discriminator.pack=2", "model.discriminator.arch=dcgan")


# --- minibatch discrimination ---


def test_minibatch_features_match_hand_computation():
    """A = 2 features, B = 2 kernels of C = 2 rows, 3 samples."""
    layer = MinibatchDiscrimination(2, 2, 2)
    with torch.no_grad():  # M_{i,b,c} = sum_a f_{i,a} T_{a,b,c}
        layer.T.copy_(torch.tensor([[[1.0, 0.0], [0.5, 1.0]], [[0.0, 2.0], [1.0, -1.0]]]))
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    M = [[[1.0, 0.0], [0.5, 1.0]], [[0.0, 2.0], [1.0, -1.0]], [[1.0, 2.0], [1.5, 0.0]]]
    expected = torch.zeros(3, 2)
    for i in range(3):
        for b in range(2):
            expected[i, b] = sum(
                math.exp(-sum(abs(M[i][b][c] - M[j][b][c]) for c in range(2))) for j in range(3)
            )
    # e.g. o(x_0)_0 = e^0 + e^-(1 + 2) + e^-(0 + 2)
    assert expected[0, 0].item() == pytest.approx(1 + math.exp(-3) + math.exp(-2))
    out = layer(f)
    torch.testing.assert_close(out, torch.cat([f, expected], dim=1))
    # o(x_i) depends on the batch as a set: reordering the batch reorders the rows only
    order = torch.tensor([2, 0, 1])
    torch.testing.assert_close(layer(f[order]), out[order])


def test_minibatch_features_have_first_and_second_derivatives():
    """Gradients (and, for Unrolled GAN, gradients of gradients) match finite differences."""
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(3, 2, 2).double()
    f = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)

    def o(f: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, {"T": T}, (f,))

    T = layer.T.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(o, (f, T))
    assert torch.autograd.gradgradcheck(o, (f, T))


def test_minibatch_features_train_under_bf16_autocast():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(8, 4, 3)
    f = torch.randn(6, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(nn.functional.linear(f, torch.eye(8)))  # bf16 features, as in a bf16 D
    grad_f, grad_T = torch.autograd.grad(out[:, 8:].sum(), (f, layer.T))
    reference = torch.autograd.grad(layer(f)[:, 8:].sum(), (f, layer.T))
    assert grad_f.dtype == grad_T.dtype == torch.float32
    torch.testing.assert_close(grad_f, reference[0], atol=0.1, rtol=0.05)
    torch.testing.assert_close(grad_T, reference[1], atol=0.1, rtol=0.05)


def test_minibatch_discrimination_sees_real_and_fake_batches_separately():
    run = ring_run(
        "model.discriminator.minibatch_kernels=4", "model.discriminator.minibatch_kernel_dim=3"
    )
    assert any(isinstance(m, MinibatchDiscrimination) for m in run.D.modules())
    assert run.method.joint_forward is False
    real = torch.randn(10, 2)
    a, _ = run.method.d_logits(run.D, real, torch.randn(10, 2))
    b, _ = run.method.d_logits(run.D, real, torch.randn(10, 2) + 5)
    torch.testing.assert_close(a, b)  # D(real) does not depend on the fakes
    assert torch.isfinite(run.step()["loss_d"])


def test_dcgan_minibatch_discrimination_and_features():
    cfg = NetConfig(channels=4, minibatch_kernels=5, minibatch_kernel_dim=3)
    D = DCGANDiscriminator(cfg, (1, 16, 16))
    x = torch.randn(6, 1, 16, 16)
    assert D(x).shape == (6,) and D.features(x).shape == (6, 8 * 4 * 4)
    layer = next(m for m in D.modules() if isinstance(m, MinibatchDiscrimination))
    assert layer.T.shape == (8 * 4 * 4, 5, 3)


# --- feature matching ---


def test_feature_matching_loss_hand_values():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0]])  # mean (0.5, 0.5)
    # ||(1.5, 2.5)||^2 = 8.5; a per-sample MSE would be 4.5, the L1 distance of means 4
    assert feature_matching(real, fake).item() == pytest.approx(8.5, rel=1e-7)
    assert feature_matching(real, real).item() == 0.0
    assert feature_matching(real, real[[1, 0]]).item() == 0.0  # means, not samples
    # the improved-GAN code's form: the mean over the features, (1.5^2 + 2.5^2) / 2
    assert feature_matching(real, fake, mean_over_features=True).item() == pytest.approx(
        4.25, rel=1e-7
    )


def test_discriminator_features_leave_outputs_unchanged():
    """features(x) is the last hidden layer; forward is the output layer on top of it."""
    D = MLPDiscriminator(NetConfig(hidden=[5, 4], activation="maxout", pieces=2), (3,))
    x = torch.randn(7, 3)
    assert D.features(x).shape == (7, 4)
    torch.testing.assert_close(D(x), D.out(D.features(x)).squeeze(1))
    C = DCGANDiscriminator(NetConfig(channels=4), (1, 16, 16)).eval()
    x = torch.randn(3, 1, 16, 16)
    torch.testing.assert_close(C(x), C.net(x).flatten())
    torch.testing.assert_close(C.features(x), C.net[:-1](x).flatten(1))


def test_feature_matching_generator_loss_matches_hand_value():
    run = ring_run("loss.generator=feature_matching")
    objective, D = run.method, run.D
    assert objective.feature_matching and objective.needs_real_for_g
    real, fake = torch.randn(50, 2), torch.randn(50, 2)
    loss, stats = objective.generator_loss(D, fake, real)
    expected = ((D.features(real).mean(0) - D.features(fake).mean(0)) ** 2).sum()
    torch.testing.assert_close(loss, expected)
    assert objective.generator_loss(D, real, real)[0].item() == 0.0
    # through the unrolled D's features too (AtParams.features)
    at = AtParams(D, dict(D.named_parameters()), dict(D.named_buffers()))
    torch.testing.assert_close(at.features(real), D.features(real))
    g0 = params_of(run.G)
    run.step()
    assert not all(torch.equal(a, b) for a, b in zip(g0, params_of(run.G), strict=True))


# --- behaviour on the grid ---


def grid_modes(*overrides: str) -> dict:
    """A short seeded run on the 5x5 grid (std 0.05) in a set-up where the plain GAN
    collapses fast (G's lr ten times D's), scored on 2,500 samples."""
    cfg = load_preset(
        "gan-grid",
        [
            "train.progress=false",
            "train.seed=0",
            "train.steps=500",
            "train.batch_size=100",
            "optim.G.lr=0.003",
            "optim.D.lr=0.0003",
            *overrides,
        ],
    )
    run = run_loop(build_run(cfg), [], cfg.train.steps)
    samples = draw_samples(run.G, cfg, 2500)
    return mode_metrics(samples, run.data.distribution.means, cfg.data.std)


def test_pacgan_captures_more_grid_modes_than_the_plain_gan():
    """Same networks, data, steps and 100 samples per minibatch; D sees them one by one or in
    25 packs of 4. (Seeds 0-3 gave the GAN 0-4 modes and PacGAN4 15-16; a GAN with 400
    samples per minibatch kept 1-3 after 800 steps: it is the packing, not the batch.)"""
    plain = grid_modes()
    packed = grid_modes("model.discriminator.pack=4")
    assert packed["modes"] >= plain["modes"] + 6, (plain, packed)
