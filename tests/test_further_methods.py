"""f-GAN, EBGAN and BEGAN: each divergence's activation and conjugate against the paper's
tables and the Fenchel conjugate of f, the losses on given numbers by hand, the pulling-away
term, BEGAN's balance k_t and M_global, one-line refusals of bad options, exact resume
(k_t included) and the sample / eval / plot commands on tiny runs."""

import json
import math

import pytest
import torch

from advnets import load_preset
from advnets.cli import main
from advnets.errors import ConfigError
from advnets.losses import d_minimax, g_non_saturating
from advnets.methods.began import convergence, next_k
from advnets.methods.ebgan import margin_loss, pulling_away
from advnets.methods.fgan import DIVERGENCES, d_loss, g_loss
from advnets.training import build_run, train
from advnets.validation import validate
from advnets.viz import read_metrics, train_panels

QUIET = [
    "train.progress=false",
    "train.samples_per_epoch=false",
    "train.checkpoint_every=0",
    "train.threads=1",
    "train.log_every=1",
]
# each method's presets on tiny nets and batches
SMALL = {
    "fgan-kl-mnist": [
        "model.generator.hidden=[32]",
        "model.discriminator.hidden=[16]",
        "train.batch_size=16",
        "data.split=valid",
    ],
    "ebgan-mnist": [
        "model.generator.hidden=[32]",
        "model.discriminator.hidden=[16]",
        "options.code=4",
        "train.batch_size=16",
        "data.split=valid",
    ],
    "began-faces": [
        "model.generator.channels=4",
        "model.discriminator.channels=4",
        "options.code=8",
        "options.lambda_k=0.5",  # k_t moves visibly within a few steps
    ],
}


def small(preset: str, data_root, *extra: str):
    return load_preset(preset, [*QUIET, f"data.root={data_root}", *SMALL[preset], *extra])


# --- f-GAN ----------------------------------------------------------------------------------

# (divergence, v, g_f(v), t, f*(t)): Table 2's activations and Table 1's conjugates, by hand
TABLE_POINTS = [
    ("kl", 0.5, 0.5, 1.0, 1.0),  # v; exp(t - 1)
    ("reverse_kl", 0.0, -1.0, -0.5, -1.0 + math.log(2.0)),  # -exp(-v); -1 - log(-t)
    ("pearson", -1.5, -1.5, 2.0, 3.0),  # v; t^2 / 4 + t
    ("neyman", math.log(4.0), 0.75, 0.75, 1.0),  # 1 - exp(-v); 2 - 2 sqrt(1 - t)
    ("squared_hellinger", math.log(2.0), 0.5, 0.5, 1.0),  # 1 - exp(-v); t / (1 - t)
    ("jensen_shannon", math.log(3.0), math.log(1.5), math.log(1.5), math.log(2.0)),
    ("gan", 0.0, -math.log(2.0), -math.log(2.0), math.log(2.0)),  # -log(1 + e^-v); -log(1 - e^t)
]


