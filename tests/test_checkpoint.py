import pytest
import torch

from advnets.checkpoint import load_checkpoint, save_atomic
from advnets.config import load_preset
from advnets.errors import CheckpointError
from advnets.sampling import generate, load_generator
from advnets.train import train


def _params(module):
    return torch.cat([p.detach().flatten() for p in module.state_dict().values()
                      if p.is_floating_point()])


def test_checkpoint_round_trip_same_outputs(tmp_path, quiet):
    cfg = load_preset("gan-ring", quiet + ["train.steps=20"])
    run = train(cfg, tmp_path / "run")
    G, loaded_cfg = load_generator(tmp_path / "run")
    assert loaded_cfg == run.cfg
    z = torch.randn(50, 2)
    torch.testing.assert_close(generate(G, z), generate(run.G, z), rtol=0, atol=0)
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert {"generator", "discriminator", "opt_g", "opt_d", "rng", "config",
            "counters", "sampler"} <= set(ckpt)
    assert ckpt["counters"]["step"] == 20


@pytest.mark.parametrize("preset, extra", [
    ("gan-ring", ["train.k=2"]),
    ("gan-ring", ["train.update=simultaneous"]),
    ("gan-mnist", ["model.generator.hidden=[64]", "model.discriminator.hidden=[32]"]),
    ("pytorch-gan-mnist", []),
])
def test_resume_equals_uninterrupted(tmp_path, quiet, data_root, preset, extra):
    base = quiet + extra + [f"data.root={data_root}", "train.log_every=3",
                            "data.epoch_size=700"]
    if preset == "gan-mnist":  # the paper's momentum ramp and lr decay both in play
        base += ["optim_d.momentum_saturate=3", "optim_g.momentum_saturate=3"]
    full = train(load_preset(preset, base + ["train.steps=14"]), tmp_path / "full")
    train(load_preset(preset, base + ["train.steps=6"]), tmp_path / "half")
    resumed = train(None, tmp_path / "half", resume=True, overrides=["train.steps=14"])
    assert resumed.counters.step == 14
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
