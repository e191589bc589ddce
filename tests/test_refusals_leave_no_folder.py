"""Every config check runs before anything is written: a refused config leaves no run
folder (and an existing empty one empty), so the next run in it is not refused. One test
per family of refusal: the config's own rules, the method's, the nets', the data's, the
hooks', and what only the loaded data can tell."""

import pytest

import advnets
from advnets.cli import main
from advnets.errors import AdvnetsError, ConfigError

QUIET = ["train.progress=false", "train.samples_per_epoch=false", "train.steps=1"]

FAMILIES = {
    "config": ("gan-ring", ["train.k=0"], "train.k and train.batch_size must be at least 1"),
    "method": (
        "gan-ring",
        ["train.k_schedule=wgan", "train.update=simultaneous"],
        "needs train.update=alternating",
    ),
    "nets": ("gan-ring", ["model.discriminator.arch=dcgan"], "arch=dcgan on ring"),
    "data": ("gan-ring", ["model.num_classes=10"], "ring has no labels"),
    "hooks": ("gan-1d", ["train.eval_every=10"], "cannot score gaussian1d samples"),
    "loaded data": (
        "gan-ring",
        ["data.epoch_size=50", "train.batch_size=100"],
        "larger than the data set",
    ),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_refused_config_leaves_no_folder(family, tmp_path):
    preset, overrides, message = FAMILIES[family]
    with pytest.raises(ConfigError, match=message):
        advnets.train(preset, tmp_path / "R", overrides=[*QUIET, *overrides])
    assert not (tmp_path / "R").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=message):
        advnets.train(preset, tmp_path / "empty", overrides=[*QUIET, *overrides])
    assert list((tmp_path / "empty").iterdir()) == []


def test_a_refused_cli_run_leaves_the_folder_free_for_the_next(tmp_path, capsys):
    """The issue's case: a periodic evaluation of faces by a metric that cannot score them
    was refused after config.yaml was written, and the next run then refused the folder."""
    out = str(tmp_path / "R")
    fid = ["--set", "train.eval_every=100", "--set", "train.eval_metric=fid"]
    assert main(["train", "vaegan-faces", "--out", out, *fid]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "train.eval_metric=fid cannot score faces" in err
    assert not (tmp_path / "R").exists()
    run = advnets.train("gan-ring", out, overrides=QUIET)
    assert run.counters.step == 1 and (tmp_path / "R" / "checkpoint.pt").is_file()


def test_the_folder_checks_still_refuse_a_folder_holding_a_run(tmp_path):
    advnets.train("gan-ring", tmp_path / "R", overrides=QUIET)
    with pytest.raises(AdvnetsError, match="already holds a run"):
        advnets.train("gan-ring", tmp_path / "R", overrides=QUIET)
