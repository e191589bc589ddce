"""Inputs that used to be read wrongly or crash, each refused with one line or handled:
YAML 1.1 numbers, a section given under both its names, pictures of what a picture cannot
show, an override a net ignores, and more images asked for than a split holds."""

import pytest
import torch

from advnets.config import config_from_dict, load_preset
from advnets.errors import ConfigError, DataError, DivergedError
from advnets.viz import image_grid, save_points_plot


@pytest.mark.parametrize(
    ("override", "read_as"),
    [("train.seed=010", "8"), ("train.seed=0x10", "16"), ("train.k=1:30", "90")]
    + [("train.seed=0b11", "3"), ("optim.G.lr=1:30.5", "90.5"), ("train.seed=-010", "-8")],
)
def test_yaml_1_1_numbers_are_refused_in_overrides(override, read_as):
    with pytest.raises(ConfigError, match=f"would be read as {read_as} .*plain decimal"):
        load_preset("gan-ring", [override])


@pytest.mark.parametrize(("override", "value"), [("train.seed=10", 10), ("train.seed=0", 0)])
def test_decimal_numbers_are_read_as_written(override, value):
    assert load_preset("gan-ring", [override, "optim.G.lr=1e-3"]).train.seed == value


def test_yaml_1_1_numbers_are_refused_in_a_preset_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("based_on: gan-ring\ntrain:\n  seed: 010\n")
    with pytest.raises(ConfigError, match=r"mine.yaml, line 3: the number 010 would be read as 8"):
        load_preset(str(path))
    path.write_text("based_on: gan-ring\ntrain:\n  seed: 10\n")
    assert load_preset(str(path)).train.seed == 10


def test_a_section_under_both_its_names_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="both optim.D and optim_d"):
        config_from_dict({"optim": {"D": {"lr": 0.1}}, "optim_d": {"lr": 0.2}})
    path = tmp_path / "mine.yaml"
    path.write_text("based_on: gan-ring\noptim:\n  D: {lr: 0.1}\noptim_d: {lr: 0.2}\n")
    with pytest.raises(ConfigError, match="keep one"):
        load_preset(str(path))
    legacy = config_from_dict({"optim": {"G": {"lr": 0.1}}, "optim_d": {"lr": 0.2}})
    assert (legacy.optim["D"].lr, legacy.optim["G"].lr) == (0.2, 0.1)


@pytest.mark.parametrize(
    "override",
    ["input_dropout=0.5", "hidden_noise=0.3", "weight_norm=true", "activation=maxout"]
    + ["hidden=[64]", "pieces=2"],
)
def test_an_override_a_dcgan_net_ignores_is_refused(override):
    with pytest.raises(ConfigError, match=r"not read by this run's discriminator net \(arch dcgan"):
        load_preset("dcgan-mnist", [f"model.discriminator.{override}"])
    load_preset("gan-mnist", [f"model.discriminator.{override}"])  # an MLP reads it


def test_switching_a_presets_arch_keeps_its_mlp_keys_unrefused():
    cfg = load_preset("gan-mnist", ["model.discriminator.arch=dcgan"])
    assert cfg.model.discriminator.hidden_dropout == 0.5  # carried, unused, not refused
    with pytest.raises(ConfigError, match="hidden_dropout is not read by this run's discrimin"):
        load_preset("gan-mnist", ["model.discriminator={arch: dcgan, hidden_dropout: 0.3}"])


@pytest.mark.parametrize(
    ("images", "value_range", "error", "match"),
    [
        (torch.full((2, 1, 4, 4), float("nan")), (0.0, 1.0), DataError, "2 of the 2 images"),
        (torch.zeros(0, 1, 4, 4), (0.0, 1.0), DataError, "at least one image"),
        (torch.zeros(2, 2, 4, 4), (0.0, 1.0), DataError, "C = 1 .grey. or 3"),
        (torch.zeros(2, 1, 4, 4), (0.5, 0.5), ConfigError, "needs low < high"),
    ],
)
def test_a_picture_refuses_what_it_cannot_show(images, value_range, error, match):
    with pytest.raises(error, match=match):
        image_grid(images, value_range)


def test_a_picture_of_good_images_is_drawn():
    assert image_grid(torch.rand(3, 3, 4, 4), (0.0, 1.0)).shape == (14, 14, 3)
    assert image_grid(torch.ones(1, 1, 4, 4), (-1.0, 1.0)).max() == 255


@pytest.mark.parametrize("samples", [torch.full((5, 2), float("nan")), torch.zeros(0, 2)])
def test_a_points_plot_refuses_nan_or_no_samples(samples, tmp_path):
    with pytest.raises(DataError):
        save_points_plot(samples, tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("preset", ["gan-ring", "dcgan-mnist"])
def test_the_sample_picture_hook_refuses_nan_samples(preset, tmp_path, request):
    from advnets.training.hooks import SamplePictures
    from advnets.training.run import build_run

    root = [] if preset == "gan-ring" else [f"data.root={request.getfixturevalue('data_root')}"]
    run = build_run(load_preset(preset, root))
    with torch.no_grad():
        for p in run.G.parameters():
            p.fill_(float("nan"))
    with pytest.raises(DivergedError, match="picture of epoch 1 holds NaN or Inf"):
        SamplePictures(tmp_path).write(run, 1)
    assert not (tmp_path / "samples" / "epoch_0001.png").exists()


def test_more_images_than_the_split_holds_are_refused(data_root):
    from advnets.metrics.accuracy import first_images

    with pytest.raises(DataError, match="--n 20000 asks for more images than the 10,000"):
        first_images("mnist", "test", str(data_root), 20000)
    assert len(first_images("mnist", "test", str(data_root), 10000)[0]) == 10000
