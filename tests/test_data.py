import gzip
import struct

import numpy as np
import pytest
import torch

from advnets.config import DataConfig
from advnets.data import build_data, load_images
from advnets.data.idx import read_idx
from advnets.data.sampler import TensorSampler
from advnets.data.toy import grid, ring
from advnets.errors import DataError


def write_idx(path, array, magic_dtype=0x08, ndim=None, gz=True, truncate=0):
    ndim = array.ndim if ndim is None else ndim
    header = struct.pack(">HBB", 0, magic_dtype, ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    body = array.astype(np.uint8).tobytes()
    blob = header + body[: len(body) - truncate]
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(blob)
    else:
        path.write_bytes(blob)
    return path


def test_read_idx_raw_and_gz(tmp_path):
    images = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    for gz, name in ((True, "a.gz"), (False, "a")):
        out = read_idx(write_idx(tmp_path / name, images, gz=gz), ndim=3, dims=(28, 28))
        np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"magic_dtype": 0x0D}, "bad magic number"),
        ({"ndim": 2}, "has 2 dimensions, expected 3"),
        ({"truncate": 5}, "truncated"),
    ],
)
def test_corrupt_idx_files(tmp_path, kwargs, message):
    path = write_idx(tmp_path / "x.gz", np.zeros((2, 28, 28)), **kwargs)
    with pytest.raises(DataError, match=message) as err:
        read_idx(path, ndim=3, dims=(28, 28))
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).endswith("delete it and fetch it again")


def test_wrong_dims_and_broken_gzip(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((2, 32, 32)))
    with pytest.raises(DataError, match=r"items are \(32, 32\), expected \(28, 28\)"):
        read_idx(path, ndim=3, dims=(28, 28))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DataError, match="cannot be read"):
        read_idx(broken, ndim=3)


def test_missing_data_says_where_it_looked(tmp_path):
    with pytest.raises(DataError) as err:
        load_images("mnist", "train", root=str(tmp_path), download=False)
    msg = str(err.value)
    assert str(tmp_path) in msg and "ADVNETS_DATA" in msg and "--data" in msg
    with pytest.raises(DataError, match="unknown split"):
        load_images("mnist", "training", root=str(tmp_path), download=False)


def test_labels_outside_the_classes_are_refused(tmp_path):
    """A labels file that parses but holds a label >= 10 would score every such image as
    wrong, silently: refused with the file named."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((4, 28, 28)))
    labels = write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.array([0, 9, 200, 3]))
    with pytest.raises(DataError, match="a label of 200, not a class 0-9") as err:
        load_images("mnist", "test", root=str(tmp_path), download=False)
    assert str(err.value).startswith(str(labels))


def test_paper_splits(data_root):
    train, train_y = load_images("mnist", "train", str(data_root), download=False)
    valid, _ = load_images("mnist", "valid", str(data_root), download=False)
    test, test_y = load_images("mnist", "test", str(data_root), download=False)
    assert train.shape == (50_000, 28, 28) and valid.shape == (10_000, 28, 28)
    assert test.shape == (10_000, 28, 28) and train.dtype == np.uint8
    full, _ = load_images("mnist", "full", str(data_root), download=False)
    np.testing.assert_array_equal(full[50_000:], valid)
    assert list(np.bincount(test_y)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_cifar10_records_and_faces_people_split_as_documented(data_root):
    """A CIFAR-10 record is a label byte then the R, G, B planes; train and valid are the
    official training images in order; the faces' splits are disjoint sets of people."""
    from advnets.data.photos import load_cifar10, load_faces

    batch5 = data_root / "cifar10" / "data_batch_5.bin"
    raw = np.fromfile(batch5, dtype=np.uint8, count=3073, offset=5_000 * 3073)
    valid, valid_y = load_cifar10("valid", str(data_root))
    train, _ = load_cifar10("train", str(data_root))
    assert train.shape == (45_000, 3, 32, 32) and valid.shape == (5_000, 3, 32, 32)
    assert valid_y[0] == raw[0]  # valid: the 45,000th training image on, batch 5's 5,001st
    np.testing.assert_array_equal(valid[0].reshape(3, -1), raw[1:].reshape(3, 1024))
    splits = ("train", "valid", "test", "full")
    train, valid, test, full = (set(load_faces(s, str(data_root))[1]) for s in splits)
    assert [len(p) for p in (train, valid, test)] == [28, 4, 8]
    assert train | valid | test == set(range(40)) and len(train | valid | test) == 40
    assert full == train | valid  # as for the other data sets: never the test people


def _faces_file(tmp_path, name: str):
    path = tmp_path / name / "faces" / "olivetti" / "olivetti_faces.npz"
    path.parent.mkdir(parents=True)
    return path


