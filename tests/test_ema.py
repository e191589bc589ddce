import pytest
import torch
from torch import nn

from advnets.api import load_generator
from advnets.checkpoint import load_checkpoint
from advnets.config import load_preset
from advnets.errors import ConfigError
from advnets.sampling import generate
from advnets.training import build_run, run_loop, train
from advnets.training.ema import WeightEMA


def _flat(module: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_average_is_the_normalised_exponential_average_of_the_iterates():
    G = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        G.weight.fill_(100.0)  # the initial weights get no share of the average
    ema = WeightEMA(G, decay=0.5)
    iterates = [1.0, 2.0, -3.0, 4.0, 10.0]
    for n, w in enumerate(iterates, start=1):
        with torch.no_grad():
            G.weight.fill_(w)
        ema.update(G)
        weights = [0.5 ** (n - i) for i in range(1, n + 1)]
        expected = sum(c * x for c, x in zip(weights, iterates, strict=False)) / sum(weights)
        assert ema.module.weight.item() == pytest.approx(expected, rel=1e-6)
    # by hand: (1*1 + 2*2 + 4*(-3) + 8*4 + 16*10) / 31 = 185 / 31
    assert ema.module.weight.item() == pytest.approx(185 / 31, rel=1e-6)
    assert ema.updates == 5 and not ema.module.weight.requires_grad


def test_average_starts_after_ema_start_updates():
    """Until `start` G updates the average copies G; then it averages afresh from there."""
    G = nn.Linear(1, 1, bias=False)
    ema = WeightEMA(G, decay=0.5, start=2)
    expected = [1.0, 2.0, -3.0, (0.5 * -3 + 4) / 1.5, (0.25 * -3 + 0.5 * 4 + 10) / 1.75]
    for w, e in zip([1.0, 2.0, -3.0, 4.0, 10.0], expected, strict=True):
        with torch.no_grad():
            G.weight.fill_(w)
        ema.update(G)
        assert ema.module.weight.item() == pytest.approx(e, rel=1e-6)
    assert (ema.seen, ema.updates) == (5, 3)


def test_run_averages_after_every_generator_update(quiet):
    run = build_run(load_preset("gan-ring", quiet + ["train.ema_decay=0.9", "train.k=3"]))
    run_loop(run, [], 4)
    G = run.players["G"]
    assert G.average.updates == G.updates == 4
    assert run.G_sample is G.average.module
    assert not torch.equal(_flat(run.G_sample), _flat(run.G))


@pytest.mark.parametrize("start", [0, 4, 9])  # the average starts before / after the stop
def test_resume_keeps_the_average_and_samples_use_it(tmp_path, quiet, start):
    base = quiet + ["train.ema_decay=0.95", "train.log_every=3", f"train.ema_start={start}"]
    full = train(load_preset("gan-ring", base + ["train.steps=14"]), tmp_path / "full")
    train(load_preset("gan-ring", base + ["train.steps=6"]), tmp_path / "half")
    resumed = train(None, tmp_path / "half", resume=True, overrides=["train.steps=14"])
    torch.testing.assert_close(_flat(resumed.G_sample), _flat(full.G_sample), rtol=0, atol=0)
    torch.testing.assert_close(_flat(resumed.G), _flat(full.G), rtol=0, atol=0)

    z = torch.randn(20, 2)
    averaged, _ = load_generator(tmp_path / "full")
    torch.testing.assert_close(generate(averaged, z), generate(full.G_sample, z))
    assert not torch.allclose(generate(averaged, z), generate(full.G, z))


def test_average_switched_on_at_resume_starts_from_g(tmp_path, quiet):
    train(load_preset("gan-ring", quiet + ["train.steps=5"]), tmp_path / "r")
    resumed = build_run(load_preset("gan-ring", quiet + ["train.ema_decay=0.9"]))
    resumed.load_state_dict(load_checkpoint(tmp_path / "r"))
    torch.testing.assert_close(_flat(resumed.G_sample), _flat(resumed.G), rtol=0, atol=0)


@pytest.mark.parametrize("setting", ["ema_decay=1.0", "ema_decay=-0.1", "ema_start=-1"])
def test_average_settings_out_of_range_are_config_errors(setting):
    with pytest.raises(ConfigError, match=setting.split("=")[0]):
        build_run(load_preset("gan-ring", [f"train.{setting}"]))
