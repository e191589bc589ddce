"""Conditional GAN (Mirza & Osindero 2014): G(z, y) and D(x, y), labelled batches, sampling
by class, exact resume, and a short MNIST run whose samples the shipped classifier reads as
the requested digits."""

import pytest
import torch
from PIL import Image
from torch import nn

from advnets.api import load_generator
from advnets.cli import main
from advnets.config import load_preset
from advnets.data.sampler import TensorSampler
from advnets.errors import ConfigError
from advnets.nets import Maxout, build_discriminator, build_generator
from advnets.nets.conditional import LabelVector
from advnets.sampling import (
    class_grid,
    draw_labels,
    draw_noise,
    draw_samples,
    generate,
)
from advnets.training import build_run, run_loop, train

# The preset's branched nets, narrowed: for tests of the mechanics.
SMALL = [
    "model.generator.branches=[64,64]",
    "model.generator.hidden=[256]",
    "model.discriminator.branches=[64,16]",
    "model.discriminator.hidden=[64]",
]
# Concatenation nets with learned label embeddings: y steers G within a few hundred steps.
FAST = [
    *[
        f"model.{net}.{key}"
        for net in ("generator", "discriminator")
        for key in ("branches=[]", "hidden=[256]", "init=default", "label_embedding=64")
    ],
    "model.discriminator.activation=leaky_relu",
    "model.discriminator.input_dropout=0",
    "model.discriminator.hidden_dropout=0",
    "train.ema_decay=0.99",
]
TINY_DCGAN = [
    "model.generator.arch=dcgan",
    "model.discriminator.arch=dcgan",
    "model.generator.branches=[]",
    "model.discriminator.branches=[]",
    "model.generator.channels=4",
    "model.discriminator.channels=4",
    "model.generator.output_bias_from_data=false",
    "model.generator.init=normal",
    "model.generator.init_scale=0.02",
]


def _mnist(data_root, *overrides):
    return [f"data.root={data_root}", "data.download=false", "train.progress=false", *overrides]


def _params(module):
    return torch.cat(
        [p.detach().flatten() for p in module.state_dict().values() if p.is_floating_point()]
    )


def test_paper_conditional_mlps_match_mirza_osindero():
    """Sec. 4.1: G z -> 200, y -> 1000 (ReLU), joined 1200 -> 784 sigmoid; D x -> maxout
    240x5, y -> maxout 50x5, joined maxout 240x4 -> 1."""
    cfg = load_preset("cgan-mnist")
    G = build_generator(cfg.model, (1, 28, 28), torch.full((784,), 0.3))
    D = build_discriminator(cfg.model, (1, 28, 28))
    linears = [(m.in_features, m.out_features) for m in G.modules() if isinstance(m, nn.Linear)]
    assert linears == [(100, 200), (10, 1000), (1200, 1200), (1200, 784)]
    maxouts = [
        (m.linear.in_features, m.units, m.pieces) for m in D.modules() if isinstance(m, Maxout)
    ]
    assert maxouts == [(784, 240, 5), (10, 50, 5), (290, 240, 4)]
    z, y = torch.rand(6, 100), torch.arange(6)
    x = G(z, y)
    assert x.shape == (6, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    D.eval()
    assert D(x, y).shape == (6,)
    assert not torch.allclose(D(x, y), D(x, (y + 1) % 10))  # D reads the label
    assert not torch.allclose(G(z, y), G(z, (y + 1) % 10))  # so does G


def test_one_hot_label_vector_and_labels_out_of_range():
    vec = LabelVector(4)
    out = vec(torch.tensor([2, 0, 3]), torch.float64)
    assert out.dtype == torch.float64
    assert out.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]
    for bad in (4, -1):  # never a silent all-zero or wrapped-around label
        with pytest.raises(IndexError):
            vec(torch.tensor([bad]))


@pytest.mark.parametrize("arch, embedding", [("mlp", 0), ("mlp", 8), ("dcgan", 0), ("dcgan", 5)])
def test_concatenated_labels(arch, embedding):
    """y concatenated to z (G), to x's features (MLP D) or channels (DCGAN D), one-hot or
    as a learned embedding."""
    nets = [
        f"model.{w}.{k}"
        for w in ("generator", "discriminator")
        for k in (
            f"arch={arch}",
            "branches=[]",
            # each arch's own width (a net refuses a key it does not read)
            *(["hidden=[32]"] if arch == "mlp" else ["channels=4"]),
            f"label_embedding={embedding}",
        )
    ]
    cfg = load_preset(
        "cgan-mnist",
        [*nets, "model.generator.output_bias_from_data=false", "model.generator.init=default"],
    )
    G = build_generator(cfg.model, (1, 28, 28)).eval()
    D = build_discriminator(cfg.model, (1, 28, 28)).eval()
    z, y = torch.rand(4, 100), torch.tensor([0, 3, 7, 9])
    x = G(z, y)
    assert x.shape == (4, 1, 28, 28) and D(x, y).shape == (4,)
    assert not torch.allclose(G(z, y), G(z, 9 - y))
    assert not torch.allclose(D(x, y), D(x, 9 - y))
    first = next(m for m in D.modules() if isinstance(m, nn.Linear | nn.Conv2d))
    width = embedding or 10
    if arch == "dcgan":
        assert first.in_channels == 1 + width  # label maps join x's channels
    else:
        assert first.in_features == 784 + width


