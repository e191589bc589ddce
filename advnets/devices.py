"""A device named by the user (the API's `device=`, the commands' --device), checked once.
Light to import: torch is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from advnets.errors import ConfigError

if TYPE_CHECKING:
    import torch


def resolve_device(device: str | torch.device, flag: str = "device") -> torch.device:
    """'cpu', 'cuda' (or 'cuda:N') or 'auto' (the GPU when there is one, else the CPU) as a
    torch.device; ConfigError if CUDA is asked for and there is none. `flag` names the
    option in the message: "device" (the API) or "--device" (the CLI)."""
    import torch

    sep = " " if flag.startswith("-") else "="
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; choose one of: cpu, cuda, auto") from None
    if resolved.type not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}; choose one of: cpu, cuda, auto")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"{flag}{sep}{device} but no CUDA device is available here; use "
            f"{flag}{sep}cpu or {flag}{sep}auto"
        )
    return resolved
