"""The commands that read and write users' files: no input is ever overwritten, pictures
are read faithfully in every mode (checked by pixel values) or refused in one line, bad
parameters are refused before any work, and writes are all or nothing. Every case also
checks that the input files are byte-identical afterwards. Tiny images only: fast."""

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from advnets.cli import main
from advnets.config import DataConfig
from advnets.data.corruptions import downsample
from advnets.errors import DataError
from advnets.image_files import array_on_unit_range, read_picture
from advnets.run_images import images_for_run


def snapshot(*paths: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


def unchanged(before: dict[Path, bytes]) -> None:
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} changed"


def refused(capsys, args: list[str], message: str, *inputs: Path) -> None:
    """`advnets ARGS` exits 2 with one line holding `message`; `inputs` are untouched."""
    before = snapshot(*inputs)
    capsys.readouterr()
    code = main([str(a) for a in args])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("advnets: error:") and "\n" not in err, err
    assert message in err, err
    unchanged(before)


@pytest.fixture
def colour(tmp_path) -> Path:
    path = tmp_path / "colour.png"
    pixels = (np.random.default_rng(0).random((12, 10, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


# --- 1. no command writes over one of its inputs -------------------------------------------


def test_degrade_and_restore_refuse_their_own_input_however_spelled(
    tmp_path, colour, capsys, monkeypatch
):
    os.symlink(colour, tmp_path / "link.png")
    os.link(colour, tmp_path / "hard.png")
    (tmp_path / "sub").mkdir()
    spellings = [
        colour,
        tmp_path / "sub" / ".." / "colour.png",
        tmp_path / "link.png",
        tmp_path / "hard.png",
    ]
    for out in spellings:
        degrade = ["degrade", colour, "--task", "denoise", "--out", out]
        refused(capsys, degrade, "would overwrite the input", colour)
        restore = ["restore", colour, "--task", "denoise", "--method", "median", "--out", out]
        refused(capsys, restore, "would overwrite the input", colour)
    monkeypatch.chdir(tmp_path)
    cmd = ["degrade", "colour.png", "--task", "sr2", "--out", "./colour.png"]
    refused(capsys, cmd, "would overwrite the input", colour)


def test_restore_refuses_writing_over_its_mask(tmp_path, colour, capsys):
    mask = tmp_path / "M.npy"
    np.save(mask, np.zeros((1, 1, 12, 10), np.float32))
    for args in (
        ["--mask", mask, "--out", mask],
        ["--out", tmp_path / "colour.png.mask.npy"],  # the default mask, IN.mask.npy
    ):
        (tmp_path / "colour.png.mask.npy").write_bytes(mask.read_bytes())
        cmd = ["restore", colour, "--task", "inpaint", "--method", "biharmonic", *args]
        refused(capsys, cmd, "would overwrite the input", colour, mask)


def test_degrade_refuses_a_mask_beside_the_output_that_is_its_input(tmp_path, capsys):
    source = tmp_path / "out.png.mask.npy"  # the mask `--out out.png` would write
    np.save(source, np.full((1, 3, 8, 8), 0.5, np.float32))
    cmd = ["degrade", source, "--task", "inpaint", "--out", tmp_path / "out.png"]
    refused(capsys, cmd, "out.png.mask.npy would overwrite the input", source)
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("command", ["classify", "encode", "reconstruct"])
def test_run_commands_refuse_to_write_over_their_samples(tmp_path, capsys, command):
    """Checked before the run is even read: the folder need not hold a run."""
    samples = tmp_path / "s.npy"
    np.save(samples, np.zeros((2, 1, 28, 28), np.float32))
    cmd = [command, tmp_path / "run", "--samples", samples, "--out", samples]
    refused(capsys, cmd, "s.npy would overwrite the input", samples)


def test_sample_refuses_to_write_over_its_checkpoint_file(tmp_path, capsys):
    ckpt = tmp_path / "weights.npy"
    ckpt.write_bytes(b"a checkpoint saved under an odd name")
    refused(capsys, ["sample", ckpt, "--out", ckpt], "would overwrite the input", ckpt)


def test_picture_commands_refuse_to_write_over_their_inputs(tmp_path, capsys):
    """arithmetic's image concepts, plot's metrics and sample pictures."""
    sets = {}
    for name in "abc":
        sets[name] = tmp_path / f"{name}.png"
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(sets[name])
    images = [a for n in "abc" for a in (f"--{n}-images", sets[n])]
    cmd = ["arithmetic", tmp_path / "run", *images, "--out", sets["b"]]
    refused(capsys, cmd, "b.png would overwrite the input", *sets.values())
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    frame = run / "samples" / "epoch_0001.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(frame)
    cmd = ["plot", run, "--out", frame, "--gif", tmp_path / "g.gif"]
    refused(capsys, cmd, "epoch_0001.png would overwrite the input", frame, run / "metrics.jsonl")


# --- 2. pictures read faithfully, or refused ------------------------------------------------


def picture(tmp_path: Path, image: Image.Image, name: str, **options) -> Path:
    path = tmp_path / name
    image.save(path, **options)
    return path


def test_sixteen_bit_grey_keeps_its_full_range(tmp_path):
    values = np.array([[0, 257, 32768], [65535, 1000, 50000]], np.uint16)
    path = picture(tmp_path, Image.fromarray(values), "g16.png")
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I")
    np.testing.assert_allclose(read_picture(path)[0], values / 65535, rtol=0, atol=1e-7)
    big_endian = Image.frombytes("I;16B", (3, 2), values.astype(">u2").tobytes())
    path = picture(tmp_path, big_endian, "g16b.tif")
    np.testing.assert_allclose(read_picture(path)[0], values / 65535, rtol=0, atol=1e-7)
    wide = Image.fromarray(values.astype(np.int32))  # mode I (32-bit), as TIFFs hold it
    np.testing.assert_allclose(read_picture(picture(tmp_path, wide, "i.tif"))[0], values / 65535)
    too_wide = Image.fromarray(np.array([[0, 70000]], np.int32))
    with pytest.raises(DataError, match="outside 0-65535"):
        read_picture(picture(tmp_path, too_wide, "i2.tif"))


def test_degrade_and_restore_read_sixteen_bit_pictures_by_value(tmp_path, capsys):
    """The audit's case: a 16-bit PNG came out white. `input` restores by identity."""
    values = (np.arange(48).reshape(6, 8) * 1300).astype(np.uint16)
    source = picture(tmp_path, Image.fromarray(values), "g16.png")
    before = snapshot(source)
    out = tmp_path / "o.npy"
    assert (
        main(["restore", str(source), "--task", "denoise", "--method", "input", "--out", str(out)])
        == 0
    )
    np.testing.assert_allclose(np.load(out)[0, 0], values / 65535, atol=1e-7)
    assert main(["degrade", str(source), "--task", "sr2", "--out", str(out)]) == 0
    expected = downsample(torch.from_numpy(values / 65535).float()[None, None], 2)
    np.testing.assert_allclose(np.load(out), expected.numpy(), atol=1e-6)
    unchanged(before)


def test_one_bit_palette_and_cmyk_pictures_by_value(tmp_path):
    bits = np.array([[True, False], [False, True]])
    path = picture(tmp_path, Image.fromarray(bits), "bits.png")
    with Image.open(path) as img:
        assert img.mode == "1"
    np.testing.assert_array_equal(read_picture(path), bits[None].astype(np.float32))
    pal = Image.new("P", (2, 1))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putdata([0, 1])
    got = read_picture(picture(tmp_path, pal, "pal.png"))
    np.testing.assert_array_equal(got[:, 0], [[1, 0], [0, 0], [0, 1]])
    cmyk = Image.new("CMYK", (2, 1))
    cmyk.putdata([(255, 0, 0, 0), (0, 0, 0, 255)])  # cyan, black
    got = read_picture(picture(tmp_path, cmyk, "cmyk.tif"))
    np.testing.assert_array_equal(got[:, 0], [[0, 0], [1, 0], [1, 0]])


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (2, 1))
    rgba.putdata([(255, 0, 0, 255), (0, 0, 0, 0)])  # opaque red, fully transparent black
    half = Image.new("RGBA", (1, 1), (0, 0, 255, 51))  # blue at 20 %
    np.testing.assert_allclose(
        read_picture(picture(tmp_path, rgba, "rgba.png"))[:, 0], [[1, 1], [0, 1], [0, 1]]
    )
    np.testing.assert_allclose(
        read_picture(picture(tmp_path, half, "half.png"))[:, 0, 0], [0.8, 0.8, 1], atol=1e-6
    )
    la = Image.new("LA", (2, 1))
    la.putdata([(0, 255), (0, 0)])
    np.testing.assert_allclose(read_picture(picture(tmp_path, la, "la.png")), [[[0, 1]]])
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    pal.putdata([0, 1])
    path = picture(tmp_path, pal, "palt.png", transparency=0)  # index 0 transparent
    np.testing.assert_allclose(read_picture(path)[:, 0], [[1, 0], [1, 1], [1, 0]])


def test_exif_rotation_is_applied(tmp_path):
    """A camera's portrait photo: stored landscape with orientation 6 (turn 90 degrees
    clockwise to view); read upright."""
    stored = np.array([[0, 50, 100], [150, 200, 250]], np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = picture(tmp_path, Image.fromarray(stored), "rot.png", exif=exif)
    upright = np.rot90(stored, -1) / 255
    np.testing.assert_allclose(read_picture(path)[0], upright, atol=1e-7)


def test_an_animation_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (2, 2), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with Image.open(path) as img:
        assert img.n_frames == 2
    np.testing.assert_array_equal(read_picture(path)[:, 0, 0], [1, 0, 0])


def test_float_pictures_in_range_or_refused(tmp_path):
    values = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    np.testing.assert_array_equal(
        read_picture(picture(tmp_path, Image.fromarray(values), "f.tif"))[0], values
    )
    bad = Image.fromarray(np.array([[2.0]], np.float32))
    with pytest.raises(DataError, match="must be finite and on"):
        read_picture(picture(tmp_path, bad, "bad.tif"))


def bomb(path: Path, side: int) -> Path:
    """A PNG whose header claims side x side grey pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def test_decompression_bombs_are_refused_before_decoding(tmp_path, colour, capsys):
    big = bomb(tmp_path / "bomb.png", 30000)
    message = "30000x30000 is 900,000,000 pixels, over the limit of 100,000,000"
    out = tmp_path / "o.png"
    refused(capsys, ["degrade", big, "--task", "denoise", "--out", out], message, big)
    refused(
        capsys, ["restore", big, "--task", "denoise", "--method", "nlm", "--out", out], message, big
    )
    limit = ["--max-pixels", "100"]  # 12 x 10 = 120 pixels
    refused(
        capsys, ["degrade", colour, "--task", "sr2", "--out", out, *limit], "120 pixels", colour
    )
    assert (
        main(["degrade", str(colour), "--task", "sr2", "--out", str(out), "--max-pixels", "120"])
        == 0
    )


def test_out_of_range_arrays_are_refused_not_clamped(tmp_path, capsys):
    source = tmp_path / "x.npy"
    np.save(source, np.linspace(-0.5, 1.5, 2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4))
    out = tmp_path / "o.npy"
    message = "values run from -0.5 to 1.5, outside [0, 1]"
    refused(capsys, ["degrade", source, "--task", "denoise", "--out", out], message, source)
    refused(
        capsys,
        ["restore", source, "--task", "denoise", "--method", "input", "--out", out],
        message,
        source,
    )
    assert not out.exists()


def test_degrade_and_restore_keep_a_stated_range(tmp_path, capsys):
    """--range=-1,1: a .npy on [-1, 1] is read, and written back, on [-1, 1]."""
    x01 = np.linspace(0, 1, 2 * 4 * 6, dtype=np.float32).reshape(1, 2, 4, 6)[:, :1]
    source = tmp_path / "x.npy"
    np.save(source, x01 * 2 - 1)
    before, out = snapshot(source), tmp_path / "o.npy"
    cmd = ["degrade", str(source), "--task", "sr2", "--out", str(out), "--range=-1,1"]
    assert main(cmd) == 0
    expected = downsample(torch.from_numpy(x01), 2).numpy() * 2 - 1
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    cmd = ["restore", str(source), "--task", "denoise", "--method", "input", "--out", str(out)]
    assert main([*cmd, "--range=-1,1"]) == 0
    np.testing.assert_allclose(np.load(out), x01 * 2 - 1, atol=1e-6)
    refused(capsys, cmd, "outside [0, 1]; rescale them, or give their range with --range", source)
    unchanged(before)


def test_run_images_take_zero_one_or_a_stated_range():
    """classify / encode / reconstruct: [0, 1] in, the run's [-1, 1] applied inside."""
    x01 = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(1, 1, 28, 28)
    np.testing.assert_allclose(array_on_unit_range(x01, "x", (0, 1)), x01)
    np.testing.assert_allclose(array_on_unit_range(x01 * 2 - 1, "x", (-1, 1)), x01, atol=1e-6)
    np.testing.assert_allclose(
        array_on_unit_range((x01 * 255).round().astype(np.uint8), "x", (0, 1)),
        (x01 * 255).round() / 255,
    )
    with pytest.raises(DataError, match=r"rescale them, or give their range with --range=LO,HI"):
        array_on_unit_range(x01 * 2 - 1, "x", (0, 1), has_range_flag=True)


MNIST = DataConfig(name="mnist")


def test_images_for_run_map_onto_the_runs_range(tmp_path):
    x01 = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(1, 1, 28, 28)
    np.save(tmp_path / "x.npy", x01)
    got = images_for_run(tmp_path / "x.npy", MNIST, (-1.0, 1.0))
    np.testing.assert_allclose(got.numpy(), x01 * 2 - 1, atol=1e-6)
    np.save(tmp_path / "m.npy", x01 * 2 - 1)
    got = images_for_run(tmp_path / "m.npy", MNIST, (-1.0, 1.0), (-1.0, 1.0))
    np.testing.assert_allclose(got.numpy(), x01 * 2 - 1, atol=1e-6)
    Image.fromarray((x01[0, 0] * 255).round().astype(np.uint8)).save(tmp_path / "digit.png")
    got = images_for_run(tmp_path / "digit.png", MNIST, (0.0, 1.0))
    np.testing.assert_allclose(got.numpy(), (x01 * 255).round() / 255, atol=1e-7)


# --- 4. every parameter checked before any work --------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--task", "denoise", "--set", "restore.noise=-1"],
            "restore.noise is a standard deviation",
        ),
        (["--task", "denoise", "--set", "restore.noise=.nan"], "restore.noise must be a finite"),
        (["--task", "inpaint", "--set", "restore.mask_size=1.5"], "must be in (0, 1), got 1.5"),
        (["--task", "inpaint", "--set", "restore.holes=0"], "restore.holes must be >= 1"),
        (["--task", "deblur", "--set", "restore.blur=0"], "restore.blur is the blur's std"),
        (["--task", "deblur", "--set", "restore.blur_noise=-0.1"], "restore.blur_noise must be"),
    ],
)
def test_degrade_checks_restore_settings(tmp_path, colour, capsys, args, message):
    out = tmp_path / "o.png"
    refused(capsys, ["degrade", colour, *args, "--out", out], message, colour)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "denoise", "--param", "3"], "--param sets a classical method's parameter"),
        (
            ["--task", "denoise", "--method", "nlm", "--param", "-5"],
            "nlm's h (x noise std) must be a finite number > 0",
        ),
        (["--task", "deblur", "--method", "wiener", "--param", "nan"], "wiener's balance must be"),
        (["--task", "deblur", "--method", "admm-tv", "--param", "inf"], "admm-tv's lambda must be"),
        (
            ["--task", "denoise", "--method", "median", "--param", "0"],
            "median's window side must be a whole number",
        ),
        (["--task", "denoise", "--method", "median", "--param", "2.5"], "a whole number >= 1"),
        (["--task", "sr2", "--method", "bicubic", "--param", "1"], "bicubic has no parameter"),
        (["--task", "denoise", "--method", "nlm", "--set", "restore.noise=-1"], "restore.noise"),
        (
            ["--task", "denoise", "--mask", "m.npy", "--method", "nlm"],
            "--mask is for --task inpaint",
        ),
    ],
)
def test_restore_checks_methods_and_parameters(tmp_path, colour, capsys, args, message):
    out = tmp_path / "o.png"
    refused(capsys, ["restore", colour, *args, "--out", out], message, colour)
    assert not out.exists()


