"""One training iteration for any number of players: the method names the phases, this
module runs them. It is the only code that calls zero_grad / backward / optimizer.step."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from advnets.config import OptimConfig
from advnets.data.batches import Batches
from advnets.methods.base import Counters, Losses, Method, Phase, Stats
from advnets.nets.layers import apply_norm_limits_, norm_limited
from advnets.training.ema import WeightEMA
from advnets.training.guard import LossGuard
from advnets.training.optim import apply_schedule


@dataclass
class Player:
    """A network with its optimizer, that optimizer's config (schedules) and its update
    count; `average` follows its weights after every update where the run keeps one."""

    name: str
    net: nn.Module
    optimizer: torch.optim.Optimizer
    optim_cfg: OptimConfig
    updates: int = 0
    average: WeightEMA | None = None
    # the layers whose weights a bound holds after each update (max_col_norm); the same
    # modules when the net is later wrapped (DDP) or its batch norms converted
    limited: list[nn.Module] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.limited = norm_limited(self.net)

    @property
    def scored(self) -> nn.Module:
        """The net to sample from or score: the weight average where the run keeps one."""
        return self.average.module if self.average is not None else self.net

    def scheduled(self, epochs_done: int) -> torch.optim.Optimizer:
        """The optimizer with this update's lr (and SGD momentum) set."""
        apply_schedule(self.optimizer, self.optim_cfg, self.updates, epochs_done)
        return self.optimizer


@contextmanager
def frozen(nets: list[nn.Module]) -> Iterator[None]:
    """No parameter of `nets` requires grad inside; each gets its own flag back after."""
    params = [p for net in nets for p in net.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


@dataclass
class Step:
    """Holds what one iteration touches, and performs it phase by phase."""

    players: dict[str, Player]
    method: Method
    batches: Batches
    autocast: Callable[[], AbstractContextManager]
    counters: Counters = field(default_factory=Counters)
    guard: LossGuard | None = None  # watches each update's loss for NaN, Inf, explosion
    # around each phase's losses and update (a data-parallel run: DDP and per-rank RNG)
    around: Callable[[Phase], AbstractContextManager] = lambda phase: nullcontext()

    def __call__(self) -> Stats:
        """One iteration: every phase the method plans for it, in order."""
        updates = {name: p.updates for name, p in self.players.items()}
        stats: Stats = {}
        for phase in self.method.phases(self.counters, updates):
            stats.update(self.run(phase))
        self.counters.step += 1
        return stats

    def run(self, phase: Phase) -> Stats:
        """Draw the phase's batch, compute its losses with the other players frozen, and
        step the players it trains."""
        batch = self.batches.draw(phase.needs)
        for player in self.players.values():  # a look-ahead (unrolled D) reads next update's lr
            player.scheduled(int(self.counters.epoch))
        keep = set(phase.trains) | set(phase.keeps_graph)
        others = [p.net for name, p in self.players.items() if name not in keep]
        with self.around(phase), frozen(others):
            with self.autocast():
                losses, stats = phase.loss(batch)
            if self.guard is not None:
                self.guard.observe(losses, phase.trains, self.counters.step + 1)
            self._update(phase.trains, losses)
        for name in phase.trains:
            self._updated(self.players[name])
        return stats

    def _update(self, trains: tuple[str, ...], losses: Losses) -> None:
        epoch = int(self.counters.epoch)
        if len(trains) == 1:
            opt = self.players[trains[0]].scheduled(epoch)
            opt.zero_grad(set_to_none=True)
            losses[trains[0]].backward()
            opt.step()
            return
        # a simultaneous update: every gradient is taken before any player moves. Each
        # player's gradient is accumulated into its own .grad (backward with inputs), which
        # is what DDP averages in a data-parallel run.
        for name in trains:
            self.players[name].optimizer.zero_grad(set_to_none=True)
        for i, name in enumerate(trains):
            params = [p for p in self.players[name].net.parameters() if p.requires_grad]
            losses[name].backward(inputs=params, retain_graph=i < len(trains) - 1)
        for name in trains:
            self.players[name].scheduled(epoch).step()

    def _updated(self, player: Player) -> None:
        apply_norm_limits_(player.limited)  # a net's own weight constraint (max_col_norm)
        self.method.after_update(player.name)
        player.updates += 1
        if player.average is not None:
            player.average.update(player.net)
