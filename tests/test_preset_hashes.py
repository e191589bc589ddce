"""Training stays bit-for-bit the same: for every shipped preset (and the update rules and
variants that no preset uses), a hash of G's and D's weights after a few steps on small
batches, recorded on one or more machines and compared on every run.

The exact hash is compared where a recording's torch build, CPU kernels (capability) and
CPU model are those of this machine (one capability, AVX512, covers an Intel Xeon and an
AMD EPYC whose kernels give different bits); elsewhere different kernels legitimately
round differently, and a float fingerprint of the same weights is compared with two-sided
tolerances (`close_to`). `python tests/test_preset_hashes.py [DATA]` adds this machine's
recording, `... DATA CASE...` only those cases to it (a new preset: other machines then
compare its fingerprint); after a change that is meant to change training numbers, delete
tests/data/preset_hashes.json first (and say why in the commit)"""

import functools
import hashlib
import json
import platform
import sys
from pathlib import Path

import pytest
import torch

from advnets import load_preset, preset_names
from advnets.training import build_run, run_loop, train

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
    "gan-ring+unrolled": ("gan-ring", ["options.unroll_steps=2"]),
    "gan-ring+unrolled-nobackprop": (
        "gan-ring",
        ["options.unroll_steps=2", "options.unroll_backprop=false"],
    ),
    "gan-ring+feature-matching": ("gan-ring", ["loss.generator=feature_matching"]),
    "gan-ring+fm+unrolled+reuse": (
        "gan-ring",
        ["loss.generator=feature_matching", "options.unroll_steps=1", "train.update=reuse_fakes"],
    ),
    "gan-ring+minibatch": ("gan-ring", ["model.discriminator.minibatch_kernels=4"]),
    "gan-ring+pack2": ("pacgan-ring", ["model.discriminator.pack=2", "train.batch_size=32"]),
    "gan-ring+gp": ("gan-ring", ["options.gradient_penalty=1.0"]),
    "acgan-mnist+class-loss-on-fakes": ("acgan-mnist", ["options.class_loss_on_fakes=true"]),
    "gan-ring+gp+simultaneous": (
        "gan-ring",
        ["options.gradient_penalty=1.0", "train.update=simultaneous"],
    ),
    "gan-ring+clip": ("gan-ring", ["options.clip=0.05"]),
    "gan-ring+ema": ("gan-ring", ["train.ema_decay=0.9", "train.ema_start=1"]),
    "gan-ring+lsgan": (
        "gan-ring",
        ["loss.discriminator=least_squares", "loss.generator=least_squares"],
    ),
    "gan-ring+ml-normalized": (
        "gan-ring",
        ["loss.generator=maximum_likelihood", "options.ml_normalize=true"],
    ),
    "gan-ring+bf16": ("gan-ring", ["train.precision=bf16"]),
    "cgan-mnist+simultaneous": ("cgan-mnist", ["train.update=simultaneous"]),
    "cgan-mnist+gp": ("cgan-mnist", ["options.gradient_penalty=1.0"]),
}

# small batches keep every case fast; packed and WGAN-scheduled presets keep their own
SMALL_BATCH = "train.batch_size=16"

# the paper's Figure 2 nets (G 8000 x 8000): the same layers and rules, narrower
PAPER_NETS = ("gan-cifar10", "gan-faces")
NARROW = ["model.generator.hidden=[800,800]", "model.discriminator.hidden=[160,160]"]


def cases() -> dict[str, tuple[str, list[str]]]:
    out = {name: (name, [SMALL_BATCH]) for name in preset_names()}
    out["dcgan-stacked-mnist"] = ("dcgan-stacked-mnist", [SMALL_BATCH, "data.epoch_size=512"])
    for name in preset_names():  # CIFAR-10 presets: the 5,000 validation images load faster
        if name.endswith("cifar10"):
            out[name] = (name, [SMALL_BATCH, "data.split=valid"])
    for name in PAPER_NETS:  # their 130 million weights: half a minute a case; a tenth here
        out[name] = (name, [*out[name][1], *NARROW])
    for key, (preset, extra) in VARIANTS.items():
        out[key] = (
            preset,
            extra if any("batch_size" in e for e in extra) else [SMALL_BATCH, *extra],
        )
    return out


def weights_after_steps(
    preset: str, overrides: list[str], root: Path, run_dir: Path | None = None
) -> list[torch.Tensor]:
    """The weights after STEPS steps, trained in memory or (`run_dir`) as `advnets train`
    trains: the same bits, the folder's hooks draw no random numbers."""
    cfg = load_preset(preset, [*QUIET, f"data.root={root}", *overrides])
    run = train(cfg, run_dir) if run_dir is not None else run_loop(build_run(cfg), [], STEPS)
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


