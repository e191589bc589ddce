"""advnets demo's handlers, without a server: each tab's function on small runs trained
once for the module, checked against the library functions it shows."""

import numpy as np
import pytest
import torch
from demo_runs import snapshot, train_runs
from PIL import Image

from advnets.data import load_images01
from advnets.demo import handlers as h
from advnets.demo import where_line
from advnets.demo.restore import SHIPPED, Shipped, classical_names, restore, restorer_names
from advnets.demo.runs import load_runs
from advnets.demo.uploads import Outbox, fit_image, read_drawing, read_upload
from advnets.demo.watch import watch
from advnets.errors import ConfigError, DataError
from advnets.reconstruction import psnr
from advnets.sampling import class_grid, draw_samples, truncated

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def folders(tmp_path_factory, data_root):
    return train_runs(tmp_path_factory.mktemp("demo-runs"), data_root)


@pytest.fixture(scope="module")
def before(folders):
    """The run folders' files before any handler ran."""
    return {name: snapshot(folder) for name, folder in folders.items()}


@pytest.fixture(scope="module")
def runs(folders, before):
    loaded, problems = load_runs(list(folders.values()), CPU)
    assert problems == []
    return {run.name: run for run in loaded}


@pytest.fixture(scope="module")
def outbox():
    return Outbox()


@pytest.fixture(scope="module")
def digit(tmp_path_factory, data_root):
    """(an MNIST test digit as a PNG file, its pixels (1, 1, 28, 28) on [0, 1])."""
    x = load_images01("mnist", "test", str(data_root), 1)[0]
    pixels = (x[0, 0] * 255).round().byte().numpy()
    path = tmp_path_factory.mktemp("demo-upload") / "digit.png"
    Image.fromarray(pixels).save(path)
    return str(path), torch.from_numpy(pixels).float()[None, None] / 255


def test_load_runs_serves_the_good_folders_and_names_each_bad_one(folders, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "checkpoint.pt").write_bytes(b"not a checkpoint")
    given = [folders["gan"], tmp_path / "missing", empty, broken, folders["gan"]]
    loaded, problems = load_runs(given, CPU)
    assert [run.name for run in loaded] == ["gan", "gan (2)"]
    assert len(problems) == 3
    for line, folder in zip(problems, given[1:4], strict=True):
        assert line.startswith(f"{folder}: skipped: ") and "\n" not in line


def test_what_each_run_can_do(runs):
    assert runs["gan"].unconditional_images and runs["gan"].D is None
    assert runs["cgan"].conditional and not runs["cgan"].unconditional_images
    assert runs["ssl"].D is not None and runs["vaegan"].E is not None
    assert runs["denoiser"].task == "denoise" and runs["denoiser"].G is None
    assert restorer_names("denoise", list(runs.values())) == [SHIPPED, "denoiser"]
    assert restorer_names("sr2", list(runs.values())) == [SHIPPED]


def test_generate_shows_the_runs_own_samples(runs, outbox):
    run = runs["gan"]
    grid, png, npy = h.generate(run, 3, 9, 1.0, None, outbox)
    expected = draw_samples(run.G, run.cfg, 9, 3)
    np.testing.assert_array_equal(np.load(npy), expected.numpy())
    assert grid.shape == (3 * (2 * 28 + 2) + 2,) * 2 and grid.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(Image.open(png)), grid)
    again, _, _ = h.generate(run, 3, 9, 1.0, None, outbox)
    np.testing.assert_array_equal(again, grid)
    assert not np.array_equal(h.generate(run, 4, 9, 1.0, None, outbox)[0], grid)


def test_generate_a_class_by_name_and_a_row_per_class(runs, outbox):
    run = runs["cgan"]
    _, _, npy = h.generate(run, 0, 5, 1.0, "3", outbox)
    np.testing.assert_array_equal(np.load(npy), draw_samples(run.G, run.cfg, 5, 0, 3).numpy())
    grid, _, npy = h.generate(run, 0, 20, 1.0, "", outbox)
    np.testing.assert_array_equal(np.load(npy), class_grid(run.G, run.cfg, 2, 0).numpy())
    assert grid.shape == (10 * 58 + 2, 2 * 58 + 2)
    with pytest.raises(ConfigError, match="'cat' is not a class of cgan; choose one of: 0, 1"):
        h.generate(run, 0, 4, 1.0, "cat", outbox)


