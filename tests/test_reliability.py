"""What docs/reliability.md promises: exact resume after a SIGKILL (also in the middle of a
checkpoint write), a divergence stop that keeps the last good checkpoint, the run-folder
lock, writes that fail cleanly on a full disk, and one-line errors for checkpoints that do
not fit, hold NaN weights or belong to another run."""

import errno
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from advnets.checkpoint import load_checkpoint, save_atomic
from advnets.cli import main
from advnets.config import load_preset
from advnets.errors import DivergedError, RunFolderError
from advnets.training import train
from advnets.training.folder import LOCK, locked
from advnets.training.guard import LossGuard

REPO = Path(__file__).resolve().parents[1]
TOY = ["train.progress=false", "train.samples_per_epoch=false", "train.threads=1"]
STEPS = 24

# Trains gan-ring in a subprocess and SIGKILLs itself when checkpoint `kill` is saved:
# before the write (mode "before") or halfway through it (mode "mid", leaving a temp file).
KILLER = """
import os, signal, sys
from advnets.config import load_preset
from advnets.training import hooks, train

run_dir, kill, mode, *overrides = sys.argv[1:]
save = hooks.save_atomic

def killing_save(obj, path):
    if obj["counters"]["step"] == int(kill):
        if mode == "mid":
            from advnets.files import atomic_write

            def half(f):
                f.write(b"PK" * 500)
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)

            atomic_write(path, half)
        os.kill(os.getpid(), signal.SIGKILL)
    save(obj, path)

hooks.save_atomic = killing_save
train(load_preset("gan-ring", overrides), run_dir)
"""


def _params(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([t.flatten() for t in module.state_dict().values() if t.is_floating_point()])


def _steps(run_dir: Path) -> list[int]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["step"] for line in lines]


@pytest.mark.parametrize("mode, seed", [("before", 0), ("mid", 1)])
def test_sigkill_at_a_random_step_then_resume_is_bit_identical(tmp_path, mode, seed):
    kill = random.Random(seed).randrange(4, STEPS - 2)
    overrides = [*TOY, f"train.steps={STEPS}", "train.checkpoint_every=3", "train.log_every=2"]
    full = train(load_preset("gan-ring", overrides), tmp_path / "full")
    run_dir = tmp_path / "killed"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    every = [*overrides[:-2], "train.checkpoint_every=1", "train.log_every=2"]
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(run_dir), str(kill), mode, *every],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert load_checkpoint(run_dir)["counters"]["step"] == kill - 1  # never corrupt
    assert any(run_dir.glob("*.tmp")) == (mode == "mid")
    assert max(_steps(run_dir)) >= kill - 1
    resumed = train(None, run_dir, resume=True)
    assert resumed.counters.step == STEPS
    for name in ("G", "D"):
        a, b = _params(resumed.players[name].net), _params(full.players[name].net)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not list(run_dir.glob("*.tmp"))  # orphans removed on resume
    assert _steps(run_dir) == _steps(tmp_path / "full")  # no row twice, none missing
    assert not (run_dir / LOCK).read_text()  # released


def test_divergence_stops_with_one_line_and_keeps_the_good_checkpoint(tmp_path, capsys):
    run_dir = tmp_path / "ring"
    sets = [a for item in TOY for a in ("--set", item)]
    base = ["train", "gan-ring", "--out", str(run_dir), *sets, "--steps", "20"]
    assert main(base) == 0
    capsys.readouterr()
    good = run_dir.joinpath("checkpoint.pt").read_bytes()
    rows = run_dir.joinpath("metrics.jsonl").read_text()
    bad_lr = ["--set", "optim.G.lr=1e4", "--set", "optim.D.lr=1e4"]
    code = main(["train", "--resume", str(run_dir), "--steps", "400", *bad_lr])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert (
        "diverged at step" in err
        and "player" in err
        and "keeps the last good state (step 20)" in err
    )
    assert run_dir.joinpath("checkpoint.pt").read_bytes() == good
    assert run_dir.joinpath("metrics.jsonl").read_text() == rows  # no row of the bad steps
    # a new run with those rates: no checkpoint at all, exit code 2
    code = main(["train", "gan-ring", "--out", str(tmp_path / "new"), *sets, *bad_lr])
    assert code == 2 and "no checkpoint was written" in capsys.readouterr().err
    assert not (tmp_path / "new" / "checkpoint.pt").exists()


def test_loss_guard_records_the_first_bad_step_without_syncing():
    guard = LossGuard(bound=100.0)
    guard.observe({"G": torch.tensor(1.0), "D": torch.tensor(5.0)}, ("G", "D"), 1)
    guard.check()  # all fine
    guard.observe({"G": torch.tensor(-500.0)}, ("G",), 2)
    guard.observe({"G": torch.tensor(float("nan")), "D": torch.tensor(float("inf"))}, ("G", "D"), 3)
    with pytest.raises(DivergedError, match=r"step 2: player G's loss is -500, above"):
        guard.check()
    nan_only = LossGuard(bound=None)
    nan_only.observe({"D": torch.tensor(1e30)}, ("D",), 1)
    nan_only.check()
    nan_only.observe({"D": torch.tensor(float("inf"))}, ("D",), 2)
    with pytest.raises(DivergedError, match="step 2: player D's loss is inf"):
        nan_only.check()


