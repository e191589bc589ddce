"""The training loop: build (or resume) a run, step it, and fire the hooks."""

from pathlib import Path

import yaml

from advnets.config import Config
from advnets.train.hooks import Checkpointer, Hook, MetricsLog, SamplePictures
from advnets.train.run import Run, build_run, resume_run


def default_hooks(run: Run, run_dir: Path, total: int) -> list[Hook]:
    t = run.cfg.train
    metrics = MetricsLog(run_dir, t.log_every, total, run.counters.step, progress=t.progress)
    hooks: list[Hook] = [metrics]
    if t.samples_per_epoch:
        hooks.append(SamplePictures(run_dir, metrics))
    hooks.append(Checkpointer(run_dir, t.checkpoint_every))
    return hooks


def run_loop(run: Run, hooks: list[Hook], total: int) -> Run:
    """Step `run` until `total` Algorithm-1 iterations are done, then close the hooks."""
    try:
        while run.counters.step < total:
            stats = run.step()
            for hook in hooks:
                hook.after_step(run, stats)
    finally:
        for hook in hooks:
            hook.close(run)
    return run


def train(cfg: Config | None, run_dir: Path, resume: bool = False,
          overrides: list[str] | None = None) -> Run:
    """Train `cfg` into `run_dir`, or with `resume` continue the run saved there."""
    run_dir = Path(run_dir)
    run = resume_run(run_dir, overrides) if resume else build_run(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(run.cfg.to_dict(), sort_keys=False))
    total = run.total_steps()
    return run_loop(run, default_hooks(run, run_dir, total), total)
