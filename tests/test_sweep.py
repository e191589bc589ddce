"""Sweeps (benchmarks/executor.py): a Ray-executor sweep writes the rows the local executor
writes for the same seeds, and without Ray `--executor ray` says how to install it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SWEEP = [
    sys.executable, str(REPO / "benchmarks" / "mode_collapse.py"),
    "--seeds", "2", "--steps", "20", "--data", "ring", "--setup", "small",
    "--methods", "GAN", "PacGAN2", "--set", "train.threads=1",
]  # fmt: skip
TIMING = ("seconds",)  # the only fields that depend on where and when a run trained


def sweep(tmp_path: Path, name: str, *extra: str) -> dict[tuple, dict]:
    results = tmp_path / f"{name}.jsonl"
    figure = ["--figure", str(tmp_path / f"{name}.png")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [*SWEEP, "--results", str(results), *figure, *extra],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    return {(r["method"], r["seed"]): r for r in rows}


def test_a_ray_sweep_writes_the_rows_of_a_local_sweep(tmp_path):
    pytest.importorskip("ray")
    local = sweep(tmp_path, "local")
    ray = sweep(tmp_path, "ray", "--executor", "ray", "--cpus-per-task", "1")
    assert sorted(ray) == sorted(local) == [("GAN", 0), ("GAN", 1), ("PacGAN2", 0), ("PacGAN2", 1)]
    for key, row in local.items():
        assert {k: v for k, v in ray[key].items() if k not in TIMING} == {
            k: v for k, v in row.items() if k not in TIMING
        }
    assert len(local["GAN", 0]["samples"]) == 2500


def test_executor_ray_without_ray_says_how_to_install_it(tmp_path):
    # a Python that cannot import ray (a stub module that raises ImportError)
    (tmp_path / "ray.py").write_text("raise ImportError('no ray here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    done = subprocess.run(
        [*SWEEP, "--executor", "ray"], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith('--executor ray needs Ray: pip install -e ".[sweep]"')
    )
