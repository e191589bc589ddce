"""An objective that changes some hooks of another and hands it the rest, so that the
variants stack on any loss and critic regulariser (and on each other)."""

from torch import Tensor, nn

from advnets.training.objective import GANObjective, Stats


class ObjectiveWrapper(GANObjective):
    """Delegates every hook to `base`; a variant overrides the ones it changes. Conditions
    (`real_cond`, `fake_cond` of conditional runs) pass through untouched."""

    def __init__(self, base: GANObjective) -> None:  # no super().__init__: base holds the losses
        self.base = base

    def __getattr__(self, name: str):  # base's attributes (joint_forward, d_loss, ...)
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    @property
    def needs_real_for_g(self) -> bool:
        return self.base.needs_real_for_g

    def d_logits(self, D: nn.Module, real: Tensor, fake: Tensor,
                 **cond: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.base.d_logits(D, real, fake, **cond)

    def discriminator_loss(self, D: nn.Module, real: Tensor, fake: Tensor,
                           **cond: Tensor | None) -> tuple[Tensor, Stats]:
        return self.base.discriminator_loss(D, real, fake, **cond)

    def generator_loss(self, D: nn.Module, fake: Tensor, real: Tensor | None = None,
                       **cond: Tensor | None) -> tuple[Tensor, Stats]:
        return self.base.generator_loss(D, fake, real, **cond)

    def joint_losses(self, D: nn.Module, real: Tensor, fake: Tensor,
                     **cond: Tensor | None) -> tuple[Tensor, Tensor, Stats]:
        """Both players' losses from the same batches (two D forwards: G's loss is this
        objective's own)."""
        d_loss, d_stats = self.discriminator_loss(D, real, fake, **cond)
        g_loss, g_stats = self.generator_loss(D, fake, real, **cond)
        return d_loss, g_loss, {**d_stats, **g_stats}

    def after_d_update(self, D: nn.Module) -> None:
        self.base.after_d_update(D)
