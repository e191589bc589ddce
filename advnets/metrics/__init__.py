"""Evaluation metrics; each returns a dict of named floats."""

from advnets.metrics.modes import mode_metrics

__all__ = ["mode_metrics"]
