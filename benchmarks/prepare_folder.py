"""A large folder of one's own pictures: preparation time, the second start, and peak memory.

Writes N synthetic JPEG pictures of mixed sizes (default 100,000, about 80 x 100 px, in 10
class subfolders) once into --folder, and 1,000 more into a small folder beside it; then in
fresh processes: (1) `advnets prepare` at --size, (2) the same again (the cache is found:
the second start), (3) --steps training steps of a small dcgan-mnist on it (memory-mapped
batches), and (4) the same training on the 1,000-picture folder. Prints each one's wall
time, peak resident memory, and at its end the process's own (anonymous) memory beside the
pages of the cache it has mapped (file-backed: the kernel drops them under pressure, as
for any file read); then the ratio of the second start to the first, and the ratio of the
training runs' own memory, 100,000 pictures over 1,000 (about 1: it does not grow with the
folder, which is never read into memory whole).

    python benchmarks/prepare_folder.py --n 100000 --size 64 --folder /tmp/folder100k
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

CHILD = """
import json, resource, sys, time
t = time.perf_counter()
from advnets.cli import main
code = main(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
anon = int(status["RssAnon"].split()[0]) / 1024
mapped = int(status["RssFile"].split()[0]) / 1024
out = {"code": code, "seconds": time.perf_counter() - t, "peak_mb": peak}
print(json.dumps(out | {"anon_mb": anon, "file_mb": mapped}))
"""


def make_folder(root: Path, n: int, seed: int = 0) -> None:
    """n JPEGs in 10 class folders: smooth colour gradients with noise, sizes 72-100 px."""
    if (root / "done").is_file() and int((root / "done").read_text()) == n:
        return
    rng = np.random.default_rng(seed)
    for i in tqdm(range(n), "writing pictures"):
        h, w = rng.integers(72, 101, 2)
        base = rng.integers(0, 256, 3)
        ramp = np.linspace(0, 1, w)[None, :, None] * rng.integers(-80, 80, 3)
        pixels = base + ramp + rng.normal(0, 12, (h, w, 3))
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / f"{i}.jpg", quality=85)
    (root / "done").write_text(str(n))


def child(args: list[str], env_cache: str) -> dict:
    """One advnets command in a fresh single-threaded process: its time and peak memory."""
    import os

    env = {**os.environ, "ADVNETS_CACHE": env_cache, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env, check=False
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise SystemExit(f"advnets {' '.join(args)} failed: {out.stderr.strip()[-500:]}")
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "advnets-folder")
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    make_folder(args.folder, args.n)
    cache = tempfile.mkdtemp(prefix="advnets-cache-")
    size = ["--size", str(args.size)]
    first = child(["prepare", str(args.folder), *size], cache)
    second = child(["prepare", str(args.folder), *size], cache)
    small = args.folder.with_name(args.folder.name + "-1000")
    make_folder(small, 1000, seed=1)
    trained = child(_train(args.folder, size, Path(cache) / "run", args.steps), cache)
    baseline = child(_train(small, size, Path(cache) / "small", args.steps), cache)
    cache_mb = sum(f.stat().st_size for f in Path(cache).rglob("images.npy")) / 2**20
    rows = {"prepare": first, "second start": second, f"train {args.steps} steps": trained}
    rows["same, 1,000 pictures"] = baseline
    for name, r in rows.items():
        print(
            f"{name:<22} {r['seconds']:8.1f} s   peak {r['peak_mb']:6.0f} MB   at the end: "
            f"own {r['anon_mb']:6.0f} MB, mapped cache {r['file_mb']:6.0f} MB"
        )
    print(f"pictures {args.n} at {args.size}x{args.size}; caches {cache_mb:.0f} MB")
    print(f"ratio second start / prepare: {second['seconds'] / first['seconds']:.4f}")
    own = trained["anon_mb"] / baseline["anon_mb"]
    print(f"ratio training's own memory, {args.n} / 1,000 pictures: {own:.3f}")


def _train(folder: Path, size: list[str], out: Path, steps: int) -> list[str]:
    """A small DCGAN (8 channels, batches of 64) for `steps` steps on `folder`."""
    sets = ["train.progress=false", "train.samples_per_epoch=false", "train.threads=1"]
    sets += ["train.batch_size=64", "model.generator.channels=8"]
    sets += ["model.discriminator.channels=8", "train.checkpoint_every=0"]
    command = ["train", "dcgan-mnist", "--images", str(folder), *size, "--out", str(out)]
    return [*command, "--steps", str(steps), *[f"--set={s}" for s in sets]]


if __name__ == "__main__":
    main()