def test_methods_that_cannot_work_on_the_input_say_so(tmp_path, capsys):
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.full((1, 1), 90, np.uint8)).save(tiny)
    out = tmp_path / "o.png"
    refused(
        capsys,
        ["restore", tiny, "--task", "denoise", "--method", "nlm", "--out", out],
        "at least 2x2 pixels",
        tiny,
    )
    small = tmp_path / "small.png"
    Image.fromarray(np.full((4, 4), 90, np.uint8)).save(small)
    cmd = ["degrade", small, "--task", "inpaint", "--set", "restore.mask_size=0.9", "--out", out]
    refused(capsys, cmd, "restore.mask_size=0.9 hides every pixel of a 4x4 image", small)
    mask = tmp_path / "all.npy"
    np.save(mask, np.ones((1, 1, 4, 4), np.float32))
    cmd = ["restore", small, "--task", "inpaint", "--method", "biharmonic", "--mask", mask]
    refused(capsys, [*cmd, "--out", out], "all.npy hides every pixel of a 4x4 image", small, mask)
    assert not out.exists()


def test_biharmonic_refuses_an_all_missing_mask_from_python_too():
    from advnets.config import RestoreConfig
    from advnets.data.corruptions import Degraded
    from advnets.restore import classical

    restorer = classical("biharmonic", RestoreConfig(task="inpaint"))
    with pytest.raises(DataError, match="a mask marks every pixel missing"):
        restorer(Degraded(torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)))


