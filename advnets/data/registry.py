"""The data sets advnets knows, one entry each: what a sample looks like, its labels, which
metrics can score samples of it. Data loading, evaluation, training hooks and the CLI all
read this table, so a new data set is one entry here (plus its loader)."""

from collections.abc import Callable
from dataclasses import dataclass

from advnets.config import DataConfig
from advnets.data.stacked import MODES
from advnets.data.toy import GaussianMixture, gaussian_1d, grid, ring
from advnets.registry import Registry

STACKED = "stacked-mnist"  # three MNIST digits as the channels of one image: 1,000 modes


@dataclass(frozen=True)
class Dataset:
    """One data set's facts."""

    name: str
    shape: tuple[int, ...]  # one sample
    classes: int  # labels of the samples (stacked MNIST: its modes); 0: unlabelled
    # `advnets eval` metrics that can score its samples; the first is the default of the
    # periodic evaluation during training
    metrics: tuple[str, ...]
    # toy data: its known distribution, from the data config; None for files of images
    mixture: Callable[[DataConfig], GaussianMixture] | None = None

    @property
    def images(self) -> bool:
        return len(self.shape) == 3


DATASETS: Registry[Dataset] = Registry("dataset")
for entry in (
    Dataset("mnist", (1, 28, 28), 10, ("fid", "kid", "parzen")),
    Dataset("fashion", (1, 28, 28), 10, ("fid", "kid", "parzen")),
    Dataset(STACKED, (3, 28, 28), MODES, ("modes",)),
    Dataset("gaussian1d", (1,), 0, (), lambda c: gaussian_1d(c.mean, c.std)),
    Dataset("ring", (2,), 0, ("modes",), lambda c: ring(c.modes, c.radius, c.std)),
    Dataset("grid", (2,), 0, ("modes",), lambda c: grid(c.std)),
):
    DATASETS.add(entry.name, entry)
