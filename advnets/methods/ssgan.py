"""Semi-supervised GANs: D is also the classifier, and learns from unlabelled data.

SGAN (Odena 2016): D has C + 1 outputs [p(y=1|x), ..., p(y=C|x), p(x was generated)];
it descends the negative log-likelihood of its outputs on a labelled batch (the class), an
unlabelled real batch (not generated) and a batch of G's samples (generated); G descends
the NLL of "not generated" on its samples.

Improved GAN (Salimans et al. 2016): D has K = C outputs, the logits of the classes, with
the generated class's logit fixed at 0, so D(x) = Z(x) / (Z(x) + 1), Z = sum_k exp(l_k);
the supervised loss is the cross-entropy over the K classes, the unsupervised one the GAN
loss on unlabelled real and fake batches (weight `options.unsupervised_weight`, 0.5 in the
paper's code); G matches D's last hidden features on data (`loss.generator=
feature_matching`) or descends the GAN loss (`non_saturating`).

Either method can add CT-GAN's consistency term (Wei et al. 2018, `options.consistency_weight`):
D's class probabilities on two passes over the unlabelled batch, each with its own draw of
D's noise or dropout, should agree.

The supervised baseline (advnets.methods.supervised) is the same classifier without G.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.data.registry import spec
from advnets.data.sampler import TensorSampler
from advnets.errors import ConfigError
from advnets.losses import feature_matching
from advnets.methods.base import (
    Counters,
    Losses,
    Method,
    Phase,
    Stats,
    check_one_update_per_step,
    check_plain_d,
)
from advnets.methods.gan import bind_options, sees_batches_apart
from advnets.nets import build_discriminator, build_generator
from advnets.nets.layers import init_weight_norm_from_data_

SSL_G_LOSSES = ("feature_matching", "non_saturating")


def real_fake_log_probs(logits: Tensor, classes: int) -> tuple[Tensor, Tensor]:
    """(log p(not generated | x), log p(generated | x)) per sample, from logits (N, C + 1)
    whose last column is the generated class, or (N, C) whose generated logit is 0."""
    class_lse = torch.logsumexp(logits[:, :classes], dim=1)
    fake = logits[:, classes] if logits.shape[1] > classes else torch.zeros_like(class_lse)
    total = torch.logaddexp(class_lse, fake)
    return class_lse - total, fake - total


def ssl_discriminator_loss(
    labelled: Tensor,
    y: Tensor,
    real: Tensor,
    fake: Tensor,
    classes: int,
    weight: float,
    supervised_over: int,
) -> tuple[Tensor, Stats]:
    """Cross-entropy of the labelled batch's classes (softmax over the first
    `supervised_over` outputs) plus `weight` times the NLL of "real" on unlabelled data
    and of "generated" on G's samples."""
    supervised = F.cross_entropy(labelled[:, :supervised_over], y)
    log_real, _ = real_fake_log_probs(real, classes)
    fake_looks_real, log_fake = real_fake_log_probs(fake, classes)
    unsupervised = -log_real.mean() - log_fake.mean()
    loss = supervised + weight * unsupervised
    stats = {
        "loss_d": loss.detach(),
        "loss_supervised": supervised.detach(),
        "loss_unsupervised": unsupervised.detach(),
        "train_accuracy": (labelled[:, :classes].argmax(1) == y).float().mean(),
        "d_real": log_real.detach().exp().mean(),  # p(not generated) on data
        "d_fake": fake_looks_real.detach().exp().mean(),  # and on G's samples
    }
    return loss, stats


def consistency(first: Tensor, second: Tensor, classes: int) -> Tensor:
    """CT-GAN's consistency term: the mean over samples and classes of the squared
    difference between the class softmax of two stochastic passes over the same images."""
    p, q = (F.softmax(x[:, :classes], dim=1) for x in (first, second))
    return (p - q).pow(2).mean()


def classifier(cfg: Config, data: TrainingData, outputs: int) -> nn.Module:
    """D/C with `outputs` logits; a weight-normalised one gets the data-dependent init on
    the split's first 500 images (Salimans & Kingma 2016)."""
    D = build_discriminator(cfg.model, data.shape, outputs)
    d = cfg.model.discriminator
    if not d.weight_norm:
        return D
    out_scale = d.weight_norm_init_out
    if isinstance(data.sampler, TensorSampler):  # a checkpoint's D: its weights replace these
        x = data.sampler.data[:500].to(next(D.parameters()).device)  # D is built on the CPU
        init_weight_norm_from_data_(D, x, out_scale)
    return D


@dataclass(frozen=True)
class SSLOptions:
    """The semi-supervised methods' options (the config's `options:` section)."""

    # weight of the unsupervised (real vs fake) terms in D's loss, beside the supervised
    # cross-entropy on labelled data (Salimans et al.: 0.5)
    unsupervised_weight: float = 1.0
    # weight of the consistency term (CT-GAN, Wei et al. 2018) in D's loss, the mean over
    # classes of the squared difference of D's class softmax on two passes over the
    # unlabelled batch with fresh noise/dropout (their MNIST code: 0.05); 0: off
    consistency_weight: float = 0.0
    # feature matching: the mean of the squared differences over f's units (the improved-GAN
    # code's loss) instead of their sum (the paper's squared distance)
    feature_matching_mean: bool = False


