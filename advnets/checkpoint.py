"""Checkpoints: plain tensors and containers only (loadable with weights_only=True), written
atomically so that an interrupted save never destroys the previous one."""

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from advnets.errors import CheckpointError

CHECKPOINT = "checkpoint.pt"
FORMAT = 2  # 2: keyed by player (nets, optimizers, counters, averages); 1: G and D by name
_FORMAT1_KEYS = ("generator", "discriminator", "opt_g", "opt_d", "generator_ema")


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        for device, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)


def checkpoint_path(run: Path) -> Path:
    run = Path(run)
    return run if run.is_file() else run / CHECKPOINT


def load_checkpoint(run: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a run folder's (or a file's) checkpoint with weights_only=True."""
    path = checkpoint_path(run)
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}; pass a run folder written by `advnets train`"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path}: cannot be loaded ({err.__class__.__name__}); "
            f"the file is corrupt or not an advnets checkpoint"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") not in (1, FORMAT):
        raise CheckpointError(f"{path}: not an advnets checkpoint (format {FORMAT})")
    try:
        return upgrade(ckpt)
    except (KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"{path}: a format-1 checkpoint without its {err} entry; the file is damaged"
        ) from None


def upgrade(ckpt: dict[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint (the two-player GAN: generator, discriminator, opt_g, opt_d)
    in the current layout, keyed by player; newer ones unchanged. The config's optim_d /
    optim_g sections are read by advnets.config as optim.D / optim.G."""
    if ckpt["format"] == FORMAT:
        return ckpt
    counters = ckpt["counters"]
    new = {k: v for k, v in ckpt.items() if k not in _FORMAT1_KEYS}
    new.update(
        format=FORMAT,
        counters={
            "step": counters["step"],
            "updates": {"G": counters["g_updates"], "D": counters["d_updates"]},
        },
        nets={"G": ckpt["generator"], "D": ckpt["discriminator"]},
        optimizers={"G": ckpt["opt_g"], "D": ckpt["opt_d"]},
        averages={"G": ckpt["generator_ema"]} if "generator_ema" in ckpt else {},
    )
    return new
