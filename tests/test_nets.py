import math

import pytest
import torch
from torch import nn

from advnets.config import NetConfig, load_preset
from advnets.nets import Maxout, build_discriminator, build_generator
from advnets.nets.layers import Dropout


def test_maxout_takes_max_over_consecutive_pieces():
    layer = Maxout(2, units=2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor(
            [[1.0, 0], [2, 0], [-1, 0], [0, 1], [0, -1], [0, 3]]))
        layer.linear.bias.zero_()
    x = torch.tensor([[1.0, 1.0], [-1.0, -2.0]])
    expected = torch.tensor([[2.0, 3.0], [1.0, 2.0]])
    torch.testing.assert_close(layer(x), expected)


def test_paper_models_match_mnist_yaml():
    cfg = load_preset("gan-mnist")
    mean01 = torch.rand(784) * 0.98 + 0.01
    G = build_generator(cfg.model, (1, 28, 28), mean01)
    D = build_discriminator(cfg.model, (1, 28, 28))
    g_linear = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in g_linear] == [(100, 1200), (1200, 1200),
                                                                  (1200, 784)]
    for m in g_linear:
        assert m.weight.abs().max() <= 0.05 and m.weight.abs().max() > 0.04
    torch.testing.assert_close(torch.sigmoid(G.out.bias), mean01, rtol=1e-4, atol=1e-6)
    maxouts = [m for m in D.modules() if isinstance(m, Maxout)]
    assert [(m.units, m.pieces, m.linear.in_features) for m in maxouts] == [(240, 5, 784),
                                                                           (240, 5, 240)]
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
