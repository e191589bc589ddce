"""Bad input to the benchmark scripts ends in one line (argparse's, or `script.py: error:`
with status 2) before any work, and the results keys hold every option that changes a
row's numbers. Fast: parsers, small functions and whole scripts (as `__main__`,
`run_in_process`) run in this process; one script runs in a fresh interpreter."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO, run_in_process

from advnets.config import load_preset
from advnets.data import load_images01
from advnets.errors import ConfigError

BENCHMARKS = REPO / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    """Import a benchmark script as a module (they import their neighbours by bare name)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import importlib

    return importlib.import_module


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    """A benchmark script's command line, run in this process (`run_in_process`)."""
    return run_in_process([sys.executable, str(BENCHMARKS / name), *args])


def script_apart(name: str, *args: str) -> subprocess.CompletedProcess:
    """A benchmark script in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"},
    )


def one_line_error(done: subprocess.CompletedProcess, name: str) -> str:
    """The last stderr line of a script that stopped with status 2 and no traceback."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"{name}: error: ")
    return line


ZERO_COUNTS = [
    ("mode_collapse", ["--steps", "0"]),
    ("mode_collapse", ["--seeds", "0"]),
    ("ddp", ["--processes", "0"]),
    ("ddp", ["--rounds", "0"]),
    ("ddp", ["--steps", "0"]),
    ("maxout", ["--repeats", "0"]),
    ("maxout", ["--threads", "0"]),
    ("maxout", ["--steps", "-1"]),  # 0 is allowed there: no training steps timed
    ("minibatch_discrimination", ["--repeats", "0"]),
    ("minibatch_discrimination", ["--batch", "0"]),
    ("mnist_settings", ["gan-mnist", "--every", "0"]),
    ("mnist_settings", ["gan-mnist", "--epochs", "0"]),
    ("mnist_settings", ["gan-mnist", "--epochs", "2", "--every", "4"]),  # nothing to score
    ("loss_zoo", ["--seeds", "0"]),
    ("loss_zoo", ["--n", "0"]),
    ("loss_zoo", ["--minutes", "0"]),
    ("stacked_mnist", ["--seeds", "0"]),
    ("stacked_mnist", ["--steps", "0"]),
]


@pytest.mark.parametrize(("name", "argv"), ZERO_COUNTS, ids=[" ".join(a) for _, a in ZERO_COUNTS])
def test_zero_counts_are_refused_by_the_parser(bench, capsys, name, argv):
    with pytest.raises(SystemExit) as stop:
        bench(name).parse_args(argv)
    assert stop.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert ": error: " in line and ("at least" in line or "positive" in line or "more than" in line)


@pytest.mark.parametrize("processes", ["1000", "3"])
def test_ddp_refuses_processes_that_do_not_share_a_batch_out(bench, capsys, processes):
    with pytest.raises(SystemExit):
        bench("ddp").parse_args(["--presets", "gan-mnist", "--processes", processes])
    assert "gan-mnist's batch of 100 images is shared out equally" in capsys.readouterr().err
    bench("ddp").parse_args(["--presets", "gan-mnist", "--processes", "4"])


def test_timing_refuses_zero_repeats_and_steps(bench):
    timing = bench("timing")
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        timing.best_of_3(lambda: None, 0)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        timing.step_ms("gan-grid", [], 0)


