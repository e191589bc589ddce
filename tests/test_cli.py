import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import run_in_process
from PIL import Image

from advnets.api import load_generator
from advnets.checkpoint import load_checkpoint
from advnets.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m advnets.cli ARGS` run in this process (its output and exit status)."""
    return run_in_process([sys.executable, "-m", "advnets.cli", *args])


def run_cli_apart(*args: str) -> subprocess.CompletedProcess:
    """`python -m advnets.cli ARGS` in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "advnets.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_presets_lists_descriptions(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "gan-mnist " in out and "goodfeli/adversarial" in out
    assert main(["presets", "--show", "gan-1d"]) == 0
    assert "gaussian1d" in capsys.readouterr().out


def test_help_everywhere():
    for cmd in ([], ["train"], ["sample"], ["presets"]):
        result = (run_cli_apart if cmd == [] else run_cli)(*cmd, "--help")
        assert result.returncode == 0 and "usage: advnets" in result.stdout


def test_train_and_sample_mnist_end_to_end(tmp_path, data_root, capsys):
    run_dir = tmp_path / "run"
    args = [
        "train",
        "gan-mnist",
        "--out",
        str(run_dir),
        "--steps",
        "30",
        "--data",
        str(data_root),
        "--set",
        "train.progress=false",
        "--set",
        "train.log_every=10",
        "--set",
        "model.generator.hidden=[64,64]",
        "--set",
        "model.discriminator.hidden=[32]",
    ]
    assert main(args) == 0
    assert {"checkpoint.pt", "config.yaml", "metrics.jsonl", "samples", "tb"} <= {
        p.name for p in run_dir.iterdir()
    }
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3
    assert any((run_dir / "tb").iterdir())
    grid = Image.open(run_dir / "samples" / "epoch_0001.png")
    assert grid.size == (8 * 30 + 2, 8 * 30 + 2)
    # a second train into the same folder refuses instead of overwriting the run
    assert main(args) == 2
    assert "already holds a run" in capsys.readouterr().err

    assert main(["sample", str(run_dir), "--n", "10000", "--out", str(tmp_path / "s.npy")]) == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (10000, 1, 28, 28) and samples.dtype == np.float32
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    assert main(["sample", str(run_dir), "--n", "16", "--out", str(tmp_path / "s.png")]) == 0
    assert Image.open(tmp_path / "s.png").size == (4 * 30 + 2, 4 * 30 + 2)

    assert main(["train", "--resume", str(run_dir), "--steps", "40"]) == 0
    assert "trained 40 steps" in capsys.readouterr().out
    assert main(["train", "--resume", str(run_dir), "--steps", "35"]) == 0  # past it already
    assert capsys.readouterr().out.startswith("nothing to train: already at 40 steps")


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "gan-mnsit", "--out", "{tmp}"], "unknown preset 'gan-mnsit'"),
        (
            ["train", "gan-1d", "--out", "{tmp}", "--set", "train.kk=1"],
            "unknown config key 'train.kk'",
        ),
        (["train", "gan-1d", "--out", "{tmp}", "--set", "train.k=two"], "'train.k' must be int"),
        (
            ["train", "gan-1d", "--out", "{tmp}", "--set", "loss.generator=nonsat"],
            "loss.generator='nonsat'; choose one of",
        ),
        (
            [
                "train",
                "gan-mnist",
                "--out",
                "{tmp}",
                "--data",
                "/nonexistent/folder",
                "--set",
                "data.download=false",
            ],
            "/nonexistent/folder",
        ),
        (["sample", "/nonexistent/run", "--out", "{tmp}/x.npy"], "no checkpoint at"),
        (["sample", "/nonexistent/run", "--out", "{tmp}/x.jpg"], "must end in .npy or .png"),
        (["train", "--resume", "/nonexistent/run"], "no checkpoint at"),
        (["train", "gan-ring", "--resume", "{tmp}"], "drop the preset 'gan-ring'"),
        (["train", "--resume", "{tmp}", "--out", "{tmp}/b"], "drop --out"),
    ],
)
def test_bad_input_one_line_errors(args, message, tmp_path):
    result = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2
    err = result.stderr.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_cli_trains_toy_preset(tmp_path):
    result = run_cli(
        "train",
        "gan-ring",
        "--steps",
        "50",
        "--out",
        str(tmp_path / "r"),
        "--set",
        "train.progress=false",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r" / "samples" / "epoch_0001.png").is_file()
    result = run_cli("sample", str(tmp_path / "r"), "--n", "100", "--out", str(tmp_path / "r.npy"))
    assert result.returncode == 0 and np.load(tmp_path / "r.npy").shape == (100, 2)


def _quiet_sets(quiet: list[str]) -> list[str]:
    return [arg for item in quiet for arg in ("--set", item)]


def test_version():
    import advnets

    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"advnets {advnets.__version__}"


def test_print_config_resolves_the_flags_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default run folder would be runs/gan-ring here
    assert (
        main(
            [
                "train",
                "gan-ring",
                "--out",
                "r",
                "--steps",
                "7",
                "--seed",
                "3",
                "--device",
                "cpu",
                "--set",
                "train.seed=5",
                "--set",
                "train.k=2",
                "--print-config",
            ]
        )
        == 0
    )
    cfg = yaml.safe_load(capsys.readouterr().out)
    t = cfg["train"]
    assert (t["steps"], t["epochs"], t["seed"], t["device"], t["k"]) == (7, None, 3, "cpu", 2)
    assert cfg["data"]["name"] == "ring"
    assert main(["train", "gan-ring", "--epochs", "2", "--print-config"]) == 0
    t = yaml.safe_load(capsys.readouterr().out)["train"]
    assert (t["steps"], t["epochs"]) == (None, 2)
    assert list(tmp_path.iterdir()) == []


def _trained_generator(run_dir, quiet, *flags: str) -> dict:
    assert (
        main(
            [
                "train",
                "gan-ring",
                "--steps",
                "3",
                "--out",
                str(run_dir),
                *_quiet_sets(quiet),
                *flags,
            ]
        )
        == 0
    )
    return load_generator(run_dir)[0].state_dict()


def test_seed_flag_sets_the_weights_and_reproduces_them(tmp_path, quiet, capsys):
    a = _trained_generator(tmp_path / "a", quiet, "--seed", "1")
    b = _trained_generator(tmp_path / "b", quiet, "--seed", "1")
    c = _trained_generator(tmp_path / "c", quiet, "--seed", "2")
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    # --print-config with --resume: the run's own config with the overrides, nothing trained
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "a"), "--steps", "9", "--print-config"]) == 0
    t = yaml.safe_load(capsys.readouterr().out)["train"]
    assert (t["steps"], t["seed"]) == (9, 1)
    assert load_checkpoint(tmp_path / "a")["counters"]["step"] == 3
    # sample and eval take --device; the same seed draws the same samples
    for name in ("s1", "s2"):
        assert (
            main(
                [
                    "sample",
                    str(tmp_path / "a"),
                    "--n",
                    "20",
                    "--seed",
                    "4",
                    "--device",
                    "cpu",
                    "--out",
                    str(tmp_path / f"{name}.npy"),
                ]
            )
            == 0
        )
    assert np.array_equal(np.load(tmp_path / "s1.npy"), np.load(tmp_path / "s2.npy"))
    assert (
        main(["eval", str(tmp_path / "a"), "--metric", "modes", "--n", "200", "--device", "cpu"])
        == 0
    )
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("modes ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize(
    "args",
    [
        ["train", "gan-ring", "--device", "cuda", "--steps", "1", "--out", "{tmp}/r"],
        ["sample", "{tmp}/r", "--device", "cuda", "--out", "{tmp}/x.npy"],
        ["eval", "{tmp}/r", "--device", "cuda"],
    ],
)
def test_device_cuda_without_cuda_is_a_one_line_error(args, tmp_path, capsys):
    assert main([a.replace("{tmp}", str(tmp_path)) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--device cuda" in err and "--device cpu" in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("command", ["sample", "eval"])
@pytest.mark.parametrize("n", ["0", "-5"])
def test_a_count_below_one_is_a_one_line_error(command, n, tmp_path, capsys):
    """--n counts samples or images: 0 would divide by zero, a negative one slice from the
    end; argparse refuses both before any run is read."""
    args = [command, str(tmp_path / "r"), "--n", n]
    with pytest.raises(SystemExit) as stop:
        main([*args, "--out", str(tmp_path / "x.npy")] if command == "sample" else args)
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and err[-1].endswith(f"argument --n: must be at least 1, got {n}")


def test_train_into_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "x.npy").write_bytes(b"kept")
    assert main(["train", "gan-ring", "--steps", "1", "--out", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("x.npy is a file, not a run folder; train into another --out")
    assert (tmp_path / "x.npy").read_bytes() == b"kept"
