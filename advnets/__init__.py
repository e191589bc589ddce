"""advnets: Generative Adversarial Nets (Goodfellow et al. 2014) and their follow-ups.

The notebook API (see `advnets.api`): `train`, `load_generator`, `sample`, `evaluate`;
configs: `load_preset`, `preset_names`, `Config`. The training package is `advnets.training`.
"""

__version__ = "0.1.0"

from advnets.api import evaluate, load_generator, sample, train  # noqa: E402
from advnets.config import Config, load_preset, preset_names  # noqa: E402
from advnets.errors import AdvnetsError, CheckpointError, ConfigError, DataError  # noqa: E402

__all__ = [
    "AdvnetsError",
    "CheckpointError",
    "Config",
    "ConfigError",
    "DataError",
    "evaluate",
    "load_generator",
    "load_preset",
    "preset_names",
    "sample",
    "train",
    "__version__",
]
