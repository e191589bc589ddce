"""The labelled examples of a semi-supervised run: which n images of the split carry labels."""

import numpy as np
import torch
from torch import Tensor

from advnets.errors import ConfigError, DataError


def labelled_subset(labels: Tensor, n: int, classes: int, seed: int) -> Tensor:
    """Indices of n examples drawn with `seed` (sorted), as balanced as n allows: n // classes
    of each class, and one more of each of n % classes classes that the seed picks (Odena's
    25 labels: 3 of five digits, 2 of the other five)."""
    gen = torch.Generator().manual_seed(seed)
    counts = [n // classes] * classes
    if n % classes:
        for c in torch.randperm(classes, generator=gen)[: n % classes].tolist():
            counts[c] += 1
    picks = []
    for c, count in enumerate(counts):
        members = (labels == c).nonzero().flatten()
        if len(members) < count:
            most = classes * int(torch.bincount(labels, minlength=classes).min())
            raise DataError(
                f"data.labels={n} needs {count} examples of class {c}, the split has "
                f"{len(members)}; choose data.labels <= {most} (a balanced draw)"
            )
        picks.append(members[torch.randperm(len(members), generator=gen)[:count]])
    return torch.cat(picks).sort().values


def improved_gan_subset(labels: Tensor, n: int, classes: int, seed: int) -> Tensor:
    """Indices (sorted) of the subset the improved-GAN code labels: a NumPy
    RandomState(seed) permutation of the split, then the first n / classes of each class in
    that order; on all 60,000 MNIST training images, their `--seed_data seed` subset."""
    if n % classes:
        raise ConfigError(
            f"data.labels_draw=improved-gan takes the same number of each class: "
            f"data.labels={n} must be a multiple of {classes}"
        )
    perm = torch.from_numpy(np.random.RandomState(seed).permutation(len(labels)))
    picks = [perm[labels[perm] == c][: n // classes] for c in range(classes)]
    if min(len(p) for p in picks) < n // classes:
        most = classes * min(len(p) for p in picks)
        raise DataError(
            f"data.labels={n} needs {n // classes} examples of every class; choose "
            f"data.labels <= {most}"
        )
    return torch.cat(picks).sort().values


LABEL_DRAWS = {"default": labelled_subset, "improved-gan": improved_gan_subset}
