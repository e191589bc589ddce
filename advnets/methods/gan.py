"""The GAN method (Goodfellow et al. 2014): players G and D, and the losses of their updates.

Each iteration is one of the registered update rules (`train.update`): Algorithm 1's k
discriminator updates then one generator update (k per `train.k_schedule`), the paper
code's simultaneous update, or one G forward shared by a D and a G update (pytorch/examples
dcgan). D's loss is the configured one plus its terms (WGAN-GP's gradient penalty; WGAN's
clipping after each D update); G's is the configured loss of D(G(z)), or feature matching,
optionally at D unrolled K updates ahead. PacGAN and minibatch discrimination are parts of
D (advnets.nets). Conditional runs hand each real and fake sample's label to G and D; D
takes it as `options.conditioning` says (concatenation, AC-GAN's class head whose class loss
both players add, or the projection discriminator; advnets.nets.conditional).
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.errors import ConfigError
from advnets.losses import (
    D_LOSSES,
    G_LOSSES,
    clip_weights_,
    feature_matching,
    gradient_penalty,
)
from advnets.methods.base import Counters, Losses, Method, Phase, Stats
from advnets.methods.unrolled import FunctionalOptimizer, Unroller
from advnets.nets import build_discriminator, build_generator
from advnets.nets.conditional import CLASS_HEADS, CONDITIONINGS
from advnets.nets.layers import MinibatchDiscrimination
from advnets.registry import Registry

FEATURE_MATCHING = "feature_matching"  # its name as loss.generator

# what loss.generator may name: a loss of D's logits, or feature matching
GENERATOR_LOSSES = (*G_LOSSES, FEATURE_MATCHING)

UPDATES: Registry[Callable[["GAN", int], list[Phase]]] = Registry("train.update")

# train.k_schedule: (k, generator updates so far) -> D updates before the next G update
K_SCHEDULES: Registry[Callable[[int, int], int]] = Registry("train.k_schedule")
K_SCHEDULES.add("constant", lambda k, g_updates: k)


@K_SCHEDULES.register("wgan")
def wgan_schedule(k: int, g_updates: int) -> int:
    """Arjovsky et al. 2017's reference code: 100 for the first 25 generator updates and
    every 500th, so the critic starts (and regularly returns) near its optimum; k otherwise."""
    return 100 if g_updates < 25 or g_updates % 500 == 0 else k


def critic_steps(k: int, g_updates: int, schedule: str) -> int:
    """D updates before generator update number `g_updates` (0-based)."""
    return K_SCHEDULES.get(schedule)(k, g_updates)


def bind_options(loss: Callable[..., Tensor], opts: object) -> Callable[..., Tensor]:
    """`loss` with the keyword arguments it declares (LSGAN's a, b, c; the ML cost's
    normalize; feature matching's mean_over_features) taken from the method's options."""
    names = {"a": "lsgan_a", "b": "lsgan_b", "c": "lsgan_c", "normalize": "ml_normalize"}
    names["mean_over_features"] = "feature_matching_mean"
    wanted = inspect.signature(loss).parameters
    return partial(loss, **{k: getattr(opts, v) for k, v in names.items() if k in wanted})


@dataclass(frozen=True)
class GANOptions:
    """The GAN method's options (the config's `options:` section)."""

    # how a conditional D sees y: concat | acgan | projection | projection_acgan |
    # projection_classifier
    conditioning: str = "concat"
    class_weight: float = 1.0  # a class head's (acgan's): weight of the class loss in both
    class_loss_on_fakes: bool = True  # a class head's: D's class loss on fakes (Odena et al.)
    lsgan_a: float = 0.0  # least_squares: D's target for fakes (Mao et al. 2017: a)
    lsgan_b: float = 1.0  # least_squares: D's target for data (b)
    lsgan_c: float = 1.0  # least_squares: the value G wants D to give its samples (c)
    # maximum_likelihood: normalise the importance weights exp(logit) over each batch
    ml_normalize: bool = False
    # feature matching: the mean of the squared differences over f's units (the improved-GAN
    # code's loss) instead of their sum (the paper's squared distance); matters with
    # optim.*.eps_inside_sqrt, where the gradient's size sets how far Adam steps
    feature_matching_mean: bool = False
    # WGAN-GP: lambda of the gradient penalty on interpolates, added to D's loss (0: off)
    gradient_penalty: float = 0.0
    # WGAN: clip every critic weight into [-clip, clip] after each D update (0: off)
    clip: float = 0.0
    # Unrolled GAN (Metz et al. 2016): G's loss is taken at D after this many updates of D's
    # optimizer on the G step's batch (0: off); D itself still takes ordinary steps
    unroll_steps: int = 0
    # true: backpropagate through the unrolled updates (Metz et al.); false: the cheap
    # variant, G's loss at the unrolled D held fixed
    unroll_backprop: bool = True


def critic(D: nn.Module, x: Tensor, cond: Tensor | None = None) -> Tensor:
    """D(x), or D(x, cond) for a conditional run."""
    return D(x) if cond is None else D(x, cond)


def adversarial(out: Tensor) -> Tensor:
    """The real/fake logits among D's outputs: all of them, or an AC-GAN D's first column."""
    return out if out.ndim == 1 else out[:, 0]


def adversarial_critic(D: nn.Module, x: Tensor, cond: Tensor | None = None) -> Tensor:
    """D's real/fake logits at x (what a gradient penalty differentiates)."""
    return adversarial(critic(D, x, cond))


