"""Small-data training aids that belong to D: differentiable augmentation and spectral
normalisation.

DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): every image D sees while training, real or generated, is transformed by the same
random, differentiable policy, so that D cannot memorise a few hundred pictures and G's
gradient still flows through the transformation. The three policies of the paper:
  color        brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)
  translation  a shift by up to 1/8 of each side, the border filled with zeros
  cutout       a square of half each side set to zero, at a random place
Each image draws its own parameters from the global RNG (so a resumed run is exact). D in
eval mode (scoring) sees the images as they are.

Spectral normalisation (Miyato et al. 2018): each weight divided by its largest singular
value (one power iteration per forward), which bounds D's Lipschitz constant.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.registry import Registry

POLICIES: Registry[Callable[[Tensor], Tensor]] = Registry("augmentation policy")


@POLICIES.register("color")
def color(x: Tensor) -> Tensor:
    n = len(x)
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    grey = x.mean(1, keepdim=True)
    x = (x - grey) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + grey
    mean = x.mean((1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


@POLICIES.register("translation")
def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    n, _, h, w = x.shape
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy).expand(n, h, w)
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx).expand(n, h, w)
    padded = F.pad(x, (1, 1, 1, 1))  # a zero border that out-of-range reads land on
    rows, cols = rows.clamp(-1, h) + 1, cols.clamp(-1, w) + 1
    images = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[images, rows, cols].permute(0, 3, 1, 2)


@POLICIES.register("cutout")
def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    top = torch.randint(0, h + 1 - ch % 2, (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + 1 - cw % 2, (n, 1, 1), device=x.device) - cw // 2
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def parse_policy(text: str) -> list[str]:
    """ "translation,cutout,color" as its policy names (each checked); "" is none."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    for name in names:
        POLICIES.get(name)
    return names


class DiffAugment(nn.Module):
    """`net` seeing every training input through the augmentation `policy` (see the module
    docstring); in eval mode, the input as it is."""

    def __init__(self, net: nn.Module, policy: list[str]) -> None:
        super().__init__()
        self.net, self.policy = net, policy

    def augment(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        for name in self.policy:
            x = POLICIES.get(name)(x)
        return x

    def forward(self, x: Tensor, *rest: Tensor) -> Tensor:
        return self.net(self.augment(x), *rest)

    def features(self, x: Tensor, *rest: Tensor) -> Tensor:
        return self.net.features(self.augment(x), *rest)

    def extra_repr(self) -> str:
        return f"policy={','.join(self.policy)}"


def spectral_norm_(net: nn.Module) -> nn.Module:
    """Every convolution and linear layer of `net` spectrally normalised, in place."""
    for module in list(net.modules()):
        if isinstance(module, nn.Conv2d | nn.Linear | nn.ConvTranspose2d):
            nn.utils.parametrizations.spectral_norm(module)
    return net
