import math

import pytest
import torch
from torch import nn

from advnets.config import NetConfig, load_preset
from advnets.nets import Maxout, build_discriminator, build_generator
from advnets.nets.layers import Dropout
from advnets.nets.mlp import MLPDiscriminator, MLPGenerator


def fixed_maxout() -> Maxout:
    """2 units of 3 pieces: unit 0 reads x_0 with weights 1, 2, -1; unit 1 x_1 with 1, -1, 3."""
    layer = Maxout(2, units=2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(
            torch.tensor([[1.0, 0], [2, 0], [-1, 0], [0, 1], [0, -1], [0, 3]])
        )
        layer.linear.bias.zero_()
    return layer


def test_maxout_takes_max_over_consecutive_pieces():
    layer = fixed_maxout()
    x = torch.tensor([[1.0, 1.0], [-1.0, -2.0]])
    expected = torch.tensor([[2.0, 3.0], [1.0, 2.0]])
    torch.testing.assert_close(layer(x), expected)


def test_maxout_gradient_reaches_only_the_winning_piece():
    layer = fixed_maxout()
    x = torch.tensor([[1.0, 1.0]])
    layer(x).sum().backward()
    # unit 0: piece 1 wins (2 > 1 > -1); unit 1: piece 2 wins (3 > 1 > -1)
    expected = torch.zeros(6, 2)
    expected[1] = expected[5] = x[0]
    torch.testing.assert_close(layer.linear.weight.grad, expected)


def test_paper_models_match_mnist_yaml():
    cfg = load_preset("gan-mnist")
    mean01 = torch.rand(784) * 0.98 + 0.01
    G = build_generator(cfg.model, (1, 28, 28), mean01)
    D = build_discriminator(cfg.model, (1, 28, 28))
    g_linear = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in g_linear] == [
        (100, 1200),
        (1200, 1200),
        (1200, 784),
    ]
    for m in g_linear:
        assert m.weight.abs().max() <= 0.05 and m.weight.abs().max() > 0.04
    torch.testing.assert_close(torch.sigmoid(G.out.bias), mean01, rtol=1e-4, atol=1e-6)
    maxouts = [m for m in D.modules() if isinstance(m, Maxout)]
    assert [(m.units, m.pieces, m.linear.in_features) for m in maxouts] == [
        (240, 5, 784),
        (240, 5, 240),
    ]
    for m in D.modules():
        if isinstance(m, nn.Linear):
            assert 0.004 < m.weight.abs().max() <= 0.005
    drops = [m.p for m in D.modules() if isinstance(m, Dropout)]
    assert drops == [pytest.approx(0.2), pytest.approx(0.5), pytest.approx(0.5)]
    x = G(torch.rand(5, 100))
    assert x.shape == (5, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert D(x).shape == (5,)


def test_dropout_only_in_train_mode():
    cfg = load_preset("gan-mnist")
    D = build_discriminator(cfg.model, (1, 28, 28))
    x = torch.rand(4, 1, 28, 28)
    D.eval()
    torch.testing.assert_close(D(x), D(x))
    D.train()
    assert not torch.equal(D(x), D(x))


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_rate_scale_and_gradient(p):
    drop = Dropout(p).train()
    x = torch.ones(1000, 1000, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.002)
    # kept units are scaled so that E[y] = x (inverted dropout)
    assert y.mean().item() == pytest.approx(1.0, abs=0.005)
    assert torch.unique(y[kept]).tolist() == [pytest.approx(1 / (1 - p), rel=1e-4)]
    (grad,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(grad, y.detach())
    # masks differ between calls and between elements of one call
    assert not torch.equal(drop(x) != 0, kept)
    assert Dropout(p).eval()(x) is x


def test_dropout_lanes_are_independent():
    """Each 64-bit random word feeds four neighbouring units: their masks must not correlate."""
    mask = Dropout(0.5).mask(torch.Size([400_000]), torch.device("cpu")).float()
    lanes = mask.view(-1, 4).T
    corr = torch.corrcoef(lanes)
    off_diagonal = corr[~torch.eye(4, dtype=torch.bool)]
    assert off_diagonal.abs().max().item() < 0.01


def test_pytorch_gan_models():
    cfg = load_preset("pytorch-gan-mnist")
    G = build_generator(cfg.model, (1, 28, 28))
    D = build_discriminator(cfg.model, (1, 28, 28))
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [m.num_features for m in bns] == [256, 512, 1024] and bns[0].eps == 0.8
    g_params = sum(p.numel() for p in G.parameters())
    # 100-128-256-512-1024-784 linears plus three batch norms (weight and bias each)
    widths = [100, 128, 256, 512, 1024, 784]
    linear = sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
    assert g_params == linear + 2 * (256 + 512 + 1024)
    assert sum(p.numel() for p in D.parameters()) == 784 * 512 + 512 + 512 * 256 + 256 + 257
    x = G(torch.randn(3, 100))
    assert x.shape == (3, 1, 28, 28) and x.min() >= -1 and x.max() <= 1


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "maxout"])
def test_mlp_activations_and_shapes(activation):
    net = NetConfig(hidden=[16, 8], activation=activation, pieces=2, output="linear")
    from advnets.config import ModelConfig

    model = ModelConfig(z_dim=3, generator=net, discriminator=net)
    G = build_generator(model, (2,))
    D = build_discriminator(model, (2,))
    assert G(torch.randn(6, 3)).shape == (6, 2)
    assert D(torch.randn(6, 2)).shape == (6,)
    assert math.isfinite(D(G(torch.randn(6, 3))).sum().item())