def test_sampler_labels_follow_the_same_batches():
    data, labels = torch.arange(10.0).view(10, 1) * 10, torch.arange(10)
    torch.manual_seed(3)
    plain = TensorSampler(data).next(4)
    torch.manual_seed(3)
    sampler = TensorSampler(data, labels)
    x, y = sampler.next_labelled(4)
    torch.testing.assert_close(x, plain)  # labels change nothing in the stream of batches
    torch.testing.assert_close(x[:, 0], y.float() * 10)
    for _ in range(5):  # across reshuffles too
        x, y = sampler.next_labelled(4)
        torch.testing.assert_close(x[:, 0], y.float() * 10)


def test_conditional_step_gives_d_the_labels_of_real_and_fake_samples(data_root):
    run = build_run(load_preset("cgan-mnist", _mnist(data_root, *SMALL, "train.steps=0")))
    seen_d, seen_g = [], []
    run.D.register_forward_hook(lambda m, inputs, out: seen_d.append(inputs))
    run.G.register_forward_hook(lambda m, inputs, out: seen_g.append(inputs))
    run.step()
    (x, y), (fake, fake_y) = seen_d  # D step on [real; fake], then G step on fresh fakes
    assert len(x) == len(y) == 200 and len(fake) == len(fake_y) == 100
    from advnets.metrics.classifier import load_classifier, predict

    _, probs = predict(load_classifier("mnist"), x[:100])
    assert (probs.argmax(1) == y[:100]).float().mean() > 0.95  # real labels are the images'
    assert len(torch.unique(y[100:])) >= 8  # fakes' labels: uniform draws
    # D judges each fake with the label G was asked for
    assert torch.equal(y[100:], seen_g[0][1]) and torch.equal(fake_y, seen_g[1][1])
    assert not torch.equal(seen_g[0][1], seen_g[1][1])


def test_config_errors_are_one_line(data_root):
    cases = [
        (["model.num_classes=10"], "gan-ring", "no labels"),
        (["model.num_classes=5"], "cgan-mnist", "has 10 classes"),
        (["model.num_classes=0"], "cgan-mnist", "branches is for conditional MLPs"),
        (["model.generator.branches=[5]"], "cgan-mnist", "two widths"),
    ]
    for overrides, preset, message in cases:
        with pytest.raises(ConfigError, match=message) as err:
            build_run(load_preset(preset, _mnist(data_root, *overrides)))
        assert "\n" not in str(err.value)


def test_generator_produces_the_requested_digits(data_root):
    """A short cgan-mnist run (400 steps, 10-20 s) with small concatenation nets and learned
    label embeddings, sampled through the moving average of G: the shipped MNIST classifier
    reads samples asked for digit y as y. Measured with seeds 0, 1, 2 (200 samples per
    digit): mean accuracy 0.80, 0.76, 0.88, with 9 of 10 digits at 0.5 or more each time
    (the worst digit 0.26, 0.37, 0.44); untrained (seeds 0, 1): mean 0.08 and 0.13, one or
    two digits that the classifier reads every blob as. The preset's own networks need
    ~3,000 steps."""
    from advnets.metrics.classifier import load_classifier, predict

    cfg = load_preset("cgan-mnist", _mnist(data_root, *FAST, "train.steps=400"))
    run = build_run(cfg)
    clf = load_classifier("mnist")
    z = draw_noise(cfg, 200, seed=0)

    def accuracy() -> torch.Tensor:
        right = []
        for digit in range(10):
            _, probs = predict(clf, generate(run.G_sample, z, torch.full((200,), digit)))
            right.append((probs.argmax(1) == digit).float().mean())
        return torch.stack(right)

    before = accuracy()
    run_loop(run, [], 400)
    after = accuracy()
    assert before.mean() < 0.3, before
    assert after.mean() >= 0.6 and (after >= 0.5).sum() >= 8, after


