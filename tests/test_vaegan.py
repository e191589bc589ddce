"""VAE/GAN and the VAE: the KL term and the reparameterisation against closed forms and
finite differences, each player's gradient from its own loss only, exact resume, a short
run that reconstructs, and the reconstruct / encode commands."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from advnets import load_preset
from advnets.cli import main
from advnets.data import load_images01
from advnets.losses import feature_reconstruction, gaussian_kl
from advnets.methods.vaegan import encode, reparameterize
from advnets.reconstruction import reconstruction_scores
from advnets.training import build_run, run_loop, train

# narrow nets: each method's own (an override of a net the method does not build is refused)
NETS = {
    "vaegan": ["model.encoder.channels=8", "model.generator.channels=8"]
    + ["model.discriminator.channels=8"],
    "vae": ["model.encoder.channels=8", "model.generator.channels=8"],
    "gan": ["model.generator.channels=8", "model.discriminator.channels=8"],
}
BASE = [
    "model.z_dim=8",
    "train.progress=false",
    "train.samples_per_epoch=false",
    "train.checkpoint_every=0",
    "train.batch_size=16",
]
SMALL = [*NETS["vaegan"], *BASE]


def test_kl_term_matches_the_closed_form():
    mean, logvar = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    torch.testing.assert_close(gaussian_kl(mean, logvar), expected)
    assert gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)).abs().max() == 0  # q = p


def test_reparameterisation_gradient_matches_finite_differences():
    """d/d(mean, logvar) of f(z) = sum(z^3), z = mean + exp(logvar / 2) eps, at fixed eps."""
    mean = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    logvar = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)

    def f(m, lv):
        torch.manual_seed(7)  # the same eps every call
        return reparameterize(m, lv).pow(3).sum()

    g_mean, g_logvar = torch.autograd.grad(f(mean, logvar), (mean, logvar))
    h = 1e-6
    for param, grad in ((mean, g_mean), (logvar, g_logvar)):
        numeric = torch.zeros_like(param)
        for i in range(param.numel()):
            step = torch.zeros_like(param).view(-1)
            step[i] = h
            step = step.view_as(param)
            up = f(mean + step, logvar) if param is mean else f(mean, logvar + step)
            down = f(mean - step, logvar) if param is mean else f(mean, logvar - step)
            numeric.view(-1)[i] = (up - down) / (2 * h)
        torch.testing.assert_close(grad, numeric, rtol=1e-6, atol=1e-8)


def test_feature_reconstruction_is_half_the_squared_distance():
    a, b = torch.tensor([[1.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    torch.testing.assert_close(feature_reconstruction(a, b), torch.tensor([2.5, 12.5]))


def grads(loss, net):
    """d loss / d net's parameters, flat (zeros for parameters the loss does not use)."""
    params = list(net.parameters())
    found = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.cat(
        [
            (torch.zeros_like(p) if g is None else g).flatten()
            for p, g in zip(params, found, strict=True)
        ]
    )