@pytest.mark.parametrize("size, stages", [(28, (7, 2)), (32, (4, 3)), (64, (4, 4))])
@pytest.mark.parametrize("colours", [1, 3])
def test_dcgan_shapes_for_each_resolution(size, stages, colours):
    from advnets.nets.dcgan import stages as dcgan_stages

    assert dcgan_stages(size) == stages
    cfg = load_preset(
        "dcgan-mnist", ["model.generator.channels=8", "model.discriminator.channels=8"]
    ).model
    G = build_generator(cfg, (colours, size, size))
    D = build_discriminator(cfg, (colours, size, size))
    x = G(torch.rand(5, 100) * 2 - 1)
    assert x.shape == (5, colours, size, size) and x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (5,)
    # one transposed conv per 2x stage after the base projection; one strided conv per stage
    g_convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    d_convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(g_convs) == stages[1] + 1 and len(d_convs) == stages[1] + 1
    assert [m.stride for m in g_convs[1:]] == [(2, 2)] * stages[1]
    assert [m.stride for m in d_convs[:-1]] == [(2, 2)] * stages[1]
    assert d_convs[0].in_channels == colours and g_convs[-1].out_channels == colours
    assert d_convs[-2].out_channels == g_convs[0].out_channels == 8 * 2 ** (stages[1] - 1)


def test_dcgan_follows_the_guidelines():
    """Batch norm in both nets but not on G's output or D's input; ReLU + tanh in G,
    LeakyReLU 0.2 in D; no linear layers; weights N(0, 0.02)."""
    cfg = load_preset("dcgan-mnist").model
    G, D = build_generator(cfg, (1, 28, 28)), build_discriminator(cfg, (1, 28, 28))
    g_layers, d_layers = list(G.net), list(D.net)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 2
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 1
    assert {type(m) for m in G.net if not isinstance(m, nn.ConvTranspose2d | nn.BatchNorm2d)} == {
        nn.ReLU,
        nn.Tanh,
    }
    assert all(m.negative_slope == 0.2 for m in D.modules() if isinstance(m, nn.LeakyReLU))
    assert not any(isinstance(m, nn.Linear) for m in [*G.modules(), *D.modules()])
    weights = torch.cat(
        [
            m.weight.flatten()
            for m in [*G.modules(), *D.modules()]
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
        ]
    )
    assert weights.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)


@pytest.mark.parametrize("norm, layer", [("layer", nn.GroupNorm), ("none", None)])
def test_dcgan_critic_without_batch_norm(norm, layer):
    cfg = load_preset("wgan-gp-mnist", [f"model.discriminator.norm={norm}"]).model
    D = build_discriminator(cfg, (3, 32, 32))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    norms = [m for m in D.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == (2 if layer else 0) and all(m.num_groups == 1 for m in norms)
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(D(x)[:2], D(x[:2]))  # no coupling between samples


@pytest.mark.parametrize("shape", [(1, 28, 14), (1, 6, 6), (784,)])
def test_dcgan_refuses_shapes_it_cannot_build(shape):
    from advnets.errors import ConfigError

    cfg = load_preset("dcgan-mnist").model
    with pytest.raises(ConfigError, match="DCGAN"):
        build_generator(cfg, shape)


def _noisy_d(**extra) -> nn.Module:
    settings = {"hidden": [16, 8], "input_noise": 0.3, "hidden_noise": 0.5, "weight_norm": True}
    cfg = NetConfig(**{**settings, **extra})
    return MLPDiscriminator(cfg, (1, 4, 4), outputs=3).train()


def test_features_are_taken_before_the_last_hidden_layers_noise():
    """Feature matching compares the last hidden layer's activations, not them plus the
    noise that D adds after them in training (Salimans et al. 2016's code); earlier noise
    stays, and D's logits still see the last noise."""
    D, x = _noisy_d(), torch.rand(5, 1, 4, 4)
    torch.manual_seed(1)
    a = D.features(x)
    torch.manual_seed(1)
    b = D.features(x)
    torch.testing.assert_close(a, b)  # same noise draws give the same features
    torch.manual_seed(1)
    D.features(x)
    logits = D.out(D.features(x))  # the next draw, taken without the last noise
    torch.manual_seed(1)
    D.features(x)
    assert not torch.allclose(D(x), logits)  # D's logits do get the last noise
    shallow = _noisy_d(hidden_noise=0.0)
    assert len(shallow.noise) == 0 and len(D.noise) == 1


def test_weight_norm_on_the_output_alone_and_fixed_hidden_scales():
    G = MLPGenerator(NetConfig(hidden=[8], weight_norm=True, weight_norm_layers="output"), 4, (4,))
    normed = [m for m in G.modules() if hasattr(m, "parametrizations")]
    assert normed == [G.out]
    D = _noisy_d(weight_norm_train_hidden=False)
    scales = {
        m: m.parametrizations.weight.original0
        for m in D.modules()
        if hasattr(m, "parametrizations")
    }
    assert len(scales) == 3
    assert [g.requires_grad for g in scales.values()] == [False, False, True]
    before = {m: g.detach().clone() for m, g in scales.items()}
    opt = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], lr=0.1)
    D(torch.rand(5, 1, 4, 4)).square().sum().backward()
    opt.step()
    moved = [not torch.equal(before[m], g) for m, g in scales.items()]
    assert moved == [False, False, True]


