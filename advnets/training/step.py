"""One iteration of Algorithm 1 (Goodfellow et al. 2014), and the paper code's simultaneous
variant. Only this module calls zero_grad / backward / optimizer.step."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from advnets.config import Config
from advnets.data.sampler import Sampler
from advnets.training.ema import GeneratorEMA
from advnets.training.objective import GANObjective, Stats
from advnets.training.optim import apply_schedule


def critic_steps(k: int, g_updates: int, schedule: str) -> int:
    """D updates before generator update number `g_updates` (0-based). constant: k; wgan
    (Arjovsky et al. 2017's reference code): 100 for the first 25 generator updates and
    every 500th, so the critic starts (and regularly returns) near its optimum; k otherwise."""
    if schedule == "wgan" and (g_updates < 25 or g_updates % 500 == 0):
        return 100
    return k


def conditions(real_y: Tensor | None, fake_y: Tensor | None) -> dict[str, Tensor]:
    """The objective's condition arguments: none in an unconditional run, so objectives
    that know nothing of conditions keep working there."""
    given = {"real_cond": real_y, "fake_cond": fake_y}
    return {k: v for k, v in given.items() if v is not None}


@dataclass
class Counters:
    """Progress that schedules and checkpoints need."""

    step: int = 0  # Algorithm-1 iterations done
    d_updates: int = 0
    g_updates: int = 0
    steps_per_epoch: int = 1

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch


@dataclass
class GANStep:
    """Holds what one training iteration touches, and performs it."""

    cfg: Config
    G: nn.Module
    D: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    objective: GANObjective
    data: Sampler
    noise: Callable[[int], Tensor]
    autocast: Callable[[], AbstractContextManager]
    counters: Counters = field(default_factory=Counters)
    ema: GeneratorEMA | None = None  # follows G after every generator update
    # conditional runs: draws the conditions of m fakes (labels uniform over the classes);
    # real batches then come with their labels, and G and D get both
    labels: Callable[[int], Tensor] | None = None

    def _real(self, m: int) -> tuple[Tensor, Tensor | None]:
        """m data samples, and their labels in a conditional run."""
        if self.labels is None:
            return self.data.next(m), None
        return self.data.next_labelled(m)

    def _fake(self, m: int) -> tuple[Tensor, Tensor | None]:
        """G(z) for m fresh z (and G(z, y) for m fresh labels y in a conditional run), and y."""
        z = self.noise(m)
        if self.labels is None:
            return self.G(z), None
        y = self.labels(m)
        return self.G(z, y), y

    def _scheduled(self, which: str) -> torch.optim.Optimizer:
        """The optimizer of player `which` ("d" or "g"), its lr/momentum set for this update."""
        if which == "d":
            opt, optim_cfg, updates = self.opt_d, self.cfg.optim_d, self.counters.d_updates
        else:
            opt, optim_cfg, updates = self.opt_g, self.cfg.optim_g, self.counters.g_updates
        apply_schedule(opt, optim_cfg, updates, int(self.counters.epoch))
        return opt

    def _step(self, loss: Tensor, which: str) -> None:
        opt = self._scheduled(which)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def d_update(self, fake: Tensor | None = None, fake_y: Tensor | None = None) -> Stats:
        """Ascend V(D,G) on m data samples and m fake samples (fresh noise unless given, with
        their conditions `fake_y` in a conditional run)."""
        m = self.cfg.train.batch_size
        real, real_y = self._real(m)
        if fake is None:
            with torch.no_grad(), self.autocast():
                fake, fake_y = self._fake(m)
        with self.autocast():
            loss, stats = self.objective.discriminator_loss(
                self.D, real, fake.detach(), **conditions(real_y, fake_y))
        self._step(loss, "d")
        self.objective.after_d_update(self.D)
        self.counters.d_updates += 1
        return stats

    def g_update(self, fake: Tensor | None = None, fake_y: Tensor | None = None) -> Stats:
        """Descend the generator loss on G(fresh noise), or on `fake` if given (with its graph
        and conditions); D's weights get no gradient."""
        m = self.cfg.train.batch_size
        real, real_y = self._real(m) if self.objective.needs_real_for_g else (None, None)
        self.D.requires_grad_(False)
        try:
            with self.autocast():
                if fake is None:
                    fake, fake_y = self._fake(m)
                loss, stats = self.objective.generator_loss(self.D, fake, real,
                                                            **conditions(real_y, fake_y))
            self._step(loss, "g")
        finally:
            self.D.requires_grad_(True)
        self._g_updated()
        return stats

    def _g_updated(self) -> None:
        self.counters.g_updates += 1
        if self.ema is not None:
            self.ema.update(self.G)

    def reuse_fakes_update(self) -> Stats:
        """The common implementation (pytorch/examples dcgan, PyTorch-GAN): one G forward per
        iteration; D steps on the detached fakes, then G steps on the same fakes."""
        with self.autocast():
            fake, fake_y = self._fake(self.cfg.train.batch_size)
        stats = self.d_update(fake, fake_y)
        return {**stats, **self.g_update(fake, fake_y)}

    def simultaneous_update(self) -> Stats:
        """The paper code's update: both players step from the same minibatch and parameters."""
        m = self.cfg.train.batch_size
        real, real_y = self._real(m)
        with self.autocast():
            fake, fake_y = self._fake(m)
            d_loss, g_loss, stats = self.objective.joint_losses(self.D, real, fake,
                                                                **conditions(real_y, fake_y))
        d_params, g_params = list(self.D.parameters()), list(self.G.parameters())
        d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, g_params)
        for which, params, grads in (("d", d_params, d_grads), ("g", g_params, g_grads)):
            opt = self._scheduled(which)
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            opt.step()
        self.objective.after_d_update(self.D)
        self.counters.d_updates += 1
        self._g_updated()
        return stats

    def __call__(self) -> Stats:
        """One Algorithm-1 iteration: k discriminator updates, then one generator update."""
        if self.cfg.train.update == "simultaneous":
            stats = self.simultaneous_update()
        elif self.cfg.train.update == "reuse_fakes":
            stats = self.reuse_fakes_update()
        else:
            t = self.cfg.train
            for _ in range(critic_steps(t.k, self.counters.g_updates, t.k_schedule)):
                stats = self.d_update()
            stats = {**stats, **self.g_update()}
        self.counters.step += 1
        return stats