def test_throughput_zero_steps_is_one_line():
    done = script("throughput.py", "--steps", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("--steps: must be at least 1, got 0")


def test_throughput_profiles_a_single_step(data_root):
    done = script(
        "throughput.py", "--profile", "--skip-bf16", "--steps", "1", "--data", str(data_root)
    )
    assert done.returncode == 0, done.stderr
    assert any(line.startswith("gan-mnist") for line in done.stdout.splitlines())


def test_maxout_without_its_data_ends_with_one_line(tmp_path):
    done = script_apart("maxout.py", "--data", str(tmp_path / "empty"), "--repeats", "1")
    line = one_line_error(done, "maxout.py")
    assert "train-images-idx3-ubyte.gz not found" in line and "downloading is off" in line
    assert not (tmp_path / "empty").exists()  # nothing fetched, no folder made


def test_mnist_settings_scores_on_the_presets_own_data_set(bench, data_root):
    ms = bench("mnist_settings")
    fashion = load_preset("dcgan-fashion", [f"data.root={data_root}"])
    valid, test, seed = ms.scoring_images(fashion, False, 50)
    want_valid = load_images01("fashion", "valid", str(data_root), 1000)[0].flatten(1)
    want_test = load_images01("fashion", "test", str(data_root), 50)[0].flatten(1)
    assert torch.equal(valid, want_valid) and torch.equal(test, want_test) and seed == 0
    valid, test, seed = ms.scoring_images(fashion, True, 50)
    want = load_images01("fashion", "valid", str(data_root), 3000)[0].flatten(1)
    assert torch.equal(test, want[1000:]) and seed == fashion.train.seed + 3
    mnist = load_preset("gan-mnist", [f"data.root={data_root}"])
    _, test, _ = ms.scoring_images(mnist, False, 50)
    assert torch.equal(test, load_images01("mnist", "test", str(data_root), 50)[0].flatten(1))
    with pytest.raises(ConfigError, match="trains on ring"):
        ms.scoring_images(load_preset("gan-ring"), False, 50)


def test_mnist_settings_maps_tanh_samples_onto_the_images_scale(bench, monkeypatch):
    ms = bench("mnist_settings")
    monkeypatch.setattr(ms, "draw_samples", lambda G, cfg, n, seed: torch.tensor([-1.0, 0.0, 1.0]))
    cfg = load_preset("dcgan-fashion")  # G's tanh: samples on [-1, 1]
    assert ms.samples01(SimpleNamespace(G_sample=None), cfg, 0).tolist() == [0.0, 0.5, 1.0]


def fake_zoo_row(args, dataset, name, seed):
    return {"fid": float(args.n), "kid": 0.0, "classes": 10, "class_kl": 0.0, "g_updates": 1}


def test_loss_zoo_keys_runs_by_sample_count_and_threads(bench, monkeypatch, tmp_path):
    zoo = bench("loss_zoo")
    monkeypatch.setattr(zoo, "zoo_row", fake_zoo_row)
    results = tmp_path / "zoo.jsonl"
    base = ["--datasets", "mnist", "--losses", "NS", "--seeds", "1", "--results", str(results)]
    rows = zoo.run_zoo(zoo.parse_args([*base, "--n", "200"]), "mnist")
    assert rows["NS"][0]["fid"] == 200.0
    rows = zoo.run_zoo(zoo.parse_args([*base, "--n", "5000"]), "mnist")
    assert rows["NS"][0]["fid"] == 5000.0  # trained again, not the --n 200 row
    zoo.run_zoo(zoo.parse_args([*base, "--n", "200", "--threads", "1"]), "mnist")
    saved = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["n"], r["threads"]) for r in saved] == [(200, None), (5000, None), (200, 1)]
    zoo.run_zoo(zoo.parse_args([*base, "--n", "200"]), "mnist")  # saved: nothing new
    assert len(results.read_text().splitlines()) == 3


def zoo_line(**fields) -> str:
    row = {"dataset": "mnist", "loss": "NS", "seed": 0, "clock": "wall", "minutes": 1.0}
    row.update(batch=64, n=200, threads=None, set="", kid=0.0, classes=10, class_kl=0.0)
    row.update(g_updates=10, img_per_s=5.0, fid=1.0)
    return json.dumps({**row, **fields}) + "\n"


def test_loss_zoo_table_averages_only_seeds(bench, capsys, tmp_path):
    zoo = bench("loss_zoo")
    path = tmp_path / "zoo.jsonl"
    old = json.loads(zoo_line(fid=7.0))
    del old["n"], old["threads"]  # a row from before n and threads were keyed
    path.write_text(
        zoo_line(fid=1.0)
        + zoo_line(seed=1, fid=3.0)
        + zoo_line(minutes=10.0, fid=100.0)
        + zoo_line(clock="cpu", fid=50.0)
        + zoo_line(seed=1, fid=5.0)  # seed 1 again: the later row counts
        + json.dumps(old)
        + "\n"
    )
    groups = zoo.saved_rows([path])
    assert len(groups) == 4
    assert [[r["fid"] for r in g["NS"]] for g in groups.values()] == [
        [1.0, 5.0],
        [100.0],
        [50.0],
        [7.0],
    ]
    zoo.print_saved([path])
    out = capsys.readouterr().out
    assert "NS | 3.00 ± 2.83" in out and "NS | 100.00 ± 0.00" in out
    assert "mnist (1.0 min wall clock, batch 64, n 200, threads default)" in out
    assert "n ?" in out  # the old row, apart


