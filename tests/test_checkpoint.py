import pytest
import torch

from advnets.api import load_generator
from advnets.checkpoint import load_checkpoint, save_atomic
from advnets.config import load_preset
from advnets.errors import CheckpointError, ConfigError
from advnets.sampling import generate
from advnets.training import train


def _params(module):
    return torch.cat(
        [p.detach().flatten() for p in module.state_dict().values() if p.is_floating_point()]
    )


def test_checkpoint_round_trip_same_outputs(tmp_path, quiet):
    cfg = load_preset("gan-ring", quiet + ["train.steps=20"])
    run = train(cfg, tmp_path / "run")
    G, loaded_cfg = load_generator(tmp_path / "run")
    assert loaded_cfg == run.cfg
    z = torch.randn(50, 2)
    torch.testing.assert_close(generate(G, z), generate(run.G, z), rtol=0, atol=0)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert {"nets", "optimizers", "averages", "rng", "config", "counters", "sampler"} <= set(ckpt)
    assert set(ckpt["nets"]) == set(ckpt["optimizers"]) == {"G", "D"}
    steps_per_epoch = run.counters.steps_per_epoch
    assert ckpt["counters"] == {
        "step": 20,
        "steps_per_epoch": steps_per_epoch,
        "updates": {"G": 20, "D": 20},
    }


SGD_RAMP = [
    f"{o}.{k}"
    for o in ("optim.D", "optim.G")
    for k in ("name=sgd", "lr=0.01", "lr_decay=1.01", "momentum_final=0.9", "momentum_saturate=3")
]


@pytest.mark.parametrize(
    "preset, extra",
    [
        ("gan-ring", ["train.k=2", "data.epoch_size=700", *SGD_RAMP]),  # ramp crosses epochs
        ("gan-ring", ["train.update=simultaneous"]),
        # batches of 2,000 of the 10,000 images make 5 steps an epoch: the resumed run
        # (steps 4-8) crosses a reshuffle
        (
            "gan-mnist",
            [
                "model.generator.hidden=[64]",
                "model.discriminator.hidden=[32]",
                "data.split=valid",
                "train.eval_every=0",
                "train.batch_size=2000",
                "optim.D.momentum_saturate=3",
                "optim.G.momentum_saturate=3",
            ],
        ),
        ("pytorch-gan-mnist", []),
        # DCGAN nets: batch-norm G, layer-norm critic, random interpolates for the penalty
        (
            "wgan-gp-mnist",
            [
                "model.generator.channels=4",
                "model.discriminator.channels=4",
                "train.batch_size=16",
                "train.k=2",
            ],
        ),
    ],
)
def test_resume_equals_uninterrupted(tmp_path, quiet, data_root, preset, extra):
    base = quiet + extra + [f"data.root={data_root}", "train.log_every=3"]
    full = train(load_preset(preset, base + ["train.steps=8"]), tmp_path / "full")
    train(load_preset(preset, base + ["train.steps=3"]), tmp_path / "half")
    resumed = train(None, tmp_path / "half", resume=True, overrides=["train.steps=8"])
    assert resumed.counters.step == 8
    torch.testing.assert_close(_params(resumed.G), _params(full.G), rtol=0, atol=0)
    torch.testing.assert_close(_params(resumed.D), _params(full.D), rtol=0, atol=0)


def test_atomic_save_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "c.pt"
    save_atomic({"format": 1, "x": torch.ones(2)}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        save_atomic({"format": 1, "x": Boom()}, path)
    assert torch.load(path, weights_only=True)["x"].tolist() == [1.0, 1.0]
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_bad_checkpoints_give_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt") as err:
        load_checkpoint(tmp_path)
    assert "\n" not in str(err.value)


def test_ctrl_c_stops_between_steps_and_resumes_exactly(tmp_path, quiet):
    """Ctrl-C during training: the loop finishes the iteration in flight, writes the
    checkpoint and raises KeyboardInterrupt; resuming matches an uninterrupted run."""
    import os
    import signal

    from advnets.training import build_run, run_loop
    from advnets.training.loop import default_hooks

    base = [*quiet, "train.steps=12", "train.k=2"]
    full = train(load_preset("gan-ring", base), tmp_path / "full")
    run = build_run(load_preset("gan-ring", base))

    class CtrlCAtStep5:
        def after_step(self, run, stats):
            if run.counters.step == 5:
                os.kill(os.getpid(), signal.SIGINT)

        close = abort = lambda self, run: None

    hooks = [CtrlCAtStep5(), *default_hooks(run, tmp_path / "cut", 12)]
    with pytest.raises(KeyboardInterrupt):
        run_loop(run, hooks, 12)
    assert load_checkpoint(tmp_path / "cut")["counters"]["step"] == 5
    resumed = train(None, tmp_path / "cut" / "checkpoint.pt", resume=True)
    torch.testing.assert_close(_params(resumed.G), _params(full.G), rtol=0, atol=0)


def test_resume_rejects_structural_overrides(tmp_path, quiet):
    train(load_preset("gan-ring", [*quiet, "train.steps=2"]), tmp_path / "r")
    with pytest.raises(CheckpointError, match="does not fit"):
        train(None, tmp_path / "r", resume=True, overrides=["model.generator.hidden=[8]"])


@pytest.mark.parametrize("override", ["train.batch_size=50", "train.k=2"])
def test_resume_refuses_a_change_of_epoch_length(tmp_path, quiet, override):
    """train.batch_size or train.k changed on resume would renumber the run's epochs; other
    train.* keys (its length) may change."""
    train(load_preset("gan-ring", [*quiet, "train.steps=2"]), tmp_path / "r")
    with pytest.raises(ConfigError, match="renumber its epochs"):
        train(None, tmp_path / "r", resume=True, overrides=[override, "train.steps=3"])
    run = train(None, tmp_path / "r", resume=True, overrides=["train.steps=3"])
    assert run.counters.step == 3


def test_a_saved_run_is_sampled_under_the_rules_of_its_day(tmp_path, quiet):
    """Rules for new training (e.g. data.split=test refused) do not lock out saved runs
    made before them: they still sample; resuming one is refused, with the rule's line."""
    train(load_preset("gan-ring", [*quiet, "train.steps=2"]), tmp_path / "r")
    path = tmp_path / "r" / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["data"]["split"] = "test"
    save_atomic(ckpt, path)
    folder_config = tmp_path / "r" / "config.yaml"
    text = folder_config.read_text()
    assert "split: train" in text
    folder_config.write_text(text.replace("split: train", "split: test"))
    G, cfg = load_generator(tmp_path / "r")
    assert cfg.data.split == "test" and generate(G, torch.randn(3, 2)).shape == (3, 2)
    with pytest.raises(ConfigError, match="data.split=test trains on the test images"):
        train(None, tmp_path / "r", resume=True, overrides=["train.steps=3"])
