"""What a training method defines: its players and, for each iteration, its phases.

A *player* is a network with its own optimizer (G, D; later an encoder E, a classifier...).
A *phase* is one optimizer update: the players it trains, the batch parts it needs, and the
loss of each trained player as a function of that batch. The generic step
(`advnets.training.step`) freezes the players a phase does not train, draws the batch,
computes the losses and is the only code that calls zero_grad / backward / step; a method
never touches an optimizer. See docs/methods.md for a worked example.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor, nn

from advnets.config import parse_section
from advnets.data.batches import Batch
from advnets.errors import ConfigError

if TYPE_CHECKING:
    from advnets.config import Config
    from advnets.data import TrainingData

Stats = dict[str, Tensor]
Losses = dict[str, Tensor]  # player name -> the loss its optimizer descends
LossFn = Callable[[Batch], tuple[Losses, Stats]]


@dataclass(frozen=True)
class Phase:
    """One update within an iteration."""

    trains: tuple[str, ...]  # players whose optimizers step on their losses (two or more:
    # gradients of every loss are taken before any player steps, a simultaneous update)
    needs: tuple[str, ...]  # batch parts ("real", "noise"), drawn in this order
    loss: LossFn
    # untrained players that are not frozen, because a later phase of the same iteration
    # backpropagates through the graph this phase builds (e.g. fakes shared by D and G)
    keeps_graph: tuple[str, ...] = ()


@dataclass
class Counters:
    """Progress that schedules and checkpoints need; per-player update counts live in the
    run's players."""

    step: int = 0  # iterations done
    steps_per_epoch: int = 1

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch


class Method(ABC):
    """A training method: which players it has, how it builds their networks, and the
    phases of each iteration."""

    players: tuple[str, ...] = ()
    # The player in each role a reader asks for (advnets.runs); None: the method has none.
    # The network samples come from (its weight average if kept): sample, eval, pictures.
    sample_player: str | None = "G"
    # The player whose outputs include class logits: accuracy, classify.
    classifier_player: str | None = None
    # The encoder of q(z|x), decoded by the sample player: encode, reconstruct.
    encoder_player: str | None = None
    # The player that restores corrupted images: restore, eval --metric psnr.
    restorer_player: str | None = None
    # the method's own options: a dataclass whose fields are the keys of the config's
    # `options:` section (defaults where a key is absent); None: the method takes none
    Options: ClassVar[type | None] = None

    @classmethod
    def options(cls, cfg: Config) -> Any:
        """The method's options from `cfg.options`, typed and checked key by key."""
        if cls.Options is None:
            if cfg.options:
                raise ConfigError(
                    f"method {cfg.method} takes no options; drop the options section "
                    f"({', '.join(cfg.options)})"
                )
            return None
        return parse_section(cls.Options, cfg.options, prefix="options.")

    @staticmethod
    @abstractmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        """The players' networks, built in a fixed order (it fixes the initialisation)."""

    @staticmethod
    def check(cfg: Config) -> None:
        """The method's own config rules (raise ConfigError), run with the config's checks."""
        return None

    @abstractmethod
    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        """The phases of the next iteration, given the counters and each player's updates."""

    @abstractmethod
    def solo(self, player: str) -> Phase:
        """The phase that updates `player` alone (e.g. one discriminator update)."""

    @staticmethod
    def label_predictions(cfg: Config, predicted: Tensor, labels: Tensor) -> Tensor:
        """The classes that D's predictions on scored images stand for, given their true
        `labels`: the predictions themselves, unless the method clusters (CatGAN)."""
        return predicted

    @staticmethod
    def predicts_classes(cfg: Config) -> bool:
        """Whether the classifier's outputs are the data's classes (False: clusters, whose
        numbers name no class until mapped, e.g. an unsupervised CatGAN run)."""
        return True

    def data_batches_per_step(self) -> int:
        """Data minibatches one iteration consumes (to count epochs)."""
        return 1

    def after_update(self, player: str) -> None:
        """Called after each optimizer step of `player` (e.g. WGAN's weight clipping)."""
        return None

    def state_dict(self) -> dict[str, Tensor]:
        """The method's own training state beyond its players' (e.g. BEGAN's k_t), saved in
        every checkpoint so that a resume continues exactly; none by default."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what `state_dict` gave (a checkpoint without the entry gives {})."""
        if state:
            raise ValueError(f"method state {', '.join(state)} for a method that keeps none")


def check_plain_d(cfg: Config, why: str) -> None:
    """Methods whose D is not a conditional or packed GAN discriminator."""
    if cfg.model.num_classes or cfg.model.discriminator.pack > 1:
        raise ConfigError(
            f"method {cfg.method} needs model.num_classes=0 and model.discriminator.pack=1: {why}"
        )


def check_one_update_per_step(cfg: Config) -> None:
    """Methods that update each player once per step, in their own phases."""
    if cfg.train.update != "alternating" or cfg.train.k != 1:
        raise ConfigError(
            f"method {cfg.method} updates each player once per step; keep "
            f"train.update=alternating and train.k=1"
        )
