"""Training throughput of advnets against plain PyTorch loops measured in the same run.

Prints, for `gan-mnist` (the paper's MLPs) and `pytorch-gan-mnist` (PyTorch-GAN's gan.py
models), in fp32 and bf16:
  - images/s of the advnets training step and of a plain PyTorch loop of the same networks
    (nn.Dropout, BCE on logits, separate D forwards, D weight grads in the G step, default
    optimizers), and their ratio;
  - achieved GFLOP/s (the FLOPs of one advnets step, counted by torch's FlopCounterMode)
    as a percentage of this machine's fp32 matmul peak, also measured here;
and the whole-process time of `advnets train pytorch-gan-mnist --steps 937` against a
PyTorch-GAN-style script (per-sample transforms in a DataLoader, batch 64, 937 iterations =
60,000 images) written below, start-up included.

With --profile it prints instead where an advnets `gan-mnist` step spends its time in each
precision (torch.profiler): ms a step and the shares of the matmuls and of the copies
(autocast's casts), which tell whether bf16 can pay on a machine.

    python benchmarks/throughput.py [--data DIR] [--steps N] [--skip-process] [--skip-bf16]
                                    [--profile | --process-only]
"""

import argparse
import contextlib
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import positive_int  # noqa: E402

from advnets.config import load_preset, path_override  # noqa: E402
from advnets.data import load_images  # noqa: E402
from advnets.errors import exit_on_error  # noqa: E402
from advnets.training import build_run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def matmul_peak(dtype: torch.dtype, sizes=(1024, 2048), repeats: int = 10) -> float:
    """Best GFLOP/s of square matmuls (a simple stand-in for the machine's peak)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        t = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - t) / 1e9)
        if dtype == torch.bfloat16 and best < 20:  # no native bf16: don't wait for 2048
            break
    return best


def timed(step, steps: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t) / steps


# ---- a plain PyTorch loop of the same networks ------------------------------------------


class PlainMaxout(nn.Module):
    def __init__(self, n_in: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.lin = nn.Linear(n_in, units * pieces)

    def forward(self, x):
        return self.lin(x).view(len(x), self.units, self.pieces).max(-1).values


def plain_models(preset: str):
    if preset == "gan-mnist":
        G = nn.Sequential(
            nn.Linear(100, 1200),
            nn.ReLU(),
            nn.Linear(1200, 1200),
            nn.ReLU(),
            nn.Linear(1200, 784),
            nn.Sigmoid(),
        )
        D = nn.Sequential(
            nn.Dropout(0.2),
            PlainMaxout(784, 240, 5),
            nn.Dropout(0.5),
            PlainMaxout(240, 240, 5),
            nn.Dropout(0.5),
            nn.Linear(240, 1),
        )
        make_opt = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5)  # noqa: E731
        noise = lambda n: (torch.rand(n, 100) * 2 - 1) * math.sqrt(3)  # noqa: E731
        return G, D, make_opt, noise
    widths = [100, 128, 256, 512, 1024]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        layers += [nn.Linear(a, b)] + ([nn.BatchNorm1d(b, 0.8)] if i else []) + [nn.LeakyReLU(0.2)]
    G = nn.Sequential(*layers, nn.Linear(1024, 784), nn.Tanh())
    D = nn.Sequential(
        nn.Linear(784, 512),
        nn.LeakyReLU(0.2),
        nn.Linear(512, 256),
        nn.LeakyReLU(0.2),
        nn.Linear(256, 1),
    )
    make_opt = lambda p: torch.optim.Adam(p, lr=2e-4, betas=(0.5, 0.999))  # noqa: E731
    return G, D, make_opt, lambda n: torch.randn(n, 100)


def plain_step_fn(preset: str, data: torch.Tensor, m: int, autocast, reuse_fakes: bool):
    """One D step then one G step, written the way tutorials write them; the G step draws
    fresh noise (Algorithm 1) unless `reuse_fakes` (what the preset's update does)."""
    G, D, make_opt, noise = plain_models(preset)
    opt_g, opt_d = make_opt(G.parameters()), make_opt(D.parameters())
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(m, 1), torch.zeros(m, 1)

    def step():
        real = data[torch.randint(len(data), (m,))]
        with autocast():
            fake = G(noise(m))
            d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        with autocast():
            g_loss = bce(D(fake if reuse_fakes else G(noise(m))), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    return step


# ---- whole process: advnets CLI vs a PyTorch-GAN-style script ---------------------------


def pytorch_gan_style_script(data_root: str, iterations: int) -> None:
    """A gan.py-style run: a map-style Dataset with per-sample transforms, DataLoader(batch 64,
    shuffle), G step then D step on the same fakes, Sigmoid + BCELoss. Written for this
    benchmark from the description of PyTorch-GAN's script, not copied from it."""
    from torch.utils.data import DataLoader, Dataset

    images, _ = load_images("mnist", "full", data_root, download=False)

    class Mnist(Dataset):
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            x = torch.from_numpy(images[i].astype("float32") / 255.0).unsqueeze(0)
            return (x - 0.5) / 0.5, 0

    G, D, make_opt, noise = plain_models("pytorch-gan-mnist")
    D = nn.Sequential(*D, nn.Sigmoid())
    opt_g, opt_d = make_opt(G.parameters()), make_opt(D.parameters())
    loss = nn.BCELoss()
    done = 0
    while done < iterations:
        for imgs, _ in DataLoader(Mnist(), batch_size=64, shuffle=True):
            valid, fake_t = torch.ones(len(imgs), 1), torch.zeros(len(imgs), 1)
            gen = G(noise(len(imgs))).view(len(imgs), 1, 28, 28)
            opt_g.zero_grad()
            g_loss = loss(D(gen.flatten(1)), valid)
            g_loss.backward()
            opt_g.step()
            opt_d.zero_grad()
            real_loss = loss(D(imgs.flatten(1)), valid)
            d_loss = (real_loss + loss(D(gen.detach().flatten(1)), fake_t)) / 2
            d_loss.backward()
            opt_d.step()
            done += 1
            if done == iterations:
                break


def process_seconds(cmd: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, all threads) of running `cmd`: on a shared
    machine the CPU seconds move less with the other work beside."""
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime


def compare_processes(data_root: str, precision: str, iterations: int = 937) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours = process_seconds(
            [
                sys.executable,
                "-m",
                "advnets.cli",
                "train",
                "pytorch-gan-mnist",
                "--steps",
                str(iterations),
                "--out",
                str(Path(tmp) / "run"),
                "--data",
                data_root,
                "--set",
                "train.progress=false",
                "--set",
                f"train.precision={precision}",
            ]
        )
    theirs = process_seconds(
        [
            sys.executable,
            __file__,
            "--run-baseline-script",
            "--data",
            data_root,
            "--steps",
            str(iterations),
        ]
    )
    (ours, ours_cpu), (theirs, theirs_cpu) = ours, theirs
    images = iterations * 64
    print(
        f"whole process, {iterations} steps x 64 images ({precision}): advnets {ours:.1f} s "
        f"({images / ours:,.0f} img/s), PyTorch-GAN-style script (fp32) {theirs:.1f} s "
        f"({images / theirs:,.0f} img/s): ratio {theirs / ours:.2f}x; CPU seconds "
        f"{ours_cpu:.1f} against {theirs_cpu:.1f}: ratio {theirs_cpu / ours_cpu:.2f}x"
    )


# ---- where a step's time goes ------------------------------------------------------------

MATMULS = ("aten::mm", "aten::addmm", "aten::bmm")


def preset_run(preset: str, precision: str, data_root: str):
    """The preset's config and a built run of it in `precision`."""
    cfg = load_preset(
        preset,
        [
            "train.progress=false",
            path_override("data.root", data_root),
            f"train.precision={precision}",
        ],
    )
    return cfg, build_run(cfg)


def profile_step(preset: str, precision: str, data_root: str, steps: int) -> None:
    _, run = preset_run(preset, precision, data_root)
    for _ in range(20):  # warm-up outside the profile (bf16 kernels take a while)
        run.step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        timed(run.step, steps, warmup=0)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    share = {
        "matmul": sum(e.self_cpu_time_total for e in events if e.key in MATMULS),
        "copy": sum(e.self_cpu_time_total for e in events if e.key == "aten::copy_"),
    }
    print(
        f"{preset:<18} {precision}  {total / steps / 1e3:6.1f} ms/step (profiled)  "
        + "  ".join(f"{k} {v / total * 100:4.1f}%" for k, v in share.items())
    )


# ---- per-step comparison ----------------------------------------------------------------


def compare_steps(preset: str, precision: str, data_root: str, steps: int, peak32: float) -> None:
    cfg, run = preset_run(preset, precision, data_root)
    run.step()
    with FlopCounterMode(display=False) as counter:
        run.step()
    flops = counter.get_total_flops()
    m, k = cfg.train.batch_size, cfg.train.k
    ours = timed(run.step, steps)
    autocast = contextlib.nullcontext
    if precision == "bf16":
        autocast = partial(torch.autocast, "cpu", dtype=torch.bfloat16)
    step = plain_step_fn(
        preset,
        run.data.sampler.data.flatten(1),
        m,
        autocast,
        reuse_fakes=cfg.train.update == "reuse_fakes",
    )
    plain = timed(step, steps)
    gflops = flops / ours / 1e9
    print(
        f"{preset:<18} {precision}  advnets {k * m / ours:8,.0f} img/s  plain loop "
        f"{k * m / plain:8,.0f} img/s  ratio {plain / ours:5.2f}x  |  {gflops:6.1f} GFLOP/s "
        f"= {100 * gflops / peak32:5.1f}% of fp32 peak  ({flops / 1e9:.2f} GFLOP/step)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    parser.add_argument(
        "--steps", type=positive_int, default=100, help="timed steps (--profile: half of them)"
    )
    parser.add_argument("--skip-process", action="store_true")
    parser.add_argument(
        "--process-only", action="store_true", help="only the whole-process comparison (fp32)"
    )
    parser.add_argument("--skip-bf16", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile gan-mnist steps only")
    parser.add_argument("--run-baseline-script", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_baseline_script:
        pytorch_gan_style_script(args.data, args.steps)
        return
    torch.manual_seed(0)
    if args.process_only:
        compare_processes(args.data, "fp32", 937)
        return
    if args.profile:
        for precision in ["fp32"] if args.skip_bf16 else ["fp32", "bf16"]:
            profile_step("gan-mnist", precision, args.data, max(1, args.steps // 2))
        return
    peak32 = matmul_peak(torch.float32)
    peak16 = matmul_peak(torch.bfloat16, sizes=(1024,), repeats=2)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    print(
        f"matmul peak: fp32 {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s "
        f"(bf16/fp32 = {peak16 / peak32:.2f})"
    )
    precisions = ["fp32"] if args.skip_bf16 else ["fp32", "bf16"]
    for precision in precisions:
        steps = args.steps if precision == "fp32" or peak16 > peak32 else max(3, args.steps // 20)
        for preset in ("gan-mnist", "pytorch-gan-mnist"):
            compare_steps(preset, precision, args.data, steps, peak32)
    if not args.skip_process:
        compare_processes(args.data, "fp32", 937)
        if not args.skip_bf16 and peak16 > peak32:
            compare_processes(args.data, "bf16", 937)


if __name__ == "__main__":
    exit_on_error(main)
