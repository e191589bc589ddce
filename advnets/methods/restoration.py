"""Image restoration with a GAN (the EE367 report in the seed): G takes a corrupted image
(advnets.data.corruptions) and reconstructs the original; D tells training images from
reconstructions. G descends 0.9 * ||I - G(corrupted)||_1 + 0.1 * its adversarial loss (the
weights are options.content_weight and options.adversarial_weight), D its usual loss. The
content-only ablation is the same G on the L1 term alone, without a D."""

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from advnets.config import Config
from advnets.data import TrainingData
from advnets.data.batches import Batch
from advnets.data.corruptions import (
    TASKS,
    Degraded,
    augment,
    degrade,
    estimate_noise,
    random_crops,
)
from advnets.data.registry import spec
from advnets.errors import ConfigError
from advnets.losses import D_LOSSES, G_LOSSES
from advnets.methods.base import Counters, Losses, Method, Phase, Stats, check_plain_d
from advnets.nets.restorer import PatchDiscriminator, ResidualRestorer


def check_restoration(cfg: Config) -> None:
    """Images on [0, 1] (PSNR's MAX is 1) whose training crops the task can downsample."""
    entry = spec(cfg.data)
    if not entry.images or list(cfg.data.value_range) != [0.0, 1.0]:
        raise ConfigError(
            f"method {cfg.method} restores images: use an image data set "
            "and data.value_range=[0, 1]"
        )
    check_plain_d(cfg, "the restoration D scores images alone")
    r = cfg.restore
    if r.noise < 0 or r.blur_noise < 0 or r.blur <= 0:
        raise ConfigError("restore.noise and restore.blur_noise must be >= 0, restore.blur > 0")
    if not 0 < r.mask_size < 1 or r.holes < 1:
        raise ConfigError("restore.mask_size must be in (0, 1) and restore.holes >= 1")
    scale, crop = TASKS.get(r.task).scale, r.crop
    if crop < 0 or crop % scale:
        raise ConfigError(
            f"restore.crop={crop} must be 0 or a positive multiple of the task's scale {scale}"
        )
    if crop and r.task == "inpaint" and r.mask == "centre":
        raise ConfigError(
            f"restore.crop={crop} would train on the centre square of each crop, not the "
            "test images' centre square; use restore.crop=0 or restore.mask=holes"
        )


def content_loss(clean: Tensor, restored: Tensor) -> Tensor:
    """||I - I^||_1 of each image (summed over pixels and channels), averaged over the batch."""
    return (clean - restored).abs().flatten(1).sum(1).mean()


def build_restorer(cfg: Config, channels: int) -> nn.Module:
    """The residual G for `cfg.restore.task` on images of `channels` channels."""
    task, r = TASKS.get(cfg.restore.task), cfg.restore
    sigma_input = r.sigma_input and task.name == "denoise"
    return ResidualRestorer(
        cfg.model.generator, channels, task.scale, task.masked, sigma_input, r.fill
    )


def restore_with(G: nn.Module, corrupted: Degraded) -> Tensor:
    """G's reconstruction of a corrupted batch."""
    if getattr(G, "sigma_input", False):  # the noise std given, else estimated as at restore
        sigma = corrupted.sigma if corrupted.sigma is not None else estimate_noise(corrupted.image)
        return G(corrupted.image, corrupted.mask, sigma)
    return G(corrupted.image, corrupted.mask) if corrupted.mask is not None else G(corrupted.image)


@dataclass(frozen=True)
class ContentOptions:
    """The content-only restorer's options (the config's `options:` section)."""

    content_weight: float = 0.9  # G descends content_weight * ||I - G(corrupted)||_1


@dataclass(frozen=True)
class RestorationOptions(ContentOptions):
    """The GAN restorer's options: G descends content_weight * ||I - G(corrupted)||_1 (the
    L1 norm of each image, summed over pixels and channels) + adversarial_weight * G's loss."""

    adversarial_weight: float = 0.1


class ContentOnly(Method):
    """The residual G trained on the L1 content loss alone: the ablation without D."""

    players: tuple[str, ...] = ("G",)
    sample_player = None  # G restores images; it does not sample from noise
    restorer_player = "G"
    Options = ContentOptions

    @classmethod
    def check(cls, cfg: Config) -> None:
        check_restoration(cfg)
        opts = cls.options(cfg)
        for name, value in asdict(opts).items():  # every option is a loss weight
            if not 0 <= value < float("inf"):
                raise ConfigError(f"options.{name} must be a finite number >= 0, got {value}")

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        return {"G": build_restorer(cfg, data.shape[0])}

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        self.G = nets["G"]
        self.restore = cfg.restore
        self.content_weight = self.options(cfg).content_weight

    def pair(self, real: Tensor) -> tuple[Tensor, Tensor]:
        """Clean crops and G's reconstruction of their corrupted versions."""
        clean = random_crops(real.float(), self.restore.crop)
        clean = augment(clean) if self.restore.augment else clean
        return clean, restore_with(self.G, degrade(clean, self.restore)).float()

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [self.solo("G")]

    def solo(self, player: str) -> Phase:
        return Phase(("G",), ("real",), self.g_phase)

    def g_phase(self, b: Batch) -> tuple[Losses, Stats]:
        clean, restored = self.pair(b.real)
        content = content_loss(clean, restored)
        return {"G": self.content_weight * content}, {"loss_content": content.detach()}


class Restoration(ContentOnly):
    """G on content + adversarial loss, D a patch discriminator on its usual loss."""

    players = ("G", "D")
    Options = RestorationOptions

    @staticmethod
    def build_nets(cfg: Config, data: TrainingData) -> dict[str, nn.Module]:
        G = build_restorer(cfg, data.shape[0])
        return {"G": G, "D": PatchDiscriminator(cfg.model.discriminator, data.shape[0])}

    def __init__(self, cfg: Config, nets: dict[str, nn.Module], optimizers: dict) -> None:
        super().__init__(cfg, nets, optimizers)
        self.D = nets["D"]
        self.d_loss = D_LOSSES.get(cfg.loss.discriminator)
        self.g_loss = G_LOSSES.get(cfg.loss.generator)
        self.adversarial_weight = self.options(cfg).adversarial_weight

    def data_batches_per_step(self) -> int:
        return 2

    def phases(self, counters: Counters, updates: dict[str, int]) -> list[Phase]:
        return [self.solo("D"), self.solo("G")]

    def solo(self, player: str) -> Phase:
        loss = self.d_phase if player == "D" else self.g_phase
        return Phase((player,), ("real",), loss)

    def d_phase(self, b: Batch) -> tuple[Losses, Stats]:
        clean, restored = self.pair(b.real)
        real_logits, fake_logits = self.D(clean).float(), self.D(restored.detach()).float()
        loss = self.d_loss(real_logits, fake_logits)
        stats = {
            "loss_d": loss.detach(),
            "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean(),
        }
        return {"D": loss}, stats

    def g_phase(self, b: Batch) -> tuple[Losses, Stats]:
        clean, restored = self.pair(b.real)
        content = content_loss(clean, restored)
        adversarial = self.g_loss(self.D(restored).float())
        loss = self.content_weight * content + self.adversarial_weight * adversarial
        stats = {"loss_g": loss.detach(), "loss_content": content.detach()}
        return {"G": loss}, {**stats, "loss_adversarial": adversarial.detach()}
