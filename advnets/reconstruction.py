"""Encoding and reconstructing images with a VAE or VAE/GAN run, and how good and how sharp
the reconstructions and samples are (Larsen et al. 2016's comparison, in numbers)."""

import torch
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import to_range
from advnets.methods.vaegan import encode
from advnets.metrics.accuracy import first_images


@torch.no_grad()
def encode_images(E: nn.Module, x: Tensor, mean: bool = True, seed: int = 0) -> Tensor:
    """z for each image: the mean of q(z|x), or a draw of it (seeded), on the CPU."""
    device = next(E.parameters()).device
    parts = []
    gen = torch.Generator().manual_seed(seed)
    for chunk in x.split(500):
        mu, logvar = encode(E, chunk.to(device))
        if not mean:
            eps = torch.randn(mu.shape, generator=gen).to(device)
            mu = mu + (0.5 * logvar).exp() * eps
        parts.append(mu.cpu())
    return torch.cat(parts)


@torch.no_grad()
def reconstruct(E: nn.Module, G: nn.Module, x: Tensor, mean: bool = True, seed: int = 0) -> Tensor:
    """G(z) for z = encode(x): the images decoded from their codes, on the CPU."""
    z = encode_images(E, x, mean, seed)
    device = next(G.parameters()).device
    return torch.cat([G(part.to(device)).float().cpu() for part in z.split(500)])


def psnr(x: Tensor, y: Tensor, max_value: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio of each image pair, 10 log10(MAX^2 / MSE), with the MSE
    over all pixels and channels of the image (dB)."""
    mse = (x - y).flatten(1).square().mean(1)
    return 10 * torch.log10(max_value**2 / mse)


def laplacian(images01: Tensor) -> Tensor:
    """The discrete Laplacian (4-neighbour kernel) of each channel, valid region:
    (N, C, H - 2, W - 2)."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    flat = images01.flatten(0, 1).unsqueeze(1)  # every channel an image
    lap = torch.nn.functional.conv2d(flat, kernel.to(flat).view(1, 1, 3, 3))
    return lap.view(*images01.shape[:2], *lap.shape[-2:])


def laplacian_variance(images01: Tensor) -> Tensor:
    """Sharpness of each image: the variance of its discrete Laplacian (per channel, valid
    region, channels averaged), a no-reference blur measure."""
    return laplacian(images01).flatten(2).var(2).mean(1)


def reconstruction_scores(
    E: nn.Module, G: nn.Module, cfg: Config, n: int | None = None, root: str | None = None
) -> dict[str, float]:
    """On the test split: reconstruction MSE and PSNR (pixels on [0, 1]) of the encoder's
    mean, the mean image's PSNR for comparison, and the sharpness (Laplacian variance) of
    reconstructions and samples relative to the test images' own (1 = as sharp as data)."""
    x01 = first_images(cfg.data, "test", root, n)[0]
    lo, hi = cfg.data.value_range
    recon01 = ((reconstruct(E, G, to_range(x01, (lo, hi))) - lo) / (hi - lo)).clamp(0, 1)
    z = torch.randn(len(x01), cfg.model.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        device = next(G.parameters()).device
        samples01 = ((G(z.to(device)).float().cpu() - lo) / (hi - lo)).clamp(0, 1)
    mean_image = x01.mean(0, keepdim=True).expand_as(x01)
    real_sharpness = laplacian_variance(x01).mean()
    elbo = {"neg_elbo": neg_elbo(E, G, cfg, to_range(x01, (lo, hi)))} if cfg.method == "vae" else {}
    return {
        **elbo,
        "recon_mse": (recon01 - x01).square().mean().item(),
        "recon_psnr": psnr(recon01, x01).mean().item(),
        "mean_image_psnr": psnr(mean_image, x01).mean().item(),
        "recon_sharpness": (laplacian_variance(recon01).mean() / real_sharpness).item(),
        "sample_sharpness": (laplacian_variance(samples01).mean() / real_sharpness).item(),
        "recon_images": len(x01),
    }


@torch.no_grad()
def neg_elbo(E: nn.Module, G: nn.Module, cfg: Config, x: Tensor, seed: int = 0) -> float:
    """A VAE's negative ELBO per image (nats, one draw of z each): KL + -log p(x | z)."""
    from advnets.losses import gaussian_kl
    from advnets.methods import METHODS
    from advnets.methods.vae import reconstruction_nll

    # a VAE's own likelihood; a VAE/GAN's decoder is scored as images on [0, 1]
    likelihood = getattr(METHODS.get(cfg.method).options(cfg), "likelihood", "bernoulli")
    device, total = next(E.parameters()).device, 0.0
    gen = torch.Generator().manual_seed(seed)
    for chunk in x.split(500):
        mu, logvar = encode(E, chunk.to(device))
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=gen).to(device)
        nll = reconstruction_nll(chunk.to(device), G(z).float(), likelihood)
        total += (gaussian_kl(mu, logvar) + nll).sum().item()
    return total / len(x)
