"""Data-parallel training (advnets.training.distributed): two gloo processes launched by
torch.distributed.run train what one process trains on the same total batch, only rank 0
writes, and a split run resumes exactly."""

import gc
import json
import os
import shutil
import subprocess
import sys
import weakref
from pathlib import Path

import ddp_worker
import pytest
import torch
import torch.distributed as dist
from conftest import _data_root
from torch import nn

import advnets.methods.gan as gan
import advnets.methods.vaegan as vaegan
from advnets import load_preset
from advnets.cli import main
from advnets.data.batches import Batches
from advnets.errors import ConfigError
from advnets.methods.base import Counters
from advnets.training.distributed import Place, Team, check_split, stream_seed

WORKER = str(Path(__file__).parent / "ddp_worker.py")
REPO = Path(__file__).resolve().parents[1]

# WGAN-GP on the 5x5 grid with small MLPs: no dropout or batch norm, so the split run
# draws nothing that depends on how the batch is split (the penalty's alpha is fixed). SGD:
# Adam's step divides by the root of the second moment and so turns the rounding of a
# near-zero gradient into a step of lr's size, which no float tolerance covers.
TOY = [
    "--set", "optim.D.name=sgd", "--set", "optim.D.lr=0.01",
    "--set", "optim.G.name=sgd", "--set", "optim.G.lr=0.01",
    "--set", "model.generator.hidden=[32]",
    "--set", "model.discriminator.hidden=[32]",
    "--set", "loss.discriminator=wasserstein",
    "--set", "loss.generator=wasserstein",
    "--set", "options.gradient_penalty=10",
    "--set", "train.k=2",
    "--set", "train.batch_size=64",
    "--set", "train.progress=false",
    "--set", "train.samples_per_epoch=false",
    "--set", "train.threads=1",
    "--set", "train.log_every=1",
]  # fmt: skip


GAN_FAMILIES = ["simultaneous", "reuse_fakes", "pacgan", *ddp_worker.PER_RANK]


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Path:
    """One two-process launch for every scenario below (ddp_worker.py --plan): each
    scenario's runs, each rank's status and output, the families' weights."""
    out = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    root = _data_root()
    families = GAN_FAMILIES + (list(ddp_worker.MNIST) if root is not None else [])
    if root is not None:
        env["ADVNETS_DATA"] = str(root)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    done = subprocess.run(
        [*launcher, "--nproc_per_node", "2", WORKER, "--plan", str(out), *families, "--", *TOY],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return out


def outcome(plan: Path, scenario: str, rank: int) -> dict:
    """A scenario's exit status, stdout and stderr on one rank."""
    return json.loads((plan / f"{scenario}-rank{rank}.json").read_text())


def succeeded(plan: Path, scenario: str) -> None:
    for rank in (0, 1):
        done = outcome(plan, scenario, rank)
        assert done["code"] == 0, (scenario, rank, done["stderr"][-3000:])


def train_here(argv: list[str], capsys) -> str:
    """`advnets train ARGV` in this process (one thread, as the launch's), its stdout."""
    threads = torch.get_num_threads()
    try:
        assert main(["train", *argv]) == 0, capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)
    return capsys.readouterr().out


def checkpoint(folder: Path) -> dict:
    return torch.load(folder / "checkpoint.pt", weights_only=True)


