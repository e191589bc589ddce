"""CatGAN (Springenberg 2016): D is a K-way classifier, G its adversary; no real/fake output.

D is certain of its class on real data (low conditional entropy H[p(y|x, D)]), uncertain on
G's samples (high H[p(y|G(z), D)]) and uses every class equally often on real data (high
entropy of the class marginal over a batch, H_X[p(y|D)]). G wants D certain on its samples
and those samples spread over all classes (high H_G[p(y|D)]). As losses to descend, the
paper's L_D and L_G:

    L_D = -w H_X[p(y|D)] + E_x H[p(y|x, D)] - E_z H[p(y|G(z), D)]
    L_G = -w H_G[p(y|D)] + E_z H[p(y|G(z), D)]

with w the marginal terms' weight (`options.marginal_weight`, 1 in the paper), each
expectation and marginal taken over the step's minibatch. With `data.labels` > 0 the run is
semi-supervised: D also descends `options.supervised_weight` times the cross-entropy of its
class outputs on a labelled batch.

K is the data set's number of classes: in an unsupervised run D's K outputs are clusters,
which `advnets eval --metric accuracy` maps onto the classes by the best one-to-one
assignment on the images scored (`cluster_labels`); `advnets classify` writes the cluster.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.data.registry import spec
from advnets.errors import ConfigError
from advnets.methods.base import (
    Counters,
    Losses,
    Method,
    Phase,
    Stats,
    check_one_update_per_step,
    check_plain_d,
)
from advnets.methods.gan import sees_batches_apart
from advnets.methods.ssgan import classifier
from advnets.nets import build_generator


@dataclass(frozen=True)
class CatGANOptions:
    """The `options:` section of a catgan run."""

    marginal_weight: float = 1.0  # w: weight of the class-marginal entropies (D's, G's)
    supervised_weight: float = 1.0  # lambda: the labelled cross-entropy's weight in L_D


def conditional_entropy(logits: Tensor) -> Tensor:
    """E_x H[p(y|x)]: the mean over the batch of each row's softmax entropy (nats)."""
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(1).mean()


def marginal_entropy(logits: Tensor) -> Tensor:
    """H[p(y)] of the batch's class marginal p(y) = mean_i p(y|x_i) (nats)."""
    log_p = F.log_softmax(logits, dim=1)
    log_marginal = torch.logsumexp(log_p, dim=0) - math.log(len(logits))
    return -(log_marginal.exp() * log_marginal).sum()


def catgan_d_loss(real: Tensor, fake: Tensor, marginal_weight: float = 1.0) -> Tensor:
    """L_D from D's logits on real data and on G's samples (see the module docstring)."""
    return (
        -marginal_weight * marginal_entropy(real)
        + conditional_entropy(real)
        - conditional_entropy(fake)
    )


def catgan_g_loss(fake: Tensor, marginal_weight: float = 1.0) -> Tensor:
    """L_G from D's logits on G's samples (see the module docstring)."""
    return -marginal_weight * marginal_entropy(fake) + conditional_entropy(fake)


def cluster_labels(clusters: Tensor, labels: Tensor, k: int) -> Tensor:
    """Each image's cluster replaced by the class of the one-to-one cluster -> class map
    that gets the most images right (the Hungarian method on the k x k count table): the
    usual score of a clustering against labels, here the paper's unsupervised error."""
    from scipy.optimize import linear_sum_assignment  # only when scoring: a slow import

    counts = torch.zeros(k, k, dtype=torch.int64)
    counts.index_put_((clusters.long(), labels.long()), torch.ones_like(labels.long()), True)
    rows, cols = linear_sum_assignment(counts.numpy(), maximize=True)
    mapping = torch.empty(k, dtype=torch.int64)
    mapping[torch.as_tensor(rows)] = torch.as_tensor(cols)
    return mapping[clusters.long()]


