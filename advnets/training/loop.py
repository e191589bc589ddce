"""The training loop: build (or resume) a run, step it, and fire the hooks."""

import signal
import threading
from contextlib import nullcontext
from pathlib import Path

import yaml

from advnets.checkpoint import load_checkpoint
from advnets.config import Config
from advnets.data.resolve import resolve
from advnets.errors import DivergedError
from advnets.files import atomic_write, remove_orphans
from advnets.training.distributed import (
    Team,
    alone,
    join,
    peer_left,
    place_from_env,
    stopped_by_launcher,
)
from advnets.training.folder import check_belongs, check_new, locked, resume_folder, tidy
from advnets.training.hooks import (
    Checkpointer,
    DivergenceCheck,
    Hook,
    MetricsLog,
    PeriodicEval,
    SamplePictures,
)
from advnets.training.run import Run, build_run, restore_run
from advnets.validation import validate


def default_hooks(run: Run, run_dir: Path, total: int) -> list[Hook]:
    t = run.cfg.train
    metrics = MetricsLog(run_dir, t.log_every, total, run.counters.step, progress=t.progress)
    hooks: list[Hook] = [DivergenceCheck(run), metrics]
    if t.samples_per_epoch and run.method.sample_player is not None:
        hooks.append(SamplePictures(run_dir, metrics))
    if t.eval_every:
        hooks.append(PeriodicEval(run_dir, run, metrics))
    hooks.append(Checkpointer(run_dir, t.checkpoint_every, run.counters.step))
    return hooks


class _StopRequest:
    """Turns Ctrl-C into a request honoured between steps, so that the final checkpoint
    always holds a whole number of Algorithm-1 iterations. A second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def run_loop(run: Run, hooks: list[Hook], total: int, team: Team | None = None) -> Run:
    """Step `run` until `total` iterations are done (or Ctrl-C), then close the hooks.

    If a step raises, hooks are aborted instead: the run's state may be half-updated, so no
    final checkpoint is written over the last good one. In a data-parallel run (`team`) the
    logged statistics are the mean over processes, and all processes stop after the same
    step."""
    kept = team.shared_stream_kept if team is not None else nullcontext
    with _StopRequest() as stop:
        stopping = False
        try:
            while run.counters.step < total and not stopping:
                stats = run.step()
                if team is not None:  # every process stops after the same step
                    stats, stopping = team.agree(stats, stop.requested)
                with kept():
                    for hook in hooks:
                        hook.after_step(run, stats)
                if team is None:  # one process: a Ctrl-C during the hooks stops here
                    stopping = stop.requested
        except BaseException:
            for hook in hooks:
                hook.abort(run)
            raise
        for hook in hooks:
            hook.close(run)
        if team is not None:  # every process gets here after the same last step
            team.finish()
    if stopping or stop.requested:
        raise KeyboardInterrupt
    return run


def train(
    cfg: Config | None, run_dir: Path, resume: bool = False, overrides: list[str] | None = None
) -> Run:
    """Train `cfg` into `run_dir`, or with `resume` continue the run saved there, holding
    the folder's lock throughout. A new run refuses a folder holding another run's files.
    Launched by torchrun with two or more processes, the run is data-parallel and rank 0
    alone locks, checks and writes the folder."""
    place = place_from_env()
    writes = place is None or place.rank == 0
    if resume:
        run_dir = resume_folder(run_dir)
        ckpt = load_checkpoint(run_dir)  # a missing or unreadable checkpoint: before the lock
    else:
        run_dir, ckpt = Path(run_dir), None
        cfg = resolve(cfg, progress=writes)  # the data's facts recorded in the config
        validate(cfg)  # an invalid config: before any folder is made
    with locked(run_dir) if writes else nullcontext():
        run = _start(cfg, run_dir, ckpt, overrides, writes)
        team = join(place, run) if place is not None else alone(run)
        try:
            with stopped_by_launcher(team, run_dir):
                return _loop(run, run_dir, team)
        except RuntimeError as err:
            peer = peer_left(err, team)
            if peer is None:
                raise
            raise peer from None
        finally:
            if team is not None:
                team.close()


def _start(
    cfg: Config | None, run_dir: Path, ckpt: dict | None, overrides: list[str] | None, writes: bool
) -> Run:
    """A new run (in a folder free of another run's files) or the checkpoint's, resumed in
    the folder it belongs to; only the writing process checks and tidies the folder."""
    if ckpt is None:
        if writes:
            check_new(run_dir)
            remove_orphans(run_dir)
        return build_run(cfg, validated=True)  # train() validated it before the lock
    if writes:
        check_belongs(run_dir, ckpt)
    run = restore_run(ckpt, run_dir, overrides)
    if writes:
        tidy(run_dir, run.counters.step)
    return run


def _loop(run: Run, run_dir: Path, team: Team | None) -> Run:
    """Write the config, then step the run with the hooks (the writing process's only)."""
    total = run.total_steps()
    hooks: list[Hook] = []
    if team is None or team.writes:
        text = yaml.safe_dump(run.cfg.to_dict(), sort_keys=False)
        atomic_write(run_dir / "config.yaml", lambda f: f.write(text.encode()))
        hooks = default_hooks(run, run_dir, total)
    try:
        return run_loop(run, hooks, total, team)
    except DivergedError as err:
        kept = hooks[-1].kept() if hooks and isinstance(hooks[-1], Checkpointer) else ""
        raise DivergedError(f"{err}; {kept}" if kept else str(err)) from None
