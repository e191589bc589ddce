"""Peak memory and time of `advnets restore` on a large photo and on a 512x512 one.

    python benchmarks/restoration_memory.py --out runs/restoration-memory

Makes a 4000x3000 colour photo (scikit-image's astronaut, upscaled bicubically: smooth like
a camera's picture), corrupts it with `advnets degrade --task T`, then restores it with the
shipped G of each task in a fresh process, one thread: the seconds `restore` took inside
that process (wall clock, and CPU time: on a busy machine the wall clock counts the waits
for a core, the CPU time does not) and its peak resident memory (VmHWM, the high-water
mark of its RSS, which includes Python, torch and the decoded pictures). Then the same on
the 512x512 astronaut.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TASKS = ("sr2", "sr4", "denoise", "deblur", "inpaint")
# --classical: each task's slowest classical method instead of the shipped G
CLASSICAL = {"sr2": "bicubic", "sr4": "bicubic", "denoise": "nlm", "deblur": "admm-tv"}
CLASSICAL["inpaint"] = "biharmonic"


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(argv: list[str]) -> None:
    """Run one `advnets` command here and print its seconds and this process's peak RSS."""
    import torch

    torch.set_num_threads(1)
    from advnets.cli import main

    start, cpu = time.perf_counter(), time.process_time()
    code = main(argv)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"code": code, "seconds": seconds, "cpu_s": cpu, "peak_mb": peak_rss_mb()}))


def measure(argv: list[str]) -> dict:
    """`advnets ARGV` in a fresh one-thread process: its seconds and peak memory."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise SystemExit(f"advnets {' '.join(argv)} failed: {out.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def make_photo(path: Path, size: tuple[int, int]) -> None:
    """The astronaut at `size` (H, W), bicubic, as PNG."""
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).resize((size[1], size[0]), Image.BICUBIC).save(path)


def bench(
    folder: Path, size: tuple[int, int], tasks: list[str], classical: bool = False
) -> list[dict]:
    """Degrade and restore a photo of `size` for each task (the shipped G, or with
    `classical` the task's slowest classical method); one row per task."""
    photo = folder / f"photo-{size[0]}x{size[1]}.png"
    if not photo.exists():
        make_photo(photo, size)
    rows = []
    for task in tasks:
        bad, out = folder / f"{task}-{photo.stem}.png", folder / f"{task}-{photo.stem}-out.png"
        degraded = measure(["degrade", str(photo), "--task", task, "--out", str(bad)])
        method = ["--method", CLASSICAL[task]] if classical else []
        restored = measure(["restore", str(bad), "--task", task, *method, "--out", str(out)])
        by = CLASSICAL[task] if classical else "shipped G"
        row = {"size": f"{size[0]}x{size[1]}", "task": task, "by": by, "degrade": degraded}
        row |= restored
        print(
            f"{row['size']} {task} ({by}): restore {restored['seconds']:.1f} s "
            f"(CPU {restored['cpu_s']:.1f} s), peak "
            f"{restored['peak_mb']:.0f} MB (degrade: {degraded['seconds']:.1f} s, "
            f"{degraded['peak_mb']:.0f} MB)",
            flush=True,
        )
        rows.append(row)
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/restoration-memory"))
    parser.add_argument("--large-tasks", nargs="*", default=list(TASKS), choices=TASKS)
    parser.add_argument("--small-tasks", nargs="*", default=list(TASKS), choices=TASKS)
    parser.add_argument(
        "--classical", action="store_true", help="each task's slowest classical method instead"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = bench(args.out, (3000, 4000), args.large_tasks, args.classical)
    rows += bench(args.out, (512, 512), args.small_tasks, args.classical)
    name = "results-classical.json" if args.classical else "results.json"
    (args.out / name).write_text(json.dumps(rows, indent=1))
    print("\n| photo | task | by | restore s (wall) | CPU s | peak MB |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size']} | {r['task']} | {r['by']} | {r['seconds']:.1f} | {r['cpu_s']:.1f} "
            f"| {r['peak_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
