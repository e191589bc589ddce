"""Property tests (Hypothesis) over what users hand advnets: IDX headers, config overrides,
.npy headers, pictures (random bytes, random PNG headers, damaged pictures of every mode)
and image arrays. Each input gives a result or one line (the project's error type), never
another exception. Derandomized and bounded, so the tests are fast and repeatable."""

import gzip
import io
import json
import math
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from advnets.config import Config, load_preset
from advnets.data.idx import read_idx
from advnets.errors import AdvnetsError
from advnets.files import read_npy
from advnets.image_files import read_image_batch, read_picture
from advnets.sampling import check_finite
from advnets.validation import validate

FUZZ = settings(derandomize=True, max_examples=150, deadline=None)


def one_line(err: AdvnetsError) -> None:
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def written(folder: Path, data: bytes, name: str) -> Path:
    path = folder / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


# --- IDX ---------------------------------------------------------------------------------------

dims = st.one_of(st.just(28), st.integers(0, 70_000), st.integers(0, 2**32 - 1))


@st.composite
def idx_files(draw) -> bytes:
    zero = draw(st.one_of(st.just(0), st.integers(0, 2**16 - 1)))
    dtype = draw(st.one_of(st.just(0x08), st.integers(0, 255)))
    ndim = draw(st.one_of(st.just(3), st.just(1), st.integers(0, 255)))
    shape = draw(st.lists(dims, min_size=0, max_size=4))
    header = struct.pack(">HBB", zero, dtype, ndim) + struct.pack(f">{len(shape)}I", *shape)
    exact = math.prod(shape) if shape else 0
    size = draw(st.one_of(st.just(min(exact, 3000)), st.integers(0, 3000)))
    return draw(st.one_of(st.just(header + bytes(size)), st.binary(max_size=24)))


@FUZZ
@given(idx_files(), st.sampled_from(["x-idx3-ubyte", "x-idx3-ubyte.gz"]))
def test_idx_headers_read_or_one_line(scratch, raw, name):
    try:
        array = read_idx(written(scratch, raw, name), 3, (28, 28))
    except AdvnetsError as err:
        one_line(err)
    else:
        assert array.ndim == 3 and array.shape[1:] == (28, 28)


# --- config overrides --------------------------------------------------------------------------


def _keys(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out += _keys(value, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


KEYS = _keys(Config().to_dict()) + ["train", "nope.key", "optim.E.lr", "optim.G", "model"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.text(max_size=4), scalars, max_size=2),
)
raw_values = st.one_of(
    values.map(json.dumps),
    st.text(max_size=20),
    st.sampled_from(["!!python/object:os.system", "[1, 2", "{a: b}", "1e-3", ".nan", "2020-01-01"]),
)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(KEYS), raw_values), min_size=1, max_size=3))
def test_config_overrides_validate_or_one_line(pairs):
    overrides = [f"{key}={value}" for key, value in pairs]
    try:
        validate(load_preset("gan-ring", overrides))
    except AdvnetsError as err:
        one_line(err)


# --- .npy headers ------------------------------------------------------------------------------

DESCRS = ["<f4", ">f8", "|u1", "<i8", "|O", "<c8", "f4", "<U3", "garbage", "|V4"]
shapes = st.lists(
    st.one_of(st.integers(0, 50), st.integers(-5, 10**12), st.just(10**11)), max_size=4
).map(tuple)


@st.composite
def npy_files(draw) -> bytes:
    header = {
        "descr": draw(st.sampled_from(DESCRS)),
        "fortran_order": draw(st.booleans()),
        "shape": draw(shapes),
    }
    text = draw(st.one_of(st.just(repr(header)), st.text(max_size=40)))
    version = draw(st.sampled_from([1, 2, 3, 7]))
    length = struct.pack("<H" if version == 1 else "<I", len(text) + 1)
    start = b"\x93NUMPY" + bytes([version, 0])
    body = bytes(draw(st.integers(0, 2000)))
    raw = start + length + text.encode("utf-8", "replace") + b"\n" + body
    return draw(st.one_of(st.just(raw), st.binary(max_size=64), st.just(b"1.0 2.0\n3.0 4.0\n")))


@FUZZ
@given(npy_files())
def test_npy_headers_read_or_one_line(scratch, raw):
    try:
        array = read_npy(written(scratch, raw, "x.npy"))
    except AdvnetsError as err:
        one_line(err)
    else:
        assert isinstance(array, np.ndarray) and array.ndim >= 1


def test_npy_cases_of_the_audit(tmp_path):
    """0-d arrays, a header claiming 10**11 images, a text file renamed .npy, pickles."""
    np.save(tmp_path / "zero.npy", np.float32(3.0))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "text.npy").write_text("0.5 0.5\n0.1 0.2\n")
    huge = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1, 28, 28), np.float32))
    with (tmp_path / "huge.npy").open("wb") as f:
        np.lib.format.write_array_header_1_0(f, {**huge, "shape": (10**11, 1, 28, 28)})
        f.write(bytes(4 * 784))
    cases = {
        "zero": "0-d array",
        "obj": "pickled (object) data",
        "text": "not a .npy file",
        "huge": "313,600,000,000,000 bytes",
    }
    for name, message in cases.items():
        with pytest.raises(AdvnetsError, match=re.escape(message)) as err:
            read_npy(tmp_path / f"{name}.npy")
        one_line(err.value)


