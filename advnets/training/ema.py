"""An exponential moving average of a player's weights: of G (Yazıcı et al. 2019; the
`G_ema` of StyleGAN and BigGAN), sampled instead of G, it averages out the oscillation of
adversarial training and usually gives better samples at no training cost; of a
semi-supervised D (the parameter averaging of Salimans et al. 2016's code), it is the
classifier that is scored."""

import copy

import torch
from torch import nn


class WeightEMA:
    """Keeps `module`, a frozen copy of a player's net (G, say) whose weights follow the
    net's after every update of that player.

    With `start` > 0 the first `start` updates are copied, not averaged: the average then
    begins afresh (SWA-style), so the iterates of early training get no share of it."""

    def __init__(self, net: nn.Module, decay: float, start: int = 0) -> None:
        self.decay = float(decay)
        self.start = int(start)
        self.module = copy.deepcopy(net).requires_grad_(False).eval()
        self.seen = 0  # the player's updates so far
        self.updates = 0  # of them, those averaged

    def current_decay(self) -> float:
        """The decay of the next update, bias-corrected as Adam's moments are: the average is
        sum_i d^(n-i) G_i / sum_i d^(n-i) over the n updates so far, so G's initial weights
        get no share of it (the first update copies G)."""
        n = self.updates + 1
        return 1.0 - (1.0 - self.decay) / (1.0 - self.decay**n)

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        self.seen += 1
        if self.seen <= self.start:
            self.module.load_state_dict(G.state_dict())
            return
        weight = 1.0 - self.current_decay()
        for mine, theirs in zip(self.module.parameters(), G.parameters(), strict=True):
            mine.lerp_(theirs.detach(), weight)
        for mine, theirs in zip(self.module.buffers(), G.buffers(), strict=True):
            mine.copy_(theirs)  # batch-norm statistics are taken as they are
        self.updates += 1

    def state_dict(self) -> dict:
        return {"weights": self.module.state_dict(), "updates": self.updates, "seen": self.seen}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["weights"])
        self.updates = int(state["updates"])
        self.seen = int(state.get("seen", self.start + self.updates))