def test_two_processes_train_what_one_process_trains(plan, tmp_path, monkeypatch, capsys):
    succeeded(plan, "two")
    two, one = plan / "two", tmp_path / "one"
    monkeypatch.setattr(ddp_worker.fixed_alpha_penalty, "original", gan.gradient_penalty, False)
    monkeypatch.setattr(gan, "gradient_penalty", ddp_worker.fixed_alpha_penalty)
    every = ["--set", "train.checkpoint_every=2"]
    train_here(["gan-grid", "--out", str(one), "--steps", "4", *TOY, *every], capsys)
    a, b = checkpoint(two), checkpoint(one)
    assert a["world_size"] == 2 and b["world_size"] == 1
    for player in ("G", "D"):
        for key, value in b["nets"][player].items():
            torch.testing.assert_close(a["nets"][player][key], value, rtol=1e-5, atol=1e-6)
    assert not torch.equal(a["nets"]["D"]["out.weight"], load_init_d_out(tmp_path))
    # the logged losses are the mean over the two shares: those of the whole batch
    rows = [json.loads(line) for line in (two / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(line) for line in (one / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for r, s in zip(rows, ref, strict=True):
        assert r["loss_d"] == pytest.approx(s["loss_d"], rel=1e-4, abs=1e-5)
        assert r["gradient_penalty"] == pytest.approx(s["gradient_penalty"], rel=1e-4, abs=1e-5)
    # only rank 0 writes checkpoints: after steps 2 and 4, and at the end
    assert not (plan / "writes-rank1.txt").exists()
    written = (plan / "writes-rank0.txt").read_text().splitlines()
    assert len(written) == 3 and all(w.endswith("checkpoint.pt") for w in written)


def load_init_d_out(tmp_path: Path) -> torch.Tensor:
    """D's output weights before training (the same seed builds them)."""
    from advnets.training import build_run

    threads = torch.get_num_threads()
    overrides = [TOY[i + 1] for i in range(0, len(TOY), 2)]
    try:
        return build_run(load_preset("gan-grid", overrides)).D.out.weight.detach()
    finally:
        torch.set_num_threads(threads)


def test_a_two_process_run_resumes_exactly(plan, tmp_path, capsys):
    # dropout and a random gradient penalty: each rank's own stream must resume too
    for scenario in ("straight", "halves", "resumed"):
        succeeded(plan, scenario)
    a, b = checkpoint(plan / "straight"), checkpoint(plan / "halves")
    for player in ("G", "D"):
        for key, value in a["nets"][player].items():
            assert torch.equal(value, b["nets"][player][key]), (player, key)
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert b["world_size"] == 2
    halves = tmp_path / "halves"
    shutil.copytree(plan / "halves", halves)
    done = train_here(["--steps", "7", "--resume", str(halves)], capsys)  # on in one process
    assert "resuming a 2-process run in one process" in done
    assert checkpoint(halves)["world_size"] == 1


def split_weights(plan: Path, names: list[str]) -> dict:
    """Each family's weights after the 2-process launch (one process group for all)."""
    split = torch.load(plan / "split.pt", weights_only=True)
    other = torch.load(plan / "split.pt.rank1", weights_only=True)
    for name in names:  # DDP's averaged gradients: every rank's weights the same, bit for bit
        for player, state in split[name].items():
            for key, value in state.items():
                if "running_" not in key and "num_batches" not in key:  # batch norm's own
                    assert torch.equal(value, other[name][player][key]), (name, player, key)
    return split


def assert_families_match(plan: Path, names: list[str], data_root: Path | None) -> None:
    split = split_weights(plan, names)
    for name in names:
        if name in ddp_worker.PER_RANK:  # per-share by design: trained, finite, the same
            # on every rank (split_weights checks that)
            assert all(v.isfinite().all() for s in split[name].values() for v in s.values())
            continue
        one = ddp_worker.family_weights(name, None if data_root is None else str(data_root))
        for player, state in one.items():
            for key, value in state.items():
                torch.testing.assert_close(
                    split[name][player][key], value, rtol=1e-5, atol=1e-6, msg=f"{name} {key}"
                )


def test_split_gan_update_rules_match_one_process(plan):
    """Simultaneous updates (both players' gradients before either steps), fakes reused
    across phases and PacGAN packs; per-share variants (an unrolled D through
    functional_call and autograd.grad, feature matching, minibatch discrimination) train."""
    assert_families_match(plan, GAN_FAMILIES, None)


def test_split_conditional_ssl_and_vaegan_runs_match_one_process(plan, monkeypatch, data_root):
    """Labelled conditional batches, SGAN's labelled subset, and VAE/GAN's three players
    updated together from one forward (D.features included)."""
    monkeypatch.setattr(vaegan, "reparameterize", ddp_worker.sample_eps_reparameterize)
    assert_families_match(plan, list(ddp_worker.MNIST), data_root)


def test_processes_whose_batch_streams_drift_apart_stop(plan):
    for rank in (0, 1):
        done = outcome(plan, "desync", rank)
        assert done["code"] == 2 and "streams of batches differ after step 2" in done["stderr"]
        assert "Traceback" not in done["stderr"]  # one line from each process


def test_a_failure_on_rank_0_alone_is_one_line_on_the_other_rank(plan):
    """Rank 0's hooks (here the divergence check) stop it alone; rank 1 then finds its peer
    gone, and says so in one line rather than with gloo's traceback."""
    first, second = outcome(plan, "rank0", 0), outcome(plan, "rank0", 1)
    assert first["code"] == second["code"] == 2
    assert "training diverged at step 1" in first["stderr"]
    assert "rank 1: another process left the run" in second["stderr"]
    assert "Traceback" not in first["stderr"] + second["stderr"]


def launch_dying(killed: str, out: Path) -> subprocess.CompletedProcess:
    """`advnets train gan-grid` in two processes of which rank `killed` is killed at step
    2 (a launch of its own: a killed process ends its group)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    run = ["train", "gan-grid", "--out", str(out), "--steps", "6", *TOY]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    done = subprocess.run(
        [*launcher, "--nproc_per_node", "2", WORKER, "--die", killed, *run],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


@pytest.mark.parametrize("killed", ["0", "1"])
def test_a_killed_rank_leaves_one_line_from_each_other_rank(tmp_path, killed):
    """A rank killed outright (SIGKILL: the system's out-of-memory killer) says nothing;
    the other rank, writer or not, stops with one line of its own instead of dying silently
    on torchrun's SIGTERM or with gloo's traceback."""
    done = launch_dying(killed, tmp_path / "run")
    other = 1 - int(killed)
    lines = [line for line in done.stderr.splitlines() if line.startswith("advnets: error:")]
    assert len(lines) == 1 and lines[0].startswith(f"advnets: error: rank {other}: "), lines
    assert "[rank" not in done.stderr


def test_shares_of_a_batch_make_up_the_whole_batch():
    data = torch.arange(40.0).view(20, 2)
    noise = torch.arange(12.0).view(6, 2)
    draws = lambda m: data[:m]  # noqa: E731
    whole = Batches(type("S", (), {"next": staticmethod(draws)})(), lambda m: noise[:m], 6)
    full = whole.draw(("real", "noise"))
    shares = []
    for rank in range(3):
        whole.shard = (rank, 3)
        shares.append(whole.draw(("real", "noise")))
    assert torch.equal(torch.cat([s.real for s in shares]), full.real)
    assert torch.equal(torch.cat([s.z for s in shares]), full.z)
    assert shares[1].real.shape == (2, 2)


def test_a_split_that_does_not_fit_stops_with_one_line(monkeypatch):
    cfg = load_preset("pacgan-grid", ["train.batch_size=200", "model.discriminator.pack=2"])
    check_split(cfg, 2, cuda=False)  # 100 per process: 50 packs each
    with pytest.raises(ConfigError, match="multiple of 3"):
        check_split(cfg, 3, cuda=False)
    small = load_preset("pacgan-grid", ["train.batch_size=6", "model.discriminator.pack=2"])
    with pytest.raises(ConfigError, match="whole packs"):
        check_split(small, 2, cuda=False)
    cfg.train.sync_bn = True
    with pytest.raises(ConfigError, match="sync_bn=true needs CUDA"):
        check_split(cfg, 2, cuda=False)
    cfg.train.sync_bn = False
    if torch.cuda.device_count() < 2:  # a CUDA run of two processes here: a GPU each needed
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # as torchrun sets it
        with pytest.raises(ConfigError, match="2 processes on this node for .* GPU"):
            check_split(cfg, 2, cuda=True)


def test_each_rank_has_its_own_stream_for_each_step():
    seeds = {stream_seed(0, rank, step) for rank in range(4) for step in range(50)}
    assert len(seeds) == 200
    assert stream_seed(3, 1, 7) == stream_seed(3, 1, 7)


def test_release_frees_ddp_reducers_before_the_group_goes():
    """The networks' DDP hooks and the team refer to each other: the reducers must be freed
    at once, not by a later collection after the process group (or the interpreter) is
    gone, where gloo aborts the process."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    enabled = gc.isenabled()
    gc.disable()  # only the team's own collection may free the reducer
    try:
        team = Team(Place(0, 1, 0), torch.device("cpu"), 0, Counters())
        team.wrap("D", nn.Linear(2, 1))
        ddp = weakref.ref(team.ddps["D"])
        team.ddps["D"](torch.ones(3, 2)).sum().backward()
        team.release()
        assert ddp() is None
        team.close()
        assert not dist.is_initialized()
    finally:
        if enabled:
            gc.enable()
        if dist.is_initialized():
            dist.destroy_process_group()
