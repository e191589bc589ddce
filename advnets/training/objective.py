"""What one discriminator update and one generator update compute.

The step function owns zero_grad/backward/step; an objective only turns networks and
batches into a scalar loss plus statistics. Variants (feature matching, packing, gradient
penalties, unrolling) subclass `GANObjective` and override these hooks.

Conditional runs (Mirza & Osindero 2014) also hand over `real_cond` / `fake_cond`, the
condition of each real and fake sample (class labels); an objective passes them on to D with
`critic` and never looks inside. Unconditional runs leave them out.
"""

import inspect
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from advnets.config import LossConfig
from advnets.losses import D_LOSSES, G_LOSSES, DLoss, GLoss, clip_weights_, gradient_penalty
from advnets.nets.layers import MinibatchDiscrimination

Stats = dict[str, Tensor]


def d_outputs(real_logits: Tensor, fake_logits: Tensor) -> Stats:
    """Mean D(x) and D(G(z)): the numbers to watch while training."""
    return {"d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean()}


def critic(D: nn.Module, x: Tensor, cond: Tensor | None = None) -> Tensor:
    """D(x), or D(x, cond) for a conditional run."""
    return D(x) if cond is None else D(x, cond)


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

    def d_logits(self, D: nn.Module, real: Tensor, fake: Tensor, *,
                 real_cond: Tensor | None = None,
                 fake_cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if not self.joint_forward:
            return critic(D, real, real_cond), critic(D, fake, fake_cond)
        cond = None if real_cond is None else torch.cat([real_cond, fake_cond])
        logits = critic(D, torch.cat([real, fake]), cond)
        n_real = len(logits) * len(real) // (len(real) + len(fake))  # packed D: 1 per m samples
        return logits[:n_real], logits[n_real:]

    def discriminator_loss(self, D: nn.Module, real: Tensor, fake: Tensor, *,
                           real_cond: Tensor | None = None,
                           fake_cond: Tensor | None = None) -> tuple[Tensor, Stats]:
        real_logits, fake_logits = self.d_logits(D, real, fake, real_cond=real_cond,
                                                 fake_cond=fake_cond)
        loss = self.d_loss(real_logits.float(), fake_logits.float())
        return loss, {"loss_d": loss.detach(), **d_outputs(real_logits, fake_logits)}

    def generator_loss(self, D: nn.Module, fake: Tensor, real: Tensor | None = None, *,
                       real_cond: Tensor | None = None,
                       fake_cond: Tensor | None = None) -> tuple[Tensor, Stats]:
        loss = self.g_loss(critic(D, fake, fake_cond).float())
        return loss, {"loss_g": loss.detach()}

    def joint_losses(self, D: nn.Module, real: Tensor, fake: Tensor, *,
                     real_cond: Tensor | None = None,
                     fake_cond: Tensor | None = None) -> tuple[Tensor, Tensor, Stats]:
        """Both players' losses from one D forward (the paper code's simultaneous update)."""
        real_logits, fake_logits = self.d_logits(D, real, fake, real_cond=real_cond,
                                                 fake_cond=fake_cond)
        d_loss = self.d_loss(real_logits.float(), fake_logits.float())
        g_loss = self.g_loss(fake_logits.float())
        stats = {"loss_d": d_loss.detach(), "loss_g": g_loss.detach()}
        return d_loss, g_loss, {**stats, **d_outputs(real_logits, fake_logits)}

    def after_d_update(self, D: nn.Module) -> None:
        """Called after each discriminator optimizer step (e.g. weight clipping)."""


class GradientPenaltyObjective(GANObjective):
    """WGAN-GP (Gulrajani et al. 2017): D's loss plus lambda times the gradient penalty on
    random interpolates of the real and fake batches (conditional runs: D sees each
    interpolate with its real sample's condition)."""

    def __init__(self, d_loss: DLoss, g_loss: GLoss, weight: float,
                 joint_forward: bool = True) -> None:
        super().__init__(d_loss, g_loss, joint_forward)
        self.weight = weight

    def discriminator_loss(self, D: nn.Module, real: Tensor, fake: Tensor, *,
                           real_cond: Tensor | None = None,
                           fake_cond: Tensor | None = None) -> tuple[Tensor, Stats]:
        loss, stats = super().discriminator_loss(D, real, fake, real_cond=real_cond,
                                                 fake_cond=fake_cond)
        penalty = gradient_penalty(partial(critic, D, cond=real_cond), real, fake)
        return loss + self.weight * penalty, {**stats, "gradient_penalty": penalty.detach()}

    def joint_losses(self, D: nn.Module, real: Tensor, fake: Tensor, *,
                     real_cond: Tensor | None = None,
                     fake_cond: Tensor | None = None) -> tuple[Tensor, Tensor, Stats]:
        """The simultaneous update's losses, D's with the penalty (the base class's skips
        discriminator_loss, so it would drop it)."""
        d_loss, g_loss, stats = super().joint_losses(D, real, fake, real_cond=real_cond,
                                                     fake_cond=fake_cond)
        penalty = gradient_penalty(partial(critic, D, cond=real_cond), real, fake)
        return (d_loss + self.weight * penalty, g_loss,
                {**stats, "gradient_penalty": penalty.detach()})


class WeightClippingObjective(GANObjective):
    """WGAN (Arjovsky et al. 2017): every critic weight clipped into [-clip, clip] after each
    critic update."""

    def __init__(self, d_loss: DLoss, g_loss: GLoss, clip: float,
                 joint_forward: bool = True) -> None:
        super().__init__(d_loss, g_loss, joint_forward)
        self.clip = clip

    def after_d_update(self, D: nn.Module) -> None:
        clip_weights_(D, self.clip)


def bind_options(loss: Callable[..., Tensor], cfg: LossConfig) -> Callable[..., Tensor]:
    """`loss` with the keyword arguments it declares (LSGAN's a, b, c; the ML cost's
    normalize) taken from the config."""
    options = {"a": cfg.lsgan_a, "b": cfg.lsgan_b, "c": cfg.lsgan_c,
               "normalize": cfg.ml_normalize}
    wanted = inspect.signature(loss).parameters
    return partial(loss, **{k: v for k, v in options.items() if k in wanted})


def build_objective(cfg: LossConfig, D: nn.Module,
                    opt_d: torch.optim.Optimizer | None = None) -> GANObjective:
    """The objective of the named losses, with the configured critic regulariser and the
    variants against mode collapse around it (advnets.variants; unrolling needs `opt_d`)."""
    from advnets.variants import FEATURE_MATCHING, with_variants  # they import this module

    d_loss = bind_options(D_LOSSES.get(cfg.discriminator), cfg)
    # feature matching replaces G's loss of D's output: the one underneath is never called
    g_name = "non_saturating" if cfg.generator == FEATURE_MATCHING else cfg.generator
    g_loss = bind_options(G_LOSSES.get(g_name), cfg)
    # minibatch discrimination, like batch norm, must see real and fake batches separately
    joint = not has_batch_norm(D) and not any(isinstance(m, MinibatchDiscrimination)
                                              for m in D.modules())
    if cfg.gradient_penalty > 0:
        objective = GradientPenaltyObjective(d_loss, g_loss, cfg.gradient_penalty, joint)
    elif cfg.clip > 0:
        objective = WeightClippingObjective(d_loss, g_loss, cfg.clip, joint)
    else:
        objective = GANObjective(d_loss, g_loss, joint_forward=joint)
    return with_variants(objective, cfg, D, opt_d)