def test_non_finite_output_is_refused():
    check_finite(torch.zeros(3))
    with pytest.raises(AdvnetsError, match="NaN or Inf"):
        check_finite(torch.tensor([0.0, float("inf")]))


# --- pictures and image arrays ------------------------------------------------------------------

MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "YCbCr"]
FORMATS = {"PNG": "x.png", "TIFF": "x.tif", "GIF": "x.gif", "BMP": "x.bmp", "JPEG": "x.jpg"}
PNG_KINDS = [(1, 0), (8, 0), (16, 0), (8, 2), (16, 2), (4, 3), (8, 3), (8, 4), (16, 4), (8, 6)]
SMALL_LIMIT = 4096  # pixels: a header claiming more is refused before decoding


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


@st.composite
def png_headers(draw) -> bytes:
    """A PNG with random IHDR fields (size, bit depth, colour type) and random pixel data."""
    size = st.one_of(st.integers(1, 12), st.integers(0, 2**31))
    any_kind = st.tuples(st.sampled_from([1, 2, 4, 8, 16, 3, 0]), st.sampled_from([0, 2, 3, 5]))
    depth, colour = draw(st.one_of(st.sampled_from(PNG_KINDS), any_kind))
    interlace = draw(st.sampled_from([0, 1, 2]))
    ihdr = struct.pack(">IIBBBBB", draw(size), draw(size), depth, colour, 0, 0, interlace)
    data = draw(st.one_of(st.binary(max_size=300), st.integers(0, 2000).map(bytes)))
    idat = zlib.compress(data) if draw(st.booleans()) else data
    chunks = [_chunk(b"IHDR", ihdr)]
    if draw(st.booleans()):
        chunks.append(_chunk(b"PLTE", draw(st.binary(max_size=48))))
    if draw(st.booleans()):
        chunks.append(_chunk(b"tRNS", draw(st.binary(max_size=8))))
    chunks += [_chunk(b"IDAT", idat), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


@st.composite
def damaged_pictures(draw) -> tuple[bytes, str]:
    """A real picture of a random mode, size and format, then cut short or with bytes
    changed; or random bytes."""
    mode, fmt = draw(st.sampled_from(MODES)), draw(st.sampled_from(list(FORMATS)))
    side = st.integers(1, 24)
    image = Image.new(mode, (draw(side), draw(side)), color=draw(st.integers(0, 255)))
    if mode == "I" and fmt == "PNG":  # Pillow writes 32-bit grey to PNG as 16-bit, I;16
        image = image.convert("I;16")
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, save_all=fmt in ("GIF", "TIFF"))
    except (OSError, ValueError, KeyError):  # the format cannot hold that mode
        image.convert("RGB").save(buffer, format=fmt)
    raw = bytearray(buffer.getvalue())
    for _ in range(draw(st.integers(0, 4))):
        raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
    raw = raw[: draw(st.integers(0, len(raw)))] if draw(st.booleans()) else raw
    return draw(st.one_of(st.just(bytes(raw)), st.binary(max_size=200))), FORMATS[fmt]


def _picture_or_one_line(path: Path) -> None:
    try:
        array = read_picture(path, SMALL_LIMIT)
    except AdvnetsError as err:
        one_line(err)
    else:
        assert array.dtype == np.float32 and array.ndim == 3 and array.shape[0] in (1, 3)
        assert np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1


@FUZZ
@given(png_headers())
def test_png_headers_read_or_one_line(scratch, raw):
    _picture_or_one_line(written(scratch, raw, "x.png"))


@FUZZ
@given(damaged_pictures())
def test_pictures_of_any_mode_read_or_one_line(scratch, case):
    raw, name = case
    _picture_or_one_line(written(scratch, raw, name))


@FUZZ
@given(
    st.sampled_from(["uint8", "float32", "float64", "float16", "int16", "bool", "complex64"]),
    st.lists(st.integers(0, 5), min_size=1, max_size=5),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([(0.0, 1.0), (-1.0, 1.0)]),
)
def test_image_arrays_read_or_one_line(scratch, dtype, shape, value, value_range):
    with np.errstate(over="ignore", invalid="ignore"):  # the cast to small dtypes
        array = np.full(shape, value if dtype != "uint8" else 7).astype(dtype)
    np.save(scratch / "x.npy", array)
    try:
        x = read_image_batch(scratch / "x.npy", value_range)
    except AdvnetsError as err:
        one_line(err)
    else:
        assert x.dtype == torch.float32 and x.ndim == 4 and 0 <= x.min() <= x.max() <= 1
