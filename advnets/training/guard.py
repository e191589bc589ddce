"""The non-finite guard: training stops with one line, naming the step and the player, when
a loss turns NaN or Inf or explodes past `train.max_loss`, and no checkpoint is ever written
from weights that hold NaN or Inf, so the last good checkpoint.pt survives a divergence.

Losses are watched on their own device: `LossGuard.observe` only records, on that device,
the first step each player's loss went bad; `LossGuard.check` reads the record (one host
sync), which the loop does every step on the CPU and at log / checkpoint / picture steps on
a GPU."""

import math

import torch
from torch import Tensor, nn

from advnets.errors import DivergedError
from advnets.methods.base import Losses


class LossGuard:
    """The first step at which each player's loss was NaN, Inf or above `bound` in
    magnitude (None: NaN / Inf only), kept as device tensors until `check`."""

    def __init__(self, bound: float | None) -> None:
        self.bound = bound
        self.first: dict[str, tuple[Tensor, Tensor]] = {}  # player -> (step or -1, its loss)

    def observe(self, losses: Losses, players: tuple[str, ...], step: int) -> None:
        """Record, without waiting for the device, whether these players' losses are bad."""
        for name in players:
            loss = losses[name].detach().float().reshape(())
            bad = ~torch.isfinite(loss)
            if self.bound is not None:
                bad = bad | (loss.abs() > self.bound)
            if name not in self.first:
                none = torch.full((), -1, dtype=torch.int64, device=loss.device)
                self.first[name] = (none, torch.zeros((), device=loss.device))
            first, value = self.first[name]
            new = bad & (first < 0)
            self.first[name] = (torch.where(new, step, first), torch.where(new, loss, value))

    def check(self) -> None:
        """Raise a one-line DivergedError for the earliest bad loss recorded, if any."""
        bad = [(int(first), name, float(value)) for name, (first, value) in self.first.items()]
        bad = sorted(b for b in bad if b[0] >= 0)
        if not bad:
            return
        step, name, value = bad[0]
        if math.isfinite(value):
            what = f"{value:.4g}, above train.max_loss={self.bound:g}"
            fix = f"lower optim.{name}.lr, or raise train.max_loss if such losses are expected"
        else:
            what, fix = f"{value}", f"lower optim.{name}.lr"
        raise DivergedError(
            f"training diverged at step {step}: player {name}'s loss is {what}; {fix}"
        )


def nonfinite(nets: dict[str, nn.Module]) -> str | None:
    """The name of the first net with a NaN or Inf weight or buffer, else None."""
    for name, net in nets.items():
        tensors = [t for t in net.state_dict().values() if t.is_floating_point()]
        if tensors and not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
            return name
    return None


def check_weights(players: dict, step: int) -> None:
    """Refuse to save weights that hold NaN or Inf (each player's net and its average)."""
    nets = {name: p.net for name, p in players.items()}
    nets.update({f"{n}'s average": p.average.module for n, p in players.items() if p.average})
    name = nonfinite(nets)
    if name is not None:
        raise DivergedError(
            f"training diverged by step {step}: {name}'s weights hold NaN or Inf, so no "
            f"checkpoint was written from them; lower the learning rates (optim.*.lr)"
        )
