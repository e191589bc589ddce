import json
import math
import shutil

import pytest
import torch
from PIL import Image
from torch.testing import assert_close

from advnets.api import load_generator
from advnets.cli import main
from advnets.errors import ConfigError
from advnets.latent import interpolation_grid, lerp, slerp, vector_arithmetic
from advnets.sampling import draw_noise, draw_samples, generate
from advnets.viz import (
    LABEL_HEIGHT,
    PANEL_INCHES,
    PLOT_DPI,
    eval_panels,
    labelled_rows,
    plot_score,
)

CELL = 28 + 2  # an MNIST image and the grid's padding


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory, data_root):
    """A tiny MNIST run (20 steps, one sample picture), trained once for the module."""
    run_dir = tmp_path_factory.mktemp("latent") / "run"
    assert (
        main(
            [
                "train",
                "gan-mnist",
                "--out",
                str(run_dir),
                "--steps",
                "20",
                "--data",
                str(data_root),
                "--set",
                "train.progress=false",
                "--set",
                "train.log_every=5",
                "--set",
                "model.generator.hidden=[32]",
                "--set",
                "model.discriminator.hidden=[16]",
            ]
        )
        == 0
    )
    return run_dir


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("latent") / "toy"
    assert (
        main(
            [
                "train",
                "gan-ring",
                "--out",
                str(run_dir),
                "--steps",
                "4",
                "--set",
                "train.progress=false",
                "--set",
                "train.log_every=2",
            ]
        )
        == 0
    )
    return run_dir


def test_lerp_and_slerp_endpoints_and_norms():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 100, generator=g), torch.randn(4, 100, generator=g)
    b = b / b.norm(dim=1, keepdim=True) * a.norm(dim=1, keepdim=True)  # equal norms
    t = torch.linspace(0, 1, 9)
    for path in (lerp(a, b, t), slerp(a, b, t)):
        assert path.shape == (4, 9, 100)
        assert torch.equal(path[:, 0], a) and torch.equal(path[:, -1], b)
    assert_close(slerp(a, b, t[[0, -1]]), lerp(a, b, t[[0, -1]]))
    norms = slerp(a, b, t).norm(dim=2)
    assert_close(norms, a.norm(dim=1, keepdim=True).expand(4, 9))
    assert (lerp(a, b, t).norm(dim=2)[:, 4] < 0.9 * norms[:, 4]).all()  # the chord dips
    # orthogonal unit vectors: the midpoint of the arc is (a + b) / sqrt(2)
    e = torch.eye(2)
    assert_close(
        slerp(e[:1], e[1:], torch.tensor([0.5]))[0, 0], torch.tensor([1.0, 1.0]) / math.sqrt(2)
    )


def test_slerp_near_parallel_and_antiparallel_fall_back_safely():
    a = torch.randn(1, 50, dtype=torch.float64)
    t = torch.linspace(0, 1, 5)
    for b in (a.clone(), a + 1e-12, a * 2, -a, torch.zeros_like(a)):
        path = slerp(a, b, t)
        assert torch.isfinite(path).all()
        assert torch.equal(path[:, 0], a) and torch.equal(path[:, -1], b)
    assert_close(slerp(a, a + 1e-12, t), lerp(a, a + 1e-12, t))
    assert_close(slerp(a, -a, t), lerp(a, -a, t))


@pytest.mark.parametrize("mode", ["linear", "slerp"])
def test_interpolation_endpoints_decode_to_the_endpoint_samples(mnist_run, mode):
    G, cfg = load_generator(mnist_run)
    images = interpolation_grid(G, cfg, pairs=3, steps=5, seed=4, mode=mode)
    assert images.shape == (15, 1, 28, 28)
    rows = images.view(3, 5, 1, 28, 28)
    z = draw_noise(cfg, 6, seed=4)
    assert_close(rows[:, 0], generate(G, z[0::2]))
    assert_close(rows[:, -1], generate(G, z[1::2]))
    assert not torch.allclose(rows[:, 0], rows[:, -1], atol=1e-4)  # the G is not constant
    assert not torch.allclose(rows[:, 2], rows[:, 0], atol=1e-4)


