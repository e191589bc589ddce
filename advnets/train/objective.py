"""What one discriminator update and one generator update compute.

The step function owns zero_grad/backward/step; an objective only turns networks and
batches into a scalar loss plus statistics. Variants (feature matching, packing, gradient
penalties, unrolling) subclass `GANObjective` and override these hooks.
"""

import torch
from torch import Tensor, nn

from advnets.config import LossConfig
from advnets.losses import D_LOSSES, G_LOSSES, DLoss, GLoss

Stats = dict[str, Tensor]


def d_outputs(real_logits: Tensor, fake_logits: Tensor) -> Stats:
    """Mean D(x) and D(G(z)): the numbers to watch while training."""
    return {"d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean()}


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


class GANObjective:
    """The paper's objective: D maximises V(D,G); G minimises its own loss of D(G(z))."""

    needs_real_for_g = False  # set by variants whose generator loss looks at data

    def __init__(self, d_loss: DLoss, g_loss: GLoss, joint_forward: bool = True) -> None:
        self.d_loss = d_loss
        self.g_loss = g_loss
        # One D forward over [real; fake] is faster, but would mix batch-norm statistics.
        self.joint_forward = joint_forward

    def d_logits(self, D: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        if not self.joint_forward:
            return D(real), D(fake)
        logits = D(torch.cat([real, fake]))
        return logits[: len(real)], logits[len(real) :]

    def discriminator_loss(self, D: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Stats]:
        real_logits, fake_logits = self.d_logits(D, real, fake)
        loss = self.d_loss(real_logits.float(), fake_logits.float())
        return loss, {"loss_d": loss.detach(), **d_outputs(real_logits, fake_logits)}

    def generator_loss(self, D: nn.Module, fake: Tensor,
                       real: Tensor | None = None) -> tuple[Tensor, Stats]:
        loss = self.g_loss(D(fake).float())
        return loss, {"loss_g": loss.detach()}

    def joint_losses(self, D: nn.Module, real: Tensor,
                     fake: Tensor) -> tuple[Tensor, Tensor, Stats]:
        """Both players' losses from one D forward (the paper code's simultaneous update)."""
        real_logits, fake_logits = self.d_logits(D, real, fake)
        d_loss = self.d_loss(real_logits.float(), fake_logits.float())
        g_loss = self.g_loss(fake_logits.float())
        stats = {"loss_d": d_loss.detach(), "loss_g": g_loss.detach()}
        return d_loss, g_loss, {**stats, **d_outputs(real_logits, fake_logits)}

    def after_d_update(self, D: nn.Module) -> None:
        """Called after each discriminator optimizer step (e.g. weight clipping)."""


def build_objective(cfg: LossConfig, D: nn.Module) -> GANObjective:
    return GANObjective(D_LOSSES.get(cfg.discriminator), G_LOSSES.get(cfg.generator),
                        joint_forward=not has_batch_norm(D))
