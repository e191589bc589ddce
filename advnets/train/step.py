"""One iteration of Algorithm 1 (Goodfellow et al. 2014), and the paper code's simultaneous
variant. Only this module calls zero_grad / backward / optimizer.step."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from advnets.config import Config
from advnets.data.sampler import Sampler
from advnets.train.objective import GANObjective, Stats
from advnets.train.optim import apply_schedule


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

    def d_update(self, fake: Tensor | None = None) -> Stats:
        """Ascend V(D,G) on m data samples and m fake samples (fresh noise unless given)."""
        m = self.cfg.train.batch_size
        real = self.data.next(m)
        if fake is None:
            with torch.no_grad(), self.autocast():
                fake = self.G(self.noise(m))
        with self.autocast():
            loss, stats = self.objective.discriminator_loss(self.D, real, fake.detach())
        self._step(loss, "d")
        self.objective.after_d_update(self.D)
        self.counters.d_updates += 1
        return stats

    def g_update(self, fake: Tensor | None = None) -> Stats:
        """Descend the generator loss on G(fresh noise), or on `fake` if given (with its graph);
        D's weights get no gradient."""
        m = self.cfg.train.batch_size
        real = self.data.next(m) if self.objective.needs_real_for_g else None
        self.D.requires_grad_(False)
        try:
            with self.autocast():
                fake = self.G(self.noise(m)) if fake is None else fake
                loss, stats = self.objective.generator_loss(self.D, fake, real)
            self._step(loss, "g")
        finally:
            self.D.requires_grad_(True)
        self.counters.g_updates += 1
        return stats

    def reuse_fakes_update(self) -> Stats:
        """The common implementation (pytorch/examples dcgan, PyTorch-GAN): one G forward per
        iteration; D steps on the detached fakes, then G steps on the same fakes."""
        with self.autocast():
            fake = self.G(self.noise(self.cfg.train.batch_size))
        stats = self.d_update(fake)
        return {**stats, **self.g_update(fake)}

    def simultaneous_update(self) -> Stats:
        """The paper code's update: both players step from the same minibatch and parameters."""
        m = self.cfg.train.batch_size
        real = self.data.next(m)
        with self.autocast():
            d_loss, g_loss, stats = self.objective.joint_losses(self.D, real,
                                                                self.G(self.noise(m)))
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
        self.counters.g_updates += 1
        return stats

    def __call__(self) -> Stats:
        """One Algorithm-1 iteration: k discriminator updates, then one generator update."""
        if self.cfg.train.update == "simultaneous":
            stats = self.simultaneous_update()
        elif self.cfg.train.update == "reuse_fakes":
            stats = self.reuse_fakes_update()
        else:
            for _ in range(self.cfg.train.k):
                stats = self.d_update()
            stats = {**stats, **self.g_update()}
        self.counters.step += 1
        return stats