class SemiSupervisedGAN(Method):
    """SGAN: D with C + 1 outputs, G on the GAN loss (see the module docstring)."""

    players = ("G", "D")
    classifier_player = "D"
    extra_output = True  # D has the generated class as an output of its own
    Options = SSLOptions

    @classmethod
    def check(cls, cfg: Config) -> None:
        check_ssl(cfg, cls.options(cfg))

    @classmethod
    def build_nets(cls, cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        classes = spec(cfg.data).classes
        G = build_generator(cfg.model, data.shape, data.mean01)
        outputs = classes + 1 if cls.extra_output else classes
        return {"G": G, "D": classifier(cfg, data, outputs)}

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        self.G, self.D = nets["G"], nets["D"]
        self.classes = spec(cfg.data).classes
        opts = self.options(cfg)
        self.weight, self.consistency_weight = opts.unsupervised_weight, opts.consistency_weight
        self.feature_matching = cfg.loss.generator == "feature_matching"
        self.match_features = bind_options(feature_matching, opts)
        self.joint_forward = not sees_batches_apart(self.D)

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [self.solo("D"), self.solo("G")]

    def solo(self, player: str) -> Phase:
        if player == "D":
            return Phase(("D",), ("labelled", "real", "noise"), self.d_phase)
        return Phase(
            ("G",), ("g_real", "noise") if self.feature_matching else ("noise",), self.g_phase
        )

    def logits(self, *batches: Tensor) -> list[Tensor]:
        """D's logits on each batch: one forward over all of them unless D must see batches
        apart (batch norm, minibatch discrimination)."""
        if not self.joint_forward:
            return [self.D(x) for x in batches]
        return list(self.D(torch.cat(batches)).float().split([len(x) for x in batches]))

    def d_phase(self, b: Batch) -> tuple[Losses, Stats]:
        with torch.no_grad():
            fake = self.G(b.z)
        again = [b.real] if self.consistency_weight else []  # a second pass, with fresh noise
        labelled, real, fake_logits, *real2 = self.logits(b.labelled, b.real, fake, *again)
        supervised_over = self.classes + 1 if self.extra_output else self.classes
        loss, stats = ssl_discriminator_loss(
            labelled.float(),
            b.labelled_y,
            real.float(),
            fake_logits.float(),
            self.classes,
            self.weight,
            supervised_over,
        )
        if real2:
            ct = consistency(real.float(), real2[0].float(), self.classes)
            loss = loss + self.consistency_weight * ct
            stats |= {"loss_d": loss.detach(), "loss_consistency": ct.detach()}
        return {"D": loss}, stats

    def g_phase(self, b: Batch) -> tuple[Losses, Stats]:
        fake = self.G(b.z)
        if self.feature_matching:
            real_f, fake_f = self.D.features(b.real).float(), self.D.features(fake).float()
            loss = self.match_features(real_f, fake_f)
        else:
            log_real, _ = real_fake_log_probs(self.D(fake).float(), self.classes)
            loss = -log_real.mean()
        return {"G": loss}, {"loss_g": loss.detach()}


class ImprovedGAN(SemiSupervisedGAN):
    """Improved GAN: K class logits, the generated class's logit fixed at 0."""

    extra_output = False


def check_ssl(cfg: Config, opts: SSLOptions | None = None) -> None:
    """What a semi-supervised run needs: labelled image data, an unconditional, unpacked D
    (and sound options: the defaults for the supervised baseline, which takes none)."""
    opts = opts or SSLOptions()
    entry = spec(cfg.data)
    if not entry.classes or not entry.images:
        raise ConfigError(
            f"method {cfg.method} needs labelled images (mnist, fashion); "
            f"{cfg.data.name} has no labels"
        )
    n = cfg.data.labels
    if n < entry.classes:
        raise ConfigError(
            f"method {cfg.method}: data.labels={n} must be at least the {entry.classes} "
            f"classes, one example of each (e.g. data.labels=100)"
        )
    check_plain_d(cfg, "D is the classifier")
    if not opts.unsupervised_weight >= 0:
        raise ConfigError(
            f"options.unsupervised_weight must be >= 0, got {opts.unsupervised_weight}"
        )
    check_consistency(cfg, opts.consistency_weight)
    if cfg.loss.generator not in SSL_G_LOSSES:
        raise ConfigError(
            f"method {cfg.method}: loss.generator must be one of "
            f"{', '.join(SSL_G_LOSSES)}, got {cfg.loss.generator!r}"
        )
    check_one_update_per_step(cfg)


def check_consistency(cfg: Config, weight: float) -> None:
    """The consistency term needs a weight >= 0 and, when on, a D whose passes differ."""
    d = cfg.model.discriminator
    if weight < 0:
        raise ConfigError(f"options.consistency_weight must be >= 0, got {weight}")
    noisy = d.input_noise or d.hidden_noise or d.input_dropout or d.hidden_dropout
    if weight > 0 and not (d.arch == "mlp" and noisy):
        raise ConfigError(
            f"options.consistency_weight={weight} needs an MLP D with noise or dropout (two "
            "passes of a deterministic D agree): set model.discriminator.hidden_noise"
        )
