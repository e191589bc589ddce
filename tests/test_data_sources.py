"""A data source of one's own is one file: a module that registers a Dataset, named in
ADVNETS_PLUGINS for the command line (or imported, for the library), trains any preset."""

import sys
import textwrap

import numpy as np
import pytest

import advnets
from advnets.cli import main
from advnets.data.registry import DATASETS, Dataset, Spec, register_dataset

QUIET = ["--set", "train.progress=false", "--set", "train.eval_every=0"]
SMALL = ["--set", "model.generator.hidden=[32]", "--set", "model.discriminator.hidden=[16]"]

SOURCE = """
import numpy as np
from advnets.data.registry import Dataset, Images, Spec, register_dataset


def load(cfg, split):
    # 200 pictures of one white line, 12x12: across (class 0) or down (class 1)
    rng = np.random.default_rng({"train": 0, "valid": 1, "test": 2, "full": 3}[split])
    labels = rng.integers(0, 2, 200)
    images = np.zeros((200, 1, 12, 12), np.uint8)
    for i, (y, k) in enumerate(zip(labels, rng.integers(0, 12, 200))):
        images[i, 0, k] = 255 if y == 0 else 0
        images[i, 0, :, k] = 255 if y == 1 else images[i, 0, :, k]
    return Images(images, labels.astype(np.int64))


register_dataset(Dataset(NAME, Spec((1, 12, 12), ("across", "down")), loader=load))
"""


@pytest.fixture
def own_source(tmp_path, monkeypatch):
    """The one file of a new data source, named in ADVNETS_PLUGINS; unregistered after."""
    name = f"lines-{tmp_path.name}"
    path = tmp_path / "lines_source.py"
    path.write_text(f"NAME = {name!r}\n" + textwrap.dedent(SOURCE))
    monkeypatch.setenv("ADVNETS_PLUGINS", str(path))
    yield name, path
    DATASETS._table.pop(name, None)
    for module in [m for m in sys.modules if m.startswith("advnets_plugin_lines_source")]:
        del sys.modules[module]


def test_a_data_source_of_ones_own_is_one_file(own_source, tmp_path, capsys):
    name, _ = own_source
    run = tmp_path / "run"
    args = ["train", "gan-mnist", "--out", str(run), "--set", f"data.name={name}"]
    assert main([*args, "--set", "train.steps=20", *QUIET, *SMALL]) == 0
    # 20 steps of 100 on 200 pictures: 10 epochs of this data, not of MNIST's 50,000
    assert "trained 20 steps (10.00 epochs)" in capsys.readouterr().out
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    samples = advnets.sample(run, 4)
    assert samples.shape == (4, 1, 12, 12)  # the shape came from the source, not a preset
    assert float(samples.min()) >= 0 and float(samples.max()) <= 1
    capsys.readouterr()
    assert main(["eval", str(run)]) == 2  # its spec names no metric: said, not a traceback
    assert f"{name} samples have no metric" in capsys.readouterr().err


def test_a_run_of_an_unregistered_source_says_which_setting_is_missing(own_source, tmp_path):
    name, _ = own_source
    run = tmp_path / "run"
    args = ["train", "gan-mnist", "--out", str(run), "--set", f"data.name={name}"]
    assert main([*args, "--set", "train.steps=2", *QUIET, *SMALL]) == 0
    DATASETS._table.pop(name)
    (module,) = [m for m in sys.modules if m.startswith("advnets_plugin_lines_source")]
    del sys.modules[module]  # as in a new process
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("ADVNETS_PLUGINS")
        with pytest.raises(advnets.CheckpointError, match=f"data.name='{name}'.*ADVNETS_PLUGINS"):
            advnets.sample(run, 2)
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "s.png")]) == 0


@pytest.mark.parametrize(
    "plugin, says",
    [
        ("no_such_module_here", "ModuleNotFoundError: No module named 'no_such_module_here'"),
        ("{dir}/missing.py", "FileNotFoundError: no file"),
        ("{dir}/broken.py", "ZeroDivisionError: division by zero"),
        ("{dir}/twice.py", "a data set named 'mnist' is already registered"),
    ],
)
def test_a_bad_plugin_is_one_line_and_nothing_runs(plugin, says, tmp_path, monkeypatch, capsys):
    (tmp_path / "broken.py").write_text("1 / 0\n")
    (tmp_path / "twice.py").write_text(
        "from advnets.data.registry import DATASETS, register_dataset\n"
        "register_dataset(DATASETS.get('mnist'))\n"
    )
    monkeypatch.setenv("ADVNETS_PLUGINS", plugin.format(dir=tmp_path))
    run = tmp_path / "run"
    assert main(["train", "gan-ring", "--out", str(run), "--set", "train.steps=1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "ADVNETS_PLUGINS" in err
    assert not run.exists()


def test_register_dataset_refuses_what_the_contract_cannot_load():
    with pytest.raises(advnets.ConfigError, match="give it a loader"):
        register_dataset(Dataset("points-of-nothing", Spec((2,))))
    with pytest.raises(advnets.ConfigError, match="takes a Dataset"):
        register_dataset({"name": "dict"})
    assert "points-of-nothing" not in DATASETS


def test_the_library_trains_a_source_registered_in_the_notebook(tmp_path):
    def load(cfg, split):
        from advnets.data.registry import Images

        rng = np.random.default_rng(0)
        return Images(rng.integers(0, 256, (128, 3, 8, 8), dtype=np.uint8), np.full(128, -1))

    name = f"noise-{tmp_path.name}"
    register_dataset(Dataset(name, Spec((3, 8, 8)), loader=load))
    try:
        overrides = {"data.name": name, "train.steps": 2, "train.progress": False}
        overrides.update({"train.eval_every": 0, "model.generator.hidden": [8]})
        advnets.train("gan-mnist", tmp_path / "run", overrides=overrides)
        assert advnets.sample(tmp_path / "run", 3).shape == (3, 3, 8, 8)
    finally:
        DATASETS._table.pop(name)


def test_a_conditional_run_on_ones_own_source_takes_its_class_names(own_source, tmp_path, capsys):
    name, _ = own_source
    run, out = tmp_path / "run", tmp_path / "down.npy"
    args = ["train", "cgan-mnist", "--out", str(run), "--set", f"data.name={name}"]
    args += ["--set", "model.num_classes=2", "--set", "train.steps=3", *QUIET]
    assert main(args) == 0
    assert main(["sample", str(run), "--label", "down", "--n", "3", "--out", str(out)]) == 0
    assert np.load(out).shape == (3, 1, 12, 12)
    err = tmp_path / "err.npy"
    assert main(["sample", str(run), "--label", "left", "--n", "2", "--out", str(err)]) == 2
    assert "choose a number or one of: across, down" in capsys.readouterr().err
    assert not err.exists()
