import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, run_in_process

MODE_COLLAPSE = [
    sys.executable,
    str(REPO / "benchmarks" / "mode_collapse.py"),
    "--seeds",
    "2",
    "--steps",
    "20",
    "--data",
    "ring",
    "--setup",
    "small",
    "--methods",
    "GAN",
    "PacGAN2",
]


def run(args: list[str]) -> subprocess.CompletedProcess:
    """A benchmark's command line, run in this process (`run_in_process`)."""
    return run_in_process(args)


def run_apart(args: list[str]) -> subprocess.CompletedProcess:
    """A benchmark's command line in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"},
    )


def trained(stdout: str) -> list[str]:
    """The line printed for each run trained."""
    return [line for line in stdout.splitlines() if line.startswith("  ring ")]


def table(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("GAN ", "PacGAN2 "))]


@pytest.fixture(scope="module")
def mode_collapse_sweep(tmp_path_factory) -> tuple[str, subprocess.CompletedProcess]:
    """The four small runs of MODE_COLLAPSE, trained once for the tests that start from
    them: the results file's text and the first call's output."""
    folder = tmp_path_factory.mktemp("sweep")
    results = folder / "runs.jsonl"
    first = run([*MODE_COLLAPSE, "--results", str(results), "--figure", str(folder / "a.png")])
    assert first.returncode == 0, first.stderr
    return results.read_text(), first


def test_mode_collapse_results_file_resumes_without_training(tmp_path, mode_collapse_sweep):
    results = tmp_path / "runs.jsonl"
    args = [*MODE_COLLAPSE, "--results", str(results), "--figure", str(tmp_path / "a.png")]
    text, first = mode_collapse_sweep
    results.write_text(text)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["method"], r["seed"]) for r in rows] == [
        ("GAN", 0),
        ("GAN", 1),
        ("PacGAN2", 0),
        ("PacGAN2", 1),
    ]
    assert all(r["setup"] == "small" and r["steps"] == 20 and r["modes_total"] == 8 for r in rows)
    assert len(rows[0]["samples"]) == 2500 and "samples" not in rows[1]
    assert len(trained(first.stdout)) == 4

    # the same command again trains nothing and prints the same table and figure
    second = run(args)
    assert second.returncode == 0, second.stderr
    assert trained(second.stdout) == []
    assert len(table(first.stdout)) == 2 and table(second.stdout) == table(first.stdout)
    assert (tmp_path / "a.png").is_file()
    assert len(results.read_text().splitlines()) == 4


def test_mode_collapse_refuses_a_foreign_results_file(tmp_path):
    results = tmp_path / "other.jsonl"
    results.write_text('{"loss": "ns", "fid": 1.0}\n')
    done = run([*MODE_COLLAPSE, "--results", str(results)])
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith(f"{results}, line 1: not a results")


def test_mode_collapse_set_makes_new_runs_and_old_rows_still_count(tmp_path, mode_collapse_sweep):
    results = tmp_path / "runs.jsonl"
    args = [*MODE_COLLAPSE, "--results", str(results), "--figure", str(tmp_path / "a.png")]
    results.write_text(mode_collapse_sweep[0])
    # rows written before --set existed carry no "set" field: they stay the runs without it
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    results.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "set"}) + "\n" for r in rows)
    )
    assert trained(run(args).stdout) == []

    changed = run([*args, "--set", "optim.G.lr=0.001"])
    assert changed.returncode == 0, changed.stderr
    assert len(trained(changed.stdout)) == 4
    assert "(optim.G.lr=0.001)" in changed.stdout
    new = [json.loads(line) for line in results.read_text().splitlines()][4:]
    assert [r["set"] for r in new] == ["optim.G.lr=0.001"] * 4

    typo = run([*args, "--set", "optim.G.lr_milestonez=[5]"])
    assert typo.returncode != 0
    assert "unknown config key 'optim.G.lr_milestonez'" in typo.stderr.strip().splitlines()[-1]


def test_mode_collapse_scores_jacobian_truncation_and_the_weight_average(tmp_path):
    results = tmp_path / "runs.jsonl"
    args = [*MODE_COLLAPSE, "--results", str(results), "--figure", str(tmp_path / "a.png")]
    plain = run([*args, "--jacobian-keep", "0.95"])
    assert plain.returncode == 0, plain.stderr
    assert "Jacobian truncation keeping 95% of G's draws" in plain.stdout
    assert len(table(plain.stdout)) == 4  # each method in both tables
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    for row in rows:
        assert set(row["truncated"]) == {"0.99", "0.97", "0.95", "0.9", "0.8"}
        assert all(
            t["modes_total"] == 8 and 0 <= t["high_quality"] <= 1 for t in row["truncated"].values()
        )
    assert len(rows[0]["truncated"]["0.95"]["samples"]) == 2500
    assert "samples" not in rows[1]["truncated"]["0.95"]

    # rows from before truncation was scored are named, not tabulated
    results.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "truncated"}) + "\n" for r in rows)
    )
    old = run([*args, "--jacobian-keep", "0.95"])
    assert old.returncode == 0, old.stderr
    assert trained(old.stdout) == [] and "runs from before truncation" in old.stdout

    # the same training, scored by G's weight average: other samples
    averaged = run([*args, "--set", "train.ema_decay=0.5"])
    assert averaged.returncode == 0, averaged.stderr
    new = [json.loads(line) for line in results.read_text().splitlines()][4:]
    assert new[0]["samples"] != rows[0]["samples"]


def test_stacked_mnist_shares_seeds_out_and_keys_runs_by_set(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import stacked_mnist

    asked = []

    def fake_run(overrides, seed, steps, args):  # training and the mode count take minutes
        asked.append((overrides, seed))
        return {"modes": 500 + seed, "reverse_kl": 1.0, "seconds": 0.5}

    monkeypatch.setattr(stacked_mnist, "train_row", fake_run)
    results = tmp_path / "runs.jsonl"
    argv = [
        "--seeds",
        "2",
        "--first-seed",
        "3",
        "--methods",
        "GAN",
        "PacGAN2",
        "--results",
        str(results),
    ]
    rows, firsts = stacked_mnist.collect(stacked_mnist.parse_args(argv))
    assert asked == [
        ([], 3),
        ([], 4),
        (stacked_mnist.METHODS["PacGAN2"], 3),
        (stacked_mnist.METHODS["PacGAN2"], 4),
    ]
    assert [r["modes"] for r in rows["GAN"]] == [503, 504] and firsts == {}

    asked.clear()
    rows, _ = stacked_mnist.collect(stacked_mnist.parse_args(argv))  # all saved: no training
    assert asked == [] and [r["seed"] for r in rows["PacGAN2"]] == [3, 4]
    stacked_mnist.collect(
        stacked_mnist.parse_args(
            [*argv[:-4], "GAN", "--results", str(results), "--set", "optim.G.lr=0.001"]
        )
    )
    assert asked == [(["optim.G.lr=0.001"], 3), (["optim.G.lr=0.001"], 4)]
    saved = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["set"] for r in saved] == [""] * 4 + ["optim.G.lr=0.001"] * 2

    typo = run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "stacked_mnist.py"),
            "--set",
            "optim.G.lr_milestonez=[5]",
        ]
    )
    assert typo.returncode != 0
    assert "unknown config key 'optim.G.lr_milestonez'" in typo.stderr.strip().splitlines()[-1]


def test_semi_supervised_benchmark_resumes_from_its_results_file(tmp_path, data_root):
    """Two methods x one seed of a tiny budget: trained once, scored on the test set,
    printed again from the results file without training, then extended to twice the
    budget by resuming the same runs: the same numbers as runs of that budget."""
    results = tmp_path / "ssl.jsonl"
    args = [
        sys.executable, str(REPO / "benchmarks" / "semi_supervised.py"),
        "--methods", "improved-gan", "supervised", "--labels", "20", "--seeds", "1",
        "--epochs", "0.02", "--data", str(data_root), "--out", str(tmp_path / "runs"),
        "--set", "model.discriminator.hidden=[32]", "--set", "model.generator.hidden=[32]",
        "--set", "train.eval_every=5", "--set", "train.eval_samples=200",
        "--results", str(results),
    ]  # fmt: skip
    first = run(args)
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["method"], r["labels"]) for r in rows] == [("improved-gan", 20), ("supervised", 20)]
    assert all(0.0 <= r["test_accuracy"] <= 1.0 and r["valid_curve"] for r in rows)
    best = tmp_path / "runs" / "improved-gan-mnist-improved-gan-20-s0" / "best.pt"
    scored = run([sys.executable, "-m", "advnets.cli", "eval", str(best), "--metric", "accuracy"])
    assert scored.stdout.split()[-1] == str(rows[0]["test_errors"])  # best.pt was scored
    again = run(args)
    assert again.returncode == 0 and results.read_text().count("\n") == 2
    assert "| improved-gan (improved-gan-mnist) | 20 | 1 |" in again.stdout
    twice = [*args[: args.index("0.02")], "0.04", *args[args.index("0.02") + 1 :]]
    longer = run(twice)
    assert longer.returncode == 0, longer.stderr
    extended = [json.loads(line) for line in results.read_text().splitlines()][2:]
    assert [r["from_epoch"] for r in extended] == [0.02, 0.02]
    for short, long in zip(rows, extended, strict=True):  # the same run, resumed exactly
        assert len(long["valid_curve"]) == 2 * len(short["valid_curve"])
        assert long["valid_curve"][: len(short["valid_curve"])] == short["valid_curve"]
    reprint = run([*twice, "--curve"])  # four evaluations a run: windows of one
    windows = [line for line in reprint.stdout.splitlines() if "evaluations ending at" in line]
    assert [line.rsplit(": ", 1)[1] for line in windows] == [
        " / ".join(f"{a:.4f}" for a in r["valid_curve"]) for r in extended
    ]
    direct = list(twice)  # the same budget in fresh folders
    direct[direct.index(str(tmp_path / "runs"))] = str(tmp_path / "direct")
    direct[direct.index(str(results))] = str(tmp_path / "direct.jsonl")
    assert run(direct).returncode == 0
    once = [json.loads(line) for line in (tmp_path / "direct.jsonl").read_text().splitlines()]
    for a, b in zip(extended, once, strict=True):  # extending equals training it in one go
        assert (a["valid_curve"], a["test_accuracy"]) == (b["valid_curve"], b["test_accuracy"])
    other = [*args, "--set", "options.unsupervised_weight=0.25"]  # another run, the same folders
    other[other.index(str(results))] = str(tmp_path / "other.jsonl")
    refused = run(other)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert "holds a run with options.unsupervised_weight=0.5, not the 0.25 asked for" in line
    shorter = list(args)  # the 0.04-epoch runs asked for as 0.02-epoch ones
    shorter[shorter.index(str(results))] = str(tmp_path / "shorter.jsonl")
    refused = run(shorter)
    assert refused.returncode == 2 and "past the 0.02 asked for" in refused.stderr, refused.stderr


def test_semi_supervised_benchmark_scores_a_run_that_never_validates(tmp_path, data_root):
    """With train.eval_every=0 there is no best.pt: the last weights are scored, the curve
    is empty, and no time per epoch is made up for a run that trained nothing more."""
    results = tmp_path / "ssl.jsonl"
    args = [
        sys.executable, str(REPO / "benchmarks" / "semi_supervised.py"),
        "--methods", "supervised", "--labels", "20", "--seeds", "1", "--epochs", "0.01",
        "--data", str(data_root), "--out", str(tmp_path / "runs"),
        "--set", "model.discriminator.hidden=[32]", "--set", "train.eval_every=0",
        "--results", str(results),
    ]  # fmt: skip
    done = run(args)
    assert done.returncode == 0, done.stderr
    (row,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert row["valid_curve"] == [] and row["best_valid"] is None
    assert 0.0 < row["test_accuracy"] < 1.0


def test_semi_supervised_curve_leaves_out_test_scores(tmp_path):
    """`advnets eval --metric accuracy` appends test rows to metrics.jsonl; the validation
    curve (and so best_valid) must not take them for validation scores."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from semi_supervised import validation_curve

    rows = [
        {"eval": {"accuracy": 0.5, "accuracy_split": "valid"}, "step": 5},
        {"losses": {"D": 1.0}, "step": 6},
        {"eval": {"accuracy": 0.7}, "step": 10},  # written before rows named their split
        {"eval": {"accuracy": 0.9, "accuracy_split": "test"}, "step": 10},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert validation_curve(tmp_path) == [0.5, 0.7]


def test_benchmark_without_its_data_ends_with_one_line(tmp_path):
    """A benchmark pointed at an empty data folder says which file is missing and how to
    point at it, in one line with status 2, not a traceback from the data loader."""
    args = [
        sys.executable, str(REPO / "benchmarks" / "semi_supervised.py"),
        "--methods", "supervised", "--labels", "20", "--seeds", "1", "--epochs", "0.01",
        "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "runs"),
        "--set", "data.download=false", "--results", str(tmp_path / "ssl.jsonl"),
    ]  # fmt: skip
    done = run_apart(args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("semi_supervised.py: error: mnist: train-images-idx3-ubyte.gz")
    assert "--data DIR or ADVNETS_DATA" in line


def test_vaegan_benchmark_scores_all_three_methods(tmp_path, data_root):
    """A tiny budget of VAE, GAN and VAE/GAN on the same narrow networks: one row each
    (reconstruction PSNR only where there is an encoder) and the Fig. 4-style picture."""
    results, grid = tmp_path / "vg.jsonl", tmp_path / "grid.png"
    args = [
        sys.executable, str(REPO / "benchmarks" / "vaegan.py"), "--epochs", "0.01",
        "--seeds", "1", "--data", str(data_root), "--out", str(tmp_path / "runs"),
        "--set", "model.encoder.channels=8", "--set", "model.generator.channels=8",
        "--set", "model.discriminator.channels=8", "--results", str(results),
        "--grid", str(grid), "--n", "500",
    ]  # fmt: skip
    done = run(args)
    assert done.returncode == 0, done.stderr
    rows = {r["method"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert set(rows) == {"vae", "gan", "vaegan"}
    assert "recon_psnr" in rows["vae"] and "recon_psnr" not in rows["gan"]
    assert all(r["fid"] > 0 and 1 <= r["classes"] <= 10 for r in rows.values())
    assert grid.is_file()
    other = [*args, "--set", "options.gamma=0.5", "--methods", "vaegan"]  # same folders
    other[other.index(str(results))] = str(tmp_path / "other.jsonl")
    refused = run(other)
    assert refused.returncode == 2, refused.stderr
    assert "holds a run with options.gamma=0.01, not the 0.5" in refused.stderr
    too_few = run([*args[: args.index("--n")], "--n", "1"])
    assert too_few.returncode == 2 and "FID needs more than the classifier's 128" in too_few.stderr


def test_restoration_benchmark_tables_every_restorer(tmp_path, data_root):
    """Two tasks on faces at a tiny budget: each row holds every baseline of its task, the
    GAN and the content-only G, the GAN's gap to the best baseline, and the picture; a
    second call prints from the results file without training."""
    results = tmp_path / "restore.jsonl"
    args = [
        sys.executable, str(REPO / "benchmarks" / "restoration.py"), "--datasets", "faces",
        "--tasks", "sr2", "inpaint", "--steps", "3", "--n", "8", "--data", str(data_root),
        "--out", str(tmp_path / "runs"), "--set", "model.generator.channels=8",
        "--set", "model.discriminator.channels=8", "--set", "train.batch_size=4",
        "--results", str(results), "--pictures", str(tmp_path / "pics"),
    ]  # fmt: skip
    first = run(args)
    assert first.returncode == 0, first.stderr
    rows = {r["task"]: r for r in map(json.loads, results.read_text().splitlines())}
    names = {task: [r["name"] for r in row["rows"]] for task, row in rows.items()}
    assert names == {
        "sr2": ["bicubic", "nearest", "GAN", "content-only"],
        "inpaint": ["biharmonic", "input", "GAN", "content-only"],
    }
    assert rows["sr2"]["best_baseline"] == "bicubic" and -5 < rows["sr2"]["gap_db"] < 5
    assert (tmp_path / "pics" / "inpaint-faces.png").is_file()
    again = run(args)
    assert again.returncode == 0 and results.read_text().count("\n") == 2
    assert "| bicubic |" in again.stdout
    # the same folders asked for another run (another --set, a shorter budget): refused,
    # where they were once continued with the new settings and scored under them
    other = [*args[: args.index("--results")], "--set", "options.adversarial_weight=0"]
    other += ["--results", str(tmp_path / "other.jsonl")]
    shorter = [*args[: args.index("3")], "2", *args[args.index("3") + 1 :]]
    shorter[shorter.index(str(results))] = str(tmp_path / "shorter.jsonl")
    for command, message in ((other, "options.adversarial_weight="), (shorter, "past the 2 asked")):
        refused = run(command)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert message in refused.stderr.strip().splitlines()[-1], refused.stderr


def test_throughput_profile_reports_where_a_step_goes(data_root):
    """`throughput.py --profile` prints ms a step and the matmul and cast shares, each a
    real share of the profiled time (0-100 %), the matmuls a visible part of a gan-mnist
    step."""
    args = [
        sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--profile",
        "--skip-bf16", "--steps", "4", "--data", str(data_root),
    ]  # fmt: skip
    done = run(args)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("gan-mnist"))
    ms, matmul, copy = (float(v) for v in re.findall(r"([\d.]+)(?: ms/step|%)", line))
    assert 0 < ms < 10_000
    assert 10 < matmul < 100 and 0 <= copy < 50


def test_plateau_averages_the_tenth_of_the_run_ending_at_each_quarter(monkeypatch):
    """The flattening summary of `--curve`: seeds averaged over four-evaluation windows of
    40-evaluation curves; curves too short for four windows give none."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from semi_supervised import plateau

    rising = {"valid_curve": [i / 100 for i in range(1, 41)]}
    flat = {"valid_curve": [0.5] * 40}
    width, ends, means = plateau([rising, flat])
    assert (width, ends) == (4, [10, 20, 30, 40])
    # the rising seed over evaluations 7-10 averages 0.085; with the flat one, 0.2925
    assert means == pytest.approx([0.2925, 0.3425, 0.3925, 0.4425], abs=1e-12)
    assert plateau([rising, {"valid_curve": [0.5] * 3}]) == (0, [], [])


def test_restoration_benchmark_scores_a_folder_of_photos(tmp_path):
    """--photos: two odd-sized pictures, two corruptions: a per-photo table of every
    classical method, the shipped G and a candidate (scored on its own task only), the G's
    paired gap, the picture; a second call reads every score from the results file."""
    from PIL import Image

    from advnets.restore import shipped_path

    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, shape in [("a", (37, 51, 3)), ("b", (40, 33))]:
        Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(folder / f"{name}.png")
    results = tmp_path / "photos.jsonl"
    args = [
        sys.executable, str(REPO / "benchmarks" / "restoration.py"), "--photos", str(folder),
        "--variants", "sr2", "inpaint-strokes", "--results", str(results),
        "--candidate", f"mine={shipped_path('sr2')}", "--pictures", str(tmp_path / "pics"),
    ]  # fmt: skip
    first = run(args)
    assert first.returncode == 0, first.stderr
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert {(r["variant"], r["photo"], r["restorer"]) for r in rows} == {
        (v, p, r)
        for v, names in [
            ("sr2", ("bicubic", "nearest", "GAN", "GAN mine")),
            ("inpaint-strokes", ("biharmonic", "GAN")),
        ]
        for p in ("a", "b")
        for r in names
    }
    sizes = {(r["photo"], tuple(r["size"])) for r in rows}
    assert sizes == {("a", (37, 51)), ("b", (40, 33))}
    assert re.search(
        r"GAN − nearest: [+-]\d+\.\d\d ± \d+\.\d\d dB \(paired over 2 photos\)", first.stdout
    )
    assert (tmp_path / "pics" / "photo-inpaint-strokes.png").is_file()
    again = run(args[:-2])
    assert again.returncode == 0 and results.read_text().count("\n") == len(rows)
    assert "| a |" in again.stdout
