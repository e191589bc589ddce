"""The supervised baseline of the semi-supervised methods: the same classifier network (D,
with one output per class) trained on the labelled examples alone, with the same steps,
epochs and checkpoint choice; no generator, no unlabelled data."""

import torch.nn.functional as F
from torch import nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.data.registry import spec
from advnets.methods.base import Counters, Losses, Method, Phase, Stats
from advnets.methods.ssgan import check_ssl, classifier


class Supervised(Method):
    """Cross-entropy of D's class logits on a labelled batch each step."""

    players = ("D",)
    sample_player = None  # nothing to sample from
    classifier_player = "D"

    @staticmethod
    def check(cfg: Config) -> None:
        check_ssl(cfg)

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        classes = spec(cfg.data).classes
        return {"D": classifier(cfg, data, classes)}

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        self.D = nets["D"]

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [self.solo("D")]

    def solo(self, player: str) -> Phase:
        return Phase(("D",), ("labelled",), self.d_phase)

    def d_phase(self, b: Batch) -> tuple[Losses, Stats]:
        logits = self.D(b.labelled).float()
        loss = F.cross_entropy(logits, b.labelled_y)
        accuracy = (logits.argmax(1) == b.labelled_y).float().mean()
        return {"D": loss}, {"loss_d": loss.detach(), "train_accuracy": accuracy}
