"""The training loop: build (or resume) a run, step it, and fire the hooks."""

import signal
import threading
from contextlib import nullcontext
from pathlib import Path

import yaml

from advnets.checkpoint import checkpoint_path
from advnets.config import Config
from advnets.training.distributed import Team, join, place_from_env
from advnets.training.hooks import Checkpointer, Hook, MetricsLog, PeriodicEval, SamplePictures
from advnets.training.run import Run, build_run, resume_run


def default_hooks(run: Run, run_dir: Path, total: int) -> list[Hook]:
    t = run.cfg.train
    metrics = MetricsLog(run_dir, t.log_every, total, run.counters.step, progress=t.progress)
    hooks: list[Hook] = [metrics]
    if t.samples_per_epoch and run.method.sample_player is not None:
        hooks.append(SamplePictures(run_dir, metrics))
    if t.eval_every:
        hooks.append(PeriodicEval(run_dir, run, metrics))
    hooks.append(Checkpointer(run_dir, t.checkpoint_every))
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
    if stopping or stop.requested:
        raise KeyboardInterrupt
    return run


def train(
    cfg: Config | None, run_dir: Path, resume: bool = False, overrides: list[str] | None = None
) -> Run:
    """Train `cfg` into `run_dir`, or with `resume` continue the run saved there. Launched by
    torchrun with two or more processes, the run is data-parallel and rank 0 writes."""
    place = place_from_env()
    run_dir = checkpoint_path(run_dir).parent if resume else Path(run_dir)
    run = resume_run(run_dir, overrides) if resume else build_run(cfg)
    team = join(place, run) if place is not None else None
    try:
        total = run.total_steps()
        hooks: list[Hook] = []
        if team is None or team.writes:
            run_dir.mkdir(parents=True, exist_ok=True)
            config = yaml.safe_dump(run.cfg.to_dict(), sort_keys=False)
            (run_dir / "config.yaml").write_text(config)
            hooks = default_hooks(run, run_dir, total)
        return run_loop(run, hooks, total, team)
    finally:
        if team is not None:
            team.close()
