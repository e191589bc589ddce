import contextlib
import functools
import io
import os
import runpy
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    for candidate in (os.environ.get("ADVNETS_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            return Path(candidate)
    return None


def _read_once(load, root: str):
    """`load` (a loader of image files) with the files under `root`, the shared data that
    no test changes, read once a session; other folders (tests' own files) read each time."""
    cached = functools.cache(load)

    @functools.wraps(load)
    def read(*args, **kwargs):
        given = [*args, *kwargs.values()]
        return cached(*args, **kwargs) if root in map(str, given) else load(*args, **kwargs)

    return read


@pytest.fixture(scope="session", autouse=True)
def _data_read_once():
    """Training and scoring a preset reads its image files each time (61 preset runs, and
    more): in the tests the shared data set is read once a session."""
    import advnets.data.registry as registry

    root, saved = _data_root(), {}
    for name in ("load_images", "load_cifar10", "load_faces") if root is not None else ():
        if callable(getattr(registry, name, None)):
            saved[name] = getattr(registry, name)
            setattr(registry, name, _read_once(saved[name], str(root)))
    yield
    for name, load in saved.items():
        setattr(registry, name, load)


# pytest-xdist runs the files on two workers, one per core: each on one thread, so that
# two workers do not fight over the cores (and a worker's numbers do not hang on another's)
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if root is None:
        pytest.skip("MNIST not found: set ADVNETS_DATA to a folder holding mnist/*.gz")
    return root


@pytest.fixture
def quiet() -> list[str]:
    """Overrides that keep test runs silent and free of per-epoch pictures."""
    return ["train.progress=false", "train.samples_per_epoch=false", "train.checkpoint_every=0"]


def run_in_process(args: list[str]) -> subprocess.CompletedProcess:
    """`[sys.executable, SCRIPT, *argv]` or `[sys.executable, "-m", MODULE, *argv]` run in
    this process as `__main__` (its argparse, its one-line errors and exit status), on one
    thread, as the subprocess with OMP_NUM_THREADS=1 it stands for, without the seconds a
    fresh interpreter takes to import torch. Output and status come back as from
    subprocess.run(..., capture_output=True, text=True)."""
    assert args[0] == sys.executable, args
    module = args[2] if args[1] == "-m" else None
    argv = args[3:] if module else args[2:]
    out, err, threads, saved_argv = io.StringIO(), io.StringIO(), torch.get_num_threads(), sys.argv
    code: int | str | None = 0
    saved_path = list(sys.path)
    sys.argv = [module or args[1], *argv]
    if not module:  # as python does for a script: its folder first on the path
        sys.path.insert(0, str(Path(args[1]).resolve().parent))
    torch.set_num_threads(1)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if module == "advnets.cli":  # its main(), as `python -m advnets.cli` runs it
                from advnets.cli import main

                code = main(argv)
            elif module:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(args[1], run_name="__main__")
    except SystemExit as stop:
        code = stop.code
    except Exception:  # as a crashed interpreter: status 1 and the traceback on stderr
        err.write(traceback.format_exc())
        code = 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        torch.set_num_threads(threads)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if isinstance(code, str):
        err.write(code + "\n")
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def assert_resumes_exactly(preset: str, overrides: list[str], folder: Path) -> None:
    """6 steps in one go and 3 + 3 with a resume between give the same G and D bits."""
    from advnets import load_preset
    from advnets.training import train

    whole = train(load_preset(preset, [*overrides, "train.steps=6"]), folder / "whole")
    train(load_preset(preset, [*overrides, "train.steps=3"]), folder / "cut")
    resumed = train(None, folder / "cut", resume=True, overrides=["train.steps=6"])
    for name in ("G", "D"):
        got, want = resumed.nets[name].state_dict(), whole.nets[name].state_dict()
        assert all(torch.equal(a, b) for a, b in zip(want.values(), got.values(), strict=True))
