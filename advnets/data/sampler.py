"""Minibatch sources for the training loop. Both draw from the global torch RNG, so a
checkpoint of that RNG plus `state_dict()` resumes the exact stream of batches."""

from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from advnets.data.toy import GaussianMixture


class Sampler(Protocol):
    def next(self, m: int) -> Tensor: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class _Permuted:
    """A permutation of the data and a position in it: the state a resume restores."""

    data: Tensor
    perm: Tensor
    pos: int

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm.cpu(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.perm = state["perm"].to(self.data.device)
        self.pos = int(state["pos"])


class TensorSampler(_Permuted):
    """Minibatches without replacement from one in-memory tensor, reshuffled every epoch;
    with `labels`, `next_labelled` gives each batch's labels too (same stream of batches)."""

    def __init__(self, data: Tensor, labels: Tensor | None = None) -> None:
        self.data = data
        self.labels = labels
        self.perm = torch.randperm(len(data), device=data.device)
        self.pos = 0

    def _indices(self, m: int) -> Tensor:
        if self.pos + m > len(self.data):
            self.perm = torch.randperm(len(self.data), device=self.data.device)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + m]
        self.pos += m
        return idx

    def next(self, m: int) -> Tensor:
        return self.data.index_select(0, self._indices(m))

    def next_labelled(self, m: int) -> tuple[Tensor, Tensor]:
        """A batch and its labels (conditional GANs)."""
        if self.labels is None:
            raise ValueError("this sampler holds no labels")
        idx = self._indices(m)
        return self.data.index_select(0, idx), self.labels.index_select(0, idx)


class CyclingSampler(_Permuted):
    """Labelled minibatches from a small set (a semi-supervised run's labelled examples),
    cycled through fresh permutations as often as needed: a batch may be larger than the
    set, and every example appears equally often. With `shift` > 0 every image drawn is
    translated by a random offset (`random_shift`), so that D cannot fit a few labelled
    images pixel by pixel."""

    def __init__(self, data: Tensor, labels: Tensor, shift: int = 0, fill: float = 0.0) -> None:
        self.data, self.labels = data, labels
        self.shift, self.fill = shift, fill
        self.perm = torch.randperm(len(data), device=data.device)
        self.pos = 0

    def next_labelled(self, m: int) -> tuple[Tensor, Tensor]:
        parts = []
        while m > 0:
            if self.pos == len(self.data):
                self.perm = torch.randperm(len(self.data), device=self.data.device)
                self.pos = 0
            take = self.perm[self.pos : self.pos + m]
            parts.append(take)
            self.pos += len(take)
            m -= len(take)
        idx = torch.cat(parts)
        x = self.data.index_select(0, idx)
        if self.shift:
            x = random_shift(x, self.shift, self.fill)
        return x, self.labels.index_select(0, idx)


def random_shift(x: Tensor, shift: int, fill: float) -> Tensor:
    """Each image of `x` (N, C, H, W) translated by its own offset, drawn uniformly from
    [-shift, shift] along each axis; pixels moved in from outside get `fill`."""
    n, _, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift), value=fill).permute(0, 2, 3, 1)
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), device=x.device)
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (N, H)
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)  # (N, W)
    images = torch.arange(n, device=x.device)[:, None, None]
    return padded[images, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


class DistributionSampler:
    """Fresh samples from a known distribution on every call (infinite data)."""

    def __init__(self, dist: GaussianMixture, device: torch.device | str = "cpu") -> None:
        self.dist = GaussianMixture(dist.means.to(device), dist.std)  # means live on device
        self.device = device

    def next(self, m: int) -> Tensor:
        return self.dist.sample(m, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class MappedSampler:
    """Minibatches without replacement from uint8 images that stay where they are (a
    memory-mapped cache larger than memory): each batch is one gather of its rows, scaled to
    `value_range` on `device`. The permutation and position are the resume state, as for
    `TensorSampler`, so a resumed run draws the very same batches."""

    def __init__(
        self,
        pixels: np.ndarray,
        rows: np.ndarray,
        labels: np.ndarray,
        value_range: tuple[float, float],
        device: torch.device | str = "cpu",
    ) -> None:
        self.pixels, self.rows, self.labels = pixels, rows, labels
        self.lo, self.hi = value_range
        self.device = torch.device(device)
        self.perm = torch.randperm(len(rows))
        self.pos = 0

    def __len__(self) -> int:
        return len(self.rows)

    def _indices(self, m: int) -> np.ndarray:
        if self.pos + m > len(self.rows):
            self.perm = torch.randperm(len(self.rows))
            self.pos = 0
        idx = self.perm[self.pos : self.pos + m].numpy()
        self.pos += m
        return np.sort(self.rows[idx])  # ascending rows: a forward sweep through the file

    def gather(self, rows: np.ndarray) -> Tensor:
        """The images at `rows` of the array, as float32 in the value range on the device."""
        x = torch.from_numpy(np.ascontiguousarray(self.pixels[rows])).to(self.device)
        return x.float().div_(255).mul_(self.hi - self.lo).add_(self.lo)

    def next(self, m: int) -> Tensor:
        return self.gather(self._indices(m))

    def next_labelled(self, m: int) -> tuple[Tensor, Tensor]:
        """A batch and its labels (conditional GANs)."""
        rows = self._indices(m)
        return self.gather(rows), torch.from_numpy(self.labels[rows]).to(self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["perm"]) != len(self.rows):
            raise ValueError(
                f"the checkpoint's sampler went through {len(state['perm'])} images, the "
                f"data now holds {len(self.rows)}; the folder changed since the run started"
            )
        self.perm = state["perm"].cpu()
        self.pos = int(state["pos"])
