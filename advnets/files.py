"""Files written and read safely.

Every write goes to a temporary file in the target's folder and is renamed over the target
only once it is complete and on disk, so a crash or a full disk never leaves a partial
file behind a valid name; a failed write is one line that says the previous file is intact.
A command that writes several files writes them all or none (`write_all`), and no command
writes over one of its own inputs (`refuse_overwriting_inputs`).
A .npy file is read only after its header has been checked against the file's size.
"""

import errno
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

from advnets.errors import ConfigError, DataError, WriteError

TMP_SUFFIX = ".tmp"  # temporary files are NAME.<random>.tmp next to NAME


def _caused_by_os_error(err: BaseException) -> OSError | None:
    """The OSError behind `err` (torch.save reports a failed write as a RuntimeError whose
    context is the OSError), or None."""
    seen = 0
    while err is not None and seen < 8:
        if isinstance(err, OSError):
            return err
        err, seen = err.__cause__ or err.__context__, seen + 1
    return None


def write_failure(path: Path, err: OSError, existed: bool, appending: bool = False) -> str:
    """One line: what could not be written, why, and what is left on disk."""
    reason = os.strerror(err.errno) if err.errno else str(err) or type(err).__name__
    left = f"the previous {path.name} is intact" if existed else "nothing was written"
    if appending:
        left = "the rows before are intact"
    hint = "; free some disk space and try again" if err.errno == errno.ENOSPC else ""
    return f"cannot write {path} ({reason}); {left}{hint}"


def _usual_permissions(tmp: str) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use the usual permissions


def _check_destination(path: Path) -> None:
    if path.exists() and not path.is_file():  # a folder, a pipe, a device: never replace it
        raise WriteError(f"{path} exists and is not a regular file; write to another path")


def check_destinations(paths: Iterable[str | os.PathLike | None]) -> None:
    """Refuse, before any work, a destination that is a folder or another non-file (None
    entries, flags not given, are skipped): a command writing several files in turn then
    fails before the first rather than after it."""
    for path in paths:
        if path is not None:
            _check_destination(Path(path))


def missing_folders(folder: Path) -> list[Path]:
    """`folder` and the folders above it that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _write_temporary(path: Path, write: Callable[[IO[bytes]], Any], tmps: list[str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=TMP_SUFFIX, dir=path.parent)
    tmps.append(tmp)
    with os.fdopen(fd, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    _usual_permissions(tmp)


def _undo(tmps: list[str], folders: list[Path]) -> None:
    """Remove the temporary files and the (then empty) folders a failed write created."""
    for tmp in tmps:
        Path(tmp).unlink(missing_ok=True)
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


def write_all(writes: list[tuple[Path, Callable[[IO[bytes]], Any]]]) -> list[Path]:
    """Write several files all or none: every destination is checked first, each
    `write(file)` goes to a temporary file beside its target, and only when all are complete
    and on disk are they renamed over their targets. A failed write raises a one-line
    WriteError and leaves every target, and the folders, as they were."""
    paths = [Path(path) for path, _ in writes]
    for path in paths:
        _check_destination(path)
    existed = {path: path.exists() for path in paths}
    missing = {f for p in paths for f in missing_folders(p.parent)}
    folders = sorted(missing, key=lambda f: -len(f.parts))  # deepest first
    tmps: list[str] = []
    current = paths[0]
    try:
        for path, (_, write) in zip(paths, writes, strict=True):
            current = path
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_temporary(path, write, tmps)
        for path, tmp in zip(paths, tmps, strict=True):
            current = path
            os.replace(tmp, path)
    except BaseException as err:
        _undo(tmps, folders)
        cause = _caused_by_os_error(err) if isinstance(err, Exception) else None
        if cause is None:  # not a write error (e.g. an object torch cannot save): as it is
            raise
        raise WriteError(write_failure(current, cause, existed[current])) from None
    return paths


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call `write(file)` on a temporary file beside `path`, fsync it, then rename it over
    `path`. Any write error (disk full, no permission) raises a one-line WriteError and
    leaves the previous `path` as it was; the temporary file is removed."""
    return write_all([(path, write)])[0]