def test_preset_trains_samples_and_resumes_exactly(tmp_path, data_root, capsys):
    base = _mnist(
        data_root,
        *SMALL,
        "train.samples_per_epoch=false",
        "data.split=valid",
        "train.batch_size=1000",
        "train.log_every=3",
        "train.checkpoint_every=0",
    )
    # 10,000 images in batches of 1,000: the resumed run crosses a reshuffle
    full = train(load_preset("cgan-mnist", base + ["train.steps=14"]), tmp_path / "full")
    train(load_preset("cgan-mnist", base + ["train.steps=6"]), tmp_path / "half")
    resumed = train(None, tmp_path / "half", resume=True, overrides=["train.steps=14"])
    torch.testing.assert_close(_params(resumed.G), _params(full.G), rtol=0, atol=0)
    torch.testing.assert_close(_params(resumed.D), _params(full.D), rtol=0, atol=0)

    run_dir = tmp_path / "full"
    G, cfg = load_generator(run_dir)
    z = torch.rand(5, 100)
    torch.testing.assert_close(
        generate(G, z, torch.arange(5)), generate(full.G, z, torch.arange(5)), rtol=0, atol=0
    )
    assert (
        main(
            [
                "sample",
                str(run_dir),
                "--label",
                "7",
                "--n",
                "12",
                "--out",
                str(tmp_path / "seven.npy"),
            ]
        )
        == 0
    )
    import numpy as np

    assert np.load(tmp_path / "seven.npy").shape == (12, 1, 28, 28)
    assert main(["sample", str(run_dir), "--n", "30", "--out", str(tmp_path / "grid.png")]) == 0
    assert "one row per class" in capsys.readouterr().out
    assert Image.open(tmp_path / "grid.png").size == (3 * 30 + 2, 10 * 30 + 2)  # 10 rows of 3
    for args, message in [(["--label", "10"], "choose 0-9"), (["--label", "-1"], "choose 0-9")]:
        assert main(["sample", str(run_dir), *args, "--out", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert main(["interpolate", str(run_dir), "--out", str(tmp_path / "i.png")]) == 2
    assert "unconditional run" in capsys.readouterr().err


def test_label_on_an_unconditional_run_is_refused(tmp_path, capsys):
    train(load_preset("gan-ring", ["train.progress=false", "train.steps=2"]), tmp_path / "r")
    assert (
        main(["sample", str(tmp_path / "r"), "--label", "3", "--out", str(tmp_path / "x.npy")]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert "needs a conditional run" in err and len(err.splitlines()) == 1


def test_seeded_sampling_draws_uniform_labels_and_class_rows(data_root):
    cfg = load_preset("cgan-mnist", _mnist(data_root, *SMALL))
    y = draw_labels(cfg, 5000, seed=4)
    torch.testing.assert_close(y, draw_labels(cfg, 5000, seed=4))
    counts = torch.bincount(y, minlength=10).float()
    assert counts.min() > 400 and counts.max() < 600  # 500 expected each
    assert draw_labels(cfg, 3, label=2).tolist() == [2, 2, 2]
    G = build_generator(cfg.model, (1, 28, 28), torch.full((784,), 0.3))
    torch.testing.assert_close(
        draw_samples(G, cfg, 20, seed=1), draw_samples(G, cfg, 20, seed=1), rtol=0, atol=0
    )
    grid = class_grid(G, cfg, 3, seed=1)
    assert grid.shape == (30, 1, 28, 28)
    # columns share z: row c, column j is G(z_j, c)
    torch.testing.assert_close(grid[3 * 7 + 1], draw_samples(G, cfg, 3, seed=1, label=7)[1])


def test_sample_pictures_and_periodic_eval_on_a_conditional_run(tmp_path, data_root):
    cfg = load_preset(
        "cgan-mnist",
        _mnist(
            data_root,
            *SMALL,
            "train.steps=4",
            "train.eval_every=4",
            "train.eval_samples=200",
            "train.eval_metric=parzen",
            "train.checkpoint_every=0",
        ),
    )
    run = train(cfg, tmp_path / "run")
    picture = Image.open(next((tmp_path / "run" / "samples").glob("epoch_*.png")))
    assert picture.size == (10 * 30 + 2, 10 * 30 + 2)  # one row of 10 per class
    assert run.fixed_labels.tolist() == [c for c in range(10) for _ in range(10)]
    assert (tmp_path / "run" / "best.pt").is_file()


def test_tiny_conditional_dcgan_trains(data_root):
    run = build_run(
        load_preset(
            "cgan-mnist", _mnist(data_root, *TINY_DCGAN, "train.batch_size=8", "train.steps=2")
        )
    )
    run_loop(run, [], 2)
    x = generate(run.G, torch.rand(3, 100), torch.tensor([1, 2, 3]))
    assert x.shape == (3, 1, 28, 28) and torch.isfinite(x).all()


@pytest.mark.parametrize("update", ["simultaneous", "reuse_fakes"])
def test_other_update_rules_pass_the_labels(data_root, update):
    run = build_run(
        load_preset(
            "cgan-mnist", _mnist(data_root, *SMALL, f"train.update={update}", "train.steps=0")
        )
    )
    labels = []
    run.D.register_forward_hook(lambda m, inputs, out: labels.append(inputs[1]))
    g0 = _params(run.G)
    run.step()
    assert [len(y) for y in labels] == {"simultaneous": [200], "reuse_fakes": [200, 100]}[update]
    if update == "reuse_fakes":  # G steps on the fakes D just saw, with their labels
        assert torch.equal(labels[1], labels[0][100:])
    assert not torch.equal(g0, _params(run.G))