def test_generate_draws_at_the_runs_truncation_or_the_pages(runs, outbox):
    run = runs["gan"]
    assert h.truncation(run) == run.cfg.model.truncation == 1.0
    _, _, npy = h.generate(run, 2, 6, 1.0, None, outbox, 0.4)
    expected = draw_samples(run.G, truncated(run.cfg, 0.4), 6, 2).numpy()
    np.testing.assert_array_equal(np.load(npy), expected)
    assert not np.array_equal(expected, draw_samples(run.G, run.cfg, 6, 2).numpy())
    _, _, kept = h.generate(run, 2, 6, 0.5, None, outbox, 0.4)  # both truncations at once
    assert np.load(kept).shape == (6, 1, 28, 28)
    for bad in (0, 1.5, "half"):
        with pytest.raises(ConfigError, match="psi=.* must be in \\(0, 1\\]"):
            h.generate(run, 2, 6, 1.0, None, outbox, bad)


def test_truncated_generate_keeps_the_smallest_jacobians(runs, outbox):
    from advnets.truncation import draw_truncated, jacobian_norms

    run = runs["gan"]
    _, _, npy = h.generate(run, 1, 6, 0.5, None, outbox)
    cal = run.calibrations[(None, 1.0)]  # per (class, psi)
    assert cal.shape == (1000,)
    expected = draw_truncated(run.G, run.cfg, 6, 0.5, 1, None, cal)
    np.testing.assert_array_equal(np.load(npy), expected.numpy())
    plain = draw_samples(run.G, run.cfg, 6, 1)
    assert not torch.equal(torch.from_numpy(np.load(npy)), plain)
    from advnets.sampling import draw_noise

    assert float(jacobian_norms(run.G, draw_noise(run.cfg, 6, 1)).max()) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 0, 1.0), "n must be between 1 and 256, got 0"),
        ((0, 2.5, 1.0), "n must be a whole number, got 2.5"),
        ((-1, 4, 1.0), "the seed must be between 0"),
        ((0, 4, 0.0), r"kept fraction must be in \(0, 1\]"),
    ],
)
def test_generate_refuses_bad_fields(runs, outbox, args, message):
    with pytest.raises(ConfigError, match=message):
        h.generate(runs["gan"], *args, None, outbox)


def test_walk_runs_between_the_picked_samples(runs, outbox):
    from advnets.latent import candidates

    run = runs["gan"]
    strip, gif = h.walk(run, (0, 2, 5, 7), "linear", 5, outbox)
    start = candidates(run.G, run.cfg, h.PICK_GRID, 0)[1][2:3]
    end = candidates(run.G, run.cfg, h.PICK_GRID, 5)[1][7:8]
    cell = 2 * 28 + 2
    assert strip.shape == (cell + 2, 5 * cell + 2)
    np.testing.assert_array_equal(strip[2 : 2 + 56, 2 : 2 + 56], h.picture(start, run, pad=0))
    np.testing.assert_array_equal(strip[2 : 2 + 56, -58:-2], h.picture(end, run, pad=0))
    with Image.open(gif) as frames:
        assert frames.n_frames == 2 * 5 - 2  # there and back
    with pytest.raises(ConfigError, match="unconditional image run"):
        h.walk(runs["cgan"], (0, 0, 1, 0), "linear", 5, outbox)
    with pytest.raises(ConfigError, match="the second sample must be between 0 and 15"):
        h.walk(run, (0, 0, 1, 16), "linear", 5, outbox)


def test_a_click_on_the_numbered_grid_picks_the_sample_under_it(runs):
    run = runs["gan"]
    grid = h.pick_grid(run, 0)
    w, hh = 56 + 2, 56 + 12 + 2  # a zoomed cell, its number strip and padding
    assert grid.shape[:2] == (4 * hh + 2, 4 * w + 2)
    for index in (0, 5, 15):
        row, col = divmod(index, 4)
        assert h.clicked_index(run, 2 + col * w + 30, 2 + row * hh + 30) == index
    with pytest.raises(ConfigError, match="click on one of the numbered samples"):
        h.clicked_index(run, 0, 0)


