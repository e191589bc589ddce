"""GAN image restoration: PSNR against hand values and scikit-image, each corruption's
statistics, ADMM-TV against a reference solver, every baseline against the corrupted input,
the method's losses and gradients, exact resume, a short run that beats bicubic, and the
degrade / restore / eval commands on odd-sized pictures and bad input."""

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.optimize import minimize
from skimage.metrics import peak_signal_noise_ratio

from advnets import load_preset
from advnets.cli import main
from advnets.config import RestoreConfig
from advnets.data import load_images01
from advnets.data.corruptions import TASKS, degrade, downsample, gaussian_kernel, make_mask
from advnets.errors import ConfigError
from advnets.methods.restoration import content_loss
from advnets.reconstruction import psnr
from advnets.restore import classical, from_generator
from advnets.restore.admm import _grad, admm_tv_deconvolve, psf_to_otf, tv_objective
from advnets.restore.baselines import baselines_for
from advnets.restore.evaluate import restoration_table, sharpness
from advnets.training import build_run, run_loop, train
from advnets.validation import validate

SMALL = [
    "model.generator.channels=8",
    "model.generator.blocks=2",
    "model.discriminator.channels=8",
    "train.progress=false",
    "train.checkpoint_every=0",
    "train.batch_size=8",
    "train.threads=1",
]


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_psnr_matches_hand_values_and_scikit_image():
    x = torch.zeros(1, 3, 4, 4)
    y = x + 0.1  # MSE 0.01 over every pixel and channel: 10 log10(1 / 0.01) = 20 dB
    torch.testing.assert_close(psnr(x, y), torch.tensor([20.0]), rtol=0, atol=1e-4)
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 3, 8, 8, generator=gen), torch.rand(3, 3, 8, 8, generator=gen)
    pairs = zip(a.numpy(), b.numpy(), strict=True)
    want = [peak_signal_noise_ratio(p, q, data_range=1.0) for p, q in pairs]
    torch.testing.assert_close(psnr(a, b).double(), torch.tensor(want), rtol=1e-5, atol=1e-5)


