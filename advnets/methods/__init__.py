"""Training methods: each says which players it has and what each iteration's phases
compute (advnets.methods.base); the generic step in advnets.training.step runs them.
A new method is one file here plus its presets, registered in METHODS."""

from advnets.methods.base import Counters, Method, Phase, Stats
from advnets.methods.gan import GAN, UPDATES
from advnets.registry import Registry

METHODS: Registry[type[Method]] = Registry("method")
METHODS.add("gan", GAN)

__all__ = ["Counters", "GAN", "METHODS", "Method", "Phase", "Stats", "UPDATES"]
