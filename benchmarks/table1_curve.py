"""Validation Parzen against training time for runs of `reproduce_table1.py`: one line per
run (seed), against the wall-clock minutes its metrics.jsonl logs and, where the results
file holds the run's row, against CPU minutes (the run's measured CPU seconds spread evenly
over its epochs, which cost the same). Prints each run's curve and best validation score.

    python benchmarks/table1_curve.py runs/table1-gan-mnist-10min-seed{0,1,2} \
        [--results runs/table1-10min.jsonl] [--out docs/table1_10min.png]
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reproduce_table1 import run_name  # noqa: E402

from advnets.errors import exit_on_error  # noqa: E402
from advnets.files import save_figure  # noqa: E402
from advnets.viz import read_metrics  # noqa: E402

TARGET = 225.0  # the paper's Table 1 row


def curve(run_dir: Path, cpu_per_step: float | None) -> list[dict]:
    """(step, epoch, wall minutes, CPU minutes, Parzen, s.e.) at each evaluation of a run;
    wall minutes are those of the training row logged at the same step (or just before)."""
    rows, eval_rows = read_metrics(run_dir / "metrics.jsonl")
    points = []
    for e in eval_rows:
        logged = [r for r in rows if r["step"] <= e["step"]]
        if not logged or "parzen" not in e["eval"]:
            continue
        last = logged[-1]
        per_step = last["epoch"] / last["step"] if last["step"] else 0.0
        points.append(
            {
                "step": e["step"],
                "epoch": round(e["step"] * per_step, 2),
                "wall_min": round(last["seconds"] / 60, 2),
                "cpu_min": round(e["step"] * cpu_per_step / 60, 2) if cpu_per_step else None,
                "parzen": round(e["eval"]["parzen"], 1),
                "se": round(e["eval"].get("parzen_se", 0.0), 1),
            }
        )
    return points


def cpu_seconds_per_step(results: Path | None, run_dir: Path) -> float | None:
    """The run's CPU seconds of training over its steps, from its results row (the row
    whose seed names this folder)."""
    if results is None or not results.is_file():
        return None
    for line in results.read_text().splitlines():
        row = json.loads(line)
        if run_name(row["preset"], row["seed"]) == run_dir.name and row.get("cpu_seconds"):
            steps = read_metrics(run_dir / "metrics.jsonl")[0][-1]["step"]
            return row["cpu_seconds"] / steps
    return None


def plot(curves: dict[str, list[dict]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = ["wall_min"] + (
        ["cpu_min"] if any(p["cpu_min"] for c in curves.values() for p in c) else []
    )
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6), dpi=100, squeeze=False)
    labels = {"wall_min": "wall-clock minutes of training", "cpu_min": "CPU minutes of training"}
    for ax, key in zip(axes[0], keys, strict=True):
        for name, points in curves.items():
            pts = [p for p in points if p[key] is not None]
            ax.errorbar(
                [p[key] for p in pts],
                [p["parzen"] for p in pts],
                yerr=[p["se"] for p in pts],
                marker="o",
                ms=3,
                lw=1,
                capsize=2,
                label=name,
            )
        ax.axhline(TARGET, color="k", ls="--", lw=0.8, label=f"paper {TARGET:g}")
        ax.axvline(10, color="grey", ls=":", lw=0.8)
        ax.set_xlabel(labels[key])
        ax.set_ylim(max(0.0, ax.get_ylim()[0]), None)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation Parzen (nats)")
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--results", type=Path, help="reproduce_table1.py --results file")
    parser.add_argument("--out", type=Path, default=Path("docs/table1_10min.png"))
    args = parser.parse_args()
    curves = {}
    for run_dir in args.runs:
        points = curve(run_dir, cpu_seconds_per_step(args.results, run_dir))
        curves[run_dir.name] = points
        for p in points:
            print(json.dumps({"run": run_dir.name, **p}))
        if points:
            best = max(points, key=lambda p: p["parzen"])
            print(f"{run_dir.name}: best validation {best['parzen']} at epoch {best['epoch']}")
    print(f"wrote {plot(curves, args.out)}")


if __name__ == "__main__":
    exit_on_error(main)