def test_damaged_photo_files_give_one_line(tmp_path, data_root):
    """Damaged faces or CIFAR-10 files are refused with the file named and the fix, never a
    traceback from numpy or zipfile, and never a short split silently shifted."""
    from advnets.data.photos import load_cifar10, load_faces

    good = (data_root / "faces" / "olivetti" / "olivetti_faces.npz").read_bytes()
    with np.load(data_root / "faces" / "olivetti" / "olivetti_faces.npz") as f:
        images, labels = f["images"], f["labels"]
    _faces_file(tmp_path, "cut").write_bytes(good[: len(good) // 2])
    _faces_file(tmp_path, "junk").write_bytes(b"junk" * 100)
    with open(_faces_file(tmp_path, "one"), "wb") as f:
        np.save(f, images)
    np.savez(_faces_file(tmp_path, "nolabels"), images=images)
    np.savez(_faces_file(tmp_path, "ids"), images=images, labels=labels + 1)
    cases = {"cut": "damaged", "junk": "damaged", "one": "one array", "nolabels": "no 'labels'"}
    for name, message in {**cases, "ids": "person ids must be 0-39"}.items():
        with pytest.raises(DataError, match=message) as err:
            load_faces("train", str(tmp_path / name))
        assert str(tmp_path / name) in str(err.value) and "\n" not in str(err.value)
    cifar = tmp_path / "short" / "cifar10"
    cifar.mkdir(parents=True)
    (cifar / "data_batch_1.bin").write_bytes(bytes(3073 * 9_999))  # one record short
    with pytest.raises(DataError, match="holds 10000 records.*fetch it again"):
        load_cifar10("train", str(tmp_path / "short"))


def test_build_data_respects_value_range(data_root):
    data = build_data(
        DataConfig(name="mnist", root=str(data_root), download=False, value_range=[-1.0, 1.0])
    )
    batch = data.sampler.next(500)
    assert batch.shape == (500, 1, 28, 28) and data.shape == (1, 28, 28)
    assert batch.min().item() == -1.0 and batch.max().item() == 1.0
    assert data.mean01.shape == (784,)
    assert data.mean01.mean().item() == pytest.approx(0.1307, abs=0.002)


def test_tensor_sampler_is_without_replacement_per_epoch():
    data = torch.arange(10).float().unsqueeze(1)
    sampler = TensorSampler(data)
    seen = torch.cat([sampler.next(5), sampler.next(5)]).flatten()
    assert sorted(seen.tolist()) == list(range(10))
    state, rng = sampler.state_dict(), torch.get_rng_state()
    a = torch.cat([sampler.next(3), sampler.next(3)])  # the first call reshuffles
    torch.manual_seed(123)
    sampler.load_state_dict(state)
    torch.set_rng_state(rng)
    torch.testing.assert_close(torch.cat([sampler.next(3), sampler.next(3)]), a)


def test_toy_mixtures():
    r = ring()
    assert r.means.shape == (8, 2)
    torch.testing.assert_close(r.means.norm(dim=1), torch.ones(8))
    g = grid()
    assert g.means.shape == (25, 2)
    assert sorted(set(g.means[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    x = g.sample(20_000)
    nearest = torch.cdist(x, g.means).min(dim=1).values
    assert (nearest < 3 * 0.05 * 1.5).float().mean() > 0.99
    counts = torch.cdist(x, g.means).argmin(1).bincount(minlength=25)
    assert counts.min() > 600 and counts.max() < 1000
    # the density integrates to one (1-D check on a fine grid)
    from advnets.data.toy import gaussian_1d

    d = gaussian_1d(4.0, 0.5)
    xs = torch.linspace(0, 8, 8001).unsqueeze(1)
    assert d.log_prob(xs).exp().sum().item() * 0.001 == pytest.approx(1.0, abs=1e-4)


def test_download_checks_sha256(tmp_path, monkeypatch):
    """Downloading goes through the mirrors in order and keeps only a file whose sha256
    matches (a local file:// mirror stands in for the network)."""
    import hashlib

    from advnets.data import mnist

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    name = "t10k-labels-idx1-ubyte.gz"
    good = write_idx(mirror / name, np.arange(10) % 10)
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    bad_mirror = tmp_path / "bad"
    bad_mirror.mkdir()
    (bad_mirror / name).write_bytes(b"tampered")
    spec = mnist.IdxDataset(
        "mnist", (bad_mirror.as_uri() + "/", mirror.as_uri() + "/"), {name: digest}
    )
    monkeypatch.setitem(mnist.DATASETS, "mnist", spec)
    root = tmp_path / "cache"
    path = mnist.find_file("mnist", name, str(root), download=True)
    assert path == root / "mnist" / name and path.read_bytes() == good.read_bytes()
    spec_bad_only = mnist.IdxDataset("mnist", (bad_mirror.as_uri() + "/",), {name: digest})
    monkeypatch.setitem(mnist.DATASETS, "mnist", spec_bad_only)
    with pytest.raises(DataError, match="downloading failed"):
        mnist.find_file("mnist", name, str(tmp_path / "other"), download=True)
    assert not any((tmp_path / "other").rglob("*.gz"))