@pytest.mark.parametrize("name, v, g, t, conj", TABLE_POINTS)
def test_activation_and_conjugate_at_hand_computed_points(name, v, g, t, conj):
    div = DIVERGENCES.get(name)
    x = torch.tensor([v], dtype=torch.float64)
    torch.testing.assert_close(div.activation(x), torch.tensor([g], dtype=torch.float64))
    y = torch.tensor([t], dtype=torch.float64)
    torch.testing.assert_close(div.conjugate(y), torch.tensor([conj], dtype=torch.float64))


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_conjugate_is_the_fenchel_conjugate_of_f_and_the_stable_form_agrees(name):
    """f*(t) = sup_u (u t - f(u)), taken on a fine grid of u, at t = g_f(v) for v in [-1, 1]
    (where the maximiser lies inside the grid); f*(g_f(v)) written in v equals the
    composition, also far out where the composition overflows or loses digits."""
    div = DIVERGENCES.get(name)
    v = torch.linspace(-1, 1, 9, dtype=torch.float64)
    t = div.activation(v)
    u = torch.logspace(-3, 2, 400_001, dtype=torch.float64)
    sup = (u[None, :] * t[:, None] - div.f(u)[None, :]).max(dim=1).values
    torch.testing.assert_close(div.conjugate(t), sup, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(div.conjugate_of_activation(v), div.conjugate(t))
    far = torch.tensor([-30.0, 30.0])
    assert torch.isfinite(div.conjugate_of_activation(far)).all()


def test_losses_on_given_outputs_by_hand():
    kl = DIVERGENCES.get("kl")
    real, fake = torch.tensor([0.0, 1.0]), torch.tensor([0.5])
    # -F = E_Q[exp(v - 1)] - E_P[v] = exp(-0.5) - 0.5
    torch.testing.assert_close(d_loss(kl, real, fake), torch.tensor(math.exp(-0.5) - 0.5))
    torch.testing.assert_close(g_loss(kl, fake, "practical"), torch.tensor(-0.5))
    torch.testing.assert_close(g_loss(kl, fake, "saddle"), torch.tensor(-math.exp(-0.5)))
    # the GAN divergence is the GAN: D's loss is the minimax one, G's practical loss the
    # non-saturating one, on any logits
    gan = DIVERGENCES.get("gan")
    r, f = torch.randn(64, generator=torch.Generator().manual_seed(0)).chunk(2)
    torch.testing.assert_close(d_loss(gan, r, f), d_minimax(r, f))
    torch.testing.assert_close(g_loss(gan, f, "practical"), g_non_saturating(f))
    # the paper's Jensen-Shannon f is the GAN's f plus log 4: the same losses up to constants
    js = DIVERGENCES.get("jensen_shannon")
    torch.testing.assert_close(d_loss(js, r, f), d_loss(gan, r, f) - 2 * math.log(2.0))
    torch.testing.assert_close(
        g_loss(js, f, "practical"), g_loss(gan, f, "practical") - math.log(2)
    )


def test_single_step_is_one_simultaneous_phase(data_root):
    one = build_run(small("fgan-kl-mnist", data_root))
    phases = one.method.phases(one.counters, {"G": 0, "D": 0})
    assert [p.trains for p in phases] == [("D", "G")]
    two = build_run(small("fgan-kl-mnist", data_root, "options.single_step=false"))
    phases = two.method.phases(two.counters, {"G": 0, "D": 0})
    assert [p.trains for p in phases] == [("D",), ("G",)]


@pytest.mark.parametrize(
    "preset, option, message",
    [
        ("fgan-kl-mnist", "options.divergence=kld", "options.divergence='kld'; choose one of: "),
        ("fgan-kl-mnist", "options.generator=minimax", "options.generator='minimax'; choose"),
        ("ebgan-mnist", "options.margin=-1", "options.margin must be > 0"),
        ("ebgan-mnist", "options.pt_weight=-0.1", "options.pt_weight must be >= 0"),
        ("ebgan-faces", "options.code=0", "options.code must be >= 1"),
        ("began-faces", "options.gamma=0", "options.gamma must be in (0, 1]"),
        ("began-faces", "options.gamma=1.5", "options.gamma must be in (0, 1]"),
        ("began-faces", "options.k_0=2", "options.k_0 must be in [0, 1]"),
        ("began-faces", "options.lambda_k=-1", "options.lambda_k must be >= 0"),
        ("began-faces", "options.margin=1", "'options.margin'"),
        ("ebgan-mnist", "model.discriminator.pack=2", "pack is not read by this run's disc"),
        ("ebgan-mnist", "model.discriminator.activation=maxout", "takes no maxout"),
    ],
)
def test_bad_options_are_refused_in_one_line(preset, option, message):
    with pytest.raises(ConfigError) as err:  # at the override, or by the method's own checks
        validate(load_preset(preset, [option]), training=False)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
    if "divergence" in option:
        assert all(name in str(err.value) for name in DIVERGENCES)


def test_began_refuses_several_processes(monkeypatch):
    """Each process would move its own k_t: refused before anything is written."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="keeps its balance k_t in one process"):
        validate(load_preset("began-faces"))
    monkeypatch.setenv("WORLD_SIZE", "1")
    validate(load_preset("began-faces"), training=False)


# --- EBGAN ----------------------------------------------------------------------------------


def test_margin_loss_by_hand():
    real, fake = torch.tensor([0.1, 0.3]), torch.tensor([0.5, 2.0])
    # mean D(x) = 0.2; [1 - 0.5]^+ = 0.5, [1 - 2]^+ = 0: mean 0.25
    torch.testing.assert_close(margin_loss(real, fake, 1.0), torch.tensor(0.45))


def test_pulling_away_term_by_hand():
    # cosines: (1, 2) 0, (1, 3) and (2, 3) 1/sqrt 2; squared over the 6 ordered pairs: 2 / 6
    codes = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    torch.testing.assert_close(pulling_away(codes), torch.tensor(1 / 3))
    torch.testing.assert_close(pulling_away(torch.eye(4) * 3), torch.tensor(0.0))  # orthogonal
    same = torch.tensor([[1.0, -2.0, 0.5]]).repeat(5, 1) * torch.arange(1.0, 6.0)[:, None]
    torch.testing.assert_close(pulling_away(same), torch.tensor(1.0))  # parallel


def test_ebgan_losses_in_the_run_match_their_definitions(data_root):
    run = build_run(small("ebgan-mnist", data_root, "options.margin=0.5"))
    D = run.D.eval()  # no batch-norm statistics move between the two computations
    batch = run.step.batches.draw(("real", "noise"))
    losses, stats = run.method.d_phase(batch)
    with torch.no_grad():
        fake = run.G(batch.z)
    energy = lambda x: (D(x) - x).square().flatten(1).mean(1)  # noqa: E731
    want = energy(batch.real).mean() + torch.relu(0.5 - energy(fake)).mean()
    torch.testing.assert_close(losses["D"], want)
    g_losses, g_stats = run.method.g_phase(batch)
    pt = pulling_away(D.encode(fake))
    torch.testing.assert_close(g_losses["G"], energy(fake).mean() + 0.1 * pt)
    assert 0 < float(g_stats["pulling_away"]) < 1


# --- BEGAN ----------------------------------------------------------------------------------


def test_k_update_and_its_clip_by_hand():
    assert next_k(0.5, 0.1, 0.5, 0.4, 0.1) == pytest.approx(0.51)  # 0.5 + 0.1 (0.2 - 0.1)
    assert next_k(0.5, 0.1, 0.5, 0.1, 0.4) == pytest.approx(0.465)  # 0.5 + 0.1 (0.05 - 0.4)
    assert next_k(0.99, 1.0, 1.0, 0.5, 0.0) == 1.0  # clipped above
    assert next_k(0.01, 1.0, 0.5, 0.0, 0.5) == 0.0  # clipped below


def test_convergence_measure_by_hand():
    real, fake = torch.tensor(0.4), torch.tensor(0.1)
    torch.testing.assert_close(convergence(real, fake, 0.5), torch.tensor(0.5))  # 0.4 + 0.1
    torch.testing.assert_close(convergence(real, torch.tensor(0.5), 0.5), torch.tensor(0.7))


def test_a_began_step_uses_k_then_moves_it(data_root):
    run = build_run(small("began-faces", data_root, "options.k_0=0.25"))
    run.D.eval()
    batch = run.step.batches.draw(("real", "noise"))
    losses, stats = run.method.joint_phase(batch)
    real_l, fake_l = stats["loss_real"], stats["loss_fake"]
    torch.testing.assert_close(losses["D"], real_l - 0.25 * fake_l)
    torch.testing.assert_close(losses["G"], fake_l)
    want = next_k(0.25, 0.5, 0.5, float(real_l), float(fake_l))
    assert run.method.k == 0.25  # moved only once D has stepped
    run.method.after_update("D")
    assert run.method.k == pytest.approx(want) and run.method.k != 0.25
    torch.testing.assert_close(stats["m_global"], convergence(real_l, fake_l, 0.5))


# --- every method: exact resume, and the commands on its runs --------------------------------


@pytest.mark.parametrize("preset", list(SMALL))
def test_resume_is_exact(preset, data_root, tmp_path):
    whole = train(small(preset, data_root, "train.steps=4"), tmp_path / "whole")
    train(small(preset, data_root, "train.steps=2"), tmp_path / "cut")
    halfway = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["method"]
    resumed = train(None, tmp_path / "cut", resume=True, overrides=["train.steps=4"])
    for name, net in whole.nets.items():
        for a, b in zip(
            net.state_dict().values(), resumed.nets[name].state_dict().values(), strict=True
        ):
            assert torch.equal(a, b)
    assert whole.method.state_dict().keys() == resumed.method.state_dict().keys()
    for key, value in whole.method.state_dict().items():
        assert torch.equal(value, resumed.method.state_dict()[key])
    if preset.startswith("began"):
        # k_t had moved from k_0 = 0 by step 2, and moved on after the resume
        assert 0 < float(halfway["k"]) < 1 and float(halfway["k"]) != whole.method.k


@pytest.mark.parametrize("preset", list(SMALL))
def test_sample_eval_and_plot_on_a_tiny_run(preset, data_root, tmp_path, capsys):
    extra = ["data.name=mnist"] if preset == "began-faces" else []  # faces have no metric
    run_dir = tmp_path / "run"
    train(small(preset, data_root, "train.steps=3", *extra), run_dir)
    out = tmp_path / "s.png"
    assert main(["sample", str(run_dir), "--n", "16", "--out", str(out)]) == 0 and out.is_file()
    args = ["eval", str(run_dir), "--metric", "parzen", "--n", "100", "--device", "cpu"]
    assert main(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("parzen ")
    assert main(["plot", str(run_dir)]) == 0 and (run_dir / "curves.png").is_file()
    rows, _ = read_metrics(run_dir / "metrics.jsonl")
    assert train_panels(rows) == (["m_global"] if preset.startswith("began") else [])
    if preset.startswith("began"):
        row = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
        assert row["m_global"] == pytest.approx(
            row["loss_real"] + abs(0.5 * row["loss_real"] - row["loss_fake"]), abs=2e-6
        )


def test_began_trains_on_a_folder_of_pictures(tmp_path, monkeypatch):
    """`advnets train began-faces --images DIR --size N`: the method on pictures of one's own."""
    from PIL import Image

    monkeypatch.setenv("ADVNETS_CACHE", str(tmp_path / "cache"))
    rng = torch.Generator().manual_seed(0)
    (tmp_path / "pictures").mkdir()
    for i in range(12):
        pixels = torch.randint(0, 256, (20, 20, 3), generator=rng, dtype=torch.uint8)
        Image.fromarray(pixels.numpy()).save(tmp_path / "pictures" / f"{i}.png")
    run_dir = tmp_path / "run"
    args = ["train", "began-faces", "--images", str(tmp_path / "pictures"), "--size", "16"]
    sets = [f"--set={o}" for o in (*QUIET, *SMALL["began-faces"], "train.batch_size=4")]
    assert main([*args, "--out", str(run_dir), "--steps", "2", *sets]) == 0
    ckpt = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert ckpt["data_shape"] == [3, 16, 16] and 0 < float(ckpt["method"]["k"]) < 1


def test_fgan_benchmark_refuses_an_unknown_divergence_before_any_work(tmp_path):
    import sys

    from conftest import REPO, run_in_process

    script = str(REPO / "benchmarks" / "fgan_parzen.py")
    result = run_in_process([sys.executable, script, "--divergence", "kld", "--out", str(tmp_path)])
    last = result.stderr.strip().splitlines()[-1]  # argparse's usage, then the one line
    assert result.returncode == 2 and "--divergence kld: choose one of" in last, result.stderr
    assert not (tmp_path / "fgan-parzen.jsonl").exists()
