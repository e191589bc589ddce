"""A user's own pictures: a folder of image files (or one .npy/.npz array of images) as a
data set, prepared once into a uint8 cache that every later run memory-maps.

Rules (docs/own_images.md): files are found recursively and decoded with Pillow (PNG, JPEG,
WebP, BMP, TIFF, GIF's first frame; EXIF orientation applied; 16-bit, palette and alpha
converted); each image's shorter side is resized to the size, then the centre is cropped.
The first-level subfolders name the classes when there are two or more. Unreadable files
are skipped and counted. The cache is keyed by the files (paths, sizes, modification times)
and the settings, so a changed folder is prepared again and an unchanged one starts at once.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from advnets.errors import AdvnetsError, DataError
from advnets.image_files import MAX_PIXELS, read_picture

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
ARRAY_SUFFIXES = (".npy", ".npz")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
FORMAT = 2  # bump when the cache's layout or the decoding changes


@dataclass
class Prepared:
    """A prepared folder: uint8 images (N, C, H, W), memory-mapped, their labels (-1 when
    unlabelled) and class names, and what was skipped."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    skipped: list[str]
    cache: Path
    built: bool  # prepared by this call (False: found in the cache)
    mean01: np.ndarray | None = None  # the mean picture on [0, 1] (C, H, W), float32

    @property
    def classes(self) -> int:
        return len(self.class_names)


def cache_root(explicit: str | None = None) -> Path:
    """Where prepared folders live: data.cache, else $ADVNETS_CACHE, else
    ~/.cache/advnets/prepared (never inside the user's folder, which may be read-only)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("ADVNETS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "advnets" / "prepared"


def scan(path: Path) -> tuple[list[Path], list[int], list[str]]:
    """The image files under `path` (sorted; hidden files and folders skipped), their class
    indices and the class names: the first-level subfolders that hold images, when there
    are two or more and no picture lies beside them (else unlabelled)."""
    if not path.is_dir():
        raise DataError(f"{path}: no such folder; give --images a folder of pictures or a .npy")
    files = []
    for folder, subfolders, names in os.walk(path):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        where = Path(folder)
        files += [where / n for n in names if n.lower().endswith(SUFFIXES) and n[0] != "."]
    files.sort()
    tops = sorted({p.relative_to(path).parts[0] for p in files if p.parent != path})
    if len(tops) < 2 or any(p.parent == path for p in files):
        return files, [-1] * len(files), []
    index = {name: i for i, name in enumerate(tops)}
    return files, [index[p.relative_to(path).parts[0]] for p in files], tops


def _key(source: Path, files: list[Path], size: tuple[int, int], channels: int) -> str:
    """The cache key: the files as they are now and the settings."""
    h = hashlib.sha256(json.dumps([FORMAT, str(source), list(size), channels]).encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(source) if p != source else p.name}\0{st.st_size}\0".encode())
        h.update(f"{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def _open(p: Path) -> Image.Image:
    """The picture in `p` opened lazily (header only) for its mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(p)


def is_grey(img: Image.Image) -> bool:
    """Whether a picture has one channel of information (palette images: a grey palette)."""
    if img.mode in GREY_MODES:
        return True
    if img.mode == "P":
        colours = img.convert("RGB").getcolors(1 << 24) or []
        return bool(colours) and all(r == g == b for _, (r, g, b) in colours)
    return False


def fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The shorter side resized to cover (H, W), then the centre cropped (Lanczos)."""
    h, w = size
    scale = max(h / img.height, w / img.width)
    new = (max(w, round(img.width * scale)), max(h, round(img.height * scale)))
    if new != img.size:
        img = img.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)
    left, top = (img.width - w) // 2, (img.height - h) // 2
    return img.crop((left, top, left + w, top + h))


def fit_array(pixels: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """float (C, H, W) on [0, 1] fitted to `size` (each channel resized at full depth) with
    `channels` channels (grey repeated; colour to grey by ITU-R 601 luma), as uint8."""
    planes = [np.asarray(fit(Image.fromarray(c.astype(np.float32), "F"), size)) for c in pixels]
    out = np.stack(planes)
    if channels == 3 and len(out) == 1:
        out = np.repeat(out, 3, axis=0)
    elif channels == 1 and len(out) == 3:
        out = np.tensordot(np.array([0.299, 0.587, 0.114]), out, axes=1)[None]
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def decode(p: Path, size: tuple[int, int], channels: int) -> np.ndarray | None:
    """One file as uint8 (C, H, W), or None when it is not a readable picture (read as
    every command reads pictures: advnets.image_files)."""
    try:
        return fit_array(read_picture(p, MAX_PIXELS), size, channels)
    except AdvnetsError:
        return None


def count_grey(files: list[Path]) -> tuple[bool, int]:
    """(whether every readable picture is grey, how many headers could be read): from the
    headers and palettes alone, so that channels=auto needs no second decode."""
    grey, readable = True, 0
    for p in files:
        try:
            with _open(p) as img:
                readable += 1
                grey = grey and is_grey(img)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
            continue
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            continue
    return grey, readable


def prepare(
    source: str | Path,
    size: tuple[int, int],
    channels: int = 0,
    cache: str | None = None,
    progress: bool = False,
) -> Prepared:
    """The folder (or array file) `source` at (H, W) with `channels` (0: 1 if every picture
    is grey, else 3), from the cache or prepared into it. Processes that prepare the same
    folder at once (torchrun ranks, sweep workers) take turns: one builds, the rest map it."""
    source = Path(source).expanduser().resolve()
    if any(s < 1 for s in size):
        raise DataError(f"data.image_size={list(size)}: sizes must be >= 1 (e.g. --size 64)")
    if source.is_file() and source.suffix.lower() in ARRAY_SUFFIXES:
        files, labels, names = [source], [], []
    else:
        files, labels, names = scan(source)
        if not files:
            raise DataError(
                f"{source}: no pictures found ({', '.join(SUFFIXES)}); point --images at a "
                "folder of images or at a .npy/.npz array"
            )
    root = cache_root(cache)
    folder = root / _key(source, files, size, channels)
    with _locked(root, folder.name):
        found = _open_cache(folder)
        if found is not None:
            return found
        _build(folder, source, files, labels, names, size, channels, progress)
        built = _open_cache(folder)
        if built is not None and channels == 0:  # the run records the channels found:
            _alias(root / _key(source, files, size, built.images.shape[1]), folder)
    if built is None:
        raise DataError(f"{folder}: the prepared cache could not be read back; delete it")
    built.built = True
    return built


def _alias(link: Path, folder: Path) -> None:
    """`link` naming the same prepared folder (channels=auto and the channels it found are
    one cache, so a run that records them maps the folder it was prepared into)."""
    with contextlib.suppress(OSError):
        if not link.exists():
            link.symlink_to(folder.name)


@contextlib.contextmanager
def _locked(root: Path, name: str) -> Iterator[None]:
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = open(root / f"{name}.lock", "w")  # noqa: SIM115 (held for the block)
    except OSError as err:
        raise DataError(
            f"cannot write the prepared-images cache in {root} ({err.strerror}); "
            "set ADVNETS_CACHE or data.cache to a writable folder"
        ) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _open_cache(folder: Path) -> Prepared | None:
    """A finished cache folder, memory-mapped; None if absent. A damaged one (cut short,
    edited) is removed so that it is built again."""
    if not folder.is_dir():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
        images = np.load(folder / "images.npy", mmap_mode="r", allow_pickle=False)
        labels = np.load(folder / "labels.npy", allow_pickle=False)
        ok = images.dtype == np.uint8 and images.ndim == 4 and len(labels) == len(images)
        ok = ok and meta.get("format") == FORMAT and len(images) == meta.get("images")
        mean01 = np.load(folder / "mean.npy", allow_pickle=False)
        ok = ok and mean01.shape == images.shape[1:]
    except (OSError, ValueError, json.JSONDecodeError, AttributeError):
        ok = False
    if not ok:
        print(f"advnets: the prepared cache {folder} is damaged; preparing it again")
        shutil.rmtree(folder, ignore_errors=True)
        return None
    names = [str(n) for n in meta["class_names"]]
    skipped = [str(s) for s in meta["skipped"]]
    return Prepared(images, labels.astype(np.int64), names, skipped, folder, False, mean01)


def _build(
    folder: Path,
    source: Path,
    files: list[Path],
    labels: list[int],
    names: list[str],
    size: tuple[int, int],
    channels: int,
    progress: bool,
) -> None:
    """Decode every file into a temporary folder beside the cache, then rename it into
    place: a cache folder is either whole or absent."""
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if source.suffix.lower() in ARRAY_SUFFIXES and source.is_file():
            kept, skipped = _array_into(tmp, source, size, channels)
        else:
            kept, skipped = _files_into(tmp, source, files, labels, size, channels, progress)
        meta = {"format": FORMAT, "source": str(source), "images": int(len(kept))}
        meta |= {"class_names": names, "skipped": skipped, "size": list(size)}
        np.save(tmp / "labels.npy", kept)
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _files_into(
    tmp: Path,
    source: Path,
    files: list[Path],
    labels: list[int],
    size: tuple[int, int],
    channels: int,
    progress: bool,
) -> tuple[np.ndarray, list[str]]:
    """Decode `files` one by one into tmp/images.npy (memory bounded: written as it goes);
    returns the labels of the images kept and the names of the files skipped."""
    from tqdm import tqdm

    if channels == 0:
        channels = 1 if count_grey(files)[0] else 3
    kept, skipped = [], []
    with _ImageWriter(tmp / "images.npy", len(files), (channels, *size)) as out:
        for p, label in zip(tqdm(files, "preparing", disable=not progress), labels, strict=True):
            pixels = decode(p, size, channels)
            if pixels is None:
                skipped.append(str(p.relative_to(source)))
                continue
            out.write(pixels)
            kept.append(label)
    if not kept:
        raise DataError(
            f"{source}: none of its {len(files)} picture files could be read "
            f"(e.g. {skipped[0]}); check that they are images"
        )
    return np.asarray(kept, dtype=np.int64), skipped


class _ImageWriter:
    """An .npy of uint8 images written one after another through a plain file (memory
    stays flat however many there are); its header is set to the count written on close."""

    def __init__(self, path: Path, most: int, shape: tuple[int, ...]) -> None:
        self.path, self.shape, self.count = path, shape, 0
        self.total = np.zeros(shape, dtype=np.float64)  # for the mean picture
        self.file = open(path, "w+b")  # noqa: SIM115 (closed in __exit__)
        self._header(most)
        self.offset = self.file.tell()

    def _header(self, n: int) -> None:
        header = {"descr": "|u1", "fortran_order": False, "shape": (n, *self.shape)}
        np.lib.format.write_array_header_1_0(self.file, header)

    def write(self, pixels: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
        self.total += pixels
        self.count += 1

    def __enter__(self) -> "_ImageWriter":
        return self

    def __exit__(self, *exc) -> None:
        end = self.file.tell()
        self.file.seek(0)
        self._header(self.count)  # padded to 64 bytes: almost always the same length
        if self.file.tell() != self.offset:  # it shrank: move the pixels up behind it
            self.file.seek(self.offset)
            pixels = self.file.read(end - self.offset)
            self.file.seek(0)
            self._header(self.count)
            self.file.write(pixels)
            end = self.file.tell()
        self.file.truncate(end)
        self.file.close()
        mean01 = self.total / max(1, self.count) / 255  # read at training's start, not swept
        np.save(self.path.with_name("mean.npy"), mean01.astype(np.float32))


def _array_into(
    tmp: Path, source: Path, size: tuple[int, int], channels: int
) -> tuple[np.ndarray, list[str]]:
    """An array file of images (N, H, W[, C]) or (N, C, H, W), uint8 or floats on [0, 1],
    resized like pictures into tmp/images.npy; every image is unlabelled."""
    array = read_array(source)
    n, colours = len(array), array.shape[1]
    if channels == 0:
        channels = 1 if colours == 1 else 3
    with _ImageWriter(tmp / "images.npy", n, (channels, *size)) as out:
        for i in range(n):
            out.write(fit_array(array[i].astype(np.float32) / 255, size, channels))
    return np.full(n, -1, dtype=np.int64), []


def read_array(path: Path) -> np.ndarray:
    """Images from a .npy or .npz (its one array, or the one named `images`) as uint8
    (N, C, H, W), C 1 or 3; floats must lie on [0, 1]."""
    from advnets.files import read_npy

    array = _npz_images(path) if path.suffix.lower() == ".npz" else read_npy(path)
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3, 4) and array.shape[1] not in (1, 3):
        array = array.transpose(0, 3, 1, 2)[:, :3]
    if array.ndim != 4 or array.shape[1] not in (1, 3) or len(array) == 0:
        raise DataError(
            f"{path}: an array of images must be (N, H, W), (N, H, W, C) or (N, C, H, W) "
            f"with C 1 or 3 and N >= 1, got shape {array.shape}"
        )
    return _as_uint8(array, path)


def _npz_images(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            key = "images" if "images" in names else (names[0] if len(names) == 1 else None)
            if key is None:
                raise DataError(
                    f"{path}: holds arrays {', '.join(names) or 'none'}; name the images "
                    "'images' or save one array"
                )
            return z[key]
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npz ({type(err).__name__})") from None


def _as_uint8(array: np.ndarray, path: Path) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind != "f":
        raise DataError(f"{path}: images must be uint8 or floats on [0, 1], got {array.dtype}")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise DataError(
            f"{path}: float images must be finite and on [0, 1], got values in "
            f"[{np.nanmin(array):.3g}, {np.nanmax(array):.3g}]; rescale them (e.g. x / 255)"
        )
    return (array * 255).round().astype(np.uint8)


def held_out(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of the held-out images: `fraction` of each class (of all, when
    unlabelled), at least one of each, drawn with `seed`; none when fraction is 0."""
    mask = np.zeros(len(labels), dtype=bool)
    if fraction <= 0:
        return mask
    rng = np.random.default_rng(seed)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < 2:
            raise DataError(
                f"class {c} has {len(members)} image; a held-out split needs two or more of "
                "each class (add pictures, or set data.valid_fraction=0)"
            )
        take = min(len(members) - 1, max(1, round(fraction * len(members))))
        mask[rng.choice(members, take, replace=False)] = True
    return mask
