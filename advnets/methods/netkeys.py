"""Which `NetConfig` keys a run's networks read: found by building them once, untrained,
with each model section replaced by a copy that records the keys asked of it. The keys a
net reads depend on the method (a restorer's G reads no `arch`), the arch (a DCGAN reads no
`hidden`) and the other keys (an MLP reads `pieces` only for maxout layers), so they are
observed rather than listed; an override of a key no net reads would have no effect, and
`advnets.config.check_read` refuses it."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from advnets.config import Config, NetConfig
from advnets.data import TrainingData
from advnets.data.registry import spec
from advnets.registry import Registry

if TYPE_CHECKING:
    from advnets.methods.base import Method

KEYS = tuple(f.name for f in dataclasses.fields(NetConfig))
NET_SECTIONS = ("generator", "discriminator", "encoder")


def build_without_data(
    cfg: Config, method: type[Method], shape: tuple[int, ...]
) -> dict[str, nn.Module]:
    """The method's nets for data of `shape`, built without the data (their initial
    weights are replaced by a checkpoint's, or thrown away) and without touching torch's
    RNG."""
    mean = torch.full((math.prod(shape),), 0.5)  # only an initial bias
    info = TrainingData(None, shape, tuple(cfg.data.value_range), 0, mean)
    with torch.random.fork_rng(devices=[]):
        return method.build_nets(cfg, info)


def _recording(net: NetConfig, reads: set[str]) -> NetConfig:
    """A copy of `net` that adds the name of each key read from it to `reads` (nets must
    not copy their config with dataclasses.replace, which reads every key)."""

    class Recording(NetConfig):
        def __getattribute__(self, name: str):
            if name in KEYS:
                reads.add(name)
            return object.__getattribute__(self, name)

    return Recording(**{name: getattr(net, name) for name in KEYS})


def net_reads(cfg: Config, methods: Registry) -> dict[str, frozenset[str]] | None:
    """For each model section that the run's method (looked up in `methods`) builds a net
    from, the `NetConfig` keys read while building it for `cfg`'s data (a section it builds
    nothing from is left out); None when the nets cannot be built from `cfg` (validation
    says why)."""
    reads: dict[str, set[str]] = {name: set() for name in NET_SECTIONS}
    sections = {name: _recording(getattr(cfg.model, name), reads[name]) for name in NET_SECTIONS}
    probe = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **sections))
    try:
        shape = spec(cfg.data).shape
        with torch.device("meta"):
            build_without_data(probe, methods.get(cfg.method), shape)
    except Exception:  # noqa: BLE001  (an invalid config: validation names the problem)
        return None
    return {name: frozenset(keys) for name, keys in reads.items() if keys}
