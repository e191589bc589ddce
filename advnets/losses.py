"""GAN losses as plain functions of discriminator logits, D(x) = sigmoid(logit).

All are losses to *minimise*. They use `logsigmoid`, so they stay finite for any logit:
log D = logsigmoid(l), log(1 - D) = logsigmoid(-l).
"""

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

from advnets.registry import Registry

DLoss = Callable[[Tensor, Tensor], Tensor]
GLoss = Callable[[Tensor], Tensor]

D_LOSSES: Registry[DLoss] = Registry("discriminator loss")
G_LOSSES: Registry[GLoss] = Registry("generator loss")


def value(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The minimax value V(D,G) = E[log D(x)] + E[log(1 - D(G(z)))] of the paper, eq. (1)."""
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


@D_LOSSES.register("minimax")
def d_minimax(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """D ascends V(D,G); as a loss to minimise, -V."""
    return -value(real_logits, fake_logits)


@G_LOSSES.register("minimax")
def g_minimax(fake_logits: Tensor) -> Tensor:
    """G descends E[log(1 - D(G(z)))]: the saturating loss of the minimax game."""
    return F.logsigmoid(-fake_logits).mean()


@G_LOSSES.register("non_saturating")
def g_non_saturating(fake_logits: Tensor) -> Tensor:
    """G descends -E[log D(G(z))]: same fixed point, strong gradients early (paper, Sec. 3)."""
    return -F.logsigmoid(fake_logits).mean()
