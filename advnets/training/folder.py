"""A run folder holds one run: one trainer at a time (a lock held for the whole of train and
resume), never a second run's files mixed in, and no leftovers of a killed trainer
(temporary files, metrics rows logged after the checkpoint a resume restarts from)."""

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from advnets.checkpoint import CHECKPOINT, checkpoint_path
from advnets.config import config_from_dict
from advnets.errors import AdvnetsError, RunFolderError, WriteError
from advnets.files import atomic_write, missing_folders, remove_orphans, write_failure
from advnets.runs import checkpoint_config

try:
    import fcntl
except ImportError:  # not POSIX: no lock (documented in docs/reliability.md)
    fcntl = None

LOCK = ".lock"  # holds the trainer's process id while it runs
RUN_FILES = ("checkpoint.pt", "config.yaml", "metrics.jsonl", "best.pt", "tb", "samples")


@contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir`'s lock (an flock the system drops when its process dies); a second
    trainer gets a one-line RunFolderError. A lock left by a killed trainer is taken over
    with a note."""
    run_dir = Path(run_dir)
    created = missing_folders(run_dir)  # removed again if the run writes nothing
    lock_made = not (run_dir / LOCK).exists()
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is a file, not a run folder; train into another --out")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        f = (run_dir / LOCK).open("a+")
    except OSError as err:
        raise WriteError(write_failure(run_dir / LOCK, err, False)) from None
    try:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # held; other errors: a file system without flock, no lock
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise RunFolderError(
            f"{run_dir} is in use by another trainer (process {holder}); wait for it to "
            f"finish, or train into another folder with --out"
        ) from None
    except OSError:
        pass
    try:
        f.seek(0)
        previous = f.read().strip()
        if previous:
            print(
                f"advnets: note: took over the lock of process {previous} on {run_dir}, "
                f"which stopped without releasing it",
                file=sys.stderr,
            )
        _write_holder(f, str(os.getpid()))
        yield
    finally:
        _write_holder(f, "")  # released cleanly: the next trainer gets no note
        f.close()  # closing drops the flock
        if lock_made and [p.name for p in run_dir.iterdir()] == [LOCK]:
            _remove_empty(run_dir, created)  # a run that failed before writing anything


def _remove_empty(run_dir: Path, created: list[Path]) -> None:
    """Remove the lock and the folders the run created (runs/ too), deepest first."""
    try:
        (run_dir / LOCK).unlink()
        for folder in created:
            folder.rmdir()
    except OSError:
        pass


def _write_holder(f: Any, text: str) -> None:
    f.seek(0)
    f.truncate()
    f.write(text)
    f.flush()


def resume_folder(path: Path | str) -> Path:
    """The run folder that --resume continues: a folder, or its checkpoint.pt. Another
    file (best.pt) is refused rather than silently swapped for the folder's checkpoint."""
    path = Path(path)
    if path.is_file() and path.name != CHECKPOINT:
        raise RunFolderError(
            f"{path}: --resume continues a run from its folder's {CHECKPOINT}; pass "
            f"{path.parent} (a {path.name} is for sample, eval and classify)"
        )
    return checkpoint_path(path).parent


def check_new(run_dir: Path) -> None:
    """A new run needs a folder without another run's files."""
    taken = [name for name in RUN_FILES if (Path(run_dir) / name).exists()]
    if taken and taken[0] == "checkpoint.pt":
        raise RunFolderError(
            f"{run_dir} already holds a run (checkpoint.pt); continue it with --resume "
            f"{run_dir} (API: resume=True) or train into another folder"
        )
    if taken:
        raise RunFolderError(
            f"{run_dir} already holds a run ({taken[0]}) that saved no checkpoint to resume; "
            f"delete its files or train into another folder"
        )


def check_belongs(run_dir: Path, ckpt: dict[str, Any]) -> None:
    """The checkpoint to resume must be the run of `run_dir`'s config.yaml: the same config
    apart from train.* (which a resume may override), and the same seed."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return
    try:
        folder = config_from_dict(yaml.safe_load(path.read_text())).to_dict()
    except (AdvnetsError, yaml.YAMLError, OSError, TypeError, AttributeError):
        raise RunFolderError(f"{path} is unreadable; restore it or resume elsewhere") from None
    theirs = checkpoint_config(ckpt).to_dict()
    differ = [k for k in folder if k != "train" and folder[k] != theirs.get(k)]
    if folder["train"]["seed"] != theirs["train"]["seed"]:
        differ.append("train.seed")
    if differ:
        raise RunFolderError(
            f"{run_dir}: checkpoint.pt is not the run of this folder's config.yaml ({differ[0]} "
            f"differs); nothing was changed. Put the checkpoint back in its own folder"
        )


def _row_step(line: str) -> int | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    step = row.get("step") if isinstance(row, dict) else None
    return step if isinstance(step, int) else None


def truncate_metrics(run_dir: Path, step: int) -> int:
    """Drop the metrics.jsonl rows of steps after `step` (a resume logs them again) and a
    line cut short by a kill; returns how many rows were dropped."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines()
    keep = [line for line in lines if (s := _row_step(line)) is not None and s <= step]
    if len(keep) < len(lines):
        text = "".join(line + "\n" for line in keep)
        atomic_write(path, lambda f: f.write(text.encode()))
    return len(lines) - len(keep)


def tidy(run_dir: Path, step: int) -> None:
    """Before a resume from `step`: remove orphan temporary files and later metrics rows."""
    remove_orphans(run_dir)
    truncate_metrics(run_dir, step)
