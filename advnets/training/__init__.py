"""Training: Algorithm 1 (step.py), the run it acts on (run.py), hooks and the loop."""

from advnets.training.loop import run_loop, train
from advnets.training.run import Run, build_run, resume_run

__all__ = ["Run", "build_run", "resume_run", "run_loop", "train"]