def test_device_mode_checks_at_log_steps_and_names_the_first_bad_step(tmp_path):
    """As on a GPU: no check between log steps, yet the error names the step it went bad."""
    from advnets.training import build_run, run_loop
    from advnets.training.loop import default_hooks

    bad = ["optim.G.lr=1e4", "optim.D.lr=1e4", "train.log_every=10", "train.checkpoint_every=0"]
    run = build_run(load_preset("gan-ring", [*TOY, "train.steps=50", *bad]))
    hooks = default_hooks(run, tmp_path / "run", 50)
    hooks[0].every_step = False
    with pytest.raises(DivergedError, match=r"diverged at step [1-9]: player") as err:
        run_loop(run, hooks, 50)
    assert run.counters.step == 10 and "\n" not in str(err.value)
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_metrics_rows_are_valid_json_with_null_for_nan(tmp_path):
    from advnets.files import append_row

    append_row(tmp_path / "m.jsonl", {"loss_d": float("nan"), "eval": {"kl": float("inf")}})
    row = json.loads((tmp_path / "m.jsonl").read_text(), parse_constant=pytest.fail)
    assert row == {"loss_d": None, "eval": {"kl": None}}


def test_lock_refuses_a_second_trainer_and_takes_over_a_stale_lock(tmp_path, capsys):
    cfg = load_preset("gan-ring", [*TOY, "train.steps=2"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with locked(run_dir), pytest.raises(RunFolderError, match="in use by another trainer"):
        train(cfg, run_dir)
    (run_dir / LOCK).write_text("999999999")  # the pid of a trainer killed with its lock
    train(cfg, run_dir)
    assert "took over the lock of process 999999999" in capsys.readouterr().err
    assert (run_dir / LOCK).read_text() == ""
    # a second run into a folder that holds a run is refused, whatever the file
    for name in ("checkpoint.pt", "metrics.jsonl"):
        other = tmp_path / name
        other.mkdir()
        (other / name).write_text("")
        with pytest.raises(RunFolderError, match=f"already holds a run \\({name}\\)"):
            train(cfg, other)


def test_resume_refuses_another_runs_checkpoint_before_touching_anything(tmp_path):
    ring, grid = tmp_path / "ring", tmp_path / "grid"
    train(load_preset("gan-ring", [*TOY, "train.steps=2", "train.log_every=1"]), ring)
    train(load_preset("gan-grid", [*TOY, "train.steps=2"]), grid)
    (ring / "checkpoint.pt").write_bytes((grid / "checkpoint.pt").read_bytes())
    before = {p.name: p.read_bytes() for p in ring.iterdir() if p.is_file()}
    with pytest.raises(RunFolderError, match="not the run of this folder's config.yaml"):
        train(None, ring, resume=True, overrides=["train.steps=4"])
    assert {p.name: p.read_bytes() for p in ring.iterdir() if p.is_file()} == before


class FullDisk:
    """A file whose writes fail with ENOSPC after `room` bytes (a config.yaml fits, a
    checkpoint or 5,000 samples do not)."""

    def __init__(self, f, room: int = 10_000) -> None:
        self.f, self.room = f, room

    def write(self, data) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


@pytest.fixture
def full_disk(monkeypatch):
    """Turn every atomic write into one that runs out of disk space."""

    def switch_on() -> None:
        real = os.fdopen
        monkeypatch.setattr("advnets.files.os.fdopen", lambda fd, mode: FullDisk(real(fd, mode)))

    return switch_on


def test_full_disk_is_one_line_and_keeps_the_previous_files(tmp_path, capsys, full_disk):
    run_dir = tmp_path / "ring"
    sets = [a for item in TOY for a in ("--set", item)]
    assert main(["train", "gan-ring", "--out", str(run_dir), *sets, "--steps", "4"]) == 0
    assert main(["sample", str(run_dir), "--n", "5", "--out", str(tmp_path / "s.npy")]) == 0
    good, samples = (run_dir / "checkpoint.pt").read_bytes(), np.load(tmp_path / "s.npy")
    capsys.readouterr()
    full_disk()
    cases = [
        (["train", "--resume", str(run_dir), "--steps", "8"], "checkpoint.pt"),
        (["sample", str(run_dir), "--n", "5000", "--out", str(tmp_path / "s.npy")], "s.npy"),
        (["sample", str(run_dir), "--n", "5000", "--out", str(tmp_path / "p.png")], "p.png"),
    ]
    for args, name in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "No space left on device" in err, err
        assert name in err and ("intact" in err or "nothing was written" in err), err
    assert (run_dir / "checkpoint.pt").read_bytes() == good
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), samples)
    assert not (tmp_path / "p.png").exists()
    assert not [p for p in [*tmp_path.rglob("*.tmp")]]