def test_corruptions_statistics():
    grey = torch.full((4, 1, 64, 64), 0.5)
    noisy = degrade(grey, RestoreConfig(task="denoise", noise=0.1), torch.Generator())
    assert 0.098 < (noisy.image - grey).std().item() < 0.102  # sigma measured back
    kernel = gaussian_kernel(1.5)
    assert kernel.shape == (11, 11) and abs(kernel.sum().item() - 1) < 1e-6
    constant = torch.full((2, 3, 32, 30), 0.3)
    for task in ("sr2", "sr4"):
        small = degrade(constant, RestoreConfig(task=task)).image
        scale = TASKS.get(task).scale
        assert small.shape == (2, 3, -(-32 // scale), -(-30 // scale))  # odd sides padded
        torch.testing.assert_close(small, torch.full_like(small, 0.3))
    torch.testing.assert_close(
        downsample(torch.arange(4.0).view(1, 1, 2, 2), 2).flatten(), torch.tensor([1.5])
    )
    blurred = degrade(constant, RestoreConfig(task="deblur", blur_noise=0.0)).image
    torch.testing.assert_close(blurred, constant)  # a normalised kernel keeps a constant


def test_masks_centre_and_seeded_holes():
    centre = make_mask(1, (32, 32), RestoreConfig(mask="centre", mask_size=0.25))
    assert centre.sum().item() == 64 and centre[0, 0, 12:20, 12:20].all()
    cfg = RestoreConfig(task="inpaint", mask="holes", holes=3, mask_size=0.125)
    x = torch.rand(2, 3, 32, 32)
    first = degrade(x, cfg, torch.Generator().manual_seed(5))
    again = degrade(x, cfg, torch.Generator().manual_seed(5))
    assert torch.equal(first.mask, again.mask) and 16 <= first.mask[0].sum() <= 48
    assert (first.image[first.mask.expand_as(x) > 0] == 0).all()


def test_inpainting_sharpness_is_measured_in_the_holes():
    """A flat fill of the hole is blurred however sharp the known pixels are: the masked
    sharpness sees it, the whole-image one hardly does."""
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mask = make_mask(4, (32, 32), RestoreConfig(task="inpaint"))
    filled = torch.where(mask > 0.5, torch.full_like(x, 0.5), x)
    whole = (sharpness(filled) / sharpness(x)).mean().item()
    holes = (sharpness(filled, mask) / sharpness(x, mask)).mean().item()
    assert 0.85 < whole < 1.0 and holes < 0.15
    assert torch.allclose(sharpness(x, mask), sharpness(x), rtol=0.3)  # noise: alike anywhere


def test_admm_tv_matches_a_reference_qp_solver():
    """A 7x7 blurred image: ADMM's minimum equals SciPy's SLSQP on the same problem written
    as a quadratic programme (x and t with -t <= D x <= t)."""
    rng = np.random.default_rng(0)
    n, lam = 7, 0.02
    truth = np.zeros((n, n))
    truth[1:4, 2:5] = 1
    psf = np.array([[0.05, 0.1, 0.05], [0.1, 0.4, 0.1], [0.05, 0.1, 0.05]])
    otf = psf_to_otf(psf, truth.shape)
    b = np.real(np.fft.ifft2(otf * np.fft.fft2(truth))) + 0.01 * rng.standard_normal(truth.shape)
    x = admm_tv_deconvolve(b, psf, lam, iters=3000)
    eye = np.eye(n * n)
    K = np.stack(
        [np.real(np.fft.ifft2(otf * np.fft.fft2(e.reshape(n, n)))).ravel() for e in eye], 1
    )
    D = np.stack([_grad(e.reshape(n, n)).ravel() for e in eye], 1)
    m = len(D)

    def f(v):
        r = K @ v[: n * n] - b.ravel()
        return 0.5 * r @ r + lam * v[n * n :].sum()

    A = np.block([[D, -np.eye(m)], [-D, -np.eye(m)]])
    v0 = np.concatenate([b.ravel(), np.abs(D @ b.ravel()) + 1e-3])
    ref = minimize(
        f,
        v0,
        constraints=[{"type": "ineq", "fun": lambda v: -A @ v}],
        method="SLSQP",
        options={"maxiter": 2000, "ftol": 1e-14},
    )
    assert ref.success
    assert abs(tv_objective(x, b, psf, lam) - ref.fun) < 1e-6 * ref.fun
    np.testing.assert_allclose(x.ravel(), ref.x[: n * n], atol=1e-4)


@pytest.mark.parametrize("task", list(TASKS))
def test_every_baseline_beats_the_corrupted_input(task, data_root):
    clean = load_images01("cifar10", "test", data_root, 4)[0]
    cfg = RestoreConfig(task=task)
    d = degrade(clean, cfg, torch.Generator().manual_seed(0))
    before = psnr(clean, classical("nearest", cfg)(d) if TASKS.get(task).scale > 1 else d.image)
    for name in baselines_for(task):
        if name in ("input", "nearest"):
            continue
        after = psnr(clean, classical(name, cfg)(d))
        assert after.mean() > before.mean() + 0.3, (name, after.mean(), before.mean())


def test_content_loss_is_the_l1_norm_per_image():
    clean, restored = torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    restored[0] = 0.5  # |.|_1 = 2.0 for image 0, 0 for image 1: mean 1.0
    torch.testing.assert_close(content_loss(clean, restored), torch.tensor(1.0))


def test_untrained_restorer_is_bicubic_and_keeps_known_pixels(data_root):
    cfg = load_preset("restore-sr4-cifar10", [f"data.root={data_root}", "data.split=valid"])
    run = build_run(cfg)
    x = load_images01("cifar10", "test", data_root, 3)[0]
    d = degrade(x, cfg.restore)
    torch.testing.assert_close(
        from_generator(run.nets["G"], 3)(d), classical("bicubic", cfg.restore)(d)
    )
    cfg = load_preset("restore-inpaint-faces", [f"data.root={data_root}", *SMALL])
    run = run_loop(build_run(cfg), [], 2)
    faces = load_images01("faces", "test", data_root, 2)[0]
    d = degrade(faces, cfg.restore)
    out = from_generator(run.nets["G"], 1)(d)
    known = d.mask.expand_as(faces) == 0
    torch.testing.assert_close(out[known], faces[known])


def test_each_phase_moves_only_its_player(data_root, one_thread):
    cfg = load_preset("restore-denoise-faces", [f"data.root={data_root}", *SMALL])
    run = build_run(cfg)
    before = {n: [p.detach().clone() for p in net.parameters()] for n, net in run.nets.items()}
    run.update("D")
    changed = {
        n: any(not torch.equal(a, b) for a, b in zip(before[n], net.parameters(), strict=False))
        for n, net in run.nets.items()
    }
    assert changed == {"G": False, "D": True}


def test_restoration_run_resumes_exactly(data_root, tmp_path, one_thread):
    overrides = [*SMALL, f"data.root={data_root}"]
    whole = train(load_preset("restore-sr2-faces", [*overrides, "train.steps=4"]), tmp_path / "a")
    train(load_preset("restore-sr2-faces", [*overrides, "train.steps=2"]), tmp_path / "b")
    resumed = train(None, tmp_path / "b", resume=True, overrides=["train.steps=4"])
    for name, net in whole.nets.items():
        theirs = resumed.nets[name].state_dict().values()
        for a, b in zip(net.state_dict().values(), theirs, strict=True):
            assert torch.equal(a, b)


def test_short_content_run_beats_bicubic(data_root, one_thread):
    """150 steps of the content-only G on faces (x2): its test PSNR above bicubic's, the G
    it starts from. Measured: 31.44 dB against bicubic's 31.13 on 40 test faces."""
    cfg = load_preset(
        "restore-sr2-faces",
        [
            f"data.root={data_root}",
            "method=restoration-content",
            "train.progress=false",
            "train.threads=1",
            "model.generator.channels=16",
            "model.generator.blocks=2",
        ],
    )
    run = run_loop(build_run(cfg), [], 150)
    rows = restoration_table(
        cfg.restore, "faces", {"G": from_generator(run.nets["G"].eval(), 1)}, data_root, n=40
    )
    by_name = {r.name: r for r in rows}
    assert 0.05 < by_name["G"].psnr - by_name["bicubic"].psnr < 6, [r.line() for r in rows]


@pytest.mark.parametrize("grey", [False, True])
def test_degrade_and_restore_commands_round_trip_odd_pictures(grey, tmp_path, capsys):
    rng = np.random.default_rng(0)
    shape = (61, 97) if grey else (61, 97, 3)
    Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    for task, method, size in [
        ("denoise", "nlm", (97, 61)),
        ("sr2", "bicubic", (97, 61)),
        ("deblur", "wiener", (97, 61)),
        ("inpaint", "biharmonic", (97, 61)),
    ]:
        bad, out = tmp_path / f"{task}.png", tmp_path / f"{task}-restored.png"
        assert main(["degrade", str(tmp_path / "in.png"), "--task", task, "--out", str(bad)]) == 0
        assert (
            main(["restore", str(bad), "--task", task, "--method", method, "--out", str(out)]) == 0
        )
        with Image.open(out) as img:
            assert img.size == size and img.mode == ("L" if grey else "RGB")


def test_restore_errors_are_one_line(tmp_path, capsys, data_root):
    (tmp_path / "bad.png").write_text("not an image")
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(good)
    cases = [
        ["restore", str(tmp_path / "bad.png"), "--task", "denoise", "--method", "nlm"],
        ["restore", str(good), "--task", "blur", "--method", "nlm"],
        ["restore", str(good), "--task", "sr2", "--method", "nlm"],
        ["restore", str(good), "--task", "inpaint", "--method", "biharmonic"],
        ["degrade", str(good), "--task", "denoise", "--set", "train.steps=3"],
    ]
    for args in cases:
        capsys.readouterr()
        assert main([*args, "--out", str(tmp_path / "o.png")]) == 2, args
        err = capsys.readouterr().err.strip()
        assert err.startswith("advnets: error:") and "\n" not in err, err
    run = tmp_path / "run"
    train(
        load_preset("restore-denoise-faces", [*SMALL, f"data.root={data_root}", "train.steps=1"]),
        run,
    )
    capsys.readouterr()
    assert (
        main(["restore", str(run), str(good), "--task", "sr2", "--out", str(tmp_path / "o.png")])
        == 2
    )
    assert "restores denoise, not sr2" in capsys.readouterr().err
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "s.npy")]) == 2
    assert "psnr: restoration" in capsys.readouterr().err
    gan = tmp_path / "gan"
    train(load_preset("gan-ring", ["train.steps=1", "train.progress=false"]), gan)
    assert main(["restore", str(gan), str(good), "--out", str(tmp_path / "o.png")]) == 2
    assert "not a restoration run" in capsys.readouterr().err
    noisier = tmp_path / "noisier"  # trained on another corruption: not scored on this one
    sets = [*SMALL, f"data.root={data_root}", "train.steps=1", "restore.noise=0.2"]
    train(load_preset("restore-denoise-faces", sets), noisier)
    code = main(["eval", str(run), "--metric", "psnr", "--compare", str(noisier), "--n", "4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "trained on restore.noise=0.2, this run's test inputs use" in err, err


def test_crops_with_a_centre_mask_are_refused():
    """A crop's centre square is not the test image's: training would learn another hole."""
    with pytest.raises(ConfigError, match="restore.crop=16 would train on the centre square"):
        validate(load_preset("restore-inpaint-cifar10", ["restore.crop=16"]))
    validate(load_preset("restore-inpaint-cifar10", ["restore.crop=16", "restore.mask=holes"]))


@pytest.mark.parametrize("task", list(TASKS))
def test_shipped_restorers_beat_the_best_baseline_default(task, data_root):
    """The package's CIFAR-10 restorers load (weights_only) and, on 16 test images, restore
    better than the corrupted input and than the task's best classical default."""
    from advnets.restore import load_shipped

    restorer = load_shipped(task)[0]
    settings = RestoreConfig(task=task)  # the tables' corruption (a G may train on others)
    clean = load_images01("cifar10", "test", data_root, 16)[0]
    d = degrade(clean, settings, torch.Generator().manual_seed(3))
    ours = psnr(clean, restorer(d)).mean()
    names = [n for n in baselines_for(task) if n != "input"]
    best = max(psnr(clean, classical(n, settings)(d)).mean() for n in names)
    assert 0.0 < ours - best < 6.0, (task, ours, best)


def test_nlm_takes_each_images_noise_level_where_it_is_not_one_setting():
    """A blind preset draws each image's noise level (restore.noise_max > 0): NLM then
    filters each image at its estimated level, as the sigma-conditioned G sees it, not at
    restore.noise (the range's low end); a level given with the image (--sigma) is taken."""
    from advnets.data.corruptions import Degraded

    ramp = torch.linspace(0, 1, 48)
    clean = torch.stack([ramp.view(1, -1).expand(48, 48), ramp.view(-1, 1).expand(48, 48)])
    clean = (0.2 + 0.6 * clean).unsqueeze(1).expand(2, 3, 48, 48)
    noisy = (
        clean + 40 / 255 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    ).clamp(0, 1)
    fixed = RestoreConfig(task="denoise", noise=5 / 255)
    blind = RestoreConfig(task="denoise", noise=5 / 255, noise_max=50 / 255)
    low = psnr(clean, classical("nlm", fixed)(Degraded(noisy))).mean().item()
    drawn = psnr(clean, classical("nlm", blind)(Degraded(noisy))).mean().item()
    given = Degraded(noisy, sigma=torch.full((2,), 40 / 255))
    known = psnr(clean, classical("nlm", fixed)(given)).mean().item()
    assert drawn > low + 4 and known > low + 4, (low, drawn, known)
    assert abs(drawn - known) < 1.5
