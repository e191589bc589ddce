"""Label fidelity of the conditional GANs: how often G draws the class it is asked for, read
by the shipped MNIST / Fashion-MNIST classifiers, per class, for D conditioned by
concatenation (cgan-*), AC-GAN's class head (acgan-*) and the projection discriminator
(cgan-projection-*, and on DCGAN nets cdcgan-*), over several seeds at one budget; FID
beside each, and the classifier's own per-class accuracy on the real test images below.

Each run is the CLI's own commands, so any row can be reproduced by hand:

    advnets train PRESET --seed S --epochs E --out ROOT/PRESET-sS
    advnets eval ROOT/PRESET-sS --metric fidelity --n 5000
    advnets eval ROOT/PRESET-sS --metric fid --n FID_N

Finished runs (a checkpoint.pt, an eval row) are reused, so a stopped benchmark resumes.

    python benchmarks/label_fidelity.py [--seeds 0 1 2 3 4] [--epochs 1] [--jobs 2]
        [--presets cgan-mnist acgan-mnist ...] [--root runs/label_fidelity] [--no-fid]
        [--fid-n 10000] [--truncation PSI] [--table-only]
"""

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from advnets.data import load_images01
from advnets.data.registry import static_spec
from advnets.metrics.classifier import load_classifier, predict

PRESETS = [
    "cgan-mnist",
    "acgan-mnist",
    "cgan-projection-mnist",
    "cgan-fashion",
    "acgan-fashion",
    "cgan-projection-fashion",
    "cdcgan-mnist",
    "cdcgan-fashion",
]


def advnets(*args: str, log: Path) -> None:
    """One `advnets` command at one thread, its output appended to `log`."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(log, "a") as out:
        cmd = [sys.executable, "-m", "advnets", *args]
        subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=True)


def run_truncation(run: Path, psi: float | None) -> float:
    """The truncation psi a run is scored at: `psi` if given, else the run's own."""
    if psi is not None:
        return psi
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    return float(cfg.get("model", {}).get("truncation", 1.0))


def evals(run: Path, psi: float = 1.0) -> dict:
    """The run's eval rows in metrics.jsonl of samples drawn at truncation psi, merged
    (later rows win)."""
    scores: dict = {}
    path = run / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        row = json.loads(line).get("eval", {})
        if row and "label_fidelity" not in row and row.get("truncation", 1.0) == psi:
            scores.update(row)
    return scores


def one_run(preset: str, seed: int, args: argparse.Namespace) -> dict:
    """Train (unless done), then score label fidelity and FID (unless scored)."""
    run = Path(args.root) / f"{preset}-s{seed}"
    log = Path(args.root) / f"{preset}-s{seed}.log"
    if not (run / "checkpoint.pt").is_file():
        cmd = ["train", preset, "--seed", str(seed), "--epochs", str(args.epochs)]
        overrides = [a for kv in args.set for a in ("--set", kv)]
        advnets(*cmd, "--out", str(run), *overrides, log=log)
    psi = run_truncation(run, args.truncation)
    draws = ["--truncation", str(psi)]
    if "fidelity" not in evals(run, psi):
        advnets("eval", str(run), "--metric", "fidelity", "--n", str(args.n), *draws, log=log)
    if args.fid and "fid" not in evals(run, psi):
        advnets("eval", str(run), "--metric", "fid", "--n", str(args.fid_n), *draws, log=log)
    print(f"done {run}", flush=True)
    return row(preset, seed, psi, evals(run, psi))


def row(preset: str, seed: int, psi: float, scores: dict) -> dict:
    """A table row: the preset (with its truncation psi unless 1), the seed, the scores."""
    name = preset if psi == 1 else f"{preset}, psi {psi:g}"
    return {"preset": name, "seed": seed, "name": preset, **scores}


def real_row(dataset: str) -> dict:
    """The same classifier on the real test images, per class: the ceiling of a G that
    draws like the data (a class the classifier confuses on real images caps the score)."""
    x, y = load_images01(dataset, "test", None)
    hit = predict(load_classifier(dataset), x)[1].argmax(1) == y
    names = static_spec(dataset).class_names
    per = {f"fidelity_{n}": float(hit[y == c].float().mean()) for c, n in enumerate(names)}
    row = {"preset": f"real test images ({dataset})", "seed": "-"}
    return {**row, "fidelity": float(hit.float().mean()), **per}


def table(rows: list[dict]) -> str:
    """Markdown: one line per preset and seed, the overall and per-class fidelity, FID."""
    names = [k.removeprefix("fidelity_") for k in rows[0] if k.startswith("fidelity_")]
    head = ["preset", "seed", "fidelity", "worst class", *names, "FID"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        per = [r.get(f"fidelity_{n}", float("nan")) for n in names]
        worst = min(zip(per, names, strict=True))
        fid = f"{r['fid']:.2f}" if "fid" in r else "-"
        cells = [r["preset"], str(r["seed"]), f"{100 * r['fidelity']:.2f}"]
        cells += [f"{worst[1]} {100 * worst[0]:.1f}", *(f"{100 * p:.1f}" for p in per), fid]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=PRESETS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=float, default=1.0, help="training budget of every run")
    p.add_argument("--n", type=int, default=5000, help="samples read for fidelity (all classes)")
    p.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    p.add_argument("--root", default="runs/label_fidelity")
    p.add_argument("--no-fid", dest="fid", action="store_false")
    p.add_argument("--fid-n", type=int, default=10000, help="samples FID compares")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config override for every run, as advnets train --set (repeatable)",
    )
    p.add_argument(
        "--truncation",
        type=float,
        metavar="PSI",
        help="score samples drawn at this truncation psi (default: each run's own)",
    )
    p.add_argument("--table-only", action="store_true", help="tabulate the finished runs")
    args = p.parse_args()
    Path(args.root).mkdir(parents=True, exist_ok=True)
    todo = [(preset, seed) for seed in args.seeds for preset in args.presets]
    if args.table_only:  # the runs finished so far, nothing trained
        runs = [(p, s, Path(args.root) / f"{p}-s{s}") for p, s in todo]
        found = [(p, s, run_truncation(r, args.truncation), r) for p, s, r in runs if r.is_dir()]
        rows = [row(p, s, psi, evals(r, psi)) for p, s, psi, r in found]
        rows = [r for r in rows if "fidelity" in r]
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda ps: one_run(*ps, args), todo))
    order = [*PRESETS, *args.presets]
    rows.sort(key=lambda r: (order.index(r["name"]), r["seed"]))
    budget = "as each was trained" if args.table_only else f"{args.epochs} epochs per run"
    print(f"budget: {budget}; fidelity on {args.n} samples")
    for dataset in ("mnist", "fashion"):
        chosen = [r for r in rows if r["name"].endswith(dataset)]
        if chosen:  # the classifier on real images last: the ceiling of the column above
            print(f"\n{dataset}\n\n{table([*chosen, real_row(dataset)])}")


if __name__ == "__main__":
    main()
