import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from advnets.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "advnets.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_presets_lists_descriptions(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "gan-mnist " in out and "goodfeli/adversarial" in out
    assert main(["presets", "--show", "gan-1d"]) == 0
    assert "gaussian1d" in capsys.readouterr().out


def test_help_everywhere():
    for cmd in ([], ["train"], ["sample"], ["presets"]):
        result = run_cli(*cmd, "--help")
        assert result.returncode == 0 and "usage: advnets" in result.stdout


def test_train_and_sample_mnist_end_to_end(tmp_path, data_root, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "gan-mnist", "--out", str(run_dir), "--steps", "30", "--data",
            str(data_root), "--set", "train.progress=false", "--set", "train.log_every=10",
            "--set", "model.generator.hidden=[64,64]", "--set", "model.discriminator.hidden=[32]"]
    assert main(args) == 0
    assert {"checkpoint.pt", "config.yaml", "metrics.jsonl", "samples", "tb"} <= {
        p.name for p in run_dir.iterdir()}
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


@pytest.mark.parametrize("args, message", [
    (["train", "gan-mnsit", "--out", "{tmp}"], "unknown preset 'gan-mnsit'"),
    (["train", "gan-1d", "--out", "{tmp}", "--set", "train.kk=1"],
     "unknown config key 'train.kk'"),
    (["train", "gan-1d", "--out", "{tmp}", "--set", "train.k=two"], "'train.k' must be int"),
    (["train", "gan-1d", "--out", "{tmp}", "--set", "loss.generator=nonsat"],
     "unknown generator loss 'nonsat'"),
    (["train", "gan-mnist", "--out", "{tmp}", "--data", "/nonexistent/folder",
      "--set", "data.download=false"], "/nonexistent/folder"),
    (["sample", "/nonexistent/run", "--out", "{tmp}/x.npy"], "no checkpoint at"),
    (["sample", "/nonexistent/run", "--out", "{tmp}/x.jpg"], "must end in .npy or .png"),
    (["train", "--resume", "/nonexistent/run"], "no checkpoint at"),
])
def test_bad_input_one_line_errors(args, message, tmp_path):
    result = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2
    err = result.stderr.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_cli_trains_toy_preset(tmp_path):
    result = run_cli("train", "gan-ring", "--steps", "50", "--out", str(tmp_path / "r"),
                     "--set", "train.progress=false")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r" / "samples" / "epoch_0001.png").is_file()
    result = run_cli("sample", str(tmp_path / "r"), "--n", "100", "--out",
                     str(tmp_path / "r.npy"))
    assert result.returncode == 0 and np.load(tmp_path / "r.npy").shape == (100, 2)
