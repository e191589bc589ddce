"""Image restoration behind one interface: a restorer maps a corrupted batch (a `Degraded`,
float (N, C, H, W) on [0, 1]) to its restoration. Restorers are the classical baselines
(advnets.restore.baselines), the generator of a trained restoration run, or the generators
shipped with the package (trained on CIFAR-10, colour; see docs/restoration.md)."""

from collections.abc import Callable
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor, nn

from advnets.checkpoint import save_atomic
from advnets.config import Config, RestoreConfig
from advnets.data.corruptions import TASKS, Degraded, crop_to, estimate_noise
from advnets.errors import CheckpointError, ConfigError
from advnets.methods.restoration import restore_with
from advnets.restore.baselines import BASELINES, baselines_for
from advnets.restore.tiles import TILE, restore_with_tiles
from advnets.runs import load_run

Restorer = Callable[[Degraded], Tensor]

__all__ = [
    "BASELINES",
    "Restorer",
    "baselines_for",
    "classical",
    "estimate_noise",
    "from_generator",
    "from_run",
    "load_shipped",
    "ship",
    "shipped_path",
]


def classical(name: str, settings: RestoreConfig, param: float | None = None) -> Restorer:
    """The baseline `name` for `settings.task`, with its parameter (default: its default)."""
    baseline = BASELINES.get(name)
    if settings.task not in baseline.tasks:
        raise ConfigError(
            f"--method {name} does not do {settings.task}; for {settings.task} use one of: "
            f"{', '.join(baselines_for(settings.task))}"
        )
    if param is not None:
        baseline.check(name, param)
    value = baseline.default if param is None else param
    return lambda d: crop_to(baseline.fn(d, settings, value), d.size)


def _match_channels(x: Tensor, channels: int) -> Tensor:
    """Grey images for a colour G (repeated), or colour images for a grey G (one by one)."""
    if x.shape[1] == channels:
        return x
    if channels == 3 and x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1)
    return x.flatten(0, 1).unsqueeze(1)  # each channel an image for a grey G


def _sigmas(G: nn.Module, d: Degraded, image: Tensor, i: int, chunk: int) -> Tensor | None:
    """The noise std of each image G sees: the known one, else estimated from the image."""
    if not getattr(G, "sigma_input", False):
        return None
    sigma = estimate_noise(image) if d.sigma is None else d.sigma[i : i + chunk].to(image)
    return sigma.repeat_interleave(len(image) // len(sigma)) if len(sigma) != len(image) else sigma


def from_generator(G: nn.Module, channels: int, chunk: int = 64, tile: int = TILE) -> Restorer:
    """A restorer from a restoration G trained on images of `channels` channels; it takes
    images of either one or three channels, of any size: a large one is corrected tile by
    tile (advnets.restore.tiles), the same result in bounded memory, and a padded
    super-resolution input is cropped back to the clean size the `Degraded` records."""

    @torch.no_grad()
    def run(d: Degraded) -> Tensor:
        n, c = d.image.shape[:2]
        device = next(G.parameters()).device
        outputs = []
        for i in range(0, n, chunk):
            image = _match_channels(d.image[i : i + chunk], channels).to(device)
            mask = None if d.mask is None else d.mask[i : i + chunk].to(device)
            if mask is not None and len(mask) != len(image):
                mask = mask.repeat_interleave(len(image) // len(mask), 0)
            sigma = _sigmas(G, d, image, i, chunk)
            if hasattr(G, "correct"):
                out = restore_with_tiles(G, image, mask, tile, sigma)
            else:
                out = restore_with(G, Degraded(image, mask, sigma=sigma))
            out = crop_to(out.float().clamp_(0, 1), d.size)
            out = out.mean(1, keepdim=True) if c == 1 and channels == 3 else out
            outputs.append(out.reshape(-1, c, *out.shape[-2:]).to(d.image.device))
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs)

    return run


def from_run(run: Path | str, device: str | torch.device = "cpu") -> tuple[Restorer, Config]:
    """The restorer of a restoration run folder, its checkpoint, or a file `ship` wrote (its
    G, loaded by advnets.runs.load_run), and the config it was trained with."""
    loaded = load_run(run, device)
    return from_generator(loaded.restorer(), loaded.data_shape[0]), loaded.cfg


def shipped_path(task: str) -> Path:
    """Where the package keeps the CIFAR-10-trained restorer of `task`."""
    return Path(str(resources.files("advnets") / "restore" / "weights" / f"{task}.pt"))


def load_shipped(task: str, device: str | torch.device = "cpu") -> tuple[Restorer, Config]:
    """The restorer of `task` shipped with the package, and the config it was trained with."""
    TASKS.get(task)
    path = shipped_path(task)
    if not path.is_file():
        raise CheckpointError(
            f"no shipped restorer for {task} at {path}; train one (advnets train "
            f"restore-{task}-cifar10) and pass its run folder"
        )
    return from_run(path, device)


def ship(run: Path, path: Path | None = None) -> Path:
    """Write a restoration run's G (with its config) where `load_shipped` finds it for its
    task, or to `path`: the file the package carries for `advnets restore` out of the box."""
    loaded = load_run(run, average=False)
    if loaded.cfg.method != "restoration":
        raise ConfigError(
            f"{run}: ship the G of a restoration (GAN) run, not a {loaded.cfg.method} run"
        )
    out = path or shipped_path(loaded.cfg.restore.task)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = {k: v.cpu() for k, v in loaded.restorer().state_dict().items()}
    saved = {"config": loaded.cfg.to_dict(), "channels": loaded.data_shape[0], "G": weights}
    save_atomic({**saved, "step": loaded.step}, out)
    return out
