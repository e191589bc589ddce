"""User-facing errors: each carries one line that names the problem and the fix."""

import sys
from collections.abc import Callable
from pathlib import Path


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


class TeamError(AdvnetsError):
    """A data-parallel run whose processes fell out of step, or whose peer stopped."""


class RunFolderError(ConfigError):
    """A run folder in use by another process, or holding another run's files."""


def exit_on_error(main: Callable[[], object]) -> None:
    """Run a script's `main`; an AdvnetsError (missing data, a bad --set) ends it with its one
    line on stderr and exit status 2, as the advnets CLI does, instead of a traceback."""
    try:
        main()
    except AdvnetsError as err:
        print(f"{Path(sys.argv[0]).name}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
