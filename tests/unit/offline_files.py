"""Small synthetic data files in exactly the offline formats nclib.data reads (see
/work/shared/data/README.md): ``mnist.npz``, ``cifar10_jpeg.npz`` and gzipped IDX files.

The images are easy to classify (class k has a bright 6 x 6 square at a position that depends
on k, on top of noise), so tiny networks reach zero training error in a few epochs.
"""

import gzip
import io

import numpy as np
from PIL import Image


def images(n_per_class, size, channels, seed):
    """uint8 (10 n, size, size, channels) class-major images and int64 labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class).astype(np.int64)
    x = rng.integers(0, 60, size=(len(labels), size, size, channels), dtype=np.uint8)
    for i, k in enumerate(labels):
        r, c = 2 + 6 * (k // 4), 2 + 6 * (k % 4)
        x[i, r:r + 6, c:c + 6] = 255
    return x, labels


def write_mnist(folder, n_train=6, n_test=3, seed=0):
    xtr, ytr = images(n_train, 28, 1, seed)
    xte, yte = images(n_test, 28, 1, seed + 1)
    np.savez_compressed(folder / "mnist.npz", x_train=xtr[..., 0], y_train=ytr, x_test=xte[..., 0], y_test=yte)
    return xtr[..., 0], ytr


def _jpeg_blob(x):
    blobs = []
    for img in x:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=75)
        blobs.append(np.frombuffer(buf.getvalue(), np.uint8))
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
    return np.concatenate(blobs), offsets


def write_cifar(folder, n_train=6, n_test=3, seed=0):
    """Returns the training images decoded back with Pillow (the reference decoder)."""
    xtr, ytr = images(n_train, 32, 3, seed)
    xte, yte = images(n_test, 32, 3, seed + 1)
    (trj, tro), (tej, teo) = _jpeg_blob(xtr), _jpeg_blob(xte)
    np.savez_compressed(folder / "cifar10_jpeg.npz", train_jpeg=trj, train_offsets=tro, train_labels=ytr,
                        test_jpeg=tej, test_offsets=teo, test_labels=yte,
                        class_names=np.array(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                              "horse", "ship", "truck"]))
    decoded = np.stack([np.asarray(Image.open(io.BytesIO(trj[a:b].tobytes())).convert("RGB"))
                        for a, b in zip(tro[:-1], tro[1:])])
    return decoded, ytr


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_fashion(folder, n_train=6, n_test=3, seed=0):
    sub = folder / "fashion-mnist"
    sub.mkdir()
    xtr, ytr = images(n_train, 28, 1, seed)
    xte, yte = images(n_test, 28, 1, seed + 1)
    for stem, x, y in (("train", xtr, ytr), ("t10k", xte, yte)):
        _write_idx(sub / f"{stem}-images-idx3-ubyte.gz", x[..., 0])
        _write_idx(sub / f"{stem}-labels-idx1-ubyte.gz", y)
    return xtr[..., 0], ytr


def write_all(folder, n_train=6, n_test=3, seed=0):
    """All three data sets into ``folder``; returns {name: (train images, train labels)}."""
    return {"mnist": write_mnist(folder, n_train, n_test, seed),
            "cifar10": write_cifar(folder, n_train, n_test, seed),
            "fashion-mnist": write_fashion(folder, n_train, n_test, seed)}


def use_offline_cifar(tmp_path, monkeypatch, n_train, n_test):
    """Write a tiny CIFAR-10 into ``tmp_path / "data"``, point NCLIB_DATA at it and clear the
    data cache; returns the folder."""
    from nclib import data

    folder = tmp_path / "data"
    folder.mkdir()
    write_cifar(folder, n_train=n_train, n_test=n_test)
    monkeypatch.setenv("NCLIB_DATA", str(folder))
    data._raw.cache_clear()
    return folder
