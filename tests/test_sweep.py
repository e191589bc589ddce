"""Sweeps (benchmarks/executor.py): a Ray-executor sweep writes the rows the local executor
writes for the same seeds, and without Ray `--executor ray` says how to install it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_in_process

REPO = Path(__file__).resolve().parents[1]
SWEEP = [
    sys.executable, str(REPO / "benchmarks" / "mode_collapse.py"),
    "--seeds", "2", "--steps", "20", "--data", "ring", "--setup", "small",
    "--methods", "GAN", "PacGAN2", "--set", "train.threads=1",
]  # fmt: skip
TIMING = ("seconds",)  # the only fields that depend on where and when a run trained


def sweep(tmp_path: Path, name: str, *extra: str, apart: bool = True) -> dict[tuple, dict]:
    """The sweep's rows by (method, seed): run as a script in a fresh interpreter (the Ray
    executor starts its own Ray there), or `apart=False` in this process."""
    results = tmp_path / f"{name}.jsonl"
    figure = ["--figure", str(tmp_path / f"{name}.png")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO)}
    args = [*SWEEP, "--results", str(results), *figure, *extra]
    if apart:
        done = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    else:
        done = run_in_process(args)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    return {(r["method"], r["seed"]): r for r in rows}


def test_a_ray_sweep_writes_the_rows_of_a_local_sweep(tmp_path):
    pytest.importorskip("ray")
    local = sweep(tmp_path, "local", apart=False)
    ray = sweep(tmp_path, "ray", "--executor", "ray", "--cpus-per-task", "1")
    assert sorted(ray) == sorted(local) == [("GAN", 0), ("GAN", 1), ("PacGAN2", 0), ("PacGAN2", 1)]
    for key, row in local.items():
        assert {k: v for k, v in ray[key].items() if k not in TIMING} == {
            k: v for k, v in row.items() if k not in TIMING
        }
    assert len(local["GAN", 0]["samples"]) == 2500


def test_executor_ray_without_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    done = run_in_process([*SWEEP, "--executor", "ray"])
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith('--executor ray needs Ray: pip install -e ".[sweep]"')
    )