def test_arithmetic_draws_figure_7(runs):
    from advnets.latent import vector_arithmetic
    from advnets.viz import arithmetic_grid, zoom

    run = runs["gan"]
    picture = h.arithmetic(run, 0, "1, 2", "3", "4 5")
    out = vector_arithmetic(run.G, run.cfg, [1, 2], [3], [4, 5], grid=h.ARITHMETIC_GRID, seed=0)
    parts = [zoom(x, 2) for x in (*out.picks, out.means, out.result, out.neighbours)]
    expected = arithmetic_grid(parts[:3], *parts[3:], (0.0, 1.0))
    np.testing.assert_array_equal(picture, expected)
    with pytest.raises(
        ConfigError, match="A: there is no sample 36; the grid's are numbered 0 to 35"
    ):
        h.arithmetic(run, 0, "36", "1", "2")
    with pytest.raises(ConfigError, match="B takes sample numbers like 3, 17, 22; got 'x'"):
        h.arithmetic(run, 0, "1", "x", "2")
    with pytest.raises(ConfigError, match="C is empty; pick at least one sample"):
        h.arithmetic(run, 0, "1", "2", " ")


def test_uploads_are_bounded_and_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="upload the picture first"):
        read_upload(None)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="the uploaded file is empty"):
        read_upload(str(empty))
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(DataError) as err:
        read_upload(str(text))
    assert str(err.value).startswith("notes.png: not a readable picture") and str(
        tmp_path
    ) not in str(err.value)
    big = tmp_path / "big.png"
    Image.new("L", (300, 200)).save(big)
    with pytest.raises(DataError, match="over the limit of 50,000 .*; upload a smaller picture$"):
        read_upload(str(big), max_pixels=50_000)
    with pytest.raises(DataError, match="over the page's limit of 0 MiB"):
        read_upload(str(big), max_bytes=10)
    x = read_upload(str(big))
    assert x.shape == (1, 1, 200, 300) and float(x.max()) == 0.0


def test_drawings_read_as_ink_and_pictures_fit_the_run():
    canvas = np.zeros((40, 40, 4), dtype=np.uint8)
    assert read_drawing({"composite": canvas}) is None and read_drawing(None) is None
    canvas[10:20, 5:15, 3] = 255  # an opaque stroke
    ink = read_drawing({"composite": canvas, "layers": []})
    assert ink.shape == (1, 1, 40, 40) and float(ink.sum()) == 100.0
    colour = torch.rand(1, 3, 56, 84)
    grey = fit_image(colour, (1, 28, 42))
    torch.testing.assert_close(grey, torch.nn.functional.avg_pool2d(colour.mean(1, True), 2))
    assert fit_image(grey, (3, 28, 42)).shape == (1, 3, 28, 42)
    torch.testing.assert_close(fit_image(grey, (1, 28, 42), invert=True), 1 - grey)


def test_classify_gives_the_classifiers_probabilities(runs, digit):
    run = runs["ssl"]
    probs, seen = h.classify(run, digit[0], None)
    with torch.no_grad():
        expected = torch.softmax(run.D(digit[1]).double()[:, :10], 1)[0]
    assert list(probs) == [str(i) for i in range(10)]
    np.testing.assert_allclose(list(probs.values()), expected.numpy(), rtol=1e-9, atol=1e-12)
    assert seen.shape == (2 + 56 + 2, 2 + 56 + 2)
    stroke = np.zeros((28, 28, 4), dtype=np.uint8)
    stroke[..., 3] = (digit[1][0, 0].numpy() * 255).round()
    drawn, _ = h.classify(run, None, {"composite": stroke})  # the drawing wins
    np.testing.assert_allclose(list(drawn.values()), expected.numpy(), rtol=1e-9, atol=1e-12)
    with pytest.raises(ConfigError, match="gan has no classifier"):
        h.classify(runs["gan"], digit[0], None)


def test_reconstruct_puts_the_original_beside_its_reconstruction(runs, digit):
    from advnets.reconstruction import reconstruct

    run = runs["vaegan"]
    pair, score = h.reconstruct(run, digit[0])
    y = reconstruct(run.E, run.G, digit[1])
    assert pair.shape == (58 + 2, 2 * 58 + 2)
    assert score == pytest.approx(float(psnr(digit[1], y)), rel=1e-6, abs=1e-9)
    assert 0 < score < 60


