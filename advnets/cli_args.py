"""Argument types the `advnets` subcommands share."""

import argparse
import math
from pathlib import Path

from advnets.errors import ConfigError

DEVICES = ["cpu", "cuda", "auto"]
DEVICE_HELP = "cpu, cuda, or auto: the GPU when there is one, else the CPU"
LARGEST = 2**62  # no count, size or seed is larger; beyond it torch overflows int64


def integer(text: str) -> int:
    """An integer option, refused (one line, by argparse) beyond +-2**62."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if abs(value) > LARGEST:
        raise argparse.ArgumentTypeError(f"{value} is too large (at most 2**62)")
    return value


def count(text: str) -> int:
    """A number of things (samples, images): an integer of at least 1."""
    value = integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def distance(text: str) -> float:
    """A length (a radius): a finite number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be finite and >= 0, got {text}")
    return value


def value_range(text: str) -> tuple[float, float]:
    """--range LO,HI: the finite range of the values in an input file, LO < HI."""
    parts = text.split(",")
    try:
        lo, hi = (float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes LO,HI such as 0,1 or -1,1, got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise argparse.ArgumentTypeError(f"needs finite LO < HI, got {text!r}")
    return lo, hi


def seed_value(text: str) -> int:
    """A seed: an integer in [0, 2**62]."""
    value = integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be >= 0, got {value}")
    return value


def truncation(text: str) -> float:
    """--truncation PSI: the truncation trick's psi, a number in (0, 1]."""
    from advnets.validation import check_truncation

    try:
        return check_truncation(float(text))
    except (ValueError, ConfigError):
        raise argparse.ArgumentTypeError(f"takes a number in (0, 1], got {text!r}") from None


def add_truncation_argument(p: argparse.ArgumentParser) -> None:
    """--truncation PSI for commands that draw from a run's G (default: the run's own)."""
    p.add_argument(
        "--truncation",
        type=truncation,
        metavar="PSI",
        help="the truncation trick (Brock et al. 2019): z drawn PSI times nearer the "
        "prior's centre, 0 < PSI <= 1 (1: off; default: the run's model.truncation): "
        "fewer unusual samples, less variety",
    )


def add_device_argument(p: argparse.ArgumentParser, what: str, note: str = "") -> None:
    """--device cpu|cuda|auto (default auto), `what` naming what runs there and `note`
    added to the help after the default."""
    help = f"{what}: {DEVICE_HELP} (default: auto{note})"
    p.add_argument("--device", choices=DEVICES, default="auto", help=help)


def add_image_input_arguments(p: argparse.ArgumentParser) -> None:
    """--max-pixels (the decompression-bomb limit of input pictures) and --range LO,HI (the
    range of the values of an input array)."""
    from advnets.image_files import MAX_PIXELS

    p.add_argument(
        "--max-pixels",
        type=count,
        default=MAX_PIXELS,
        help=f"refuse input pictures with more pixels (default {MAX_PIXELS:,})",
    )
    add_range_argument(
        p,
        "the range of the values of an input .npy, and of a .npy written from it "
        "(default 0,1; give -1,1 as --range=-1,1); a run's own range is applied inside",
    )


def add_range_argument(p: argparse.ArgumentParser, help: str) -> None:
    """--range LO,HI: the value range of arrays going in or out (default [0, 1])."""
    p.add_argument("--range", type=value_range, default=(0.0, 1.0), metavar="LO,HI", help=help)


def check_suffix(out: str, suffixes: tuple[str, ...]) -> Path:
    """--out as a path whose name ends in one of `suffixes` (what the command writes)."""
    path = Path(out)
    if path.suffix not in suffixes:
        raise ConfigError(f"--out must end in {' or '.join(suffixes)}, got {path.name!r}")
    return path