def _same_file(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name one file: the same path, another spelling, a symlink or a
    hard link (same device and inode); False when either does not exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def refuse_overwriting_inputs(
    outputs: Iterable[str | os.PathLike | None], inputs: Iterable[str | os.PathLike | None]
) -> None:
    """A one-line ConfigError when a file a command is about to write is one of the files it
    reads, however it is spelled or linked, so no command ever destroys its own input.
    Call it before anything is read or written; None entries (flags not given) are skipped."""
    sources = [Path(p) for p in inputs if p is not None]
    for out in (Path(p) for p in outputs if p is not None):
        for source in sources:
            if _same_file(out, source):
                raise ConfigError(
                    f"{out} would overwrite the input {source} (the same file); "
                    f"write to another path"
                )


def finite_or_none(value: Any) -> Any:
    """JSON has no NaN or Infinity: non-finite floats (at any depth) become null."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def append_row(path: Path, row: dict) -> None:
    """One standard-JSON line appended to a .jsonl file (metrics.jsonl); a failed write is
    one line (a row cut short by it is dropped when the run resumes)."""
    path = Path(path)
    try:
        with path.open("a") as f:
            f.write(json.dumps(finite_or_none(row), allow_nan=False) + "\n")
    except OSError as err:
        raise WriteError(write_failure(path, err, False, appending=True)) from None


def npy_writer(array: np.ndarray) -> Callable[[IO[bytes]], Any]:
    """What `write_all` calls to write `array` as .npy."""
    return lambda f: np.save(f, array, allow_pickle=False)


def image_writer(image: Any, path: Path, **options: Any) -> Callable[[IO[bytes]], Any]:
    """What `write_all` calls to write a Pillow image (or a uint8 array) to `path`, its
    format from the suffix."""
    from PIL import Image

    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    suffix = Path(path).suffix.lower()
    Image.preinit()  # the common formats; every plugin (a fifth of a second) only if needed
    fmt = Image.EXTENSION.get(suffix) or Image.registered_extensions().get(suffix, "PNG")
    return lambda f: picture.save(f, format=fmt, **options)


def save_npy(path: Path, array: np.ndarray) -> Path:
    """numpy.save, atomically."""
    return atomic_write(path, npy_writer(array))


def save_image(image: Any, path: Path, **options: Any) -> Path:
    """A Pillow image (or a uint8 array) saved atomically, its format from the suffix."""
    return atomic_write(path, image_writer(image, path, **options))


def save_figure(fig: Any, path: Path, **options: Any) -> Path:
    """A matplotlib figure saved atomically, its format from the suffix (png by default)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, **options))


def remove_orphans(folder: Path) -> list[Path]:
    """Delete the temporary files (NAME.<random>.tmp) a killed writer left in `folder` and
    its samples/ folder; returns them. Call only while holding the folder's lock."""
    removed = []
    for sub in (Path(folder), Path(folder) / "samples"):
        for tmp in sub.glob(f"*.*{TMP_SUFFIX}") if sub.is_dir() else ():
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def _npy_header(f: IO[bytes], path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a .npy header, or a one-line DataError."""
    fmt = np.lib.format
    start = f.read(6)
    if start[:4] == b"PK\x03\x04":
        raise DataError(f"{path}: holds several arrays (.npz); save one with numpy.save")
    if start != fmt.MAGIC_PREFIX:
        raise DataError(
            f"{path}: not a .npy file (no NumPy header: a text or other file renamed .npy?); "
            f"write it with numpy.save"
        )
    f.seek(0)
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):  # 3.0: 2.0 with a UTF-8 header
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown format version {version[0]}.{version[1]}")
    except Exception as err:  # numpy's parser of untrusted text raises many kinds
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: damaged .npy header ({first[:120]})") from None
    return tuple(shape), dtype


def read_npy(path: str | os.PathLike) -> np.ndarray:
    """One array from a .npy file, never unpickling, its header checked against the file's
    size before anything is allocated; a one-line DataError otherwise."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            shape, dtype = _npy_header(f, path)
            data_bytes = path.stat().st_size - f.tell()
    except OSError as err:
        raise DataError(f"{path}: not a readable .npy file ({err.strerror or err})") from None
    if dtype.hasobject:
        raise DataError(
            f"{path}: holds pickled (object) data, which advnets never loads; "
            f"save a numeric array with numpy.save"
        )
    if not shape:
        raise DataError(f"{path}: holds a single number (0-d array); save an array (N, ...)")
    expected = math.prod(shape) * dtype.itemsize
    if any(d < 0 for d in shape) or data_bytes != expected:
        raise DataError(
            f"{path}: the header says {shape} {dtype} ({expected:,} bytes) but the file holds "
            f"{data_bytes:,}; it is truncated or damaged"
        )
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a readable .npy file ({err})") from None