def test_arithmetic_with_a_equal_b_decodes_the_mean_of_c(mnist_run):
    G, cfg = load_generator(mnist_run)
    r = vector_arithmetic(G, cfg, a=[1, 2], b=[1, 2], c=[3, 7, 9], grid=50, seed=5)
    z = draw_noise(cfg, 50, seed=5)
    mean_c = z[[3, 7, 9]].mean(0)
    assert torch.equal(r.y, mean_c)
    assert_close(r.result, generate(G, mean_c[None]))
    assert_close(r.result, r.means[2:3])
    # the picks are the samples `advnets sample RUN --n 50 --seed 5` draws
    assert_close(r.picks[2], draw_samples(G, cfg, 50, seed=5)[[3, 7, 9]])
    assert [len(p) for p in r.picks] == [2, 2, 3] and r.neighbours.shape == (8, 1, 28, 28)
    assert r.outside == int((r.y.abs() > cfg.model.noise_scale).sum())
    with pytest.raises(ConfigError, match="--b index 50 is out of range"):
        vector_arithmetic(G, cfg, a=[1], b=[50], c=[3], grid=50)


def _size(path):
    assert path.stat().st_size > 0
    with Image.open(path) as picture:
        return picture.size


def test_interpolate_and_arithmetic_commands_write_pictures(mnist_run, tmp_path, capsys):
    out = tmp_path / "interp.png"
    assert (
        main(["interpolate", str(mnist_run), "--steps", "6", "--pairs", "3", "--out", str(out)])
        == 0
    )
    assert _size(out) == (6 * CELL + 2, 3 * CELL + 2)
    assert (
        main(
            [
                "interpolate",
                str(mnist_run),
                "--mode",
                "slerp",
                "--between",
                "3:17,5:9",
                "--zoom",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert _size(out) == (10 * (2 * 28 + 2) + 2, 2 * (2 * 28 + 2) + 2)

    grid = tmp_path / "grid.png"
    assert (
        main(["arithmetic", str(mnist_run), "--show-grid", "--grid", "30", "--out", str(grid)]) == 0
    )
    assert _size(grid) == (6 * CELL + 2, 5 * (CELL + LABEL_HEIGHT) + 2)  # ceil(sqrt 30) = 6
    arith = tmp_path / "arith.png"
    assert (
        main(
            [
                "arithmetic",
                str(mnist_run),
                "--a",
                "3,17,22",
                "--b",
                "5,9",
                "--c",
                "11,40",
                "--out",
                str(arith),
            ]
        )
        == 0
    )
    # label, mean, gap, then max(3 picks, 8 neighbours) cells; rows A, B, C, result
    assert _size(arith) == ((3 + 8) * CELL + 2, 4 * CELL + 2)
    out_text = capsys.readouterr().out
    assert "candidates numbered 0-29" in out_text and "mean(A) - mean(B) + mean(C)" in out_text


def test_plot_writes_curves_and_gif(mnist_run, tmp_path, capsys):
    curves, gif = tmp_path / "curves.png", tmp_path / "samples.gif"
    assert main(["plot", str(mnist_run), "--out", str(curves), "--gif", str(gif)]) == 0
    width, height = PANEL_INCHES[0] * PLOT_DPI, PANEL_INCHES[1] * PLOT_DPI
    assert _size(curves) == (width, 2 * height)
    assert _size(gif) == (8 * CELL + 2, 8 * CELL + 2 + LABEL_HEIGHT)
    # eval rows (as `advnets eval` appends them) get one panel per score
    run = tmp_path / "with_eval"
    shutil.copytree(mnist_run, run)
    with (run / "metrics.jsonl").open("a") as f:
        for step, score in ((10, 50.0), (20, 80.0)):
            f.write(
                json.dumps(
                    {
                        "eval": {
                            "parzen": score,
                            "parzen_se": 2.0,
                            "fid": 90 - score,
                            "classes": 7,
                        },
                        "step": step,
                    }
                )
                + "\n"
            )
        f.write('{"loss_d": 1.3, "ste')  # a row cut short by a run still writing
    assert main(["plot", str(run)]) == 0
    assert _size(run / "curves.png") == (width, 4 * height)
    assert "2 evaluations" in capsys.readouterr().out


def test_accuracy_panel_has_one_line_per_split():
    """A semi-supervised run logs validation accuracy each epoch and `eval` appends the test
    accuracy once: two lines in one panel, not one line jumping between splits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        {"eval": {"accuracy": a, "accuracy_split": "valid"}, "step": s}
        for s, a in ((500, 0.8), (1000, 0.9))
    ]
    rows.append({"eval": {"accuracy": 0.91, "accuracy_split": "test", "errors": 900}, "step": 1000})
    assert eval_panels(rows) == ["accuracy"]
    fig, ax = plt.subplots()
    try:
        plot_score(ax, rows, "accuracy")
        lines = {c.get_label(): c.lines[0].get_ydata().tolist() for c in ax.containers}
    finally:
        plt.close(fig)
    assert lines == {"accuracy (valid)": [0.8, 0.9], "accuracy (test)": [0.91]}


def test_plot_on_a_toy_run(toy_run, tmp_path):
    assert main(["plot", str(toy_run), "--gif", str(tmp_path / "toy.gif")]) == 0
    with Image.open(toy_run / "samples" / "epoch_0001.png") as frame:
        assert _size(tmp_path / "toy.gif") == (frame.width, frame.height + LABEL_HEIGHT)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["arithmetic", "{run}", "--a", "3,100", "--b", "5", "--c", "1", "--out", "{tmp}/x.png"],
            "--a index 100 is out of range",
        ),
        (
            ["arithmetic", "{run}", "--a", "3", "--b", "-1", "--c", "1", "--out", "{tmp}/x.png"],
            "--b index -1 is out of range",
        ),
        (
            ["arithmetic", "{run}", "--a", "3", "--b", "5", "--c", ",", "--out", "{tmp}/x.png"],
            "--c is empty",
        ),
        (
            ["arithmetic", "{run}", "--a", "3", "--b", "x", "--c", "1", "--out", "{tmp}/x.png"],
            "--b takes comma-separated sample indices",
        ),
        (
            ["arithmetic", "{run}", "--a", "3", "--out", "{tmp}/x.png"],
            "name the picks with --b, --c",
        ),
        (
            ["arithmetic", "{run}", "--show-grid", "--a", "3", "--out", "{tmp}/x.png"],
            "pass it without --a/--b/--c",
        ),
        (
            ["arithmetic", "{run}", "--show-grid", "--grid", "0", "--out", "{tmp}/x.png"],
            "--grid must be between 1 and 1000",
        ),
        (
            ["arithmetic", "{run}", "--b-images", "{tmp}/b.npy", "--out", "{tmp}/x.png"],
            "need all three sets; add --a-images, --c-images",
        ),
        (
            ["interpolate", "{run}", "--between", "3:17,5", "--out", "{tmp}/x.png"],
            "--between takes index pairs",
        ),
        (
            ["interpolate", "{run}", "--between", "3:170", "--out", "{tmp}/x.png"],
            "--between index 170 is out of range",
        ),
        (["interpolate", "{run}", "--steps", "1", "--out", "{tmp}/x.png"], "--steps must be"),
        (["interpolate", "{run}", "--out", "{tmp}/x.jpg"], "--out must end in .png"),
        (["interpolate", "{toy}", "--out", "{tmp}/x.png"], "need an image run"),
        (["arithmetic", "{toy}", "--show-grid", "--out", "{tmp}/x.png"], "need an image run"),
        (["plot", "{tmp}"], "no metrics.jsonl"),
        (["plot", "{tmp}/nowhere"], "no run folder"),
        (["plot", "{toy}", "--gif", "{tmp}/x.png"], "--gif must end in .gif"),
    ],
)
def test_bad_input_one_line_errors(args, message, mnist_run, toy_run, tmp_path, capsys):
    args = [a.format(run=mnist_run, toy=toy_run, tmp=tmp_path) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("radius", ["nan", "-5", "inf"])
def test_arithmetic_refuses_a_radius_that_is_not_a_distance(radius, mnist_run, tmp_path, capsys):
    args = ["arithmetic", str(mnist_run), "--a", "3", "--b", "5", "--c", "1"]
    with pytest.raises(SystemExit) as exit:
        main([*args, "--radius", radius, "--out", str(tmp_path / "x.png")])
    assert exit.value.code == 2
    assert f"--radius: must be finite and >= 0, got {radius}" in capsys.readouterr().err


def test_plot_without_samples_or_metrics(mnist_run, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("")
    assert main(["plot", str(run)]) == 2
    assert "holds no metrics yet" in capsys.readouterr().err
    shutil.copy(mnist_run / "metrics.jsonl", run / "metrics.jsonl")
    assert main(["plot", str(run), "--gif", str(tmp_path / "s.gif")]) == 2
    assert "no sample pictures" in capsys.readouterr().err


def test_labelled_rows_puts_one_row_per_label_and_writes_the_labels():
    rows = [torch.zeros(5, 1, 28, 28), torch.ones(5, 1, 28, 28)]  # black row, white row
    picture = labelled_rows(rows, ["first", "second"], (0.0, 1.0), label_width=60)
    assert picture.shape == (2 * CELL + 2, 60 + 5 * CELL + 2)
    images = picture[:, 60:]
    assert (images[2:30, 2:30] == 0).all() and (images[CELL + 2 : CELL + 30, 2:30] == 255).all()
    margin = picture[:, :60]
    assert (margin[:CELL] < 128).any() and (margin[CELL:] < 128).any()  # ink in each row
    blank = labelled_rows(rows, ["", ""], (0.0, 1.0), label_width=60)
    assert (blank[:, :60] == 255).all()
