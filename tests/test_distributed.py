"""Data-parallel training (advnets.training.distributed): two gloo processes launched by
torch.distributed.run train what one process trains on the same total batch, only rank 0
writes, and a split run resumes exactly."""

import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import ddp_worker
import pytest
import torch
import torch.distributed as dist
from torch import nn

import advnets.methods.vaegan as vaegan
from advnets import load_preset
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
    "--set", "loss.gradient_penalty=10",
    "--set", "train.k=2",
    "--set", "train.batch_size=64",
    "--set", "train.progress=false",
    "--set", "train.samples_per_epoch=false",
    "--set", "train.threads=1",
    "--set", "train.log_every=1",
]  # fmt: skip


def launch(
    args: list[str], processes: int, out: Path, steps: int, *extra: str, ok: bool = True
) -> subprocess.CompletedProcess:
    """`advnets train gan-grid` in `processes` processes (torch.distributed.run for two or
    more), into `out`."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    run = ["train", "gan-grid", "--out", str(out), "--steps", str(steps), *TOY, *extra]
    if "--resume" in extra:
        run = ["train", "--steps", str(steps), *extra]
    launcher = [sys.executable]
    if processes > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone"]
        launcher += ["--nproc_per_node", str(processes)]
    done = subprocess.run(
        [*launcher, WORKER, *args, *run], env=env, capture_output=True, text=True, timeout=300
    )
    assert (done.returncode == 0) == ok, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def checkpoint(folder: Path) -> dict:
    return torch.load(folder / "checkpoint.pt", weights_only=True)


def test_two_processes_train_what_one_process_trains(tmp_path):
    (tmp_path / "writes").mkdir()
    two, one = tmp_path / "two", tmp_path / "one"
    every = ["--set", "train.checkpoint_every=2"]
    launch(["--fixed-alpha", "--writes", str(tmp_path / "writes")], 2, two, 4, *every)
    launch(["--fixed-alpha"], 1, one, 4, *every)
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
    assert not (tmp_path / "writes" / "writes-rank1.txt").exists()
    written = (tmp_path / "writes" / "writes-rank0.txt").read_text().splitlines()
    assert len(written) == 3 and all(w.endswith("checkpoint.pt") for w in written)


def load_init_d_out(tmp_path: Path) -> torch.Tensor:
    """D's output weights before training (the same seed builds them)."""
    from advnets.training import build_run

    overrides = [TOY[i + 1] for i in range(0, len(TOY), 2)]
    return build_run(load_preset("gan-grid", overrides)).D.out.weight.detach()


def test_a_two_process_run_resumes_exactly(tmp_path):
    # dropout and a random gradient penalty: each rank's own stream must resume too
    noisy = ["--set", "model.discriminator.hidden_dropout=0.5"]
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    launch([], 2, straight, 6, *noisy)
    launch([], 2, halves, 3, *noisy)
    launch([], 2, halves, 6, "--resume", str(halves))
    a, b = checkpoint(straight), checkpoint(halves)
    for player in ("G", "D"):
        for key, value in a["nets"][player].items():
            assert torch.equal(value, b["nets"][player][key]), (player, key)
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert b["world_size"] == 2
    done = launch([], 1, halves, 7, "--resume", str(halves))  # on in one process
    assert "resuming a 2-process run in one process" in done.stdout
    assert checkpoint(halves)["world_size"] == 1


def split_weights(tmp_path: Path, names: list[str], data_root: Path | None) -> dict:
    """Each family's weights after a 2-process run (one launch for all)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    if data_root is not None:
        env["ADVNETS_DATA"] = str(data_root)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    out = tmp_path / "split.pt"
    done = subprocess.run(
        [*launcher, "--nproc_per_node", "2", WORKER, "--families", str(out), *names],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    split = torch.load(out, weights_only=True)
    other = torch.load(f"{out}.rank1", weights_only=True)
    for name in names:  # DDP's averaged gradients: every rank's weights the same, bit for bit
        for player, state in split[name].items():
            for key, value in state.items():
                if "running_" not in key and "num_batches" not in key:  # batch norm's own
                    assert torch.equal(value, other[name][player][key]), (name, player, key)
    return split


def assert_families_match(tmp_path: Path, names: list[str], data_root: Path | None) -> None:
    split = split_weights(tmp_path, names, data_root)
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


def test_split_gan_update_rules_match_one_process(tmp_path):
    """Simultaneous updates (both players' gradients before either steps), fakes reused
    across phases and PacGAN packs; per-share variants (an unrolled D through
    functional_call and autograd.grad, feature matching, minibatch discrimination) train."""
    names = ["simultaneous", "reuse_fakes", "pacgan", *ddp_worker.PER_RANK]
    assert_families_match(tmp_path, names, None)


def test_split_conditional_ssl_and_vaegan_runs_match_one_process(tmp_path, monkeypatch, data_root):
    """Labelled conditional batches, SGAN's labelled subset, and VAE/GAN's three players
    updated together from one forward (D.features included)."""
    monkeypatch.setattr(vaegan, "reparameterize", ddp_worker.sample_eps_reparameterize)
    assert_families_match(tmp_path, list(ddp_worker.MNIST), data_root)


def test_processes_whose_batch_streams_drift_apart_stop(tmp_path):
    done = launch(["--desync"], 2, tmp_path / "run", 3, ok=False)
    assert "streams of batches differ after step 2" in done.stderr
    assert "[rank" not in done.stderr  # one line from each process, no rank's traceback


def test_a_failure_on_rank_0_alone_is_one_line_on_the_other_rank(tmp_path):
    """Rank 0's hooks (here the divergence check) stop it alone; rank 1 then finds its peer
    gone, and says so in one line rather than with gloo's traceback."""
    done = launch([], 2, tmp_path / "run", 5, "--set", "train.max_loss=0.01", ok=False)
    assert "training diverged at step 1" in done.stderr
    assert "rank 1: another process left the run" in done.stderr
    assert "[rank" not in done.stderr  # torchrun prefixes each line of a rank's traceback


@pytest.mark.parametrize("killed", ["0", "1"])
def test_a_killed_rank_leaves_one_line_from_each_other_rank(tmp_path, killed):
    """A rank killed outright (SIGKILL: the system's out-of-memory killer) says nothing;
    the other rank, writer or not, stops with one line of its own instead of dying silently
    on torchrun's SIGTERM or with gloo's traceback."""
    done = launch(["--die", killed], 2, tmp_path / "run", 6, ok=False)
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
