"""Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed).

Every way a file can be wrong (bad magic, wrong dims, short data, broken gzip) ends in a
one-line `DataError` that names the file.
"""

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from advnets.errors import DataError

_UBYTE = 0x08


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot be read ({err}); delete it and fetch it again") from None


# what every malformed-file error tells the user to do
REFETCH = "the file is damaged or not the official one; delete it and fetch it again"


def read_idx(path: Path, ndim: int, dims: tuple[int, ...] = ()) -> np.ndarray:
    """Read an unsigned-byte IDX array of `ndim` dimensions; `dims` fixes the trailing sizes."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: too short for an IDX header ({len(raw)} bytes); {REFETCH}")
    zero, dtype, file_ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != _UBYTE:
        expected = f"0x0000{_UBYTE:02x}{ndim:02x}"
        raise DataError(
            f"{path}: bad magic number 0x{raw[:4].hex()} (expected {expected}); {REFETCH}"
        )
    if file_ndim != ndim:
        raise DataError(f"{path}: has {file_ndim} dimensions, expected {ndim}; {REFETCH}")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    if dims and tuple(shape[1:]) != tuple(dims):
        raise DataError(f"{path}: items are {shape[1:]}, expected {tuple(dims)}; {REFETCH}")
    count = math.prod(shape)
    body = raw[4 + 4 * ndim :]
    if len(body) != count:
        what = "truncated" if len(body) < count else "longer than its header says"
        raise DataError(f"{path}: {what} ({len(body)} data bytes, header says {count}); {REFETCH}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)
