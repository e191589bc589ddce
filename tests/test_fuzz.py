"""Property tests (Hypothesis) over what users hand advnets: IDX headers, config overrides
and .npy headers. Each input gives a result or one line (the project's error type), never
another exception. Derandomized and bounded, so the tests are fast and repeatable."""

import gzip
import json
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from advnets.config import Config, load_preset
from advnets.data.idx import read_idx
from advnets.errors import AdvnetsError
from advnets.files import read_npy
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
