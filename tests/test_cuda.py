"""The same code on a CUDA device: every method trains there, a step there matches a step on
the CPU, a CUDA run's files load and score on the CPU, and torchrun with nccl (sync batch
norm) runs. Skipped on a machine without CUDA."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from advnets import load_preset
from advnets.cli import main
from advnets.training import build_run, run_loop, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

REPO = Path(__file__).resolve().parents[1]
QUIET = [
    "train.progress=false",
    "train.samples_per_epoch=false",
    "train.checkpoint_every=0",
    "train.eval_every=0",
]
SMALL_MLP = ["model.discriminator.hidden=[64,32]", "model.generator.hidden=[32]"]

# one case per method (and the update rules, precisions and layers that run apart)
CASES = {
    "gan-ring": ("gan-ring", ["train.ema_decay=0.9"]),
    "gan-ring+unrolled": ("gan-ring", ["options.unroll_steps=2"]),
    "gan-ring+gp+bf16": ("gan-ring", ["options.gradient_penalty=1.0", "train.precision=bf16"]),
    "pacgan-ring": ("pacgan-ring", []),
    "gan-mnist": ("gan-mnist", []),
    "dcgan-mnist": ("dcgan-mnist", []),
    "dcgan-mnist+bf16": ("dcgan-mnist", ["train.precision=bf16"]),
    "cgan-mnist": ("cgan-mnist", []),
    "wgan-gp-mnist": ("wgan-gp-mnist", []),
    "improved-gan-mnist": ("improved-gan-mnist", ["train.ema_decay=0.99", "train.ema_players=[D]"]),
    "sgan-mnist": ("sgan-mnist", []),
    "vaegan-mnist": ("vaegan-mnist", []),
    "restore-denoise-faces": ("restore-denoise-faces", []),
}


def needs_data(preset: str) -> bool:
    return not preset.endswith(("ring", "grid", "1d"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_method_trains_on_cuda(case, request, tmp_path):
    preset, extra = CASES[case]
    root = [f"data.root={request.getfixturevalue('data_root')}"] if needs_data(preset) else []
    cfg = load_preset(preset, [*QUIET, *root, *extra, "train.steps=3", "train.device=cuda"])
    run = train(cfg, tmp_path / "run")
    for name, player in run.players.items():
        for p in player.net.parameters():
            assert p.device.type == "cuda", name
            assert torch.isfinite(p).all(), name
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True, map_location="cpu")
    assert ckpt["counters"]["step"] == 3


def test_a_step_on_cuda_matches_a_step_on_the_cpu():
    """SGD on the ring from the same seed: one step moves the weights by the same amount on
    both devices, to float rounding (cuBLAS sums in another order). Over five steps the
    GAN's dynamics had grown the rounding to 4e-4 of the weights, so one step is compared,
    relative to its size."""
    sgd = ["optim.D.name=sgd", "optim.G.name=sgd", "optim.D.lr=0.01", "optim.G.lr=0.01"]
    moves = {}
    for device in ("cpu", "cuda"):
        overrides = [*QUIET, *sgd, "train.steps=1", f"train.device={device}"]
        run = build_run(load_preset("gan-ring", overrides))
        before = [p.detach().cpu().clone() for net in run.nets.values() for p in net.parameters()]
        run_loop(run, [], 1)
        after = [p.detach().cpu() for net in run.nets.values() for p in net.parameters()]
        moves[device] = torch.cat([(a - b).flatten() for a, b in zip(after, before, strict=True)])
    assert moves["cpu"].norm() > 1e-4  # the step moved the weights
    assert (moves["cuda"] - moves["cpu"]).norm() < 1e-2 * moves["cpu"].norm()


def test_a_cuda_ssl_run_samples_scores_and_classifies_on_both_devices(data_root, tmp_path, capsys):
    sets = [
        f"--set={s}" for s in [*QUIET, *SMALL_MLP, "train.ema_decay=0.9", "train.ema_players=[D]"]
    ]
    run = str(tmp_path / "run")
    main(
        [
            "train",
            "improved-gan-mnist",
            "--steps",
            "20",
            "--device",
            "cuda",
            "--data",
            str(data_root),
            "--out",
            run,
            *sets,
        ]
    )
    x = np.random.default_rng(0).random((7, 1, 28, 28), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    labels = {}
    for device in ("cuda", "cpu"):
        out = tmp_path / f"y-{device}.npy"
        main(
            [
                "classify",
                run,
                "--samples",
                str(tmp_path / "x.npy"),
                "--out",
                str(out),
                "--device",
                device,
            ]
        )
        labels[device] = np.load(out)
        main(
            [
                "eval",
                run,
                "--metric",
                "accuracy",
                "--n",
                "500",
                "--device",
                device,
                "--data",
                str(data_root),
            ]
        )
        main(
            [
                "sample",
                run,
                "--n",
                "16",
                "--out",
                str(tmp_path / f"s-{device}.png"),
                "--device",
                device,
            ]
        )
    assert labels["cuda"].dtype == np.int64 and labels["cuda"].shape == (7,)
    np.testing.assert_array_equal(labels["cuda"], labels["cpu"])
    out = capsys.readouterr().out.splitlines()
    lines = [line.split() for line in out if line.startswith("accuracy ") and "errors" in line]
    assert len(lines) == 2 and lines[0] == lines[1]  # the same accuracy on both devices


def test_torchrun_with_nccl_and_sync_batch_norm(data_root, tmp_path):
    """One process per GPU (this machine's count); DCGAN's batch norm synchronised."""
    gpus = torch.cuda.device_count()
    if gpus < 2:  # torchrun with one process is the plain run: no DDP, no sync_bn
        pytest.skip("nccl data parallelism needs two or more GPUs")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    sets = [f"--set={s}" for s in [*QUIET, "train.sync_bn=true", f"train.batch_size={64 * gpus}"]]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(gpus),
    ]
    cmd += ["-m", "advnets", "train", "dcgan-mnist", "--steps", "3", "--device", "cuda"]
    cmd += ["--data", str(data_root), "--out", str(tmp_path / "ddp"), *sets]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    ckpt = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)
    assert ckpt["counters"]["step"] == 3 and ckpt["world_size"] == gpus
