"""User-facing errors: each carries one line that names the problem and the fix."""


class AdvnetsError(Exception):
    """Base class for errors the CLI prints as a single line (no traceback)."""


class ConfigError(AdvnetsError):
    """An unknown preset, key or a value of the wrong type."""


class DataError(AdvnetsError):
    """Missing, corrupt or mis-shaped data files."""


class CheckpointError(AdvnetsError):
    """A run directory without a usable checkpoint."""


class DivergedError(AdvnetsError):
    """Training produced NaN/Inf or an exploding loss; the last good checkpoint is kept."""


class WriteError(AdvnetsError):
    """A file could not be written (disk full, no permission); the previous one is intact."""


class RunFolderError(ConfigError):
    """A run folder in use by another process, or holding another run's files."""