def test_loss_zoo_table_of_bad_files_is_one_line(bench, tmp_path):
    done = script("loss_zoo.py", "--table", str(tmp_path / "missing.jsonl"))
    assert "missing.jsonl: no such results file" in one_line_error(done, "loss_zoo.py")
    path = tmp_path / "foreign.jsonl"
    path.write_text(zoo_line() + json.dumps({"loss": "NS", "fid": 1.0}) + "\n")
    with pytest.raises(ConfigError, match=r"line 2: not a loss-zoo results row \(no 'dataset'"):
        bench("loss_zoo").saved_rows([path])


def test_mode_collapse_keys_runs_by_device(bench, tmp_path):
    mc = bench("mode_collapse")
    base = ["--seeds", "1", "--steps", "20", "--data", "ring", "--setup", "small"]
    cpu = mc.job(mc.parse_args(base), "ring", "GAN", 0).key
    cuda = mc.job(mc.parse_args([*base, "--device", "cuda"]), "ring", "GAN", 0).key
    assert cpu["device"] == "cpu" and cuda["device"] == "cuda"
    path = tmp_path / "runs.jsonl"  # a row from before the device was keyed: a CPU run
    old = {k: v for k, v in cpu.items() if k != "device"}
    path.write_text(json.dumps({**old, "modes": 8, "seconds": 1.0}) + "\n")
    results = mc.Results(path, mc.KEY, defaults=mc.KEY_DEFAULTS)
    assert results.get(**cpu)["modes"] == 8 and results.get(**cuda) is None


def test_stacked_mnist_keys_runs_by_device(bench, monkeypatch, tmp_path):
    sm = bench("stacked_mnist")
    asked = []

    def fake_run(overrides, seed, steps, args):
        asked.append(args.device)
        return {"modes": 500, "reverse_kl": 1.0, "seconds": 0.5}

    monkeypatch.setattr(sm, "train_row", fake_run)
    argv = ["--seeds", "1", "--first-seed", "1", "--methods", "GAN"]
    argv += ["--results", str(tmp_path / "runs.jsonl")]
    sm.collect(sm.parse_args(argv))
    sm.collect(sm.parse_args([*argv, "--device", "cuda"]))
    sm.collect(sm.parse_args(argv))  # saved: not trained again
    assert asked == ["cpu", "cuda"]


def test_a_failed_local_run_is_reported_and_the_sweep_goes_on(bench, tmp_path, capsys):
    """The local executor, as the Ray one: the other runs train and are saved, and the
    failure ends the sweep with one line counting it."""
    from advnets.errors import DivergedError

    executor, results = bench("executor"), bench("results")
    saved = results.Results(tmp_path / "r.jsonl", ("seed",))

    def fails(error: Exception) -> Callable[[], dict]:
        def run() -> dict:
            raise error

        return run

    jobs = [
        executor.Job({"seed": 0}, fails(DivergedError("diverged at step 9"))),
        executor.Job({"seed": 1}, fails(ZeroDivisionError("a bug"))),
        executor.Job({"seed": 2}, lambda: {"score": 7}),
    ]
    local = SimpleNamespace(executor="local")
    with pytest.raises(SystemExit, match=r"2 of 3 runs failed, first \{'seed': 0\}"):
        executor.run_jobs(saved, jobs, local)
    err = capsys.readouterr().err
    assert "diverged at step 9" in err and "ZeroDivisionError: a bug" in err  # its traceback
    again = results.Results(tmp_path / "r.jsonl", ("seed",))
    assert again.get(seed=2) == {"seed": 2, "score": 7} and again.get(seed=0) is None
    # bad input would stop every run alike: it ends the sweep at once, with its one line
    with pytest.raises(SystemExit, match="first \\{'seed': 4\\}: AssertionError; finished"):
        executor.run_jobs(again, [executor.Job({"seed": 4}, fails(AssertionError()))], local)
    jobs = [executor.Job({"seed": 3}, fails(ConfigError("no data"))), jobs[2]]
    with pytest.raises(ConfigError, match="no data"):
        executor.run_jobs(again, jobs, local)


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "x"])
def test_ray_resources_per_task_are_finite_and_not_negative(bench, capsys, value):
    with pytest.raises(SystemExit):
        bench("mode_collapse").parse_args(["--executor", "local", "--cpus-per-task", value])
    assert "--cpus-per-task" in capsys.readouterr().err


