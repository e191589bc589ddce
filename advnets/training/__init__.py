"""Training: the generic step over a method's phases (step.py), the run it acts on
(run.py), optimizers and schedules, hooks and the loop.

Names are loaded on first use (PEP 562), so that importing a leaf module such as
`advnets.training.optim` does not pull in the whole loop."""

from importlib import import_module

_EXPORTS = {
    "Run": "advnets.training.run",
    "build_run": "advnets.training.run",
    "resume_run": "advnets.training.run",
    "run_loop": "advnets.training.loop",
    "train": "advnets.training.loop",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'advnets.training' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
