"""Remedies for mode collapse, each chosen in the config and stacked on any loss and
architecture: Unrolled GAN (`loss.unroll_steps`, unrolled.py) and feature matching
(`loss.generator=feature_matching`, feature_matching.py) change what the objective
computes; PacGAN's packing (`model.discriminator.pack`) and minibatch discrimination
(`model.discriminator.minibatch_kernels`) are parts of D (advnets.nets.layers)."""

import torch
from torch import nn

from advnets.config import LossConfig
from advnets.training.objective import GANObjective
from advnets.variants.feature_matching import FEATURE_MATCHING, FeatureMatchingObjective
from advnets.variants.unrolled import FunctionalOptimizer, UnrolledObjective

__all__ = ["FEATURE_MATCHING", "FeatureMatchingObjective", "FunctionalOptimizer",
           "UnrolledObjective", "with_variants"]


def with_variants(objective: GANObjective, cfg: LossConfig, D: nn.Module,
                  opt_d: torch.optim.Optimizer | None) -> GANObjective:
    """`objective` with the configured generator-side variants around it: feature matching
    first, then unrolling (so the matched features are those of the unrolled D)."""
    if cfg.generator == FEATURE_MATCHING:
        objective = FeatureMatchingObjective(objective, D)
    if cfg.unroll_steps > 0:
        if opt_d is None:
            raise ValueError("loss.unroll_steps needs D's optimizer (build_objective(..., opt_d))")
        objective = UnrolledObjective(objective, cfg.unroll_steps,
                                      FunctionalOptimizer(opt_d, D), cfg.unroll_backprop)
    return objective