def test_a_seed_beyond_int64_is_one_line(tmp_path, colour, capsys):
    before = snapshot(colour)
    args = ["degrade", str(colour), "--task", "denoise", "--out", str(tmp_path / "o.png")]
    with pytest.raises(SystemExit) as stop:
        main([*args, "--seed", "99999999999999999999"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and err[-1].endswith("is too large (at most 2**62)")
    unchanged(before)


# --- 5. all or nothing --------------------------------------------------------------------


def test_degrade_writes_picture_and_mask_together_or_neither(tmp_path, colour, capsys):
    out = tmp_path / "o.png"
    (tmp_path / "o.png.mask.npy").mkdir()  # the mask cannot be written
    refused(
        capsys,
        ["degrade", colour, "--task", "inpaint", "--out", out],
        "is not a regular file",
        colour,
    )
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "colour.png",
        "o.png.mask.npy",
    ]
    (tmp_path / "o.png.mask.npy").rmdir()
    assert main(["degrade", str(colour), "--task", "inpaint", "--out", str(out)]) == 0
    mask = np.load(tmp_path / "o.png.mask.npy")
    assert mask.shape == (1, 1, 12, 10) and 0 < mask.mean() < 1


def test_plot_writes_no_curves_when_the_gif_cannot_be_written(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 1, "loss_D": 1.0, "loss_G": 1.0}\n')
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(run / "samples" / "epoch_0001.png")
    (tmp_path / "g.gif").mkdir()
    cmd = ["plot", run, "--out", tmp_path / "c.png", "--gif", tmp_path / "g.gif"]
    refused(capsys, cmd, "g.gif exists and is not a regular file", run / "metrics.jsonl")
    assert not (tmp_path / "c.png").exists()


def test_a_failed_write_leaves_no_file_and_no_folder(tmp_path, colour, capsys, monkeypatch):
    from advnets import files

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full_disk)
    out = tmp_path / "new" / "deeper" / "o.png"
    cmd = ["degrade", colour, "--task", "inpaint", "--out", out]
    refused(capsys, cmd, "No space left on device", colour)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["colour.png"]


