"""Feature matching (Salimans et al. 2016, Sec. 3.1): G stops fooling D's output and
matches the statistics of an intermediate D layer f on data instead,

    loss_G = || E_x f(x) - E_z f(G(z)) ||_2^2,

the squared L2 distance between the two batch means (`advnets.losses.feature_matching`);
f is D's last hidden layer (`D.features`). D trains with its own loss, unchanged.
"""

from torch import Tensor, nn

from advnets.errors import ConfigError
from advnets.losses import feature_matching
from advnets.training.objective import GANObjective, Stats
from advnets.variants.base import ObjectiveWrapper

FEATURE_MATCHING = "feature_matching"  # its name as loss.generator


def features(D: nn.Module, x: Tensor, cond: Tensor | None = None) -> Tensor:
    """D's last hidden layer at x (N, F), or at (x, cond) for a conditional run."""
    return D.features(x) if cond is None else D.features(x, cond)


class FeatureMatchingObjective(ObjectiveWrapper):
    """G's loss is the feature-matching distance at D's last hidden layer; the rest is base's."""

    def __init__(self, base: GANObjective, D: nn.Module) -> None:
        super().__init__(base)
        if not callable(getattr(D, "features", None)):
            raise ConfigError(f"loss.generator={FEATURE_MATCHING} needs a discriminator with "
                              f"features() (the mlp and dcgan ones, unconditional)")

    @property
    def needs_real_for_g(self) -> bool:
        return True

    def generator_loss(self, D: nn.Module, fake: Tensor, real: Tensor | None = None, *,
                       real_cond: Tensor | None = None,
                       fake_cond: Tensor | None = None) -> tuple[Tensor, Stats]:
        if real is None:
            raise ValueError("feature matching needs a real batch in the generator step")
        # D's weights are frozen in the G step, so f(x) carries no graph unless D's are a
        # function of G's (unrolling)
        loss = feature_matching(features(D, real, real_cond).float(),
                                features(D, fake, fake_cond).float())
        return loss, {"loss_g": loss.detach()}