def test_a_task_larger_than_the_local_ray_is_refused(bench):
    check = bench("executor")._check_fits
    check({"CPU": 2.0}, SimpleNamespace(cpus_per_task=1.0, gpus_per_task=0.0))
    with pytest.raises(SystemExit, match="--gpus-per-task 1: this machine's Ray has 0 GPUs"):
        check({"CPU": 2.0}, SimpleNamespace(cpus_per_task=1.0, gpus_per_task=1.0))


def test_a_results_row_cut_off_mid_write_is_dropped(bench, tmp_path, capsys):
    results = bench("results")
    path = tmp_path / "r.jsonl"
    path.write_text('{"seed": 0, "score": 1}\n{"seed": 1, "sc')
    saved = results.Results(path, ("seed",))
    assert "dropping its last line" in capsys.readouterr().out
    assert saved.get(seed=0) == {"seed": 0, "score": 1} and saved.get(seed=1) is None
    saved.add({"seed": 1, "score": 2})
    assert results.Results(path, ("seed",)).get(seed=1) == {"seed": 1, "score": 2}
    whole = tmp_path / "whole.jsonl"  # a whole last row without its newline is kept
    whole.write_text('{"seed": 0, "score": 1}')
    results.Results(whole, ("seed",)).add({"seed": 1, "score": 2})
    assert results.Results(whole, ("seed",)).get(seed=0) == {"seed": 0, "score": 1}
    assert "dropping" not in capsys.readouterr().out


def test_table1_curve_reads_a_runs_evaluations(bench, tmp_path):
    """table1_curve.py: each evaluation at the wall-clock minutes of the training row logged
    at its step, CPU minutes from the results row spread evenly over the steps, and a
    picture; a run without the results row has no CPU minutes."""
    run = tmp_path / "table1-gan-mnist-10min-seed1"
    run.mkdir()
    rows = [{"loss_d": 1.0, "step": s, "epoch": s / 500, "seconds": s * 0.06} for s in (500, 1000)]
    evals = [
        {"eval": {"parzen": p, "parzen_se": 2.0}, "step": s} for s, p in ((500, 30), (1000, 110))
    ]
    lines = [rows[0], evals[0], rows[1], evals[1]]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    results = tmp_path / "results.jsonl"
    row = {"preset": "gan-mnist-10min", "seed": 1, "cpu_seconds": 120.0}
    results.write_text(json.dumps(row) + "\n")
    curve = bench("table1_curve")
    per_step = curve.cpu_seconds_per_step(results, run)
    assert per_step == pytest.approx(0.12)
    points = curve.curve(run, per_step)
    assert [(p["epoch"], p["wall_min"], p["cpu_min"], p["parzen"]) for p in points] == [
        (1.0, 0.5, 1.0, 30.0),
        (2.0, 1.0, 2.0, 110.0),
    ]
    assert curve.cpu_seconds_per_step(None, run) is None
    assert curve.cpu_seconds_per_step(results, tmp_path / "table1-gan-mnist-10min-seed0") is None
    out = curve.plot({run.name: points}, tmp_path / "curve.png")
    assert out.stat().st_size > 1000
    # a preset given as a file names its run folder by the file's stem, not its path
    name = bench("reproduce_table1").run_name
    assert name("/tmp/t1/ramp.yaml", 0) == "table1-ramp-seed0"
    assert name("gan-mnist", None) == "table1-gan-mnist"
