"""Small runs for the demo's tests, trained once per test module (seconds each)."""

from pathlib import Path

QUIET = {"train.progress": False, "train.eval_every": 0, "train.checkpoint_every": 0}
RUNS = {  # name: (preset, overrides)
    "gan": (
        "gan-mnist",
        {"train.steps": 20, "model.generator.hidden": [32], "model.discriminator.hidden": [16]},
    ),
    "cgan": (
        "cgan-mnist",
        {"train.steps": 2, "model.generator.hidden": [64], "model.discriminator.hidden": [32]},
    ),
    "ssl": (
        "improved-gan-mnist",
        {"train.steps": 3, "model.generator.hidden": [32], "model.discriminator.hidden": [64, 32]},
    ),
    "vaegan": ("vaegan-mnist", {"train.steps": 2}),
    "denoiser": ("restore-denoise-faces", {"train.steps": 2}),
}


def train_runs(
    root: Path, data_root: Path, names: tuple[str, ...] = tuple(RUNS)
) -> dict[str, Path]:
    """{name: run folder} of the small runs `names`, trained under `root`."""
    from advnets import train

    folders = {}
    for name in names:
        preset, overrides = RUNS[name]
        folders[name] = root / name
        train(preset, folders[name], overrides={**QUIET, "data.root": str(data_root), **overrides})
    return folders


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under a folder: what a read-only page leaves alone."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