class CatGAN(Method):
    """CatGAN's D (a K-way classifier) and G; semi-supervised where data.labels > 0."""

    players = ("G", "D")
    classifier_player = "D"
    Options = CatGANOptions

    @classmethod
    def check(cls, cfg: Config) -> None:
        check_catgan(cfg, cls.options(cfg))

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        G = build_generator(cfg.model, data.shape, data.mean01)
        return {"G": G, "D": classifier(cfg, data, spec(cfg.data).classes)}

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        self.G, self.D = nets["G"], nets["D"]
        self.options_ = self.options(cfg)
        self.semi_supervised = cfg.data.labels > 0
        self.joint_forward = not sees_batches_apart(self.D)

    @staticmethod
    def label_predictions(cfg: Config, predicted: Tensor, labels: Tensor) -> Tensor:
        """An unsupervised run's clusters mapped onto the classes (`cluster_labels`)."""
        if cfg.data.labels > 0:
            return predicted
        return cluster_labels(predicted, labels, spec(cfg.data).classes)

    @staticmethod
    def predicts_classes(cfg: Config) -> bool:
        """Semi-supervised runs predict the classes; unsupervised ones clusters."""
        return cfg.data.labels > 0

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [self.solo("D"), self.solo("G")]

    def solo(self, player: str) -> Phase:
        if player == "D":
            needs = ("labelled", "real", "noise") if self.semi_supervised else ("real", "noise")
            return Phase(("D",), needs, self.d_phase)
        return Phase(("G",), ("noise",), self.g_phase)

    def logits(self, *batches: Tensor) -> list[Tensor]:
        """D's float logits on each batch, in one forward unless D must see them apart."""
        if not self.joint_forward:
            return [self.D(x).float() for x in batches]
        return list(self.D(torch.cat(batches)).float().split([len(x) for x in batches]))

    def d_phase(self, b: Batch) -> tuple[Losses, Stats]:
        with torch.no_grad():
            fake = self.G(b.z)
        labelled = [b.labelled] if self.semi_supervised else []
        *sup, real, fake_logits = self.logits(*labelled, b.real, fake)
        w = self.options_.marginal_weight
        loss = catgan_d_loss(real, fake_logits, w)
        stats = {
            "h_real": conditional_entropy(real).detach(),
            "h_fake": conditional_entropy(fake_logits).detach(),
            "h_marginal_real": marginal_entropy(real).detach(),
        }
        if sup:
            supervised = F.cross_entropy(sup[0], b.labelled_y)
            loss = loss + self.options_.supervised_weight * supervised
            stats["loss_supervised"] = supervised.detach()
            stats["train_accuracy"] = (sup[0].argmax(1) == b.labelled_y).float().mean()
        return {"D": loss}, {"loss_d": loss.detach(), **stats}

    def g_phase(self, b: Batch) -> tuple[Losses, Stats]:
        logits = self.D(self.G(b.z)).float()
        loss = catgan_g_loss(logits, self.options_.marginal_weight)
        return {"G": loss}, {
            "loss_g": loss.detach(),
            "h_marginal_fake": marginal_entropy(logits).detach(),
        }


def check_catgan(cfg: Config, options: CatGANOptions) -> None:
    """A catgan run: labelled image data (K = its classes), an unconditional, unpacked D,
    weights >= 0, and data.labels 0 (unsupervised) or at least one per class."""
    entry = spec(cfg.data)
    if entry.classes < 2 or not entry.images:
        raise ConfigError(
            f"method catgan needs images of a data set with classes (mnist, fashion, ...): "
            f"its D has one output per class; {cfg.data.name} has none"
        )
    if 0 < cfg.data.labels < entry.classes:
        raise ConfigError(
            f"method catgan: data.labels={cfg.data.labels} must be 0 (unsupervised) or at "
            f"least the {entry.classes} classes, one example of each (e.g. data.labels=100)"
        )
    for name in ("marginal_weight", "supervised_weight"):
        value = getattr(options, name)
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"options.{name} must be a finite number >= 0, got {value}")
    check_plain_d(cfg, "D is the K-way classifier")
    check_one_update_per_step(cfg)