@pytest.mark.parametrize(
    "init, scale, std_of",
    [
        ("xavier", 0.05, lambda n_in, n_out: math.sqrt(2 / (n_in + n_out))),
        ("normal", 0.1, lambda n_in, n_out: 0.1),
        ("uniform", 0.05, lambda n_in, n_out: 0.05 / math.sqrt(3)),
    ],
)
def test_named_inits_give_their_weight_scale_and_zero_biases(init, scale, std_of):
    torch.manual_seed(0)
    cfg = NetConfig(hidden=[500, 500], init=init, init_scale=scale)
    D = MLPDiscriminator(cfg, (1, 28, 28))
    linears = [m for m in D.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    for m in linears:
        n_out, n_in = m.weight.shape
        assert m.weight.std().item() == pytest.approx(std_of(n_in, n_out), rel=0.05)
        assert torch.count_nonzero(m.bias) == 0


@pytest.mark.parametrize(
    "preset, shape, d_units", [("gan-cifar10", (3, 32, 32), 1600), ("gan-faces", (1, 64, 64), 1200)]
)
def test_paper_cifar10_and_tfd_models_follow_their_yamls(preset, shape, d_units):
    """G: 8000 ReLU, 8000 sigmoid, sigmoid output; D: two maxout layers of 5 pieces (the
    nets built at smaller widths, so that the test stays fast)."""
    import dataclasses

    cfg = load_preset(preset)
    g, d = cfg.model.generator, cfg.model.discriminator
    assert g.hidden == [8000, 8000] and g.activations == ["relu", "sigmoid"]
    assert d.hidden == [d_units, d_units] and (d.activation, d.pieces) == ("maxout", 5)
    small = dataclasses.replace(
        cfg.model,
        generator=dataclasses.replace(
            g, hidden=[40, 30], output_sparse_init=min(g.output_sparse_init, 10)
        ),
        discriminator=dataclasses.replace(d, hidden=[20, 10]),
    )
    G = build_generator(small, shape, torch.full((math.prod(shape),), 0.5))
    assert [type(m) for m in G.body] == [nn.Linear, nn.ReLU, nn.Linear, nn.Sigmoid]
    # the TFD YAML's init_bias and sparse_init (CIFAR-10: with the TFD model's sigmoid output)
    assert (g.hidden_bias, g.output_sparse_init) == ([0.0, -2.0], 100)
    assert torch.equal(G.body[2].bias, torch.full((30,), -2.0))
    assert (G.out.weight != 0).sum(1).eq(10).all()
    x = G(torch.randn(4, 100))
    assert x.shape == (4, *shape) and x.min() >= 0 and x.max() <= 1
    D = build_discriminator(small, shape)
    assert [m.units for m in D.modules() if isinstance(m, Maxout)] == [20, 10]


def test_per_layer_activations_are_checked():
    from advnets.errors import ConfigError
    from advnets.validation import check_net

    with pytest.raises(ConfigError, match="activations needs one per hidden layer"):
        check_net(NetConfig(hidden=[4, 4], activations=["relu"]), "model.generator.", 0)
    with pytest.raises(ConfigError, match="unknown model.generator.activations entry 'relux'"):
        check_net(NetConfig(hidden=[4], activations=["relux"]), "model.generator.", 0)
    check_net(NetConfig(hidden=[4, 4], activations=["maxout", "sigmoid"]), "model.generator.", 0)


def test_max_col_norm_scales_back_only_the_rows_past_it():
    """pylearn2's max_col_norm: after an update each unit's incoming weights (each maxout
    piece's) longer than the bound are scaled to it, direction kept; shorter ones stay."""
    from advnets.nets.layers import apply_norm_limits_, norm_limited

    cfg = NetConfig(hidden=[6], activation="maxout", pieces=3, max_col_norm=1.0)
    D = MLPDiscriminator(cfg, (4,))
    layer = D.body[0].linear
    with torch.no_grad():
        layer.weight.copy_(torch.arange(18 * 4, dtype=torch.float32).view(18, 4) / 40)
    before = layer.weight.clone()
    apply_norm_limits_(norm_limited(D))
    norms = before.norm(dim=1)
    after = layer.weight.norm(dim=1)
    assert (norms < 1).any() and (norms > 1).any()
    torch.testing.assert_close(after[norms > 1], torch.ones(int((norms > 1).sum())))
    torch.testing.assert_close(layer.weight[norms <= 1], before[norms <= 1])
    cos = torch.nn.functional.cosine_similarity(layer.weight, before, dim=1)
    torch.testing.assert_close(cos, torch.ones(18))
    G = MLPGenerator(NetConfig(hidden=[5]), 3, (2,))  # no bound: untouched
    state = {k: v.clone() for k, v in G.state_dict().items()}
    apply_norm_limits_(norm_limited(G))
    assert all(torch.equal(state[k], v) for k, v in G.state_dict().items())


def test_max_col_norm_holds_after_every_update_and_is_checked():
    from advnets.errors import ConfigError
    from advnets.training import build_run
    from advnets.validation import validate

    over = ["model.generator.max_col_norm=0.3", "model.discriminator.max_col_norm=0.3"]
    run = build_run(load_preset("gan-ring", [*over, "train.progress=false"]))
    for _ in range(5):
        run.step()
    layers = [m for net in run.nets.values() for m in net.modules() if isinstance(m, nn.Linear)]
    rows = [m.weight.norm(dim=1).max().item() for m in layers]
    assert len(rows) == 6 and max(rows) <= 0.3 + 1e-6
    with pytest.raises(ConfigError, match="max_col_norm must be >= 0"):
        validate(load_preset("gan-ring", ["model.discriminator.max_col_norm=-1"]))
    with pytest.raises(ConfigError, match="not read by this run's discriminator net"):
        load_preset("dcgan-mnist", ["model.discriminator.max_col_norm=1.0"])


def test_tfd_generator_init_hidden_bias_and_sparse_output_weights():
    """The TFD YAML's G: h1's bias starts at -2 (init_bias) and each output unit starts with
    100 non-zero N(0, 1) incoming weights (sparse_init); the rest of the init unchanged."""
    from advnets.errors import ConfigError
    from advnets.validation import validate

    cfg = NetConfig(hidden=[300, 200], activations=["relu", "sigmoid"], init="uniform")
    cfg.hidden_bias, cfg.output_sparse_init = [0.5, -2.0], 100
    torch.manual_seed(0)
    G = MLPGenerator(cfg, 10, (1, 8, 8))
    assert torch.equal(G.body[0].bias, torch.full((300,), 0.5))
    assert torch.equal(G.body[2].bias, torch.full((200,), -2.0))
    assert G.body[0].weight.abs().max() <= 0.05  # the uniform init stays
    nonzero = G.out.weight != 0
    assert nonzero.sum(1).tolist() == [100] * 64
    picked = G.out.weight[nonzero]
    assert 0.9 < picked.std() < 1.1 and abs(picked.mean()) < 0.05
    assert not torch.equal(nonzero[0], nonzero[1])  # each unit draws its own inputs
    # refused by validation, before any net is built (gan-faces: two hidden layers of 8000)
    with pytest.raises(ConfigError, match="hidden_bias has 1 entries for 2 hidden layers"):
        validate(load_preset("gan-faces", ["model.generator.hidden_bias=[-2.0]"]))
    with pytest.raises(ConfigError, match="output_sparse_init=8001 must be between 1 and"):
        validate(load_preset("gan-faces", ["model.generator.output_sparse_init=8001"]))


def test_generator_init_keys_are_refused_where_no_net_reads_them():
    import advnets.methods  # noqa: F401  (registers the check of which keys the nets read)
    from advnets.errors import ConfigError

    with pytest.raises(ConfigError, match="not read by this run's discriminator net"):
        load_preset("gan-faces", ["model.discriminator.hidden_bias=[0,-2]"])
    with pytest.raises(ConfigError, match="not read by this run's generator net"):
        load_preset("dcgan-mnist", ["model.generator.output_sparse_init=10"])