def test_each_player_gets_only_its_own_losses_gradient(data_root):
    """Enc from L_prior + L_llike (nothing of L_GAN), Dis from -L_GAN (nothing of L_llike),
    as the generic step applies them; and those left-out terms do reach the players'
    weights, so a leak would show."""
    run = build_run(load_preset("vaegan-mnist", [*SMALL, f"data.root={data_root}"]))
    E, G, D = run.nets["E"], run.nets["G"], run.nets["D"]
    batch = run.step.batches.draw(("real", "noise"))
    torch.manual_seed(3)  # the same draw of z in both computations
    losses, _ = run.method.losses(batch)
    torch.manual_seed(3)  # the same forward again, for the separate terms
    mean, logvar = encode(E, batch.real)
    x_tilde = G(reparameterize(mean, logvar))
    llike = feature_reconstruction(D.features(batch.real), D.features(x_tilde)).mean()
    l_gan = (
        F.logsigmoid(D(batch.real)).mean()
        + F.logsigmoid(-D(x_tilde)).mean()
        + F.logsigmoid(-D(G(batch.z))).mean()
    )
    prior = gaussian_kl(mean, logvar).mean()
    want_E, want_D = grads(prior + llike, E), grads(-l_gan, D)
    assert grads(l_gan, E).abs().max() > 1e-6 and grads(llike, D).abs().max() > 1e-6
    run.step._update(("E", "G", "D"), losses)  # the step's gradients, then its updates
    got_E = torch.cat([p.grad.flatten() for p in E.parameters()])
    got_D = torch.cat([p.grad.flatten() for p in D.parameters()])
    torch.testing.assert_close(got_E, want_E, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(got_D, want_D, rtol=1e-4, atol=1e-6)


def test_dis_llike_option_adds_the_feature_loss_to_d(data_root):
    """options.dis_llike = w: D's loss is -L_GAN + w L_llike (0 by default)."""
    losses = {}
    for w in (0.0, 0.5):
        run = build_run(
            load_preset(
                "vaegan-mnist", [*SMALL, f"data.root={data_root}", f"options.dis_llike={w}"]
            )
        )
        batch = run.step.batches.draw(("real", "noise"))
        torch.manual_seed(3)
        losses[w], stats = run.method.losses(batch)
    torch.testing.assert_close(losses[0.5]["D"] - losses[0.0]["D"], 0.5 * stats["loss_llike"])


def test_joint_batch_shows_dis_a_contrast_error_that_separate_batches_hide(data_root):
    """options.joint_batch: with Dis's running statistics (eval mode) the losses are
    those of a batch each; in training, batch norm over x and x~ together lets L_llike see
    x~ = 0.5 x + 0.2, an error every image shares, that each batch's own statistics
    partly normalise away."""
    runs = {
        joint: build_run(
            load_preset(
                "vaegan-mnist",
                [*SMALL, f"data.root={data_root}", f"options.joint_batch={joint}"],
            )
        )
        for joint in ("false", "true")
    }
    llike, losses = {}, {}
    for joint, run in runs.items():
        batch = run.step.batches.draw(("real", "noise"))
        for net in run.nets.values():
            net.eval()
        torch.manual_seed(3)
        losses[joint], _ = run.method.losses(batch)
        for net in run.nets.values():
            net.train()
        x = batch.real
        with torch.no_grad():
            (f_x, f_tilde), _ = run.method._dis(x, 0.5 * x + 0.2, x)
        llike[joint] = feature_reconstruction(f_x, f_tilde).mean().item()
    for player in ("E", "G", "D"):
        torch.testing.assert_close(losses["true"][player], losses["false"][player])
    assert 1.3 * llike["false"] < llike["true"] < 10 * llike["false"]


@pytest.mark.parametrize("preset", ["vaegan-mnist", "vae-mnist"])
def test_autoencoder_runs_resume_exactly(preset, data_root, tmp_path):
    overrides = [*BASE, *NETS[preset.removesuffix("-mnist")], f"data.root={data_root}"]
    whole = train(load_preset(preset, [*overrides, "train.steps=4"]), tmp_path / "whole")
    train(load_preset(preset, [*overrides, "train.steps=2"]), tmp_path / "cut")
    resumed = train(None, tmp_path / "cut", resume=True, overrides=["train.steps=4"])
    for name, net in whole.nets.items():
        for a, b in zip(
            net.state_dict().values(), resumed.nets[name].state_dict().values(), strict=True
        ):
            assert torch.equal(a, b)


def test_short_vaegan_run_reconstructs_better_than_the_mean_image(data_root):
    """200 steps of the preset (one thread): reconstruction PSNR above that of predicting the
    mean test image (12.1 dB). Measured: 15.4 dB."""
    threads = torch.get_num_threads()
    try:
        cfg = load_preset(
            "vaegan-mnist", [f"data.root={data_root}", "train.progress=false", "train.threads=1"]
        )
        run = run_loop(build_run(cfg), [], 200)
    finally:
        torch.set_num_threads(threads)
    scores = reconstruction_scores(run.nets["E"].eval(), run.nets["G"].eval(), cfg, 1000)
    assert scores["recon_psnr"] > scores["mean_image_psnr"] + 1.0, scores
    assert 0 < scores["recon_sharpness"] < 2 and 0 < scores["sample_sharpness"] < 2


def test_reconstruct_and_encode_commands(data_root, tmp_path, capsys):
    run_dir, gan_dir = tmp_path / "vg", tmp_path / "gan"
    train(load_preset("vaegan-mnist", [*SMALL, f"data.root={data_root}", "train.steps=2"]), run_dir)
    train(
        load_preset(
            "vaegan-mnist",
            [*BASE, *NETS["gan"], f"data.root={data_root}", "train.steps=1", "method=gan"],
        ),
        gan_dir,
    )
    np.save(tmp_path / "x.npy", load_images01("mnist", "test", str(data_root), 6)[0].numpy())
    np.save(tmp_path / "bad.npy", np.zeros((3, 28, 28), np.float32))
    x = str(tmp_path / "x.npy")
    assert main(["encode", str(run_dir), "--samples", x, "--out", str(tmp_path / "z.npy")]) == 0
    assert np.load(tmp_path / "z.npy").shape == (6, 8)
    for out in ("r.npy", "r.png"):
        assert (
            main(["reconstruct", str(run_dir), "--samples", x, "--out", str(tmp_path / out)]) == 0
        )
    assert np.load(tmp_path / "r.npy").shape == (6, 1, 28, 28)
    capsys.readouterr()
    for run, samples, message in (
        (gan_dir, x, "has no encoder"),
        (run_dir, str(tmp_path / "bad.npy"), "must have shape"),
    ):
        code = main(
            ["reconstruct", str(run), "--samples", samples, "--out", str(tmp_path / "o.npy")]
        )
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and "\n" not in err, err


def test_arithmetic_from_encoded_real_images(data_root, tmp_path, capsys):
    """Concept vectors from the encoder's codes of real images (Larsen et al.), for the
    picture of `advnets arithmetic`; the picks and --show-grid stay exclusive of them."""
    run_dir = tmp_path / "vg"
    train(load_preset("vaegan-mnist", [*SMALL, f"data.root={data_root}", "train.steps=2"]), run_dir)
    x, y = load_images01("mnist", "test", str(data_root), 300)
    sets = {}
    for name, digit in (("a", 1), ("b", 7), ("c", 4)):
        sets[name] = tmp_path / f"{name}.npy"
        np.save(sets[name], x[y == digit][:5].numpy())
    args = ["arithmetic", str(run_dir), "--out", str(tmp_path / "ar.png")]
    images = [f for n in "abc" for f in (f"--{n}-images", str(sets[n]))]
    assert main([*args, *images]) == 0 and (tmp_path / "ar.png").is_file()
    capsys.readouterr()
    assert main([*args, *images, "--a", "0"]) == 2
    assert "replace --a/--b/--c" in capsys.readouterr().err