def class_loss(out: Tensor, y: Tensor) -> Tensor:
    """AC-GAN's class loss: cross-entropy of an AC-GAN D's class logits (columns 1..C)
    against the labels y, -log P(C = y | x) averaged."""
    return F.cross_entropy(out[:, 1:].float(), y)


def features(D: nn.Module, x: Tensor, cond: Tensor | None = None) -> Tensor:
    """D's last hidden layer at x (N, F), or at (x, cond) for a conditional run."""
    return D.features(x) if cond is None else D.features(x, cond)


def d_outputs(real_logits: Tensor, fake_logits: Tensor) -> Stats:
    """Mean D(x) and D(G(z)): the numbers to watch while training."""
    return {
        "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
        "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
    }


def sees_batches_apart(D: nn.Module) -> bool:
    """Batch norm and minibatch discrimination mix the samples of one forward, so such a D
    must see the real and fake batches in separate forwards."""
    return any(
        isinstance(m, nn.modules.batchnorm._BatchNorm | MinibatchDiscrimination)
        for m in D.modules()
    )


class GAN(Method):
    """G and D of a (conditional) GAN with the configured losses, terms and variants."""

    players = ("G", "D")
    Options = GANOptions

    @classmethod
    def check(cls, cfg: Config) -> None:
        check(cfg, cls.options(cfg))

    def __init__(
        self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer]
    ) -> None:
        loss, t = cfg.loss, cfg.train
        self.G, self.D = nets["G"], nets["D"]
        opts = self.options(cfg)
        self.acgan = opts.conditioning in CLASS_HEADS
        self.class_weight, self.class_on_fakes = opts.class_weight, opts.class_loss_on_fakes
        self.k, self.k_schedule, self.update = t.k, t.k_schedule, UPDATES.get(t.update)
        self.alternating = t.update == "alternating"
        self.d_loss = bind_options(D_LOSSES.get(loss.discriminator), opts)
        self.feature_matching = loss.generator == FEATURE_MATCHING
        self.match_features = bind_options(feature_matching, opts)
        g_name = "non_saturating" if self.feature_matching else loss.generator
        self.g_loss = bind_options(G_LOSSES.get(g_name), opts)
        self.penalty, self.clip = opts.gradient_penalty, opts.clip
        self.pack = cfg.model.discriminator.pack  # samples per critic input (PacGAN)
        self.joint_forward = not sees_batches_apart(self.D)  # one D forward over [real; fake]
        self.unroller = None
        if opts.unroll_steps > 0:
            self.unroller = Unroller(
                opts.unroll_steps,
                FunctionalOptimizer(optimizers["D"], self.D),
                opts.unroll_backprop,
            )
        if self.feature_matching and not callable(getattr(self.D, "features", None)):
            raise ConfigError(
                f"loss.generator={FEATURE_MATCHING} needs a discriminator with "
                f"features() (the mlp and dcgan ones, unconditional)"
            )

    @classmethod
    def build_nets(cls, cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        G = build_generator(cfg.model, data.shape, data.mean01)
        how = cls.options(cfg).conditioning
        return {"G": G, "D": build_discriminator(cfg.model, data.shape, conditioning=how)}

    @property
    def needs_real_for_g(self) -> bool:
        """Feature matching and unrolling look at data in the generator update."""
        return self.feature_matching or (self.unroller is not None and self.unroller.steps > 0)

    def data_batches_per_step(self) -> int:
        return self.k if self.alternating else 1

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return self.update(self, updates["G"])

    def solo(self, player: str) -> Phase:
        if player == "D":
            return Phase(("D",), ("real", "noise"), self.d_phase)
        g_needs = ("g_real", "noise") if self.needs_real_for_g else ("noise",)
        return Phase(("G",), g_needs, self.g_phase)

    def after_update(self, player: str) -> None:
        if player == "D" and self.clip > 0:
            clip_weights_(self.D, self.clip)

    # --- the networks' outputs ---

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z), or G(z, y) for the labels y of a conditional run."""
        return self.G(z) if y is None else self.G(z, y)

    def d_logits(
        self,
        D: nn.Module,
        real: Tensor,
        fake: Tensor,
        real_y: Tensor | None = None,
        fake_y: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """D's outputs on the real and the fake batch (a packed D: one per pack)."""
        if not self.joint_forward:
            return critic(D, real, real_y), critic(D, fake, fake_y)
        cond = None if real_y is None else torch.cat([real_y, fake_y])
        logits = critic(D, torch.cat([real, fake]), cond)
        n_real = len(logits) * len(real) // (len(real) + len(fake))
        return logits[:n_real], logits[n_real:]

    # --- the players' losses ---

    def discriminator_loss(
        self,
        D: nn.Module,
        real: Tensor,
        fake: Tensor,
        real_y: Tensor | None = None,
        fake_y: Tensor | None = None,
    ) -> tuple[Tensor, Stats]:
        """D's loss on a real and a fake batch, with its gradient penalty if configured."""
        real_out, fake_out = self.d_logits(D, real, fake, real_y, fake_y)
        loss, stats = self.d_terms(real_out, fake_out, real_y, fake_y)
        return self.with_penalty(D, loss, stats, real, fake, real_y)

    def d_terms(
        self, real_out: Tensor, fake_out: Tensor, real_y: Tensor | None, fake_y: Tensor | None
    ) -> tuple[Tensor, Stats]:
        """D's configured loss of its real/fake logits; AC-GAN adds the class loss on the
        real samples' labels and (as Odena et al.) on the labels the fakes were drawn for."""
        real_logits, fake_logits = adversarial(real_out), adversarial(fake_out)
        loss = self.d_loss(real_logits.float(), fake_logits.float())
        stats = {"loss_d": loss.detach(), **d_outputs(real_logits, fake_logits)}
        if not self.acgan:
            return loss, stats
        classes = class_loss(real_out, real_y)
        if self.class_on_fakes:
            classes = classes + class_loss(fake_out, fake_y)
        stats["loss_class_d"] = classes.detach()
        return loss + self.class_weight * classes, stats

    def g_terms(self, fake_out: Tensor, fake_y: Tensor | None) -> tuple[Tensor, Stats]:
        """G's configured loss of D's logits at its fakes; AC-GAN adds the class loss of the
        labels G was asked for."""
        loss = self.g_loss(adversarial(fake_out).float())
        stats = {"loss_g": loss.detach()}
        if not self.acgan:
            return loss, stats
        classes = class_loss(fake_out, fake_y)
        stats["loss_class_g"] = classes.detach()
        return loss + self.class_weight * classes, stats

    def with_penalty(
        self,
        D: nn.Module,
        loss: Tensor,
        stats: Stats,
        real: Tensor,
        fake: Tensor,
        real_y: Tensor | None,
    ) -> tuple[Tensor, Stats]:
        """WGAN-GP: lambda times the gradient penalty on interpolates (each seen with its
        real sample's condition) added to D's loss."""
        if not self.penalty:
            return loss, stats
        penalty = gradient_penalty(
            partial(adversarial_critic, D, cond=real_y), real, fake, pack=self.pack
        )
        return loss + self.penalty * penalty, {**stats, "gradient_penalty": penalty.detach()}

    def generator_loss(
        self,
        D: nn.Module,
        fake: Tensor,
        real: Tensor | None = None,
        real_y: Tensor | None = None,
        fake_y: Tensor | None = None,
    ) -> tuple[Tensor, Stats]:
        """G's loss of D(G(z)) or feature matching, at D unrolled if configured."""
        if self.unroller is not None:
            D = self.unroller(self.discriminator_loss, D, real, fake, real_y, fake_y)
        if self.feature_matching:
            if real is None:
                raise ValueError("feature matching needs a real batch in the generator step")
            loss = self.match_features(
                features(D, real, real_y).float(), features(D, fake, fake_y).float()
            )
            return loss, {"loss_g": loss.detach()}
        return self.g_terms(critic(D, fake, fake_y), fake_y)

    # --- the phases' loss functions ---

    def d_phase(self, b: Batch) -> tuple[Losses, Stats]:
        """Algorithm 1's D update: m data samples against m fresh fakes."""
        with torch.no_grad():
            fake = self.generate(b.z, b.fake_y)
        loss, stats = self.discriminator_loss(self.D, b.real, fake.detach(), b.real_y, b.fake_y)
        return {"D": loss}, stats

    def g_phase(self, b: Batch) -> tuple[Losses, Stats]:
        """Algorithm 1's G update on m fresh fakes."""
        fake = self.generate(b.z, b.fake_y)
        loss, stats = self.generator_loss(self.D, fake, b.real, b.real_y, b.fake_y)
        return {"G": loss}, stats

    def joint_phase(self, b: Batch) -> tuple[Losses, Stats]:
        """Both players' losses from the same batches (one D forward unless G's loss is a
        variant that needs its own)."""
        fake = self.generate(b.z, b.fake_y)
        if self.feature_matching or self.unroller is not None:
            d_loss, d_stats = self.discriminator_loss(self.D, b.real, fake, b.real_y, b.fake_y)
            g_loss, g_stats = self.generator_loss(self.D, fake, b.real, b.real_y, b.fake_y)
            return {"D": d_loss, "G": g_loss}, {**d_stats, **g_stats}
        real_out, fake_out = self.d_logits(self.D, b.real, fake, b.real_y, b.fake_y)
        d_loss, d_stats = self.d_terms(real_out, fake_out, b.real_y, b.fake_y)
        g_loss, g_stats = self.g_terms(fake_out, b.fake_y)
        stats = {**d_stats, **g_stats}
        d_loss, stats = self.with_penalty(self.D, d_loss, stats, b.real, fake, b.real_y)
        return {"D": d_loss, "G": g_loss}, stats

    def shared_d_phase(self, shared: dict, b: Batch) -> tuple[Losses, Stats]:
        """The D update of reuse_fakes: makes the iteration's fakes (keeping G's graph)."""
        shared["fake"], shared["fake_y"] = self.generate(b.z, b.fake_y), b.fake_y
        loss, stats = self.discriminator_loss(
            self.D, b.real, shared["fake"].detach(), b.real_y, b.fake_y
        )
        return {"D": loss}, stats

    def shared_g_phase(self, shared: dict, b: Batch) -> tuple[Losses, Stats]:
        """The G update of reuse_fakes, on the fakes the D update saw."""
        loss, stats = self.generator_loss(
            self.D, shared["fake"], b.real, b.real_y, shared["fake_y"]
        )
        return {"G": loss}, stats


