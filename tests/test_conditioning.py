"""How a conditional D takes the label (options.conditioning): concatenation, AC-GAN's class
head (Odena et al. 2017) and the projection discriminator (Miyato & Koyama 2018); their
losses by hand; short runs of each; label fidelity while training."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, run_in_process

from advnets.cli import main
from advnets.config import ModelConfig, NetConfig, load_preset
from advnets.errors import ConfigError
from advnets.methods.gan import GAN
from advnets.metrics.fidelity import fidelity_warning, label_fidelity
from advnets.nets import build_discriminator
from advnets.nets.conditional import (
    CLASS_HEADS,
    CONDITIONINGS,
    ACGANDiscriminator,
    ProjectionDiscriminator,
    WithClassifier,
)
from advnets.training import train
from advnets.training.hooks import PeriodicEval
from advnets.validation import validate

# cgan-mnist's nets, narrowed; D on the unconditional MLP (what acgan and projection need)
SMALL = [
    "model.generator.branches=[32,32]",
    "model.generator.hidden=[64]",
    "model.discriminator.branches=[]",
    "model.discriminator.hidden=[32,16]",
    "model.discriminator.label_embedding=0",
]
PRESETS = {"concat": "cgan-mnist", "acgan": "acgan-mnist", "projection": "cgan-projection-mnist"}


def _tiny_d(conditioning: str) -> torch.nn.Module:
    net = NetConfig(arch="mlp", hidden=[8, 6], activation="leaky_relu")
    model = ModelConfig(num_classes=3, discriminator=net)
    return build_discriminator(model, (1, 2, 2), conditioning=conditioning).eval()


def test_acgan_d_has_one_real_fake_logit_and_a_class_logit_per_class():
    D = _tiny_d("acgan")
    assert isinstance(D, ACGANDiscriminator)
    x = torch.rand(5, 1, 2, 2)
    out = D(x, torch.tensor([0, 1, 2, 0, 1]))
    assert out.shape == (5, 1 + 3)
    torch.testing.assert_close(out, D(x, torch.tensor([2, 2, 2, 2, 2])), rtol=0, atol=0)


def test_projection_d_is_psi_of_phi_plus_the_label_embedding_times_phi():
    D = _tiny_d("projection")
    assert isinstance(D, ProjectionDiscriminator)
    x, y = torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(D(x, y), D.net(x), rtol=0, atol=0)  # embeddings start at zero
    with torch.no_grad():
        D.embed.weight.copy_(torch.arange(18.0).view(3, 6) / 10)
    phi = D.net.features(x)
    by_hand = D.net(x) + torch.stack([phi[i] @ D.embed.weight[y[i]] for i in range(4)])
    assert D(x, y).shape == (4,)
    torch.testing.assert_close(D(x, y), by_hand, rtol=1e-6, atol=1e-6)


def test_projection_acgan_d_adds_the_projection_to_the_first_of_its_1_plus_c_logits():
    D = _tiny_d("projection_acgan")
    assert isinstance(D, ProjectionDiscriminator)
    x, y = torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        D.embed.weight.copy_(torch.arange(18.0).view(3, 6) / 10)
    phi, plain = D.net.features(x), D.net(x)
    assert plain.shape == (4, 1 + 3)
    projection = torch.stack([phi[i] @ D.embed.weight[y[i]] for i in range(4)])
    out = D(x, y)
    torch.testing.assert_close(out[:, 0], plain[:, 0] + projection, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out[:, 1:], plain[:, 1:], rtol=0, atol=0)  # y-free class logits
    assert not torch.equal(out[:, 0], D(x, torch.tensor([2, 0, 1, 0]))[:, 0])


def test_projection_classifier_d_is_the_projection_beside_a_classifier_of_its_own():
    D = _tiny_d("projection_classifier")
    assert isinstance(D, WithClassifier) and isinstance(D.D, ProjectionDiscriminator)
    assert not {id(p) for p in D.D.parameters()} & {id(p) for p in D.classifier.parameters()}
    x, y = torch.rand(4, 1, 2, 2), torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        D.D.embed.weight.copy_(torch.arange(18.0).view(3, 6) / 10)
    out = D(x, y)
    assert out.shape == (4, 1 + 3)
    torch.testing.assert_close(out[:, 0], D.D(x, y), rtol=0, atol=0)
    torch.testing.assert_close(out[:, 1:], D.classifier(x), rtol=0, atol=0)
    torch.testing.assert_close(D.features(x, y), D.D.net.features(x), rtol=0, atol=0)


def test_projection_classifier_learns_its_classes_from_the_class_loss_alone():
    gan = _gan("projection_classifier", "options.class_loss_on_fakes=false")
    real, fake = torch.rand(4, 1, 2, 2), torch.rand(4, 1, 2, 2)
    real_y, fake_y = torch.tensor([0, 1, 2, 1]), torch.tensor([2, 2, 0, 1])
    real_out, fake_out = gan.D(real, real_y), gan.D(fake, fake_y)
    loss, _ = gan.d_terms(real_out, fake_out, real_y, fake_y)
    real_fake = -(F.logsigmoid(real_out[:, 0]).mean() + F.logsigmoid(-fake_out[:, 0]).mean())
    classes = F.cross_entropy(real_out[:, 1:], real_y)
    torch.testing.assert_close(loss, real_fake + classes)
    params = list(gan.D.classifier.parameters())
    grads = torch.autograd.grad(real_fake, params, retain_graph=True, allow_unused=True)
    assert all(g is None or not g.any() for g in grads)  # the real/fake loss does not reach it
    grads = torch.autograd.grad(classes, params, allow_unused=True)
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def _gan(conditioning: str, *extra: str) -> GAN:
    cfg = load_preset("cgan-mnist", [*SMALL, f"options.conditioning={conditioning}", *extra])
    nets = {"G": torch.nn.Linear(1, 1), "D": _tiny_d(conditioning)}
    return GAN(cfg, nets, {})


def test_acgan_losses_add_the_class_cross_entropy_for_both_players():
    gan = _gan("acgan", "options.class_weight=0.5")
    real_out = torch.tensor([[0.3, 2.0, -1.0, 0.5], [-0.2, 0.1, 0.4, -0.3]])
    fake_out = torch.tensor([[-1.0, 0.2, 0.2, 1.5], [0.7, -0.5, 1.0, 0.0]])
    real_y, fake_y = torch.tensor([0, 2]), torch.tensor([2, 1])

    def ce(logits, y):  # -log softmax(logits)[y], averaged
        return -(logits.log_softmax(1)[torch.arange(len(y)), y]).mean()

    minimax = -(F.logsigmoid(real_out[:, 0]).mean() + F.logsigmoid(-fake_out[:, 0]).mean())
    classes = ce(real_out[:, 1:], real_y) + ce(fake_out[:, 1:], fake_y)
    d_loss, d_stats = gan.d_terms(real_out, fake_out, real_y, fake_y)
    torch.testing.assert_close(d_loss, minimax + 0.5 * classes)
    torch.testing.assert_close(d_stats["loss_class_d"], classes)
    g_loss, _ = gan.g_terms(fake_out, fake_y)
    non_saturating = -F.logsigmoid(fake_out[:, 0]).mean()
    torch.testing.assert_close(g_loss, non_saturating + 0.5 * ce(fake_out[:, 1:], fake_y))
    real_only = _gan("acgan", "options.class_loss_on_fakes=false")
    d_loss, _ = real_only.d_terms(real_out, fake_out, real_y, fake_y)
    torch.testing.assert_close(d_loss, minimax + ce(real_out[:, 1:], real_y))


def test_projection_acgan_losses_are_acgans_of_its_logits():
    gan = _gan("projection_acgan", "options.class_loss_on_fakes=false")
    real_out = torch.tensor([[0.3, 2.0, -1.0, 0.5], [-0.2, 0.1, 0.4, -0.3]])
    fake_out = torch.tensor([[-1.0, 0.2, 0.2, 1.5], [0.7, -0.5, 1.0, 0.0]])
    real_y, fake_y = torch.tensor([0, 2]), torch.tensor([2, 1])
    minimax = -(F.logsigmoid(real_out[:, 0]).mean() + F.logsigmoid(-fake_out[:, 0]).mean())
    d_loss, _ = gan.d_terms(real_out, fake_out, real_y, fake_y)
    torch.testing.assert_close(d_loss, minimax + F.cross_entropy(real_out[:, 1:], real_y))
    g_loss, stats = gan.g_terms(fake_out, fake_y)
    by_hand = -F.logsigmoid(fake_out[:, 0]).mean() + F.cross_entropy(fake_out[:, 1:], fake_y)
    torch.testing.assert_close(g_loss, by_hand)
    assert "loss_class_g" in stats


def test_projection_losses_are_the_configured_ones_of_its_logits():
    gan = _gan("projection")
    real, fake = torch.tensor([0.5, -1.0]), torch.tensor([0.2, 1.0])
    d_loss, stats = gan.d_terms(real, fake, None, None)
    torch.testing.assert_close(d_loss, -(F.logsigmoid(real).mean() + F.logsigmoid(-fake).mean()))
    assert "loss_class_d" not in stats


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["options.conditioning=onehot"], "options.conditioning='onehot'; choose one of: concat"),
        (["options.class_weight=-1"], "options.class_weight must be a finite number >= 0"),
        (
            ["options.conditioning=acgan", "model.discriminator.branches=[240,50]"],
            r"set model.discriminator.branches=\[\]",
        ),
        (
            [
                "options.conditioning=projection",
                "model.num_classes=0",
                "model.generator.branches=[]",
            ],
            "set model.num_classes",
        ),
        (["options.conditoning=acgan"], "'options.conditoning'"),
    ],
)
def test_bad_conditioning_options_are_one_line_errors(overrides, message):
    cfg = load_preset("cgan-mnist", [*SMALL[:3], *overrides])
    with pytest.raises(ConfigError, match=message) as err:
        validate(cfg, training=False)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_each_conditioning_trains_and_samples_the_requested_label(
    conditioning, tmp_path, data_root
):
    overrides = [f"data.root={data_root}", "data.split=valid", "train.progress=false"]
    overrides += [*SMALL, "train.steps=3", "train.batch_size=20", "train.samples_per_epoch=false"]
    if conditioning == "concat":
        overrides = [o for o in overrides if "discriminator" not in o]
    preset = PRESETS.get(conditioning, "cgan-projection-mnist")
    overrides += [f"options.conditioning={conditioning}"]
    run = train(load_preset(preset, overrides), tmp_path / "r")
    assert GAN.options(run.cfg).conditioning == conditioning
    assert run.counters.step == 3 and all(torch.isfinite(p).all() for p in run.D.parameters())
    out = tmp_path / "four.npy"
    assert main(["sample", str(tmp_path / "r"), "--label", "4", "--n", "6", "--out", str(out)]) == 0
    assert np.load(out).shape == (6, 1, 28, 28)
    assert main(["eval", str(tmp_path / "r"), "--metric", "fidelity", "--n", "20"]) == 0
    row = json.loads((tmp_path / "r" / "metrics.jsonl").read_text().splitlines()[-1])
    per_class = [row["eval"][f"fidelity_{c}"] for c in range(10)]
    assert row["eval"]["fidelity"] == pytest.approx(sum(per_class) / 10, abs=1e-6)
    head = conditioning in CLASS_HEADS
    reads = run_in_process(
        [sys.executable, str(REPO / "benchmarks" / "class_head_reads.py"), str(tmp_path / "r")]
        + ["--label", "4", "--n", "20", *(["--real", "--confidence"] if head else [])]
    )
    assert reads.returncode == 0, reads.stderr
    counts = {line.split(":")[0]: line.split(":", 1)[1] for line in reads.stdout.splitlines()}
    assert sum(json.loads(counts["reader"])) == 20
    if head:  # D's own reading of the same 20, and of the real test images
        assert sum(json.loads(counts["D's head"])) == 20
        accuracies = [float(a) for a in counts["  D's head"].split()]
        assert len(accuracies) == 10 and all(0 <= a <= 100 for a in accuracies)
        quantiles = json.loads(counts["D's head P(label) on G's samples, quantiles 5/25/50 %"])
        assert len(quantiles) == 3 and 0 <= quantiles[0] <= quantiles[1] <= quantiles[2] <= 1
        above = [int(counts[f"real test images with P(label) > {t}"].split(",")[0])
                 for t in (0.5, 0.9, 0.99)]  # fmt: skip
        assert above == sorted(above, reverse=True)
    else:
        assert "none" in counts["D's head"]


def test_fidelity_of_an_unconditional_run_is_refused(tmp_path, capsys):
    train(load_preset("gan-ring", ["train.progress=false", "train.steps=2"]), tmp_path / "r")
    assert main(["eval", str(tmp_path / "r"), "--metric", "fidelity"]) == 2
    err = capsys.readouterr().err.strip()
    assert "scores conditional runs" in err and len(err.splitlines()) == 1


def test_benchmark_table_names_each_runs_worst_class(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from label_fidelity import table

    rows = [
        {
            "preset": "acgan-mnist",
            "seed": 1,
            "fidelity": 0.9,
            "fidelity_0": 1.0,
            "fidelity_1": 0.8,
            "fid": 12.345,
        },
        {"preset": "cgan-mnist", "seed": 1, "fidelity": 0.1, "fidelity_0": 0.0, "fidelity_1": 0.2},
    ]
    lines = table(rows).splitlines()
    assert lines[0] == "| preset | seed | fidelity | worst class | 0 | 1 | FID |"
    assert lines[2] == "| acgan-mnist | 1 | 90.00 | 1 80.0 | 100.0 | 80.0 | 12.35 |"
    assert lines[3] == "| cgan-mnist | 1 | 10.00 | 0 0.0 | 0.0 | 20.0 | - |"


def test_benchmark_scores_each_run_at_its_truncation(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from label_fidelity import evals, row, run_truncation

    run = tmp_path / "cdcgan-fashion-s0"
    run.mkdir()
    (run / "config.yaml").write_text("model:\n  truncation: 0.3\n")
    rows = [{"fidelity": 0.9, "fid": 30.0}, {"fidelity": 0.99, "truncation": 0.3}]
    rows += [{"fid": 70.0, "truncation": 0.3}, {"fidelity": 0.95, "truncation": 0.5}]
    lines = [json.dumps({"eval": r, "step": 5}) for r in rows]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert run_truncation(run, None) == 0.3 and run_truncation(run, 1.0) == 1.0
    assert evals(run, 1.0) == {"fidelity": 0.9, "fid": 30.0}
    assert evals(run, 0.3) == {"fidelity": 0.99, "truncation": 0.3, "fid": 70.0}
    assert row("cdcgan-fashion", 0, 0.3, {})["preset"] == "cdcgan-fashion, psi 0.3"
    assert row("cdcgan-fashion", 0, 1.0, {})["preset"] == "cdcgan-fashion"


class _LabelInPixels(torch.nn.Module):
    """G(z, y): a picture whose brightness is y / 10 (or 0 for every y when it ignores y)."""

    def __init__(self, ignores: bool) -> None:
        super().__init__()
        self.ignores, self.w = ignores, torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, y):
        level = torch.zeros_like(y) if self.ignores else y
        return (level.float() / 10 + 0 * self.w).view(-1, 1, 1, 1).expand(-1, 1, 28, 28)


def _read_brightness(x):
    return (x.mean((1, 2, 3)) * 10).round().long()


class _Run:
    def __init__(self, G, cfg, step):
        self.G_sample, self.cfg = G, cfg
        self.counters = type("C", (), {"step": step})()


@pytest.mark.parametrize("ignores", [False, True])
def test_periodic_label_fidelity_warns_when_g_ignores_its_label(ignores, capsys):
    cfg = load_preset("cgan-mnist")
    G = _LabelInPixels(ignores)
    scores = label_fidelity(G, cfg, 20, reader=_read_brightness)
    assert scores["fidelity"] == pytest.approx(0.1 if ignores else 1.0, abs=1e-6)
    assert scores["fidelity_0"] == pytest.approx(1.0, abs=1e-6)
    hook = PeriodicEval.__new__(PeriodicEval)
    hook.n, hook.reader = 200, _read_brightness
    eval_scores: dict = {}
    row = hook.label_fidelity(_Run(G, cfg, 700), eval_scores)
    assert eval_scores["label_fidelity"] == pytest.approx(0.1 if ignores else 1.0, abs=1e-6)
    err = capsys.readouterr().err
    if ignores:
        assert "step 700" in row["warning"] and "ignoring its label" in row["warning"]
        assert err.count("\n") == 1 and "advnets: warning: step 700" in err
        assert eval_scores["label_fidelity_worst_class"] != "0"
    else:
        assert row == {} and err == ""


def test_fidelity_warning_only_near_chance():
    assert fidelity_warning(0.12, 10, 5) is not None
    assert fidelity_warning(0.25, 10, 5) is None
    assert fidelity_warning(0.52, 2, 5) is not None and fidelity_warning(0.6, 2, 5) is None