def test_write_errors_other_than_os_errors_still_raise(tmp_path):
    def broken(obj):
        raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        from advnets.files import atomic_write

        atomic_write(tmp_path / "x", broken)
    assert not list(tmp_path.iterdir())


def test_a_write_never_replaces_a_folder_pipe_or_device(tmp_path):
    """The rename of an atomic write would put a plain file where a named pipe (or, as
    root, /dev/full) was: such targets are refused before anything is written."""
    import os

    from advnets.errors import WriteError
    from advnets.files import save_npy

    os.mkfifo(tmp_path / "pipe.npy")
    (tmp_path / "dir.npy").mkdir()
    for name in ("pipe.npy", "dir.npy"):
        with pytest.raises(WriteError, match="exists and is not a regular file"):
            save_npy(tmp_path / name, np.zeros(3))
    assert not (tmp_path / "pipe.npy").is_file() and (tmp_path / "dir.npy").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npy", "pipe.npy"]


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("valid") / "ring"
    train(load_preset("gan-ring", [*TOY, "train.steps=2"]), run_dir)
    return run_dir


def _damaged(ring_run: Path, tmp_path: Path, damage) -> Path:
    ckpt = torch.load(ring_run / "checkpoint.pt", weights_only=True)
    damage(ckpt)
    out = tmp_path / "run"
    save_atomic(ckpt, out / "checkpoint.pt")
    return out


def _nan_weights(ckpt: dict) -> None:
    """G's first weight NaN, in G and in its moving average if the run keeps one."""
    for state in (ckpt["nets"]["G"], ckpt["averages"].get("G", {}).get("weights", {})):
        for value in state.values():
            value.fill_(float("nan"))
            break


def _wrong_shape(ckpt: dict) -> None:
    key = next(iter(ckpt["nets"]["G"]))
    ckpt["nets"]["G"][key] = torch.zeros(3, 3)


def _grid_preset(ckpt: dict) -> None:
    ckpt["config"]["data"]["name"] = "grid"
    ckpt["config"]["model"]["generator"]["hidden"] = [7]


DAMAGES = {
    "nan": (_nan_weights, "holds NaN or Inf weights"),
    "shape": (_wrong_shape, "does not fit the config"),
    "no config": (lambda c: c.pop("config"), "malformed 'config'"),
    "no counters": (lambda c: c.pop("counters"), "malformed 'counters'"),
    "bad counters": (lambda c: c["counters"].update(step="x"), "malformed 'counters'"),
    "another preset": (_grid_preset, "does not fit the config"),
    "extra net": (lambda c: c["nets"].update(E={}), "holds nets D, E, G"),
    "no rng": (lambda c: c.pop("rng"), "cannot resume"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_every_reader_gives_one_line_for_a_bad_checkpoint(ring_run, tmp_path, capsys, damage):
    change, message = DAMAGES[damage]
    run_dir = _damaged(ring_run, tmp_path, change)
    commands = [
        ["train", "--resume", str(run_dir), "--steps", "3"],
        ["sample", str(run_dir), "--out", str(tmp_path / "x.npy"), "--device", "cpu"],
        ["eval", str(run_dir), "--n", "20", "--device", "cpu"],
    ]
    if damage == "no rng":  # sampling needs no RNG state: only the resume refuses
        commands = commands[:1]
    for args in commands:
        assert main(args) == 2, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (args, err)
    assert not (tmp_path / "x.npy").exists()


def test_picture_commands_refuse_nan_weights(data_root, tmp_path, capsys):
    mnist = tmp_path / "mnist"
    small = ["model.generator.hidden=[8]", "model.discriminator.hidden=[8]", "train.batch_size=10"]
    cfg = load_preset("gan-mnist", [*TOY, *small, "train.steps=1", f"data.root={data_root}"])
    train(cfg, mnist)
    ckpt = torch.load(mnist / "checkpoint.pt", weights_only=True)
    _nan_weights(ckpt)
    save_atomic(ckpt, mnist / "checkpoint.pt")
    out = str(tmp_path / "p.png")
    for args in (
        ["interpolate", str(mnist), "--out", out],
        ["arithmetic", str(mnist), "--show-grid", "--out", out],
        ["sample", str(mnist), "--out", out, "--device", "cpu"],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "NaN or Inf" in err, err
    assert not Path(out).exists()


def test_a_failed_download_leaves_no_empty_data_folder(tmp_path, monkeypatch):
    from advnets.data.mnist import find_file
    from advnets.errors import DataError

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(DataError, match="downloading failed"):
        find_file("mnist", "train-images-idx3-ubyte.gz", str(tmp_path))
    assert not list(tmp_path.iterdir())