def test_a_missing_data_folder_is_not_created(tmp_path, capsys, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nonexistent" / "deeper"
    cmd = ["train", "gan-mnist", "--data", missing, "--steps", "1"]
    refused(capsys, cmd, "not found in")
    assert list(tmp_path.iterdir()) == []  # neither the data folder nor runs/


# --- 3. one convention: images on [0, 1] in and out -----------------------------------------


def test_a_minus_one_one_run_writes_and_reads_images_on_zero_one(data_root, tmp_path, capsys):
    """A tanh run (range [-1, 1]): `sample` writes [0, 1] (`--range=-1,1`: its own range),
    as `eval --samples`, `classify`, `encode` and `reconstruct` read them."""
    from advnets import load_preset, sample
    from advnets.training import train

    small = ["model.generator.hidden=[8]", "model.discriminator.hidden=[8]"]
    quiet = ["train.progress=false", "train.samples_per_epoch=false", "train.checkpoint_every=0"]
    sets = [*small, *quiet, "train.steps=1", "train.batch_size=8", f"data.root={data_root}"]
    run = tmp_path / "run"
    train(load_preset("pytorch-gan-mnist", sets), run)
    own = sample(run, n=6, seed=3).numpy()
    assert own.min() < 0  # the run's own range
    for extra, expected in (([], (own + 1) / 2), (["--range=-1,1"], own)):
        out = tmp_path / "s.npy"
        args = ["sample", str(run), "--n", "6", "--seed", "3", "--out", str(out), *extra]
        assert main([*args, "--device", "cpu"]) == 0
        np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


def test_classify_takes_zero_one_images_for_a_minus_one_one_run(data_root, tmp_path, capsys):
    """The audit's case: MNIST test images on [0, 1] given to an sgan-mnist run (range
    [-1, 1]) were classified as if on [-1, 1]. Now they are mapped inside, and the same
    images on [-1, 1] with --range=-1,1 get the same labels."""
    from advnets import load_preset
    from advnets.data import load_images01
    from advnets.metrics.accuracy import predict_classes
    from advnets.runs import load_run
    from advnets.training import train

    nets = ["model.generator.channels=8", "model.discriminator.channels=8", "model.z_dim=8"]
    quiet = ["train.progress=false", "train.samples_per_epoch=false", "train.checkpoint_every=0"]
    sets = [*nets, *quiet, "train.eval_every=0", "train.steps=1", "train.batch_size=8"]
    run = tmp_path / "run"
    train(load_preset("sgan-mnist", [*sets, f"data.root={data_root}"]), run)
    x01 = load_images01("mnist", "test", str(data_root), 16)[0]
    np.save(tmp_path / "x01.npy", x01.numpy())
    np.save(tmp_path / "x11.npy", x01.numpy() * 2 - 1)
    before = snapshot(tmp_path / "x01.npy", tmp_path / "x11.npy")
    D = load_run(run, "cpu").classifier()
    expected = predict_classes(D, x01 * 2 - 1, 10).numpy()
    for name, extra in (("x01", []), ("x11", ["--range=-1,1"])):
        out = tmp_path / f"{name}-labels.npy"
        args = ["classify", str(run), "--samples", str(tmp_path / f"{name}.npy"), "--out", str(out)]
        assert main([*args, *extra, "--device", "cpu"]) == 0
        np.testing.assert_array_equal(np.load(out), expected)
    unchanged(before)


@pytest.mark.parametrize(
    "name, fmt",
    [("a.png", "PNG"), ("a.JPG", "JPEG"), ("a.tif", "TIFF"), ("a.webp", "WEBP"), ("a.xyz", "PNG")],
)
def test_save_image_takes_its_format_from_the_suffix(tmp_path, name, fmt):
    """The common formats, those Pillow registers only with all its plugins, and PNG for a
    suffix it does not know."""
    from advnets.files import save_image

    path = save_image(np.full((4, 5), 128, dtype=np.uint8), tmp_path / name)
    with Image.open(path) as picture:
        assert picture.format == fmt and picture.size == (5, 4)