@UPDATES.register("alternating")
def alternating(gan: GAN, g_updates: int) -> list[Phase]:
    """Algorithm 1: k discriminator updates, each on fresh batches, then one G update."""
    return [gan.solo("D")] * critic_steps(gan.k, g_updates, gan.k_schedule) + [gan.solo("G")]


@UPDATES.register("simultaneous")
def simultaneous(gan: GAN, g_updates: int) -> list[Phase]:
    """The paper code's update: both players step from the same minibatch and parameters."""
    return [Phase(("D", "G"), ("real", "noise"), gan.joint_phase)]


@UPDATES.register("reuse_fakes")
def reuse_fakes(gan: GAN, g_updates: int) -> list[Phase]:
    """pytorch/examples dcgan, PyTorch-GAN: one G forward per iteration; D steps on the
    detached fakes, then G on the same fakes."""
    shared: dict = {}
    g_needs = ("g_real",) if gan.needs_real_for_g else ()
    return [
        Phase(("D",), ("noise", "real"), partial(gan.shared_d_phase, shared), keeps_graph=("G",)),
        Phase(("G",), g_needs, partial(gan.shared_g_phase, shared)),
    ]


def check_conditioning(cfg: Config, opts: GANOptions) -> None:
    """options.conditioning, options.class_weight and the D they need."""
    how, d = opts.conditioning, cfg.model.discriminator
    if how not in CONDITIONINGS:
        raise ConfigError(
            f"options.conditioning={how!r}; choose one of: {', '.join(CONDITIONINGS)}"
        )
    weight = opts.class_weight
    if not (weight >= 0 and weight < float("inf")):
        raise ConfigError(f"options.class_weight must be a finite number >= 0, got {weight}")
    if how == "concat":
        return
    if not cfg.model.num_classes:
        raise ConfigError(
            f"options.conditioning={how} conditions D on labels: set model.num_classes "
            f"(a labelled data set), or drop the option"
        )
    if d.branches or d.pack > 1:
        raise ConfigError(
            f"options.conditioning={how} builds D on the unconditional net: set "
            f"model.discriminator.branches=[] and model.discriminator.pack=1"
        )


