"""Where and in which precision a run computes: the device and autocast registries."""

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial

import torch

from advnets.errors import ConfigError
from advnets.registry import Registry

# train.precision: the autocast dtype of forward passes (None: plain float32)
PRECISIONS: Registry[torch.dtype | None] = Registry("precision")
PRECISIONS.add("fp32", None)
PRECISIONS.add("bf16", torch.bfloat16)


def _cuda() -> torch.device:
    if not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is available; use cpu or auto")
    return torch.device("cuda")


# train.device: name -> the device it means on this machine
DEVICES: Registry[Callable[[], torch.device]] = Registry("device")
DEVICES.add("cpu", lambda: torch.device("cpu"))
DEVICES.add("cuda", _cuda)
DEVICES.add("auto", lambda: torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def resolve_device(name: str) -> torch.device:
    """The device `name` (cpu | cuda | auto: the GPU when there is one)."""
    return DEVICES.get(name)()


def autocast_factory(precision: str, device: torch.device) -> Callable[[], AbstractContextManager]:
    """A no-argument context-manager factory for the configured precision."""
    dtype = PRECISIONS.get(precision)
    if dtype is None:
        return contextlib.nullcontext
    return partial(torch.autocast, device_type=device.type, dtype=dtype)
