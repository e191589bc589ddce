"""Training stays bit-for-bit the same: for every shipped preset (and the update rules and
variants that no preset uses), a hash of G's and D's weights after a few steps on small
batches, recorded once and compared on every run.

The exact hash is compared where the recording's torch build and CPU kernels (capability)
are those of this machine; elsewhere different kernels legitimately round differently, and
a float fingerprint of the same weights is compared with a tight two-sided tolerance.
Record anew only after a change that is meant to change training numbers:
`python tests/test_preset_hashes.py` (and say why in the commit).
"""

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

from advnets import load_preset, preset_names
from advnets.training import build_run, run_loop

RECORD = Path(__file__).parent / "data" / "preset_hashes.json"
STEPS = 3
QUIET = [
    "train.progress=false",
    "train.samples_per_epoch=false",
    "train.checkpoint_every=0",
    "train.eval_every=0",
    "train.threads=1",
    f"train.steps={STEPS}",
]

# update rules and variants that no preset turns on, on the cheap presets
VARIANTS = {
    "gan-ring+simultaneous": ("gan-ring", ["train.update=simultaneous"]),
    "gan-ring+reuse_fakes": ("gan-ring", ["train.update=reuse_fakes"]),
    "gan-ring+k3": ("gan-ring", ["train.k=3"]),
    "gan-ring+minimax": ("gan-ring", ["loss.generator=minimax"]),
    "gan-ring+unrolled": ("gan-ring", ["loss.unroll_steps=2"]),
    "gan-ring+unrolled-nobackprop": (
        "gan-ring",
        ["loss.unroll_steps=2", "loss.unroll_backprop=false"],
    ),
    "gan-ring+feature-matching": ("gan-ring", ["loss.generator=feature_matching"]),
    "gan-ring+fm+unrolled+reuse": (
        "gan-ring",
        ["loss.generator=feature_matching", "loss.unroll_steps=1", "train.update=reuse_fakes"],
    ),
    "gan-ring+minibatch": ("gan-ring", ["model.discriminator.minibatch_kernels=4"]),
    "gan-ring+pack2": ("pacgan-ring", ["model.discriminator.pack=2", "train.batch_size=32"]),
    "gan-ring+gp": ("gan-ring", ["loss.gradient_penalty=1.0"]),
    "gan-ring+gp+simultaneous": (
        "gan-ring",
        ["loss.gradient_penalty=1.0", "train.update=simultaneous"],
    ),
    "gan-ring+clip": ("gan-ring", ["loss.clip=0.05"]),
    "gan-ring+ema": ("gan-ring", ["train.ema_decay=0.9", "train.ema_start=1"]),
    "gan-ring+lsgan": (
        "gan-ring",
        ["loss.discriminator=least_squares", "loss.generator=least_squares"],
    ),
    "gan-ring+ml-normalized": (
        "gan-ring",
        ["loss.generator=maximum_likelihood", "loss.ml_normalize=true"],
    ),
    "gan-ring+bf16": ("gan-ring", ["train.precision=bf16"]),
    "cgan-mnist+simultaneous": ("cgan-mnist", ["train.update=simultaneous"]),
    "cgan-mnist+gp": ("cgan-mnist", ["loss.gradient_penalty=1.0"]),
}

# small batches keep every case fast; packed and WGAN-scheduled presets keep their own
SMALL_BATCH = "train.batch_size=16"


def cases() -> dict[str, tuple[str, list[str]]]:
    out = {name: (name, [SMALL_BATCH]) for name in preset_names()}
    out["dcgan-stacked-mnist"] = ("dcgan-stacked-mnist", [SMALL_BATCH, "data.epoch_size=512"])
    for name in preset_names():  # CIFAR-10 presets: the 5,000 validation images load faster
        if name.endswith("cifar10"):
            out[name] = (name, [SMALL_BATCH, "data.split=valid"])
    for key, (preset, extra) in VARIANTS.items():
        out[key] = (
            preset,
            extra if any("batch_size" in e for e in extra) else [SMALL_BATCH, *extra],
        )
    return out


def weights_after_steps(preset: str, overrides: list[str], root: Path) -> list[torch.Tensor]:
    cfg = load_preset(preset, [*QUIET, f"data.root={root}", *overrides])
    run = run_loop(build_run(cfg), [], STEPS)
    tensors = []
    # G and D first (the order the hashes of the GAN presets were recorded in), then any
    # other players (methods with an encoder, or without G), then G's weight average
    names = [n for n in ("G", "D") if n in run.nets] + [n for n in run.nets if n not in "GD"]
    nets = [run.nets[n] for n in names]
    if run.method.sample_player == "G" and run.G_sample is not run.G:
        nets.append(run.G_sample)
    for net in nets:
        tensors += [t.detach().cpu().contiguous() for t in net.state_dict().values()]
    return tensors


def digest(tensors: list[torch.Tensor]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def fingerprint(tensors: list[torch.Tensor]) -> list[float]:
    """Sum, sum of squares and a fixed signed sum of all float weights (float64)."""
    flat = torch.cat([t.double().flatten() for t in tensors if t.is_floating_point()])
    signs = torch.ones(len(flat), dtype=torch.float64)
    signs[1::3] = -1.0
    return [flat.sum().item(), flat.square().sum().item(), (flat * signs).sum().item()]


def environment() -> dict[str, str]:
    return {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability()}


@pytest.fixture(scope="module")
def recorded() -> dict:
    return json.loads(RECORD.read_text())


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("case", sorted(cases()))
def test_training_is_unchanged(case, recorded, data_root, one_thread):
    preset, overrides = cases()[case]
    tensors = weights_after_steps(preset, overrides, data_root)
    want = recorded["cases"][case]
    assert all(torch.isfinite(t.float()).all() for t in tensors)
    if recorded["environment"] == environment():
        assert digest(tensors) == want["sha256"]
    else:  # other kernels: the same numbers up to rounding
        torch.testing.assert_close(
            torch.tensor(fingerprint(tensors)),
            torch.tensor(want["fingerprint"]),
            rtol=1e-4,
            atol=1e-4,
        )


def record(root: Path) -> None:
    torch.set_num_threads(1)
    out = {"environment": environment(), "steps": STEPS, "cases": {}}
    for case, (preset, overrides) in sorted(cases().items()):
        tensors = weights_after_steps(preset, overrides, root)
        out["cases"][case] = {"sha256": digest(tensors), "fingerprint": fingerprint(tensors)}
        print(case, out["cases"][case]["sha256"][:16], flush=True)
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    record(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
