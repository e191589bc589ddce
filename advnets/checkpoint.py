"""Checkpoints: plain tensors and containers only (loadable with weights_only=True), written
atomically so that an interrupted save never destroys the previous one."""

from pathlib import Path
from typing import Any

import torch

from advnets.errors import CheckpointError
from advnets.files import atomic_write

CHECKPOINT = "checkpoint.pt"
FORMAT = 2  # 2: keyed by player (nets, optimizers, counters, averages); 1: G and D by name
_FORMAT1_KEYS = ("generator", "discriminator", "opt_g", "opt_d", "generator_ema")


def save_atomic(obj: dict[str, Any], path: Path) -> None:
    """torch.save to a temporary file in the same folder, fsync, then rename over `path`;
    a failed write (disk full) is a one-line WriteError and the previous file is intact."""
    atomic_write(path, lambda f: torch.save(obj, f))


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
    """Load a run folder's (or a file's) checkpoint with weights_only=True: its training
    state (resume, the best checkpoint's rank). Readers of the nets use advnets.runs."""
    path = checkpoint_path(run)
    return as_checkpoint(read_file(path, map_location), path)


def read_file(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """torch.load(path, weights_only=True), a missing or unreadable file in one line."""
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}; pass a run folder written by `advnets train`"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path}: cannot be loaded ({err.__class__.__name__}); "
            f"the file is corrupt or not an advnets checkpoint"
        ) from None


def as_checkpoint(ckpt: Any, path: Path) -> dict[str, Any]:
    """A loaded file as a checkpoint of the current format (format 1 upgraded), its
    structure checked."""
    if not isinstance(ckpt, dict) or ckpt.get("format") not in (1, FORMAT):
        raise CheckpointError(f"{path}: not an advnets checkpoint (format {FORMAT})")
    try:
        ckpt = upgrade(ckpt)
    except (KeyError, TypeError, AttributeError) as err:
        raise CheckpointError(
            f"{path}: a format-1 checkpoint without its {err} entry; the file is damaged"
        ) from None
    check_structure(ckpt, path)
    return ckpt


def _is_state(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    )


def check_structure(ckpt: dict[str, Any], path: Path | str = "the checkpoint") -> None:
    """The keys and types every reader of a checkpoint relies on (sampling, evaluation,
    resume, pictures): a one-line CheckpointError instead of a KeyError later."""
    counters = ckpt.get("counters")
    shape = ckpt.get("data_shape")
    checks = [
        ("config", isinstance(ckpt.get("config"), dict)),
        (
            "data_shape",
            isinstance(shape, list | tuple)
            and len(shape) > 0
            and all(isinstance(d, int) and d > 0 for d in shape),
        ),
        (
            "counters",
            isinstance(counters, dict)
            and isinstance(counters.get("step"), int)
            and counters["step"] >= 0
            and isinstance(counters.get("updates"), dict),
        ),
        (
            "nets",
            isinstance(ckpt.get("nets"), dict)
            and len(ckpt["nets"]) > 0
            and all(isinstance(k, str) and _is_state(v) for k, v in ckpt["nets"].items()),
        ),
        ("method", _is_state(ckpt.get("method", {}))),
        (
            "averages",
            isinstance(ckpt.get("averages", {}), dict)
            and all(
                isinstance(v, dict) and _is_state(v.get("weights"))
                for v in ckpt.get("averages", {}).values()
            ),
        ),
    ]
    for key, ok in checks:
        if not ok:
            raise CheckpointError(
                f"{path}: missing or malformed {key!r} entry; the file is damaged or "
                f"not written by `advnets train`"
            )


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
