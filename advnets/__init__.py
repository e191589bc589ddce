"""advnets: Generative Adversarial Nets (Goodfellow et al. 2014) and their follow-ups."""

from advnets.config import Config, load_preset, preset_names
from advnets.errors import AdvnetsError, CheckpointError, ConfigError, DataError

__version__ = "0.1.0"

__all__ = ["AdvnetsError", "CheckpointError", "Config", "ConfigError", "DataError",
           "load_preset", "preset_names", "__version__"]
