"""nclib.data: offline loaders (on small files written here in the exact formats, and on the real
files when $NCLIB_DATA is set), the torchvision fallback, subsets, the box blur, the device loader."""

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import torch

import offline_files
from nclib import data

REAL = os.environ.get("NCLIB_DATA", "")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    refs = offline_files.write_all(tmp_path)
    monkeypatch.setenv("NCLIB_DATA", str(tmp_path))
    data._raw.cache_clear()
    yield refs
    data._raw.cache_clear()


def _pixels(name, images):
    """Undo the normalisation in float64: pixel values 0..255, (N, H, W, C)."""
    info = data.DATASETS[name]
    x = images.double().numpy() * np.array(info.std).reshape(1, -1, 1, 1) + np.array(info.mean).reshape(1, -1, 1, 1)
    return 255 * x.transpose(0, 2, 3, 1)


@pytest.mark.parametrize("name", ["mnist", "cifar10", "fashion-mnist"])
def test_offline_formats_load_exactly(offline, name):
    ref_x, ref_y = offline[name]
    x, y = data.load_dataset(name)
    info = data.DATASETS[name]
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert tuple(x.shape) == (len(ref_y), info.channels, info.size, info.size)
    np.testing.assert_array_equal(y.numpy(), ref_y)
    # float32 normalisation round trip: relative error ~1e-7 of values up to ~10 -> < 1e-4 grey levels.
    np.testing.assert_allclose(_pixels(name, x), ref_x.reshape(_pixels(name, x).shape), atol=1e-3)
    xt, yt = data.load_dataset(name, train=False)
    assert len(yt) == 30 and np.bincount(yt.numpy()).tolist() == [3] * 10


def test_display_names(offline):
    assert data.display_name("cifar10") == "CIFAR-10 (JPEG q75 re-encoding)"
    assert data.display_name("mnist") == "MNIST"


def test_unknown_and_missing_datasets_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="dataset='svhn' is unknown"):
        data.load_dataset("svhn")
    monkeypatch.setenv("NCLIB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="has no mnist.npz.*put mnist.npz in"):
        data.load_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="cifar10_jpeg.npz"):
        data.display_name("cifar10")


