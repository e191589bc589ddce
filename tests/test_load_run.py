"""One way to load a run: every reader (sample, eval, classify, encode, reconstruct,
restore, the pictures, the API) reads a run's file through `advnets.runs.load_run` alone,
the nets it rebuilds are those training ended with (weight averages included), and a
reader asks for a role, never a player's name."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import advnets
from advnets.cli import main
from advnets.config import config_from_dict
from advnets.data import load_images01
from advnets.errors import ConfigError
from advnets.losses import d_minimax, g_non_saturating
from advnets.methods import METHODS, Method, Phase
from advnets.methods.vaegan import encode
from advnets.nets import build_discriminator, build_generator
from advnets.restore import from_generator, shipped_path
from advnets.runs import load_run, methods_with
from advnets.sampling import draw_samples
from advnets.training import train

QUIET = ["train.progress=false", "train.samples_per_epoch=false", "train.checkpoint_every=0"]
QUIET += ["train.eval_every=0"]
QUIET_TRAIN = {"progress": False, "samples_per_epoch": False, "checkpoint_every": 0}
# tiny nets and a few steps for each method family (the presets' own architectures)
FAMILIES = {
    "gan": ("gan-ring", ["train.steps=3", "train.ema_decay=0.5"]),
    "ssl": (
        "improved-gan-mnist",
        ["model.discriminator.hidden=[64,32]", "model.generator.hidden=[32]", "train.steps=2"],
    ),
    "vaegan": (
        "vaegan-mnist",
        [
            *(f"model.{net}.channels=8" for net in ("encoder", "generator", "discriminator")),
            "model.z_dim=8",
            "train.batch_size=16",
            "train.steps=2",
        ],
    ),
    "restoration": (
        "restore-sr2-faces",
        [
            "model.generator.channels=8",
            "model.generator.blocks=2",
            "model.discriminator.channels=8",
            "train.batch_size=8",
            "train.steps=2",
        ],
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_root) -> dict:
    """{family: (run folder, the Run as training left it)}, trained once for the module."""
    out = {}
    for family, (preset, sets) in FAMILIES.items():
        run_dir = tmp_path_factory.mktemp("load") / family
        overrides = [*QUIET, *sets, f"data.root={data_root}"]
        out[family] = run_dir, train(advnets.load_preset(preset, overrides), run_dir)
    return out


@pytest.fixture
def file_reads(monkeypatch) -> list[tuple[str, bool]]:
    """Every torch.load as (file, whether advnets.runs.load_run called it)."""
    reads, real = [], torch.load

    def spy(f, *args, **kwargs):
        frame, inside = sys._getframe(1), False
        while frame is not None and not inside:
            code = frame.f_code
            inside = code.co_name == "load_run" and code.co_filename.endswith("advnets/runs.py")
            frame = frame.f_back
        reads.append((str(f), inside))
        return real(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return reads


def run_file_reads(reads: list[tuple[str, bool]], *folders: Path) -> list[bool]:
    """Of `reads`, those of a file in one of `folders`: whether load_run read each."""
    return [inside for f, inside in reads if any(Path(f).is_relative_to(d) for d in folders)]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_loaded_nets_are_those_training_ended_with(runs, family):
    run_dir, run = runs[family]
    loaded = load_run(run_dir)
    assert loaded.method is METHODS.get(run.cfg.method) and loaded.step == run.counters.step
    assert loaded.cfg.to_dict() == run.cfg.to_dict() and loaded.folder == run_dir
    assert set(loaded.nets) == set(run.players)
    for name, player in run.players.items():  # each player's average where it kept one
        want = player.scored.state_dict()
        got = loaded.nets[name].state_dict()
        assert set(got) == set(want) and not loaded.nets[name].training
        for key, value in want.items():
            assert torch.equal(got[key], value), (name, key)
    raw = load_run(run_dir, average=False)
    for name, player in run.players.items():
        assert all(
            torch.equal(a, b)
            for a, b in zip(raw.nets[name].parameters(), player.net.parameters(), strict=True)
        )


def test_gan_samples_are_those_of_the_trained_average(runs):
    run_dir, run = runs["gan"]
    assert run.players["G"].average is not None  # the loaded G is the average, not G
    want = draw_samples(run.G_sample, run.cfg, 64, seed=3)
    torch.testing.assert_close(advnets.sample(run_dir, 64, seed=3), want, rtol=0, atol=0)
    assert not torch.equal(want, draw_samples(run.G, run.cfg, 64, seed=3))


def test_each_role_gives_the_trained_outputs(runs, data_root):
    x = load_images01("mnist", "test", str(data_root), 8)[0]
    ssl_dir, ssl = runs["ssl"]
    with torch.no_grad():
        torch.testing.assert_close(
            load_run(ssl_dir).classifier()(x.flatten(1)),
            ssl.classifier.eval()(x.flatten(1)),
            rtol=1e-6,
            atol=1e-6,
        )
        vae_dir, vae = runs["vaegan"]
        loaded = load_run(vae_dir)
        got = loaded.sampler()(encode(loaded.encoder(), x)[0])
        want = vae.nets["G"].eval()(encode(vae.nets["E"].eval(), x)[0])
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    res_dir, res = runs["restoration"]
    faces = load_images01("faces", "test", str(data_root), 2)[0]
    from advnets.data.corruptions import degrade

    d = degrade(faces, res.cfg.restore, torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        from_generator(load_run(res_dir).restorer(), 1)(d),
        from_generator(res.nets["G"].eval(), 1)(d),
        rtol=1e-6,
        atol=1e-6,
    )


def test_a_role_the_method_lacks_is_one_line_naming_the_methods_that_have_it(runs):
    gan = load_run(runs["gan"][0])
    with pytest.raises(ConfigError, match="method gan, which has no classifier") as err:
        gan.classifier()
    assert "(method catgan, improved-gan, sgan or supervised)" in str(err.value)
    assert set(methods_with("classifier")) == {"catgan", "sgan", "improved-gan", "supervised"}
    assert set(methods_with("encoder")) == {"vae", "vaegan"}
    with pytest.raises(ConfigError, match="has no encoder; reconstruct and encode need"):
        gan.encoder()
    with pytest.raises(ConfigError, match="no generator that samples from noise"):
        load_run(runs["restoration"][0]).sampler()
    with pytest.raises(ConfigError, match="not a restoration run"):
        gan.restorer()


def _reader_commands(runs, tmp: Path, data_root) -> dict:
    """{reader: a call that loads a run}: the commands and the API."""
    gan, ssl, vae, res = (str(runs[f][0]) for f in FAMILIES)
    images = tmp / "x.npy"
    np.save(images, load_images01("mnist", "test", str(data_root), 4)[0].numpy())
    faces = tmp / "faces.npy"
    np.save(faces, load_images01("faces", "test", str(data_root), 2)[0].numpy())
    out = str(tmp / "out.npy")
    root = ["--data", str(data_root)]
    return {
        "sample": lambda: main(["sample", gan, "--n", "8", "--out", out]),
        "eval": lambda: main(["eval", gan, "--metric", "modes", "--n", "100"]),
        "eval accuracy": lambda: main(["eval", ssl, "--metric", "accuracy", "--n", "20", *root]),
        "eval reconstruction": lambda: main(
            ["eval", vae, "--metric", "reconstruction", "--n", "8", *root]
        ),
        "classify": lambda: main(["classify", ssl, "--samples", str(images), "--out", out]),
        "encode": lambda: main(["encode", vae, "--samples", str(images), "--out", out]),
        "reconstruct": lambda: main(["reconstruct", vae, "--samples", str(images), "--out", out]),
        "interpolate": lambda: main(
            ["interpolate", vae, "--pairs", "1", "--steps", "3", "--out", str(tmp / "i.png")]
        ),
        "restore": lambda: main(["restore", res, str(faces), "--out", out]),
        "restore shipped": lambda: main(["restore", str(faces), "--task", "sr2", "--out", out]),
        "api load_generator": lambda: advnets.load_generator(gan) and 0,
        "api sample": lambda: advnets.sample(gan, 4) is None,
        "api evaluate": lambda: advnets.evaluate(gan, metric="modes", n=100) and 0,
    }


def test_every_reader_reads_the_run_through_load_run(runs, data_root, tmp_path, file_reads):
    folders = [runs[f][0] for f in FAMILIES] + [shipped_path("sr2").parent]
    for reader, call in _reader_commands(runs, tmp_path, data_root).items():
        file_reads.clear()
        assert call() in (0, False), reader
        reads = run_file_reads(file_reads, *folders)
        assert reads and all(reads), (reader, file_reads)


class Renamed(Method):
    """A GAN whose players are "Dec" (samples come from it) and "Critic": no "G"."""

    players = ("Dec", "Critic")
    sample_player = "Dec"

    @staticmethod
    def build_nets(cfg, data):
        G = build_generator(cfg.model, data.shape, data.mean01)
        return {"Dec": G, "Critic": build_discriminator(cfg.model, data.shape)}

    def __init__(self, cfg, nets, optimizers):
        self.nets = nets

    def phases(self, counters, updates):
        return [self.solo("Critic"), self.solo("Dec")]

    def solo(self, player):
        if player == "Dec":
            return Phase(("Dec",), ("noise",), self.dec_loss)
        return Phase(("Critic",), ("real", "noise"), self.critic_loss)

    def critic_loss(self, batch):
        with torch.no_grad():
            fake = self.nets["Dec"](batch.z)
        critic = self.nets["Critic"]
        loss = d_minimax(critic(batch.real), critic(fake))
        return {"Critic": loss}, {"loss_d": loss.detach()}

    def dec_loss(self, batch):
        loss = g_non_saturating(self.nets["Critic"](self.nets["Dec"](batch.z)))
        return {"Dec": loss}, {"loss_g": loss.detach()}


def test_a_sample_player_not_named_g_is_sampled(monkeypatch, tmp_path, file_reads):
    monkeypatch.setitem(METHODS._table, "renamed-gan", Renamed)
    adam = {"name": "adam", "lr": 0.001, "betas": [0.5, 0.999]}
    cfg = config_from_dict(
        {
            "method": "renamed-gan",
            "data": {"name": "gaussian1d", "mean": 4.0, "std": 0.5, "value_range": [-10, 10]},
            "model": {"z_dim": 1, "noise": "uniform", "noise_scale": 1.0},
            "optim": {"Critic": adam, "Dec": adam},
            "train": {"batch_size": 64, "steps": 5, "ema_decay": 0.5, **QUIET_TRAIN},
        }
    )
    run = train(cfg, tmp_path / "run")
    assert run.players["Dec"].average is not None
    want = draw_samples(run.players["Dec"].scored, cfg, 50, seed=2)
    torch.testing.assert_close(advnets.sample(tmp_path / "run", 50, seed=2), want, rtol=0, atol=0)
    out = tmp_path / "x.npy"
    assert (
        main(["sample", str(tmp_path / "run"), "--n", "50", "--seed", "2", "--out", str(out)]) == 0
    )
    torch.testing.assert_close(torch.from_numpy(np.load(out)), want, rtol=0, atol=0)
    assert all(run_file_reads(file_reads, tmp_path / "run"))


def test_a_restorer_file_holds_its_g_alone_and_loads_through_the_same_path(runs, tmp_path):
    from advnets.restore import ship

    run_dir, run = runs["restoration"]
    shipped = load_run(ship(run_dir, tmp_path / "sr2.pt"))
    assert set(shipped.nets) == {"G"} and shipped.step == run.counters.step
    for a, b in zip(shipped.restorer().parameters(), run.nets["G"].parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ConfigError, match="no generator that samples from noise"):
        shipped.sampler()
    packaged = load_run(shipped_path("sr2"))
    assert packaged.cfg.restore.task == "sr2" and set(packaged.nets) == {"G"}
