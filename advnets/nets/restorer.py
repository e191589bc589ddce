"""Networks for image restoration: a fully convolutional residual generator (He et al.
2016's blocks: each learns a small correction to the identity) that maps a corrupted image to
its restoration at any image size, and a patch discriminator whose logits score overlapping
patches, so neither net depends on the image size."""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.config import NetConfig


@torch.no_grad()
def smooth_fill(x: Tensor, mask: Tensor, iters: int = 10) -> Tensor:
    """x with its missing pixels (mask 1) filled smoothly from the known ones, coarse to
    fine: normalised 2x averages down to one pixel, then at each finer level the coarse
    estimate upsampled and `iters` Jacobi sweeps of Laplace's equation in the hole. A cheap
    harmonic-like start that the inpainting G corrects, as bicubic is for super-resolution."""
    known = 1 - mask
    levels = [(x * known, known)]
    while min(levels[-1][0].shape[-2:]) >= 2:
        xs, ks = levels[-1]
        levels.append((F.avg_pool2d(xs, 2, ceil_mode=True), F.avg_pool2d(ks, 2, ceil_mode=True)))
    xs, ks = levels.pop()
    estimate = xs / ks.clamp_min(1e-6)
    for xs, ks in reversed(levels):
        estimate = F.interpolate(estimate, size=xs.shape[-2:], mode="bilinear", align_corners=False)
        whole = ks > 0.999
        estimate = torch.where(whole, xs / ks.clamp_min(1e-6), estimate)
        for _ in range(iters):
            neighbours = F.avg_pool2d(F.pad(estimate, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
            estimate = torch.where(whole, estimate, neighbours)
    return torch.where(mask > 0, estimate, x)


class ResidualBlock(nn.Module):
    """x + conv(relu(conv(x))): the identity plus a learned correction."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


BIHARMONIC_MOST = 1024 * 1024  # pixels: a larger photo's holes are filled at a coarser scale


def biharmonic_fill(x: Tensor, mask: Tensor, most: int = BIHARMONIC_MOST) -> Tensor:
    """x with its missing pixels (mask 1) filled by scikit-image's biharmonic inpainting,
    image by image on the CPU (the classical baseline, as a start for the G to correct).
    Its sparse solve grows with the hole, so a picture of more than `most` pixels is filled
    at the scale that brings it to `most` and the fill upsampled into the hole."""
    h, w = x.shape[-2:]
    factor = math.ceil(math.sqrt(h * w / most))
    if factor > 1:
        known = F.avg_pool2d(1 - mask, factor, ceil_mode=True)
        small = F.avg_pool2d(x * (1 - mask), factor, ceil_mode=True) / known.clamp_min(1e-6)
        filled = biharmonic_fill(small, (known < 0.5).to(x), most)
        up = F.interpolate(filled, size=(h, w), mode="bilinear", align_corners=False)
        return torch.where(mask > 0, up, x)
    from skimage.restoration import inpaint_biharmonic

    images = x.detach().cpu().double().numpy()
    holes = mask.detach().cpu().numpy()[:, 0] > 0.5
    out = [
        inpaint_biharmonic(image, hole, channel_axis=0) if hole.any() else image
        for image, hole in zip(images, holes, strict=True)
    ]
    filled = torch.from_numpy(np.stack(out)).to(x).clamp(0, 1)
    return torch.where(mask > 0, filled, x)


class ResidualRestorer(nn.Module):
    """G(corrupted[, mask][, sigma]): upsample by `scale` (bicubic), or fill the missing
    pixels (`fill`: smooth or biharmonic) when inpainting, then add the residual network's
    correction; for inpainting the mask is an input channel and known pixels are kept, and
    with `sigma_input` each image's noise std is one. The last layer starts at zero, so an
    untrained G is the bicubic / identity / fill baseline."""

    def __init__(
        self,
        cfg: NetConfig,
        channels: int,
        scale: int = 1,
        masked: bool = False,
        sigma_input: bool = False,
        fill: str = "smooth",
    ):
        super().__init__()
        self.scale, self.masked, self.sigma_input, self.fill = scale, masked, sigma_input, fill
        width = cfg.channels
        self.head = nn.Conv2d(channels + int(masked) + int(sigma_input), width, 3, padding=1)
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(cfg.blocks)))
        self.tail = nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: Tensor, mask: Tensor | None = None, sigma: Tensor | None = None) -> Tensor:
        if self.masked and mask is None:
            raise ValueError("an inpainting restorer needs the mask of missing pixels")
        if self.sigma_input and sigma is None:
            raise ValueError("this restorer needs each image's noise std (sigma)")
        start = self.start(x, mask)
        return self.correct(start, mask, x if self.masked else None, sigma)

    def start(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """What the network corrects: x upsampled bicubically (super-resolution), filled in
        its holes (inpainting) or x itself. Global, but cheap at any size."""
        if self.scale > 1:
            size = (x.shape[-2] * self.scale, x.shape[-1] * self.scale)
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
        if not self.masked:
            return x
        fill = biharmonic_fill if self.fill == "biharmonic" else smooth_fill
        return fill(x, mask.to(x))

    def correct(
        self,
        start: Tensor,
        mask: Tensor | None,
        known: Tensor | None,
        sigma: Tensor | None = None,
    ) -> Tensor:
        """start + the learned correction (known pixels kept when inpainting). Each output
        pixel depends on the start's pixels within `reach` of it, so a large image can be
        corrected tile by tile (advnets.restore.tiles) with the same result."""
        inputs = [start]
        if self.masked:
            mask = mask.to(start)
            inputs.append(mask)
        if self.sigma_input:
            n, _, h, w = start.shape
            inputs.append(sigma.to(start).view(-1, 1, 1, 1).expand(n, 1, h, w))
        inputs = torch.cat(inputs, 1) if len(inputs) > 1 else start
        out = start + self.tail(self.blocks(F.relu(self.head(inputs))))
        return mask * out + (1 - mask) * known if self.masked else out

    @property
    def reach(self) -> int:
        """Pixels of context each output pixel sees on each side: one per 3x3 convolution."""
        return 2 + 2 * len(self.blocks)


class PatchDiscriminator(nn.Module):
    """D(x): strided convolutions to one logit per patch (N, P) of the image."""

    def __init__(self, cfg: NetConfig, channels: int) -> None:
        super().__init__()
        width, slope = cfg.channels, cfg.leaky_slope
        layers: list[nn.Module] = []
        for i in range(3):
            out = width * 2**i
            layers += [nn.Conv2d(channels if i == 0 else out // 2, out, 4, 2, 1)]
            layers += [nn.LeakyReLU(slope, inplace=True)]
        layers.append(nn.Conv2d(width * 4, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten(1)