def test_restore_a_clean_photo_beside_the_classical_methods(runs, digit):
    from advnets.data.corruptions import degrade

    shipped = Shipped(CPU)
    run_list = list(runs.values())
    inputs = (digit[0], True, None, None)
    panels, rows = restore(
        "denoise", inputs, SHIPPED, classical_names("denoise"), run_list, shipped
    )
    assert [c for _, c in panels] == ["corrupted input", SHIPPED, "median", "nlm", "clean original"]
    assert [r[0] for r in rows] == [SHIPPED, "median", "nlm"]
    s = shipped("denoise")[1].restore
    noisy = degrade(digit[1], s, torch.Generator().manual_seed(0)).image
    np.testing.assert_array_equal(
        panels[0][0], (noisy[0, 0].clamp(0, 1) * 255).round().byte().numpy()
    )
    restored = shipped("denoise")[0](degrade(digit[1], s, torch.Generator().manual_seed(0)))
    assert rows[0][1] == pytest.approx(float(psnr(digit[1], restored.clamp(0, 1))), abs=0.006)
    gain = rows[0][1] - float(psnr(digit[1], noisy.clamp(0, 1)))
    assert 1.0 < gain < 30.0  # the shipped G removes noise from a digit it never saw
    assert all(0.0 < r[2] <= 1.0 for r in rows)
    own, _ = restore("denoise", inputs, "denoiser", [], run_list, shipped)
    assert [c for _, c in own] == ["corrupted input", "denoiser", "clean original"]


def test_restore_a_corrupted_photo_with_a_drawn_mask(runs, digit, tmp_path):
    shipped, run_list = Shipped(CPU), list(runs.values())
    with pytest.raises(ConfigError, match="paint the missing region"):
        restore("inpaint", (digit[0], False, None, None), SHIPPED, [], run_list, shipped)
    mask = np.zeros((56, 56, 4), dtype=np.uint8)
    mask[20:36, 20:36, 3] = 255
    panels, rows = restore(
        "inpaint",
        (digit[0], False, None, {"composite": mask}),
        SHIPPED,
        ["biharmonic"],
        run_list,
        shipped,
    )
    assert rows == [] and panels[0][0][10:18, 10:18].max() == 0 and panels[0][0].shape == (28, 28)
    small = tmp_path / "small.png"
    Image.new("L", (14, 14)).save(small)
    with pytest.raises(DataError, match="the clean original is 14x14 but shipped G"):
        restore("denoise", (digit[0], False, str(small), None), SHIPPED, [], run_list, shipped)
    with pytest.raises(ConfigError, match="'denoiser' does not restore sr2"):
        restore("sr2", (digit[0], True, None, None), "denoiser", [], run_list, shipped)
    with pytest.raises(ConfigError, match="median does not do sr2"):
        restore("sr2", (digit[0], True, None, None), SHIPPED, ["median"], run_list, shipped)


def test_watch_reads_the_newest_samples_and_the_curves(runs, outbox):
    samples, curves, line = watch(runs["gan"], outbox)
    assert samples is not None and samples.ndim == 3
    assert Image.open(curves).size[0] > 100
    assert line.startswith("gan: step 20, epoch ") and "(samples: epoch_" in line


def test_a_run_still_starting_is_watched_and_its_curves_redrawn_when_it_grows(
    folders, outbox, tmp_path
):
    import shutil

    young = tmp_path / "young"
    young.mkdir()
    shutil.copy(folders["gan"] / "metrics.jsonl", young / "metrics.jsonl")
    [run], problems = load_runs([young], CPU)
    assert problems == [] and run.cfg is None and run.G is None
    samples, first, line = watch(run, outbox)
    assert samples is None and line.startswith("young: step 20, ")
    assert watch(run, outbox)[1] == first  # unchanged: not drawn again
    with open(young / "metrics.jsonl", "a") as f:
        f.write('{"loss_d": 1.0, "loss_g": 0.5, "step": 25, "epoch": 0.05}\n')
    again, later = watch(run, outbox)[1:]
    assert again != first and later.startswith("young: step 25, epoch 0.05: loss_d 1")


def test_the_start_line_says_who_can_reach_the_page():
    assert where_line("127.0.0.1", 7860, 2) == (
        "advnets demo: 2 run(s) at http://127.0.0.1:7860 (only this machine can reach it; "
        "--host 0.0.0.0 serves the network)"
    )
    assert "anyone who can reach this address" in where_line("0.0.0.0", 80, 1)


def test_the_handlers_never_wrote_into_a_run_folder(folders, before):
    assert {name: snapshot(folder) for name, folder in folders.items()} == before