def test_torchvision_fallback_converts_and_reports_failures(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    monkeypatch.delenv("NCLIB_DATA", raising=False)
    monkeypatch.setenv("NCLIB_DOWNLOAD", str(tmp_path))
    data._raw.cache_clear()
    hwc, labels = offline_files.images(2, 32, 3, seed=3)

    class FakeCIFAR10:  # what torchvision.datasets.CIFAR10 exposes: HWC uint8 numpy, list of ints
        def __init__(self, root, train, download):
            assert download and root == str(tmp_path)
            self.data, self.targets = hwc, labels.tolist()

    class Offline:
        def __init__(self, root, train, download):
            raise RuntimeError("network unreachable")

    monkeypatch.setattr(tvd, "CIFAR10", FakeCIFAR10)
    monkeypatch.setattr(tvd, "MNIST", Offline)
    x, y = data.load_dataset("cifar10")
    np.testing.assert_allclose(_pixels("cifar10", x), hwc, atol=1e-3)
    np.testing.assert_array_equal(y.numpy(), labels)
    assert data.display_name("cifar10") == "CIFAR-10"
    with pytest.raises(RuntimeError, match="could not load mnist.*network unreachable.*mnist.npz"):
        data.load_dataset("mnist")
    data._raw.cache_clear()


def test_balanced_subset_is_balanced_seeded_and_checked():
    labels = np.repeat(np.arange(4), [5, 7, 6, 9])
    idx = data.balanced_subset(labels, 5, seed=1)
    assert idx.dtype == np.int64 and len(np.unique(idx)) == 20
    np.testing.assert_array_equal(labels[idx], np.repeat(np.arange(4), 5))  # class-major
    np.testing.assert_array_equal(idx, data.balanced_subset(torch.from_numpy(labels), 5, seed=1))
    assert any(not np.array_equal(idx, data.balanced_subset(labels, 5, seed=s)) for s in range(2, 6))
    with pytest.raises(ValueError, match=r"n_per_class=6 exceeds the size of classes \{0: 5\}"):
        data.balanced_subset(labels, 6, seed=0)
    with pytest.raises(ValueError, match="n_per_class must be an integer >= 1"):
        data.balanced_subset(labels, 0, seed=0)


def test_box_blur_matches_scipy_uniform_filter():
    x = torch.rand(3, 2, 28, 28, dtype=torch.float64)
    ref = scipy.ndimage.uniform_filter(x.numpy(), size=(1, 1, 9, 9), mode="mirror")
    np.testing.assert_allclose(data.box_blur(x, 9).numpy(), ref, rtol=0, atol=1e-12)  # float64 sums of 81 terms
    with pytest.raises(ValueError, match="odd positive"):
        data.box_blur(x, 4)


def test_blur_classes_changes_only_the_chosen_classes():
    x = torch.rand(6, 1, 28, 28)
    y = torch.tensor([0, 4, 9, 1, 4, 2])
    out = data.blur_classes(x, y, (4, 9))
    changed = (out != x).flatten(1).any(1)
    assert changed.tolist() == [False, True, True, False, True, False]
    torch.testing.assert_close(out[1:3], data.box_blur(x[1:3]))


def test_device_loader_covers_each_sample_once_per_epoch():
    x, y = torch.arange(23.0)[:, None], torch.arange(23)
    loader = data.DeviceLoader(x, y, 5, seed=7)
    assert len(loader) == 5
    epoch0 = torch.cat([b for _, b in loader.epoch(0)])
    assert sorted(epoch0.tolist()) == list(range(23))
    assert torch.equal(epoch0, torch.cat([b for _, b in data.DeviceLoader(x, y, 5, seed=7).epoch(0)]))
    assert not torch.equal(epoch0, torch.cat([b for _, b in loader.epoch(1)]))
    xb, yb = next(loader.epoch(3))
    assert torch.equal(xb[:, 0].long(), yb)  # images and labels stay paired
    ordered = torch.cat([b for _, b in data.DeviceLoader(x, y, 5, shuffle=False).epoch(0)])
    assert ordered.tolist() == list(range(23))


# ------------------------------------------------------------------ the real offline files


def _real(name):
    if not REAL or not (Path(REAL) / name).is_file():
        pytest.skip(f"NCLIB_DATA is not set or has no {name}")
    data._raw.cache_clear()


def test_real_mnist_matches_its_readme():
    _real("mnist.npz")
    x, y = data.load_dataset("mnist")
    assert tuple(x.shape) == (60000, 1, 28, 28)
    assert np.bincount(y.numpy()).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert y[:5].tolist() == [5, 0, 4, 1, 9]
    # README: train pixel mean 0.1306604763 (exact data; float32 normalisation, mean over 47M values).
    assert abs(float(x.double().mean()) * 0.3081 + 0.1307 - 0.1306604763) < 1e-6
    xt, yt = data.load_dataset("mnist", train=False)
    assert len(yt) == 10000 and yt[:5].tolist() == [7, 2, 1, 0, 4]


def test_real_cifar10_jpeg_matches_its_readme():
    _real("cifar10_jpeg.npz")
    x, y = data.load_dataset("cifar10")
    assert tuple(x.shape) == (50000, 3, 32, 32)
    assert np.bincount(y.numpy()).tolist() == [5000] * 10
    means = x.double().mean(dim=(0, 2, 3)).numpy() * np.array(data.DATASETS["cifar10"].std) + \
        np.array(data.DATASETS["cifar10"].mean)
    # README (Pillow decoder, 4 decimals): 0.4913 0.4821 0.4465; decoders may differ slightly.
    np.testing.assert_allclose(means, [0.4913, 0.4821, 0.4465], atol=2e-4)
    assert data.display_name("cifar10") == "CIFAR-10 (JPEG q75 re-encoding)"


def test_real_fashion_mnist_from_the_debian_package(monkeypatch):
    if not all((data.DEBIAN_FASHION_MNIST / f).is_file() for f in data._IDX_FILES[True]):
        pytest.skip("dataset-fashion-mnist is not installed")
    monkeypatch.delenv("NCLIB_DATA", raising=False)
    data._raw.cache_clear()
    x, y = data.load_dataset("fashion-mnist")
    assert tuple(x.shape) == (60000, 1, 28, 28) and np.bincount(y.numpy()).tolist() == [6000] * 10
    xt, yt = data.load_dataset("fashion-mnist", train=False)
    assert np.bincount(yt.numpy()).tolist() == [1000] * 10
    data._raw.cache_clear()
