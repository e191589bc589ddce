"""Your own images: a folder (or array) of pictures as a data set for every method, its
preparation and cache, the shape flowing data -> config -> nets, and every refusal."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from advnets.checkpoint import load_checkpoint
from advnets.cli import main
from advnets.config import load_preset
from advnets.data import build_data, load_split01
from advnets.data.folder import decode, held_out, prepare, scan
from advnets.data.registry import spec
from advnets.data.resolve import parse_size, resolve, with_images
from advnets.errors import ConfigError, DataError

SMALL = [
    "train.progress=false",
    "train.samples_per_epoch=false",
    "train.checkpoint_every=0",
    "train.batch_size=6",
]
TINY_DCGAN = ["model.generator.channels=4", "model.discriminator.channels=4", "model.z_dim=8"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVNETS_CACHE", str(tmp_path / "cache"))


def _grey_digit(rng, cls: int, shape: tuple[int, int]) -> np.ndarray:
    """A grey picture whose class shows as a bright band (rows for 0, columns for 1, ...)."""
    a = (rng.random(shape) * 60).astype(np.uint8)
    h, w = shape
    if cls == 0:
        a[h // 3 : 2 * h // 3] = 250
    elif cls == 1:
        a[:, w // 3 : 2 * w // 3] = 250
    else:
        a[: h // 2, : w // 2] = 250
    return a


@pytest.fixture
def labelled(tmp_path) -> Path:
    """Three classes of small grey pictures of odd, mixed sizes (PNG, BMP, TIFF)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "labelled"
    for c, name in enumerate(["bars", "columns", "corner"]):
        (root / name).mkdir(parents=True)
        for i in range(8):
            a = _grey_digit(rng, c, (27 + i, 31 + 2 * i))
            Image.fromarray(a).save(root / name / f"{i}.{['png', 'bmp', 'tif'][i % 3]}")
    return root


@pytest.fixture
def photos(tmp_path) -> Path:
    """Colour photos of mixed sizes (JPEG, WebP, PNG), one grey among them, and junk."""
    rng = np.random.default_rng(1)
    root = tmp_path / "photos"
    (root / "nested").mkdir(parents=True)
    for i in range(7):
        a = (rng.random((90 + 13 * i, 150 - 9 * i, 3)) * 255).astype(np.uint8)
        where = root / "nested" if i % 2 else root
        Image.fromarray(a).save(where / f"p{i}.{['jpg', 'webp', 'png'][i % 3]}")
    Image.fromarray((rng.random((70, 70)) * 255).astype(np.uint8)).save(root / "grey.png")
    (root / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)  # truncated
    (root / "fake.jpg").write_text("not a picture")
    (root / "notes.txt").write_text("ignored: not a picture suffix")
    return root


def test_scan_labels_from_first_level_subfolders(labelled):
    files, labels, names = scan(labelled)
    assert names == ["bars", "columns", "corner"]
    assert len(files) == 24 and sorted(set(labels)) == [0, 1, 2]
    for p, y in zip(files, labels, strict=True):
        assert names[y] == p.relative_to(labelled).parts[0]


def test_prepare_grey_folder_records_shape_classes_and_reuses_cache(labelled, tmp_path):
    first = prepare(labelled, (28, 28))
    assert first.built and first.images.shape == (24, 1, 28, 28)  # every picture grey: C=1
    assert first.class_names == ["bars", "columns", "corner"]
    assert isinstance(first.images, np.memmap)
    again = prepare(labelled, (28, 28))
    assert not again.built and again.cache == first.cache
    recorded = prepare(labelled, (28, 28), channels=1)  # what the run records: the same cache
    assert not recorded.built and recorded.cache.resolve() == first.cache.resolve()
    np.testing.assert_array_equal(np.asarray(again.images), np.asarray(first.images))
    # a changed file is a new cache (stale caches are never used)
    Image.fromarray(np.zeros((30, 30), np.uint8)).save(labelled / "bars" / "0.png")
    changed = prepare(labelled, (28, 28))
    assert changed.built and changed.cache != first.cache


