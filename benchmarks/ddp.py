"""Data-parallel training on one machine: N gloo processes (torchrun, one thread each)
against one process with N threads on the same total batch, measured in the same run.

Prints, for each preset, the training images/s of
  A: one process, N torch threads, batch B (the baseline);
  B: torchrun --nproc_per_node N, one thread each, B in total (B / N per process);
  C: one process, one thread, batch B / N: one rank's compute alone, without any exchange;
  D: one process, one thread, batch B: the serial reference;
the ratios B / A and B / D, and where a data-parallel step's time goes: C's step time is the compute
of a rank, the rest of B's step is the exchange (the gradient all-reduce that DDP overlaps
with the backward pass, the logged losses' all-reduce) and waiting for the slower rank.

    python benchmarks/ddp.py [--presets gan-mnist dcgan-mnist] [--processes 2]
        [--steps 30] [--rounds 2] [--data DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import positive_int  # noqa: E402

from advnets.errors import exit_on_error  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WARMUP = 5


def worker(preset: str, steps: int, threads: int, batch: int, data: str) -> None:
    """One process of a measurement (under torchrun: one rank): train `steps` after
    WARMUP steps; rank 0 prints {ms per step, images per second} as JSON."""
    import torch

    from advnets.config import load_preset, path_override
    from advnets.training import build_run, run_loop
    from advnets.training.distributed import join, place_from_env

    torch.set_num_threads(threads)
    overrides = [
        f"train.batch_size={batch}",
        f"train.threads={threads}",
        path_override("data.root", data),
    ]
    place = place_from_env()  # first: under CUDA each rank then builds on its own GPU
    run = build_run(load_preset(preset, [*overrides, "train.progress=false"]))
    team = join(place, run) if place is not None else None
    run_loop(run, [], WARMUP, team)
    start = time.perf_counter()
    run_loop(run, [], WARMUP + steps, team)
    seconds = time.perf_counter() - start
    if place is None or place.rank == 0:
        images = steps * batch * run.method.data_batches_per_step()
        print(json.dumps({"ms": 1000 * seconds / steps, "img_per_s": images / seconds}))
    if team is not None:
        team.close()


def measure(preset: str, steps: int, threads: int, batch: int, data: str, procs: int = 1) -> dict:
    """Run one measurement in fresh processes; rank 0's JSON line."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(threads)}
    launcher = [sys.executable]
    if procs > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)]
    args = ["--worker", preset, str(steps), str(threads), str(batch), data]
    done = subprocess.run(
        [*launcher, __file__, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        errors = [line for line in done.stderr.splitlines() if "error:" in line]
        cause = errors[0] if errors else done.stderr.strip()[-500:]
        raise SystemExit(f"{preset}: the measurement failed: {cause}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def configs(n: int, batch: int) -> tuple[tuple[str, int, int, int], ...]:
    """(name, threads, batch per process, processes) of the measurements A-D."""
    return (("a", n, batch, 1), ("b", 1, batch, n), ("c", 1, batch // n, 1), ("d", 1, batch, 1))


def compare(preset: str, n: int, steps: int, data: str, rounds: int) -> None:
    """Measure A, B and C for one preset (the best of `rounds` interleaved rounds, as the
    machine may be shared) and print them with the ratio."""
    from advnets.config import load_preset

    batch = load_preset(preset).train.batch_size
    best: dict[str, dict] = {}
    for _ in range(rounds):
        for name, threads, m, procs in configs(n, batch):
            got = measure(preset, steps, threads, m, data, procs)
            if name not in best or got["ms"] < best[name]["ms"]:
                best[name] = got
    a, b, c, d = best["a"], best["b"], best["c"], best["d"]
    exchange = max(0.0, b["ms"] - c["ms"])
    print(
        f"{preset} (batch {batch}): 1 process x {n} threads {a['img_per_s']:.0f} img/s "
        f"({a['ms']:.1f} ms/step) | {n} processes x 1 thread {b['img_per_s']:.0f} img/s "
        f"({b['ms']:.1f} ms/step) | ratio {b['img_per_s'] / a['img_per_s']:.2f} | "
        f"1 process x 1 thread {d['img_per_s']:.0f} img/s ({d['ms']:.1f} ms/step), "
        f"ratio {b['img_per_s'] / d['img_per_s']:.2f} | "
        f"a rank's compute {c['ms']:.1f} ms ({100 * c['ms'] / b['ms']:.0f} %), exchange and "
        f"waiting {exchange:.1f} ms ({100 * exchange / b['ms']:.0f} %)",
        flush=True,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["gan-mnist", "dcgan-mnist"])
    parser.add_argument(
        "--processes", type=positive_int, default=2, help="N: processes (and threads)"
    )
    parser.add_argument(
        "--steps", type=positive_int, default=30, help="timed steps per measurement"
    )
    parser.add_argument(
        "--rounds", type=positive_int, default=2, help="interleaved rounds; best kept"
    )
    parser.add_argument("--data", default=os.environ.get("ADVNETS_DATA", "../shared/data"))
    args = parser.parse_args(argv)
    from advnets.config import load_preset

    for preset in args.presets:  # C trains on B / N images: at least one each
        batch = load_preset(preset).train.batch_size
        if batch < args.processes or batch % args.processes:
            parser.error(
                f"--processes {args.processes}: {preset}'s batch of {batch} images is "
                f"shared out equally; choose a number of processes that divides it"
            )
    return args


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        preset, steps, threads, batch, data = sys.argv[2:7]
        return worker(preset, int(steps), int(threads), int(batch), data)
    args = parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    for preset in args.presets:
        data = str(Path(args.data).resolve())
        compare(preset, args.processes, args.steps, data, args.rounds)


if __name__ == "__main__":
    exit_on_error(main)
