"""The minibatches a training phase asks for, drawn from the run's data and noise."""

from collections.abc import Callable
from dataclasses import dataclass, fields

from torch import Tensor

from advnets.data.sampler import CyclingSampler, Sampler

PARTS = ("real", "g_real", "noise", "labelled")


@dataclass
class Batch:
    """What one phase trains on; parts it did not ask for stay None."""

    real: Tensor | None = None  # m data samples
    real_y: Tensor | None = None  # their labels (conditional runs)
    z: Tensor | None = None  # m draws of the noise prior
    fake_y: Tensor | None = None  # the labels G is asked for (conditional runs)
    labelled: Tensor | None = None  # m labelled examples (semi-supervised runs)
    labelled_y: Tensor | None = None  # and their labels


@dataclass
class Batches:
    """Draws batch parts by name, in the order asked (the order fixes the RNG stream)."""

    data: Sampler
    noise: Callable[[int], Tensor]
    batch_size: int
    labels: Callable[[int], Tensor] | None = None  # conditional runs: labels of the fakes
    labelled: CyclingSampler | None = None  # semi-supervised runs: the labelled examples
    g_real: Sampler | None = None  # G's own stream of the data (else G's "g_real" is "real")
    # (rank, processes) of a data-parallel run: every process draws the step's total batch
    # from the shared stream and keeps its own contiguous share (the union is that batch)
    shard: tuple[int, int] = (0, 1)

    def draw(self, needs: tuple[str, ...]) -> Batch:
        batch, m = Batch(), self.batch_size
        for part in needs:
            if part in ("real", "g_real"):
                source = self.g_real if part == "g_real" and self.g_real else self.data
                if self.labels is None:
                    batch.real = source.next(m)
                else:
                    batch.real, batch.real_y = source.next_labelled(m)
            elif part == "labelled" and self.labelled is not None:
                batch.labelled, batch.labelled_y = self.labelled.next_labelled(m)
            elif part == "noise":
                batch.z = self.noise(m)
                batch.fake_y = None if self.labels is None else self.labels(m)
            else:
                raise ValueError(f"unknown batch part {part!r}; choose from {', '.join(PARTS)}")
        return batch if self.shard[1] == 1 else self._share(batch)

    def _share(self, batch: Batch) -> Batch:
        """This process's contiguous share of every part of a total batch."""
        rank, world = self.shard
        parts = {}
        for f in fields(batch):
            t = getattr(batch, f.name)
            n = 0 if t is None else len(t) // world
            parts[f.name] = None if t is None else t[rank * n : (rank + 1) * n]
        return Batch(**parts)
