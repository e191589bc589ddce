"""Training: Algorithm 1 (step.py), the run it acts on (run.py), hooks and the loop."""

from advnets.train.loop import run_loop, train
from advnets.train.run import Run, build_run, resume_run

__all__ = ["Run", "build_run", "resume_run", "run_loop", "train"]