def test_photos_of_mixed_sizes_at_64_and_128_skip_broken_files(photos, capsys):
    for size in (64, 128):
        found = prepare(photos, (size, size))
        assert found.images.shape == (8, 3, size, size)  # one grey among colour: C=3
        assert found.class_names == []  # a subfolder alone is not a class
        assert sorted(found.skipped) == ["cut.png", "fake.jpg"]
    main(["prepare", str(photos), "--size", "64"])
    line = capsys.readouterr().out.strip()
    assert "8 images at 64x64, 3 channels" in line and "skipped 2" in line
    assert "\n" not in line


def test_non_square_size_and_centre_crop(tmp_path):
    a = np.zeros((40, 80), np.uint8)
    a[:, 20:60] = 255  # the middle half of a wide picture is white
    Image.fromarray(a).save(tmp_path / "wide.png")
    out = decode(tmp_path / "wide.png", (20, 20), 1)  # shorter side 40 -> 20, then crop
    assert out.shape == (1, 20, 20) and out[:, :, 1:-1].min() >= 250  # the white middle
    out = decode(tmp_path / "wide.png", (10, 30), 1)  # HxW: covers 30 wide, crop to 10 rows
    assert out.shape == (1, 10, 30)
    assert parse_size("64") == [64, 64] and parse_size("48x96") == [48, 96]
    with pytest.raises(ConfigError, match="--size 0"):
        parse_size("0")