def check_variants(cfg: Config, opts: GANOptions) -> None:
    """The gradient penalty, weight clipping and unrolling: their ranges and the pairs that
    cannot go together."""
    d_opt = cfg.optim.get("D")
    eps_inside = d_opt is not None and d_opt.eps_inside_sqrt
    penalty, clip, unroll = opts.gradient_penalty, opts.clip, opts.unroll_steps
    rules = [
        (penalty >= 0 and clip >= 0, "options.gradient_penalty and options.clip must be >= 0"),
        (not (penalty and clip), "options.clip (WGAN) and options.gradient_penalty (WGAN-GP) "
         "are alternatives; set one to 0"),
        (unroll >= 0, "options.unroll_steps must be >= 0 (0 turns unrolling off)"),
        (not (unroll and clip), "options.unroll_steps does not clip the unrolled critic's "
         "weights; use options.gradient_penalty, or set options.clip=0"),
        (not (unroll and eps_inside), "options.unroll_steps has no differentiable form of "
         "Adam with eps inside the square root; set optim.D.eps_inside_sqrt=false"),
    ]  # fmt: skip
    for ok, message in rules:
        if not ok:
            raise ConfigError(message)


def check(cfg: Config, opts: GANOptions) -> None:
    """The GAN method's own config rules."""
    check_conditioning(cfg, opts)
    check_variants(cfg, opts)
    t = cfg.train
    if t.update != "alternating" and t.k_schedule != "constant":
        raise ConfigError(f"train.k_schedule={t.k_schedule} needs train.update=alternating")
    if t.update != "alternating" and t.k != 1:
        raise ConfigError(
            f"train.update={t.update} makes one D update per G update; "
            f"set train.k=1 or use train.update=alternating"
        )
