"""Restoration at photo scale: every task and method keeps the photo's size (odd sides,
a 16x16 image, grey and colour), a large image restored tile by tile matches one pass,
the mask generators (rectangles, strokes) and a user's mask on degrade and restore."""

import numpy as np
import pytest
import torch
from PIL import Image

from advnets.cli import main
from advnets.config import NetConfig, RestoreConfig
from advnets.data.corruptions import TASKS, Degraded, degrade, make_mask
from advnets.nets.restorer import ResidualRestorer
from advnets.restore import classical, from_generator, load_shipped
from advnets.restore.baselines import baselines_for
from advnets.restore.tiles import restore_with_tiles, tiled_planes


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def photo(h: int, w: int, c: int = 3, seed: int = 0) -> torch.Tensor:
    """A smooth random picture (N=1, C, H, W) on [0, 1]: low-frequency colour plus detail."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, c, max(2, h // 8), max(2, w // 8), generator=g)
    x = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear")
    return (0.8 * x + 0.2 * torch.rand(1, c, h, w, generator=g)).clamp(0, 1)


def trained_looking(task: str, channels: int = 3, seed: int = 0) -> ResidualRestorer:
    """A small restorer with random (nonzero) weights, so its correction is not zero."""
    torch.manual_seed(seed)
    t = TASKS.get(task)
    G = ResidualRestorer(NetConfig(channels=8, blocks=2), channels, t.scale, t.masked).eval()
    torch.nn.init.normal_(G.tail.weight, std=0.05)
    return G


SIZES = [(61, 97), (16, 16), (7, 5), (33, 48)]


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("channels", [1, 3])
def test_every_method_keeps_odd_and_tiny_sizes(task, channels):
    """Each classical method, the shipped G and a run's G return the clean image's size."""
    s = RestoreConfig(task=task, mask="rectangles", mask_size=0.3, holes=2)
    shipped = load_shipped(task)[0]
    grey_g = from_generator(trained_looking(task, 1), 1)
    for h, w in SIZES:
        x = photo(h, w, channels)
        d = degrade(x, s, torch.Generator().manual_seed(1))
        if d.mask is not None and d.mask.all():
            continue
        names = [n for n in baselines_for(task) if not (n == "nlm" and min(h, w) < 8)]
        for name, restore in [
            *((n, classical(n, s)) for n in names),
            ("shipped", shipped),
            ("grey G", grey_g),
        ]:
            out = restore(d)
            assert out.shape == x.shape, (task, name, (h, w), tuple(out.shape))
            assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_super_resolution_pads_an_odd_side_and_records_it():
    x = photo(61, 97)
    d = degrade(x, RestoreConfig(task="sr4"))
    assert tuple(d.image.shape[-2:]) == (16, 25) and d.size == (61, 97)
    # the padded last rows repeat the photo's last row: the low-resolution last row is it
    last = x[..., -1:, :96].reshape(1, 3, 1, 24, 4).mean(-1)
    torch.testing.assert_close(d.image[..., -1:, :24], last, atol=1e-6, rtol=0)


@pytest.mark.parametrize("task", ["denoise", "sr2", "inpaint"])
def test_tiled_output_matches_one_pass(task):
    """A 150x170 image in tiles of 64 (3x3 tiles, a halo of the G's reach) gives one pass's
    output within 1e-5 (float rounding of convolutions on other shapes), not exactly the
    output of tiles without a halo."""
    G = trained_looking(task)
    s = RestoreConfig(task=task, mask="strokes", mask_size=0.2)
    d = degrade(photo(150, 170), s, torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = G(d.image, d.mask) if d.mask is not None else G(d.image)
    tiled = restore_with_tiles(G, d.image, d.mask, tile=64)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    no_halo = torch.empty_like(whole)
    for top in range(0, whole.shape[-2], 64):
        for left in range(0, whole.shape[-1], 64):
            rows, cols = slice(top, top + 64), slice(left, left + 64)
            start = G.start(d.image, d.mask)[..., rows, cols]
            m = None if d.mask is None else d.mask[..., rows, cols]
            k = d.image[..., rows, cols] if G.masked else None
            with torch.no_grad():
                no_halo[..., rows, cols] = G.correct(start, m, k)
    assert (no_halo - whole).abs().max() > 1e-3  # the halo is what makes the seams exact


def test_nlm_in_tiles_matches_one_pass():
    from skimage.restoration import denoise_nl_means

    x = photo(70, 90, 1)[0].double().numpy()
    noisy = np.clip(x + 0.1 * np.random.default_rng(0).standard_normal(x.shape), 0, 1)
    options = dict(patch_size=5, patch_distance=6, h=0.06, sigma=0.1)
    whole = denoise_nl_means(noisy[0], **options)[None]
    tiled = tiled_planes(lambda p: denoise_nl_means(p[0], **options)[None], noisy, 8, 32, "nlm")
    np.testing.assert_allclose(tiled, whole, atol=1e-9, rtol=0)


def test_mask_generators_are_seeded_and_sized():
    for kind, lo, hi in [("rectangles", 0.05, 0.5), ("strokes", 0.01, 0.3)]:
        s = RestoreConfig(task="inpaint", mask=kind, mask_size=0.25, holes=4)
        a = make_mask(8, (64, 96), s, torch.Generator().manual_seed(0))
        b = make_mask(8, (64, 96), s, torch.Generator().manual_seed(0))
        c = make_mask(8, (64, 96), s, torch.Generator().manual_seed(1))
        assert a.shape == (8, 1, 64, 96) and torch.equal(a, b) and not torch.equal(a, c)
        assert set(a.unique().tolist()) == {0.0, 1.0}
        assert lo < a.mean().item() < hi, (kind, a.mean())
        assert a.flatten(1).mean(1).min() > 0  # every image has a hole
    strokes = make_mask(1, (64, 96), s, torch.Generator().manual_seed(0))[0, 0]
    rows = strokes.sum(1)
    assert (rows > 0).sum() > 10  # a stroke winds over many rows, not a square


def write_png(path, array):
    Image.fromarray(array).save(path)
    return str(path)


def test_user_mask_on_degrade_and_restore(tmp_path, capsys):
    """degrade --mask MASK.png removes the white pixels; restore --mask fills them."""
    rng = np.random.default_rng(0)
    src = write_png(tmp_path / "in.png", (rng.random((31, 45, 3)) * 255).astype(np.uint8))
    drawn = np.zeros((31, 45), np.uint8)
    drawn[10:20, 5:30] = 255
    mask = write_png(tmp_path / "mask.png", drawn)
    bad, out = tmp_path / "holed.png", tmp_path / "filled.png"
    assert main(["degrade", src, "--task", "inpaint", "--mask", mask, "--out", str(bad)]) == 0
    holed = np.asarray(Image.open(bad))
    assert (holed[10:20, 5:30] == 0).all() and (
        holed[:10] == np.asarray(Image.open(src))[:10]
    ).all()
    assert np.array_equal(np.load(str(bad) + ".mask.npy")[0, 0], drawn / 255)
    for method in (["--method", "biharmonic"], []):
        args = ["restore", str(bad), "--task", "inpaint", "--mask", mask, *method]
        assert main([*args, "--out", str(out)]) == 0
        filled = np.asarray(Image.open(out))
        assert filled.shape == (31, 45, 3) and filled[10:20, 5:30].mean() > 20
    wrong = write_png(tmp_path / "wrong.png", np.zeros((30, 45), np.uint8))
    for cmd, extra in [("degrade", []), ("restore", ["--method", "biharmonic"])]:
        capsys.readouterr()
        target = src if cmd == "degrade" else str(bad)
        args = [cmd, target, "--task", "inpaint", "--mask", wrong, *extra, "--out", str(out)]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert "a 30x45 mask for 31x45 images" in err and "\n" not in err, err
    assert main(["degrade", src, "--task", "denoise", "--mask", mask, "--out", str(out)]) == 2
    assert "--mask is for --task inpaint" in capsys.readouterr().err


@pytest.mark.parametrize("grey", [False, True])
def test_degrade_then_restore_keeps_every_photo_size(grey, tmp_path, capsys):
    """PNG, JPEG and .npy photos of odd sizes, every task, the shipped G: the restored
    picture has the photo's size (super-resolution: kept in the PNG, or --size)."""
    rng = np.random.default_rng(0)
    shape = (31, 45) if grey else (31, 45, 3)
    pixels = (rng.random(shape) * 255).astype(np.uint8)
    src = write_png(tmp_path / "in.png", pixels)
    Image.fromarray(pixels).save(tmp_path / "in.jpg")
    for task in TASKS:
        for suffix in (".png", ".jpg", ".npy"):
            bad, out = tmp_path / f"{task}{suffix}", tmp_path / f"{task}-out.png"
            source = src if suffix != ".jpg" else str(tmp_path / "in.jpg")
            assert main(["degrade", source, "--task", task, "--out", str(bad)]) == 0
            extra = ["--size", "31x45"] if TASKS.get(task).scale > 1 and suffix != ".png" else []
            assert main(["restore", str(bad), "--task", task, *extra, "--out", str(out)]) == 0
            with Image.open(out) as img:
                assert img.size == (45, 31) and img.mode == ("L" if grey else "RGB"), task
    capsys.readouterr()
    bad = str(tmp_path / "sr4.npy")
    assert main(["restore", bad, "--task", "sr4", "--size", "40x45", "--out", str(out)]) == 2
    assert "give a size from 29x45 to 32x48" in capsys.readouterr().err


def test_help_says_how_super_resolution_keeps_the_size(capsys):
    with pytest.raises(SystemExit):
        main(["restore", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "pads a side the factor does not divide" in text and "--size HxW" in text


def test_a_16x16_image_restores_with_every_shipped_g():
    x = photo(16, 16)
    for task in TASKS:
        restorer, cfg = load_shipped(task)
        d = degrade(x, cfg.restore, torch.Generator().manual_seed(0))
        out = restorer(d)
        assert out.shape == x.shape and torch.isfinite(out).all()
        assert Degraded is type(d)


def test_noise_level_is_drawn_per_image_and_estimated_back():
    from advnets.data.corruptions import estimate_noise

    coarse = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.interpolate(coarse, size=(128, 128), mode="bilinear")
    x = smooth.expand(64, -1, -1, -1) * 0.8 + 0.1  # no fine detail, clear of the clip limits
    s = RestoreConfig(task="denoise", noise=5 / 255, noise_max=50 / 255)
    d = degrade(x, s, torch.Generator().manual_seed(0))
    measured = (d.image - x).flatten(1).std(1)
    assert 4 / 255 < measured.min() < 10 / 255 and 45 / 255 < measured.max() < 51 / 255
    estimate = estimate_noise(d.image)
    assert ((estimate - measured).abs() / measured).max() < 0.2, (estimate, measured)
    assert estimate_noise(x[:1]).item() < 3 / 255  # a clean smooth picture: next to no noise


def test_sigma_conditioned_g_uses_the_given_or_estimated_level():
    from advnets.config import Config
    from advnets.methods.restoration import build_restorer, restore_with

    cfg = Config()
    cfg.restore = RestoreConfig(task="denoise", noise_max=0.2, sigma_input=True)
    G = build_restorer(cfg, 3).eval()
    assert G.head.in_channels == 4
    torch.nn.init.normal_(G.tail.weight, std=0.05)
    noisy = degrade(photo(40, 40), RestoreConfig(noise=0.1), torch.Generator().manual_seed(0))
    with torch.no_grad():
        estimated = restore_with(G, noisy)
        given = restore_with(G, Degraded(noisy.image, sigma=torch.tensor([0.1])))
        other = restore_with(G, Degraded(noisy.image, sigma=torch.tensor([0.02])))
    assert (estimated - given).abs().max() < (other - given).abs().max()
    assert (other - given).abs().max() > 1e-3
    tiled = from_generator(G, 3, tile=16)(Degraded(noisy.image, sigma=torch.tensor([0.1])))
    torch.testing.assert_close(tiled, given.clamp(0, 1), atol=1e-5, rtol=0)


def test_untrained_biharmonic_inpainter_is_biharmonic():
    from advnets.config import Config
    from advnets.methods.restoration import build_restorer

    cfg = Config()
    cfg.restore = RestoreConfig(task="inpaint", mask="mixed", fill="biharmonic")
    s = cfg.restore
    d = degrade(photo(40, 48), s, torch.Generator().manual_seed(2))
    ours = from_generator(build_restorer(cfg, 3).eval(), 3)(d)
    torch.testing.assert_close(ours, classical("biharmonic", s)(d), atol=1e-5, rtol=0)


def test_augment_flips_and_turns_square_crops():
    from advnets.data.corruptions import augment

    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    torch.manual_seed(0)
    seen = {tuple(augment(x)[0, 0, 0].tolist()) for _ in range(200)}
    assert len(seen) == 8  # the eight symmetries of a square: each first row distinct
    for _ in range(5):
        y = augment(x)
        assert y.shape == x.shape and torch.equal(y.sort(-1)[0].sum(), x.sum().expand(()))


def test_restore_sigma_flag(tmp_path, capsys):
    rng = np.random.default_rng(0)
    src = write_png(tmp_path / "in.png", (rng.random((24, 30)) * 255).astype(np.uint8))
    out = str(tmp_path / "out.png")
    args = ["restore", src, "--task", "denoise", "--method", "nlm", "--sigma", "25"]
    assert main([*args, "--out", out]) == 0
    assert main(["restore", src, "--task", "sr2", "--sigma", "25", "--out", out]) == 2
    assert "--sigma is the noise level of denoising, not sr2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args[:-1], "300", "--out", out])
    assert "0-255 levels" in capsys.readouterr().err


def test_admm_tv_in_tiles_is_close_to_one_pass():
    """ADMM-TV is global (and stopped after 60 iterations, before it converges), so tiles
    only approximate it: with a halo of ADMM_HALO pixels the output moves by a tenth of a
    grey level on average and by at most 8 levels (of 255) anywhere."""
    from advnets.restore.admm import admm_tv_deconvolve
    from advnets.restore.baselines import _deconvolve

    s = RestoreConfig(task="deblur")
    d = degrade(photo(160, 150, 1), s, torch.Generator().manual_seed(0))

    def solve(p, psf):
        return admm_tv_deconvolve(p, psf, 0.001, iters=60)

    whole, tiled = _deconvolve(d, s, solve), _deconvolve(d, s, solve, tile=64)
    gap = (whole - tiled).abs()
    assert 0 < gap.mean() < 0.1 / 255 and gap.max() < 8 / 255, (gap.mean(), gap.max())


def test_biharmonic_start_of_a_large_photo_is_filled_at_a_coarser_scale():
    """Above `most` pixels the fill is made at a coarser scale: known pixels kept, the hole
    close to the full-scale fill on a smooth picture."""
    from advnets.nets.restorer import biharmonic_fill

    coarse = torch.rand(1, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    x = torch.nn.functional.interpolate(coarse, size=(96, 120), mode="bicubic").clamp(0, 1)
    mask = make_mask(1, (96, 120), RestoreConfig(task="inpaint"))
    full, coarse_fill = biharmonic_fill(x * (1 - mask), mask), biharmonic_fill(x, mask, 1000)
    assert torch.equal(coarse_fill * (1 - mask), x * (1 - mask))
    hole = mask.expand_as(x) > 0
    gap = (full - coarse_fill)[hole].abs().mean()
    assert 0 < gap < 0.05, gap  # a 4 times coarser fill: within about 10 grey levels
