"""Data sets of Sec. 5 and App. E: MNIST, Fashion-MNIST and CIFAR-10 as normalised tensors,
class-balanced subsets, the 9 x 9 uniform blur of App. E.2 and a loader over device tensors.

Where the images come from (checked in this order, never silently substituted):

* ``$NCLIB_DATA`` set: ``mnist.npz`` (the exact MNIST) and ``cifar10_jpeg.npz`` (CIFAR-10 stored
  as JPEG files at quality 75, so decoded pixels differ slightly from the original; results on it
  are labelled "CIFAR-10 (JPEG q75 re-encoding)", see :func:`display_name`); Fashion-MNIST as
  gzipped IDX files in ``$NCLIB_DATA/fashion-mnist``;
* Fashion-MNIST: the gzipped IDX files of Debian's ``dataset-fashion-mnist`` package in
  ``/usr/share/datasets/fashion-mnist``;
* otherwise torchvision's dataset classes, downloading into ``$NCLIB_DOWNLOAD`` (default
  ``~/.cache/nclib``).

Images are returned as float32 tensors (N, C, H, W) normalised per channel with the usual
training-set statistics (:data:`DATASETS`), labels as int64 (N,).
"""

from __future__ import annotations

import functools
import gzip
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nclib._checks import check_int

__all__ = ["DATASETS", "DatasetInfo", "load_dataset", "display_name", "balanced_subset",
           "box_blur", "blur_classes", "DeviceLoader"]

DATA_ENV = "NCLIB_DATA"
DOWNLOAD_ENV = "NCLIB_DOWNLOAD"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class DatasetInfo:
    """Shape and normalisation constants of one data set."""

    title: str
    """Display name of the original data set."""
    channels: int
    size: int
    """Height = width in pixels."""
    num_classes: int
    mean: tuple
    """Per-channel mean of the training pixels / 255 (original data set)."""
    std: tuple
    """Per-channel standard deviation of the training pixels / 255 (original data set)."""