def test_decoding_modes_exif_16bit_palette_alpha_gif(tmp_path):
    # 16-bit grey: 65535 is white, 32768 mid-grey (not clipped to white)
    deep = np.full((8, 8), 32768, np.uint16)
    deep[0] = 65535
    Image.fromarray(deep).save(tmp_path / "deep.png")
    out = decode(tmp_path / "deep.png", (8, 8), 1)
    assert out[0, 4, 4] == 128 and out[0, 0, 4] == 255
    # EXIF orientation 6 (rotate 90 clockwise to view): a 4x8 stored picture shows as 8x4
    img = Image.fromarray(np.tile(np.arange(8, dtype=np.uint8) * 30, (4, 1)))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    upright = decode(tmp_path / "rot.jpg", (8, 4), 1)[0]
    assert upright[0, 0] < upright[-1, 0]  # the gradient now runs down the rows
    # palette with transparency: transparent pixels on white
    pal = Image.new("P", (4, 4), 0)
    pal.putpalette([255, 0, 0] + [0, 0, 255] * 255)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    assert decode(tmp_path / "pal.png", (4, 4), 3)[:, 1, 1].tolist() == [255, 255, 255]
    # RGBA half transparent black over white: mid grey
    Image.new("RGBA", (4, 4), (0, 0, 0, 128)).save(tmp_path / "rgba.png")
    assert 120 <= decode(tmp_path / "rgba.png", (4, 4), 1)[0, 2, 2] <= 135
    # an animated GIF: its first frame
    frames = [Image.new("L", (6, 6), v) for v in (10, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert abs(int(decode(tmp_path / "anim.gif", (6, 6), 1)[0, 3, 3]) - 10) <= 2


def test_array_files_npy_and_npz(tmp_path):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "hw.npy", (rng.random((12, 20, 20)) * 255).astype(np.uint8))
    assert prepare(tmp_path / "hw.npy", (16, 16)).images.shape == (12, 1, 16, 16)
    np.savez(tmp_path / "hwc.npz", images=rng.random((5, 20, 20, 3)).astype(np.float32))
    assert prepare(tmp_path / "hwc.npz", (20, 20)).images.shape == (5, 3, 20, 20)
    np.save(tmp_path / "bad.npy", np.full((3, 8, 8), 3.0, np.float32))
    with pytest.raises(DataError, match=r"on \[0, 1\]"):
        prepare(tmp_path / "bad.npy", (8, 8))


def test_held_out_split_seeded_one_per_class_at_least():
    labels = np.array([0] * 20 + [1] * 3 + [2] * 2)
    mask = held_out(labels, 0.1, seed=0)
    assert [int(mask[labels == c].sum()) for c in range(3)] == [2, 1, 1]
    np.testing.assert_array_equal(mask, held_out(labels, 0.1, seed=0))
    assert not np.array_equal(mask, held_out(labels, 0.1, seed=1))
    with pytest.raises(DataError, match="two or more"):
        held_out(np.array([0, 0, 1]), 0.1, 0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "dcgan-mnist", "--images", "{empty}"], "no pictures found"),
        (["train", "dcgan-mnist", "--images", "{missing}"], "no such folder or file"),
        (["train", "dcgan-mnist", "--images", "{photos}", "--size", "0"], "--size 0"),
        (["train", "dcgan-mnist", "--size", "32"], "give --images DIR too"),
        (["train", "pacgan-ring", "--images", "{photos}"], "are not images"),
        (["train", "cgan-mnist", "--images", "{photos}"], "needs labelled pictures"),
        (["train", "dcgan-mnist", "--images", "{junk}"], "none of its 2 picture files"),
        (["prepare", "{photos}", "--size", "x"], "--size x"),
    ],
)
def test_bad_input_one_line_and_no_run_folder(tmp_path, photos, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_text("no")
    (tmp_path / "junk" / "b.jpg").write_bytes(b"\xff\xd8\xff")
    paths = {k: str(tmp_path / k) for k in ("empty", "missing", "junk")}
    args = [a.format(photos=photos, **paths) for a in args]
    out = tmp_path / "run"
    code = main([*args, "--out", str(out)] if args[0] == "train" else args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("preparing")]  # progress
    assert len(lines) == 1
    assert not out.exists()  # nothing written that blocks a re-run


def test_damaged_cache_is_rebuilt(labelled, capsys):
    first = prepare(labelled, (28, 28))
    (first.cache / "meta.json").write_text("{broken")
    again = prepare(labelled, (28, 28))
    assert again.built and "damaged" in capsys.readouterr().out
    np.testing.assert_array_equal(np.asarray(again.images), np.asarray(first.images))


def test_shape_flows_from_data_to_config_to_nets(photos):
    cfg = with_images(load_preset("dcgan-mnist", TINY_DCGAN), str(photos), [64, 64])
    cfg = resolve(cfg, progress=False)
    assert (cfg.data.channels, cfg.data.image_size) == (3, [64, 64])
    assert spec(cfg.data).shape == (3, 64, 64)
    data = build_data(cfg.data)
    from advnets.methods import METHODS

    nets = METHODS.get(cfg.method).build_nets(cfg, data)
    assert nets["G"](torch.randn(2, 8)).shape == (2, 3, 64, 64)  # depth from the size
    assert nets["D"](torch.rand(2, 3, 64, 64)).shape == (2,)
    x = data.sampler.next(4)
    assert x.shape == (4, 3, 64, 64) and x.min() >= -1 and x.max() <= 1  # DCGAN's range


def test_sampler_draws_each_training_image_once_an_epoch(labelled):
    cfg = resolve(with_images(load_preset("dcgan-mnist"), str(labelled)), progress=False)
    data = build_data(cfg.data)
    n = data.size
    assert n == 24 - 3  # one held out of each class's 8
    seen = torch.cat([data.sampler.next(7) for _ in range(n // 7)])
    assert len({tuple(row.flatten().tolist()) for row in seen}) == n
    x, y = data.sampler.next_labelled(5)
    assert x.shape == (5, 1, 28, 28) and set(y.tolist()) <= {0, 1, 2}


def cli(command: str, *more: str) -> int:
    """`advnets COMMAND` with the words of `command` (paths without spaces) and `more`."""
    return main([*command.split(), *more])


def test_labelled_folder_train_sample_eval_classify(labelled, tmp_path, capsys):
    run = tmp_path / "cgan"
    sets = [f"--set={s}" for s in [*SMALL, "model.generator.hidden=[16]"]]
    sets += ["--set=model.discriminator.hidden=[16]", "--set=model.discriminator.pieces=2"]
    sets += ["--set=model.discriminator.branches=[8,4]", "--set=model.generator.branches=[8,4]"]
    assert cli(f"train cgan-mnist --images {labelled} --out {run} --steps 3", *sets) == 0
    saved = load_checkpoint(run)
    assert saved["config"]["data"]["class_names"] == ["bars", "columns", "corner"]
    assert saved["config"]["model"]["num_classes"] == 3  # from the folder, not the preset's 10
    assert cli(f"sample {run} --n 4 --label corner --out {tmp_path / 'c.npy'}") == 0
    assert np.load(tmp_path / "c.npy").shape == (4, 1, 28, 28)
    assert cli(f"sample {run} --n 6 --out {tmp_path / 'grid.png'}") == 0
    assert cli(f"sample {run} --n 2 --label owls --out {tmp_path / 'o.npy'}") == 2
    assert "bars, columns, corner" in capsys.readouterr().err


def test_semi_supervised_on_a_folder_classifies_by_name(labelled, tmp_path):
    run = tmp_path / "sgan"
    sets = [f"--set={s}" for s in [*SMALL, *TINY_DCGAN, "data.labels=6"]]
    assert cli(f"train sgan-mnist --images {labelled} --out {run} --steps 2", *sets) == 0
    cfg = resolve(with_images(load_preset("sgan-mnist"), str(labelled)), progress=False)
    x, _ = load_split01(cfg.data, "valid")
    np.save(tmp_path / "x.npy", x.numpy())  # images go in on [0, 1], whatever the run's range
    assert cli(f"classify {run} --samples {tmp_path / 'x.npy'} --out {tmp_path / 'y.npy'}") == 0
    names = (tmp_path / "y.names.txt").read_text().split()
    assert len(names) == len(x) == 3 and set(names) <= {"bars", "columns", "corner"}
    assert [["bars", "columns", "corner"][i] for i in np.load(tmp_path / "y.npy")] == names


def test_colour_folder_vaegan_reconstructs_and_eval_names_features(photos, tmp_path, capsys):
    run = tmp_path / "vaegan"
    sets = [f"--set={s}" for s in [*SMALL[:3], "train.batch_size=3", "data.valid_fraction=0.25"]]
    sets += [f"--set=model.{w}.channels=4" for w in ("generator", "discriminator", "encoder")]
    sets += ["--set=model.z_dim=8"]
    assert cli(f"train vaegan-mnist --images {photos} --size 32 --out {run} --steps 2", *sets) == 0
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((2, 3, 32, 32), np.float32))
    assert cli(f"reconstruct {run} --samples {tmp_path / 'x.npy'} --out {tmp_path / 'r.npy'}") == 0
    assert np.load(tmp_path / "r.npy").shape == (2, 3, 32, 32)
    capsys.readouterr()
    assert cli(f"eval {run} --n 150 --metric kid") == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("kid ") and last.endswith("(cifar10-classifier features)")
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["eval"]["features"] == "cifar10-classifier"


def test_memorization_tells_copies_from_new_pictures(photos, tmp_path):
    from advnets.metrics.evaluate import EvalSettings
    from advnets.metrics.folder import memorization

    cfg = with_images(load_preset("dcgan-mnist"), str(photos), [16, 16])
    cfg = resolve(cfg, progress=False)
    data = cfg.data.__class__(**{**cfg.data.__dict__, "valid_fraction": 0.25})
    s = EvalSettings(data=data, picture=str(tmp_path / "pairs.png"))
    train = load_split01(data, "train")[0]
    copies = memorization(train, "folder", s)
    assert copies["memorization"] == 1.0 and copies["median_ratio"] == 0.0
    assert Image.open(tmp_path / "pairs.png").size[0] > 0
    noise = torch.rand(40, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    fresh = memorization(noise, "folder", s)
    assert fresh["memorization"] == 0.0 and 0.8 < fresh["median_ratio"] < 1.25


def test_folder_run_resumes_exactly(labelled, tmp_path):
    import advnets

    cfg = with_images(load_preset("dcgan-mnist", [*SMALL, *TINY_DCGAN]), str(labelled))
    whole = advnets.train(cfg, tmp_path / "whole", overrides=["train.steps=4"])
    advnets.train(cfg, tmp_path / "half", overrides=["train.steps=2"])
    resumed = advnets.train(None, tmp_path / "half", resume=True, overrides=["train.steps=4"])
    for a, b in zip(whole.G.state_dict().values(), resumed.G.state_dict().values(), strict=False):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_decoder_refuses_bombs_and_skips_them(tmp_path, monkeypatch):
    import advnets.data.folder as folder

    Image.new("L", (64, 64), 7).save(tmp_path / "big.png")
    monkeypatch.setattr(folder, "MAX_PIXELS", 1000)
    assert decode(tmp_path / "big.png", (8, 8), 1) is None
    buf = io.BytesIO()
    Image.new("L", (8, 8), 7).save(buf, "PNG")
    (tmp_path / "small.png").write_bytes(buf.getvalue())
    found = prepare(tmp_path, (8, 8))
    assert found.images.shape[0] == 1 and found.skipped == ["big.png"]


def test_precision_recall_of_the_held_out_pictures_and_of_noise(photos):
    from advnets.metrics.evaluate import EvalSettings
    from advnets.metrics.folder import precision_recall

    cfg = resolve(with_images(load_preset("dcgan-mnist"), str(photos), [16, 16]), False)
    data = cfg.data.__class__(**{**cfg.data.__dict__, "valid_fraction": 0.0})
    real = load_split01(data, "full")[0]
    s = EvalSettings(data=data, fid_samples=len(real))
    same = precision_recall(real, "folder", s)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    assert same["features"] == "cifar10-classifier"
    noise = torch.rand(len(real), 3, 16, 16, generator=torch.Generator().manual_seed(0))
    far = precision_recall(noise.mul(0.05), "folder", s)  # near-black squares
    assert far["precision"] <= 0.25 and far["recall"] <= 0.25


@pytest.mark.parametrize("size", [64, 128])
def test_colour_photos_train_and_sample_at_64_and_128(photos, tmp_path, size):
    run = tmp_path / f"dcgan{size}"
    sets = [f"--set={s}" for s in [*SMALL[:3], "train.batch_size=4", *TINY_DCGAN]]
    assert (
        cli(f"train dcgan-mnist --images {photos} --size {size} --out {run} --steps 1", *sets) == 0
    )
    assert cli(f"sample {run} --n 3 --out {tmp_path / 's.npy'}") == 0
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (3, 3, size, size) and x.min() >= 0 and x.max() <= 1


def test_an_npy_array_trains_with_mlp_nets_and_samples(tmp_path):
    rng = np.random.default_rng(3)
    np.save(tmp_path / "a.npy", (rng.random((30, 20, 24)) * 255).astype(np.uint8))
    run = tmp_path / "mlp"
    sets = [f"--set={s}" for s in [*SMALL, "model.generator.hidden=[8]"]]
    sets += ["--set=model.discriminator.hidden=[8]", "--set=model.discriminator.pieces=2"]
    assert cli(f"train gan-mnist --images {tmp_path / 'a.npy'} --size 12x16 --out {run}", *sets,
               "--steps", "2") == 0  # fmt: skip
    assert cli(f"sample {run} --n 5 --out {tmp_path / 's.npy'}") == 0
    assert np.load(tmp_path / "s.npy").shape == (5, 1, 12, 16)  # non-square, MLP nets


def test_periodic_fid_of_a_folder_run_picks_best_pt(photos, tmp_path):
    run = tmp_path / "periodic"
    sets = [f"--set={s}" for s in [*SMALL[:3], "train.batch_size=4", *TINY_DCGAN]]
    sets += [
        "--set=train.eval_every=2",
        "--set=train.eval_samples=20",
        "--set=train.eval_metric=kid",
    ]
    sets += ["--set=data.valid_fraction=0.3"]
    assert cli(f"train dcgan-mnist --images {photos} --size 32 --out {run} --steps 4", *sets) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scored = [r for r in rows if "kid" in r.get("eval", r)]
    assert len(scored) == 2 and (run / "best.pt").is_file()
    with pytest.raises(ConfigError, match="describes a finished run"):
        from advnets.validation import validate

        validate(
            load_preset("dcgan-mnist", ["train.eval_every=5", "train.eval_metric=memorization"])
        )


def _prepare_in_child(folder: str, out) -> None:
    found = prepare(folder, (20, 20))
    out.put((found.built, str(found.cache), int(found.images.sum())))


def test_processes_preparing_one_folder_at_once_share_one_build(photos):
    """torchrun ranks and sweep workers: one builds under the lock, the others map it."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    workers = [ctx.Process(target=_prepare_in_child, args=(str(photos), out)) for _ in range(3)]
    for w in workers:
        w.start()
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert sorted(r[0] for r in results) == [False, False, True]
    assert len({r[1] for r in results}) == 1 and len({r[2] for r in results}) == 1


def test_a_tiny_folder_is_refused_what_it_cannot_score(photos, tmp_path, capsys):
    """8 pictures hold out 1: FID (129 needed) is one line, not a linear-algebra traceback;
    `--metric all` says what it leaves out, and with nothing left is one line too."""
    run = tmp_path / "tiny"
    sets = [f"--set={s}" for s in [*SMALL[:3], "train.batch_size=4", *TINY_DCGAN]]
    assert cli(f"train dcgan-mnist --images {photos} --size 16 --out {run} --steps 1", *sets) == 0
    capsys.readouterr()
    assert cli(f"eval {run} --metric fid --n 140") == 2
    err = capsys.readouterr().err
    assert "fid needs at least 129 held-out pictures and this folder holds 1" in err
    assert "Traceback" not in err
    assert cli(f"eval {run} --metric all --n 140") == 2
    err = capsys.readouterr().err
    assert err.count("advnets: note:") == 4 and "no metric can score this run" in err
    sets += [
        "--set=train.eval_every=1",
        "--set=train.eval_samples=200",
        "--set=train.eval_metric=fid",
    ]
    assert cli(f"train dcgan-mnist --images {photos} --size 16 --out {run}2 --steps 1", *sets) == 2
    assert "fid needs at least 129 held-out pictures" in capsys.readouterr().err
    assert not Path(f"{run}2").exists()  # refused before anything was written


def test_a_restorer_trains_on_a_folder_restores_and_scores_its_held_out(photos, tmp_path, capsys):
    run, lr, out = tmp_path / "sr4", tmp_path / "lr.png", tmp_path / "hr.png"
    sets = [f"--set={s}" for s in [*SMALL[:3], "train.batch_size=4", "model.generator.blocks=1"]]
    sets += ["--set=model.generator.channels=4", "--set=model.discriminator.channels=4"]
    assert cli(f"train restore-sr4-cifar10 --images {photos} --size 32 --out {run}",
               "--steps", "1", *sets) == 0  # fmt: skip
    Image.fromarray(np.full((40, 48, 3), 90, np.uint8)).save(tmp_path / "x.png")
    assert cli(f"degrade --task sr4 {tmp_path / 'x.png'} --out {lr}") == 0
    assert cli(f"restore {run} {lr} --out {out}") == 0
    assert Image.open(out).size == (48, 40) and Image.open(out).mode == "RGB"
    capsys.readouterr()
    assert cli(f"eval {run} --metric psnr") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"sr4 on {photos} held-out images (1)")
    assert {line.split()[0] for line in lines[2:-1]} == {"bicubic", "nearest", "restoration"}