@functools.cache
def cpu_model() -> str:
    """The CPU's model name: one kernel capability (AVX512) covers CPUs whose kernels round
    differently (an Intel Xeon with AMX and an AMD EPYC give different bits)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor()


def environment() -> dict[str, str]:
    return {
        "torch": torch.__version__,
        "cpu": torch.backends.cpu.get_cpu_capability(),
        "cpu_model": cpu_model(),
    }


@pytest.fixture(scope="module")
def recordings() -> list[dict]:
    return json.loads(RECORD.read_text())["recordings"]


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def close_to(got: list[float], want: list[float], rmsprop: bool = False) -> bool:
    """Fingerprints equal up to other kernels' rounding. The sum of squares is held tight;
    the sums looser, since RMSprop's and Adam's first steps move a weight by about lr
    whatever its gradient's size, so a gradient that rounds to the other sign moves it the
    other way (wgan-mnist's sum of weights: 1.2e-3 apart on two CPUs, the rest 5e-5).
    RMSprop's first step is 1 / sqrt(1 - alpha) = 10 times lr, so its sum of squares moves
    further too (wgan-mnist: 1.6e-5 apart on an AVX2 and an AVX-512 CPU)."""
    g, w = torch.tensor(got), torch.tensor(want)
    rtol = torch.tensor([2e-3, 1e-4 if rmsprop else 1e-5, 2e-3])
    return bool(((g - w).abs() <= rtol * w.abs() + 1e-4).all())


def uses_rmsprop(preset: str, overrides: list[str]) -> bool:
    return any(o.name == "rmsprop" for o in load_preset(preset, overrides).optim.values())


@pytest.mark.parametrize("case", sorted(cases()))
def test_training_is_unchanged(case, recordings, data_root, one_thread, tmp_path):
    """Every preset (and variant) also trains into a run folder whose checkpoint samples
    finite values of the data's shape and range (a restorer: restores a batch)."""
    preset, overrides = cases()[case]
    tensors = weights_after_steps(preset, overrides, data_root, tmp_path / "run")
    assert all(torch.isfinite(t.float()).all() for t in tensors)
    samples_or_restores(tmp_path / "run")
    having = [r for r in recordings if case in r["cases"]]  # a new case: some machines'
    assert having, f"no recording of {case}: run python tests/test_preset_hashes.py DATA {case}"
    same = [r for r in having if r["environment"] == environment()]
    if same:  # the recording's kernels: the same bits
        assert digest(tensors) == same[0]["cases"][case]["sha256"]
    else:  # other kernels: the same numbers up to rounding
        got = fingerprint(tensors)
        wants = [r["cases"][case]["fingerprint"] for r in having]
        rmsprop = uses_rmsprop(preset, overrides)
        assert any(close_to(got, want, rmsprop) for want in wants), (got, wants)


def samples_or_restores(run_dir: Path) -> None:
    """A run's checkpoint samples finite values of its data's shape, images in its range;
    a restoration run's G restores a corrupted batch to finite images of the data shape."""
    from advnets.sampling import sample_from_run

    shape = tuple(torch.load(run_dir / "checkpoint.pt", weights_only=True)["data_shape"])
    if load_preset(str(run_dir / "config.yaml")).method.startswith("restoration"):
        return check_restores(run_dir, shape)
    samples, cfg = sample_from_run(run_dir, 8)
    assert samples.shape == (8, *shape) and torch.isfinite(samples).all()
    if samples.ndim == 4:
        lo, hi = cfg.data.value_range
        assert samples.min() >= lo and samples.max() <= hi


def check_restores(run_dir: Path, shape: tuple[int, ...]) -> None:
    from advnets.data.corruptions import degrade
    from advnets.restore import from_run

    restorer, cfg = from_run(run_dir)
    clean = torch.rand(2, *shape)
    restored = restorer(degrade(clean, cfg.restore))
    assert restored.shape == clean.shape and torch.isfinite(restored).all()
    assert restored.min() >= 0 and restored.max() <= 1


def record(root: Path, only: list[str]) -> None:
    """Record this machine's hashes (of the cases in `only`, if any, keeping its others),
    keeping the other machines' recordings."""
    torch.set_num_threads(1)
    old = json.loads(RECORD.read_text())["recordings"] if RECORD.exists() else []
    mine = [r for r in old if r["environment"] == environment()]
    out = {"environment": environment(), "cases": mine[0]["cases"] if mine and only else {}}
    for case, (preset, overrides) in sorted(cases().items()):
        if only and case not in only:
            continue
        tensors = weights_after_steps(preset, overrides, root)
        out["cases"][case] = {"sha256": digest(tensors), "fingerprint": fingerprint(tensors)}
        print(case, out["cases"][case]["sha256"][:16], flush=True)
    out["cases"] = dict(sorted(out["cases"].items()))
    kept = [r for r in old if r["environment"] != out["environment"]]
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps({"steps": STEPS, "recordings": [*kept, out]}, indent=1) + "\n")


if __name__ == "__main__":
    record(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"), sys.argv[2:])