DATASETS = {
    "mnist": DatasetInfo("MNIST", 1, 28, 10, (0.1307,), (0.3081,)),
    "fashion-mnist": DatasetInfo("Fashion-MNIST", 1, 28, 10, (0.2860,), (0.3530,)),
    "cifar10": DatasetInfo("CIFAR-10", 3, 32, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
"""name -> :class:`DatasetInfo`. The statistics are the customary ones of the original training
sets (the JPEG copy of CIFAR-10 differs from them in the third decimal), so a network sees the
same input scale whichever copy it is trained on."""

SPLIT_SIZES = {"mnist": (60_000, 10_000), "fashion-mnist": (60_000, 10_000), "cifar10": (50_000, 10_000)}
"""Data set -> (training, test) samples of the whole splits."""

_IDX_FILES = {True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
              False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
_HOW_TO = {
    "mnist": "put mnist.npz in $NCLIB_DATA, or unset NCLIB_DATA to download it with torchvision",
    "fashion-mnist": "run `apt-get install dataset-fashion-mnist` (Debian), put the gzipped IDX files "
                     "in $NCLIB_DATA/fashion-mnist, or let torchvision download them",
    "cifar10": "put cifar10_jpeg.npz in $NCLIB_DATA, or unset NCLIB_DATA to download it with torchvision",
}


def _check_name(name) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"dataset={name!r} is unknown; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


def _source(name: str) -> tuple[str, Path | None]:
    """``(kind, path)``: 'npz', 'jpeg-npz', 'idx' (a folder) or 'torchvision' (path None)."""
    data = os.environ.get(DATA_ENV, "").strip()
    if name == "fashion-mnist":
        folders = ([Path(data) / "fashion-mnist"] if data else []) + [DEBIAN_FASHION_MNIST]
        for folder in folders:
            if all((folder / f).is_file() for f in _IDX_FILES[True] + _IDX_FILES[False]):
                return "idx", folder
        return "torchvision", None
    if not data:
        return "torchvision", None
    path = Path(data) / ("mnist.npz" if name == "mnist" else "cifar10_jpeg.npz")
    if not path.is_file():
        raise FileNotFoundError(f"{DATA_ENV}={data} has no {path.name}: {_HOW_TO[name]}")
    return ("npz" if name == "mnist" else "jpeg-npz"), path


def display_name(name: str) -> str:
    """How results trained on ``name`` are labelled: "CIFAR-10 (JPEG q75 re-encoding)" for the
    JPEG copy in ``$NCLIB_DATA``, else the data set's title (e.g. "MNIST")."""
    info = _check_name(name)
    return f"{info.title} (JPEG q75 re-encoding)" if _source(name)[0] == "jpeg-npz" else info.title


def _read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file (magic 0x0000 08 ndim, big-endian int32 dims, then uint8 data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    if magic >> 8 != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (magic {magic:#010x})")
    ndim = magic & 0xFF
    dims = np.frombuffer(raw, ">i4", count=ndim, offset=4).astype(np.int64)
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {tuple(dims)} but holds {data.size} bytes")
    return data.reshape(dims)


def _decode_jpegs(buf: np.ndarray, offsets: np.ndarray) -> torch.Tensor:
    """Concatenated JPEG files -> uint8 (N, 3, H, W), decoded in one batched call."""
    from torchvision.io import ImageReadMode, decode_jpeg

    data = torch.from_numpy(buf)
    with warnings.catch_warnings():  # torchvision 0.29 flags its image codecs as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        images = decode_jpeg([data[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())],
                             mode=ImageReadMode.RGB)
    return torch.stack(images)


def _download(name: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    import torchvision.datasets as tvd

    root = Path(os.environ.get(DOWNLOAD_ENV, "") or Path.home() / ".cache" / "nclib")
    cls = {"mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    try:
        ds = cls(str(root), train=train, download=True)
    except Exception as exc:  # no network, a proxy, a corrupt archive ...
        raise RuntimeError(f"could not load {name} with torchvision into {root} ({exc}); to work offline "
                           f"{_HOW_TO[name]}") from exc
    images = torch.as_tensor(np.asarray(ds.data))
    images = images.permute(0, 3, 1, 2) if images.ndim == 4 else images[:, None]
    return images, torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)


@functools.lru_cache(maxsize=4)
def _raw(name: str, train: bool, kind: str, path: Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, C, H, W) images and int64 labels, read once per process."""
    split = "train" if train else "test"
    if kind == "npz":
        with np.load(path) as d:
            return torch.from_numpy(d[f"x_{split}"])[:, None], torch.from_numpy(d[f"y_{split}"]).long()
    if kind == "jpeg-npz":
        with np.load(path) as d:
            return (_decode_jpegs(d[f"{split}_jpeg"], d[f"{split}_offsets"]),
                    torch.from_numpy(d[f"{split}_labels"]).long())
    if kind == "idx":
        images, labels = (_read_idx(path / f) for f in _IDX_FILES[train])
        return torch.from_numpy(images.copy())[:, None], torch.from_numpy(labels.astype(np.int64))
    return _download(name, train)


def load_dataset(name: str, train: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, labels)`` of ``name`` in {"mnist", "fashion-mnist", "cifar10"}.

    images: float32 (N, C, H, W), ``(pixel / 255 - mean) / std`` per channel; labels: int64 (N,).
    ``train`` picks the training or the test split. Raises ``ValueError`` for an unknown name and
    ``FileNotFoundError``/``RuntimeError`` (saying how to get it) when the data is not available.
    """
    info = _check_name(name)
    images, labels = _raw(name, bool(train), *_source(name))
    expected = (info.channels, info.size, info.size)
    if tuple(images.shape[1:]) != expected or images.dtype != torch.uint8:
        raise ValueError(f"{name}: expected uint8 images of shape (N, {expected}), "
                         f"got {images.dtype} {tuple(images.shape)}")
    mean = torch.tensor(info.mean).view(1, -1, 1, 1)
    std = torch.tensor(info.std).view(1, -1, 1, 1)
    return (images.float() / 255 - mean) / std, labels.clone()


def balanced_subset(labels, n_per_class: int, seed: int) -> np.ndarray:
    """Indices of ``n_per_class`` samples of every class, drawn without replacement.

    ``labels`` (N,) ints in 0..K-1; the draw uses ``numpy.random.default_rng(seed)``. Returns an
    int64 array of length K * n_per_class, class-major (the class-0 indices, ascending, then class 1,
    ...), the column order of H in the paper. ``ValueError`` if a class has fewer than n samples.
    """
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    n_per_class = check_int("n_per_class", n_per_class, 1)
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels)
    if (counts < n_per_class).any():
        short = {int(k): int(c) for k, c in enumerate(counts) if c < n_per_class}
        raise ValueError(f"n_per_class={n_per_class} exceeds the size of classes {short} (class: count)")
    return np.concatenate([np.sort(rng.choice(np.flatnonzero(labels == k), n_per_class, replace=False))
                           for k in range(len(counts))]).astype(np.int64)


def box_blur(images: torch.Tensor, size: int = 9) -> torch.Tensor:
    """Uniform ``size x size`` blur (App. E.2 uses 9 x 9) of images (N, C, H, W).

    Each output pixel is the mean of the ``size x size`` window around it
    (``torch.nn.functional.avg_pool2d``, stride 1). The border is extended by reflection without
    repeating the edge pixel (OpenCV's default for ``cv2.blur``, scipy's ``mode="mirror"``), so
    the kernel keeps summing to 1 everywhere: the blur commutes with the affine normalisation and
    does not darken the border. The paper does not state its boundary rule; on MNIST the outer
    4 pixels are background, so the choice barely matters.
    """
    if not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd positive integer, got {size!r}")
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"images must be a float tensor (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    r = size // 2
    return F.avg_pool2d(F.pad(images, (r, r, r, r), mode="reflect"), size, stride=1)


def blur_classes(images: torch.Tensor, labels: torch.Tensor, classes, size: int = 9) -> torch.Tensor:
    """A copy of ``images`` with the samples of ``classes`` (e.g. digits (4, 9), App. E.2) blurred
    by :func:`box_blur`; the other samples are unchanged."""
    out = images.clone()
    mask = torch.isin(labels, torch.as_tensor(list(classes), dtype=labels.dtype, device=labels.device))
    if mask.any():
        out[mask] = box_blur(images[mask], size)
    return out


class DeviceLoader:
    """Mini-batches cut from tensors that already live on the training device.

    ``images`` (N, ...) and ``labels`` (N,) stay where they are; each epoch draws a permutation
    from a CPU ``torch.Generator`` seeded with ``(seed, epoch)`` (so a resumed run sees the same
    batches without saving loader state, on any device) and yields ``(x, y)`` slices of
    ``batch_size`` (the last one may be smaller). ``shuffle=False`` keeps the stored order.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, *,
                 shuffle: bool = True, seed: int = 0):
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"images and labels differ in length: {images.shape[0]} vs {labels.shape[0]}")
        check_int("batch_size", batch_size, 1)
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.shuffle, self.seed = shuffle, seed

    def __len__(self) -> int:
        return -(-self.images.shape[0] // self.batch_size)

    def epoch(self, epoch: int):
        """Iterator over the batches of ``epoch`` (0-based)."""
        n = self.images.shape[0]
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(n, generator=gen).to(self.images.device)
        else:
            order = torch.arange(n, device=self.images.device)
        for idx in order.split(self.batch_size):
            yield self.images.index_select(0, idx), self.labels.index_select(0, idx)

    def __iter__(self):
        return self.epoch(0)
