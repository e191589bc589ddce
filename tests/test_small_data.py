"""The small-data aids of D: DiffAugment's three policies checked against hand-made cases,
applied in training only and differentiably; spectral norm's unit singular value."""

import pytest
import torch
from torch import nn

from advnets.config import load_preset
from advnets.errors import ConfigError
from advnets.nets import build_discriminator
from advnets.nets.augment import DiffAugment, color, cutout, parse_policy, translation
from advnets.validation import validate


def test_translation_moves_content_by_whole_pixels_within_an_eighth():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1.0  # one bright pixel in the middle
    moved = translation(x)
    where = moved.flatten(1).argmax(1)
    dy, dx = where // 16 - 8, where % 16 - 8
    assert moved.sum().item() == 64  # the pixel is moved, never lost or blurred
    assert dy.abs().max() <= 2 and dx.abs().max() <= 2  # 16 / 8 = 2 pixels at most
    assert len(set(zip(dy.tolist(), dx.tolist(), strict=True))) > 10  # shifts vary by image


def test_translation_fills_with_zeros_at_the_border():
    torch.manual_seed(3)
    moved = translation(torch.ones(32, 1, 8, 8))
    assert (moved == 0).any() and ((moved == 0) | (moved == 1)).all()


def test_cutout_zeroes_one_square_of_half_the_side():
    out = cutout(torch.ones(50, 3, 16, 16))
    zeros = (out[:, 0] == 0).sum((1, 2))
    assert (out[:, 0] == out[:, 2]).all()  # the same square in every channel
    assert zeros.max() == 64 and zeros.min() >= 16  # 8x8, less where it leaves the image


def test_color_changes_brightness_saturation_contrast_per_image():
    x = torch.rand(8, 3, 4, 4)
    torch.manual_seed(0)
    y = color(x)
    assert y.shape == x.shape and not torch.allclose(x, y)
    grey = torch.full((8, 3, 4, 4), 0.3)
    out = color(grey)  # a flat grey image stays flat: only its brightness moves
    assert torch.allclose(out, out[:, :1, :1, :1].expand_as(out), atol=1e-6)
    assert ((out[:, 0, 0, 0] - 0.3).abs() <= 0.5 + 1e-6).all()


def test_diffaugment_in_training_only_and_gradient_flows():
    net = DiffAugment(nn.Flatten(), parse_policy("translation,cutout,color"))
    x = torch.rand(4, 3, 8, 8, requires_grad=True)
    net.eval()
    assert torch.equal(net(x), x.flatten(1))
    net.train()
    y = net(x)
    assert not torch.equal(y, x.flatten(1))
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_policy_names_are_checked():
    assert parse_policy("") == [] and parse_policy(" color ,cutout") == ["color", "cutout"]
    with pytest.raises(ConfigError, match="augmentation policy 'flip'"):
        parse_policy("translation,flip")
    cfg = load_preset("gan-ring", ["model.discriminator.augment=color"])
    with pytest.raises(ConfigError, match="holds points"):
        validate(cfg)
    with pytest.raises(ConfigError, match="generator.spectral_norm is not read by this run's"):
        load_preset("small-data", ["model.generator.spectral_norm=true"])  # G ignores it
    cfg = load_preset("small-data")
    cfg.model.generator.spectral_norm = True  # as a preset file could set it
    with pytest.raises(ConfigError, match="for the discriminator"):
        validate(cfg)


def test_small_data_d_is_spectrally_normalised_and_augmented():
    cfg = load_preset("small-data")
    D = build_discriminator(cfg.model, (1, 64, 64))
    assert isinstance(D, DiffAugment) and D.policy == ["translation", "cutout", "color"]
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
    D.train()
    for _ in range(30):  # power iterations converge while training
        D(torch.rand(2, 1, 64, 64))
    w = convs[1].weight.flatten(1)
    assert 0.9 < torch.linalg.matrix_norm(w, ord=2).item() < 1.1
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
