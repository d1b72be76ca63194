r"""Neural-collapse metrics of the features a network emits (Sec. 3, Sec. 5 and App. E.2).

Inputs are what a network produces: ``features`` of shape (N, d) and integer ``labels`` of shape
(N,) in ``0..K-1`` (numpy arrays or torch tensors, CPU or CUDA), and optionally the last layer's
weight ``W`` of shape (K, d). With :math:`\mu_k` the mean of class :math:`k`, :math:`n_k` its
size and :math:`M = [\mu_1 - \mu_G, \dots, \mu_K - \mu_G]` (d x K), the definitions are

* :math:`\mu_G = \frac1K \sum_k \mu_k` -- the mean of the class means (for balanced classes this
  is the global mean :math:`\bar h_G` of Sec. 3; it keeps :math:`\Sigma_B` of rank ``<= K-1``
  for imbalanced ones);
* :math:`\Sigma_W = \frac1N \sum_k \sum_{i \in k} (h_i - \mu_k)(h_i - \mu_k)^\top` and
  :math:`\Sigma_B = \frac1K M M^\top` (Sec. 3);
* ``nc1`` :math:`= \frac1K \operatorname{Tr}(\Sigma_W \Sigma_B^\dagger)` (Sec. 5);
* ``nc1_tilde`` :math:`= \operatorname{Tr}\Sigma_W / \operatorname{Tr}\Sigma_B` (Eq. 3);
* ``nc1_per_class[k]`` :math:`= \frac1K \operatorname{Tr}(\Sigma_W^{(k)} \Sigma_B^\dagger)` with
  :math:`\Sigma_W^{(k)} = \frac1{n_k}\sum_{i\in k}(h_i-\mu_k)(h_i-\mu_k)^\top` (App. E.2), so that
  ``nc1`` :math:`= \sum_k \frac{n_k}{N}` ``nc1_per_class[k]``, i.e. their mean for balanced classes;
* ``nc2`` :math:`= \| M^\top M / \|M^\top M\|_F - E \|_F` and ``nc3`` :math:`= \| W M / \|W M\|_F - E \|_F`
  with :math:`E = (I_K - \frac1K 1 1^\top)/\sqrt{K-1}` the simplex ETF of unit Frobenius norm
  (Sec. 5, App. E.2). NC2 is measured on the centred class means, NC3 on W times them.

Numerics: one pass over the data in float64. Each batch is centred on its own class means and
merged into running per-class (count, mean, scatter) with the parallel-variance update of Chan,
Golub & LeVeque, so nothing is computed as "second moment minus squared mean" (which cancels
catastrophically exactly when features are near collapse). :math:`\Sigma_B^\dagger` is never
formed: the SVD of the d x K matrix ``M`` gives the range of :math:`\Sigma_B` (rank ``<= K-1``;
singular values below ``max(d, K) * eps * max(s_max, ||means||_F)`` are treated as zero -- the
rule of ``numpy.linalg.pinv``, widened to the rounding that centring far-from-origin means
leaves), and the traces are sums of projections :math:`u_j^\top \Sigma_W u_j / s_j^2`, which
are non-negative by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nclib._checks import check_int

__all__ = ["NCMetrics", "NCAccumulator", "nc_metrics"]

_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class NCMetrics:
    """Neural-collapse metrics of one set of features (definitions in :mod:`nclib.metrics`)."""

    nc1: float
    """Tr(Σ_W Σ_B†)/K (Sec. 5)."""
    nc1_tilde: float
    """Tr Σ_W / Tr Σ_B (Eq. 3)."""
    nc2: float
    """Distance of the normalised Gram matrix of the centred class means from the simplex ETF (Sec. 5)."""
    nc3: float | None
    """Distance of W M, normalised, from the simplex ETF (App. E.2); None when no W was given."""
    nc1_per_class: np.ndarray | None
    """(K,) per-class NC1 of App. E.2; None when the accumulator kept no per-class scatter."""
    tr_sw: float
    """Tr Σ_W."""
    tr_sb: float
    """Tr Σ_B."""
    counts: np.ndarray
    """(K,) number of samples of each class."""
    rank_sb: int
    """Numerical rank of Σ_B (K-1 for non-degenerate class means)."""


def _as_float64(x, name: str, device: torch.device | None) -> torch.Tensor:
    """``x`` (numpy or torch, real) as a float64 tensor on ``device`` (default: where it is)."""
    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got numpy dtype {x.dtype}")
        x = torch.from_numpy(x)
    elif not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    x = x.detach().to(device=device if device is not None else x.device, dtype=torch.float64)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _as_labels(labels, n: int, num_classes: int, device: torch.device) -> torch.Tensor:
    """``labels`` as an int64 tensor of shape (n,) with values in 0..num_classes-1."""
    if isinstance(labels, np.ndarray):
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"labels must be integers, got numpy dtype {labels.dtype}")
        labels = torch.from_numpy(labels)
    elif isinstance(labels, torch.Tensor):
        if labels.dtype.is_floating_point or labels.is_complex() or labels.dtype == torch.bool:
            raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    else:
        raise TypeError(f"labels must be a numpy array or a torch tensor, got {type(labels).__name__}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},) to match features, got {tuple(labels.shape)}")
    labels = labels.to(device=device, dtype=torch.int64)
    if n and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1} (K={num_classes}), "
                         f"got values in {int(labels.min())}..{int(labels.max())}")
    return labels


class NCAccumulator:
    """Streaming NC metrics: ``update`` with batches of (features, labels), then ``compute``.

    Holds, in float64 on ``device``, each class's count, mean and centred scatter (K x d x d; with
    ``per_class=False`` only their sum, d x d, and then no per-class NC1). Memory:
    ``8 K d^2`` bytes with per-class scatter (21 MB for K = 10, d = 512).

    Args:
        num_classes: K >= 2.
        dim: feature dimension d >= 1.
        device: where to accumulate; default: the device of the first batch.
        per_class: keep per-class scatter for ``nc1_per_class`` (App. E.2).
    """

    def __init__(self, num_classes: int, dim: int, *, device=None, per_class: bool = True):
        self.num_classes, self.dim = check_int("num_classes", num_classes, 2), check_int("dim", dim, 1)
        self.per_class = bool(per_class)
        self._device = None if device is None else torch.device(device)
        self._count = self._mean = self._scatter = None
        if self._device is not None:
            self._allocate(self._device)

    def _allocate(self, device: torch.device) -> None:
        K, d = self.num_classes, self.dim
        self._device = device
        self._count = torch.zeros(K, dtype=torch.float64, device=device)
        self._mean = torch.zeros(K, d, dtype=torch.float64, device=device)
        self._scatter = torch.zeros((K, d, d) if self.per_class else (d, d),
                                    dtype=torch.float64, device=device)

    @torch.no_grad()
    def update(self, features, labels) -> "NCAccumulator":
        """Add a batch: ``features`` (B, d), ``labels`` (B,) ints in 0..K-1. Returns ``self``."""
        if self._device is None:
            self._allocate(features.device if isinstance(features, torch.Tensor) else torch.device("cpu"))
        X = _as_float64(features, "features", self._device)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"features must have shape (B, {self.dim}), got {tuple(X.shape)}")
        y = _as_labels(labels, X.shape[0], self.num_classes, self._device)
        if X.shape[0] == 0:
            return self
        K = self.num_classes
        n_b = torch.bincount(y, minlength=K).to(torch.float64)
        present = torch.nonzero(n_b).flatten().tolist()
        blocks = torch.split(X[torch.argsort(y, stable=True)], n_b[present].long().tolist())
        # Merge each class's (count, mean, scatter) of the batch into the running ones (Chan et al.),
        # in place and only for the classes present: no K x d x d temporaries per batch.
        for k, block in zip(present, blocks):
            n_a, n_k = float(self._count[k]), float(n_b[k])
            mean_k = block.mean(dim=0)
            centred = block - mean_k
            delta = mean_k - self._mean[k]
            # centred^T centred + w delta delta^T as one product: one pass over the d x d scatter
            rows = torch.cat([centred, (n_a * n_k / (n_a + n_k)) ** 0.5 * delta[None]])
            (self._scatter[k] if self.per_class else self._scatter).addmm_(rows.T, rows)
            self._mean[k] += delta * (n_k / (n_a + n_k))
            self._count[k] = n_a + n_k
        return self

    @torch.no_grad()
    def compute(self, W=None) -> NCMetrics:
        """The metrics of everything added so far; ``W`` (K, d), if given, adds NC3.

        Raises ``ValueError`` when a class has no samples, or when all class means coincide
        (Σ_B = 0, so NC1 and NC1~ are undefined).
        """
        K, d = self.num_classes, self.dim
        if self._count is None or not bool((self._count > 0).all()):
            empty = list(range(K)) if self._count is None else torch.nonzero(self._count == 0).flatten().tolist()
            raise ValueError(f"classes {empty} have no samples; every class 0..{K - 1} needs at least one")
        counts, N = self._count, float(self._count.sum())
        M = (self._mean - self._mean.mean(dim=0)).T                       # d x K centred class means
        U, s, _ = torch.linalg.svd(M, full_matrices=False)
        # Centring rounds each entry of M by ~eps |mu|, so singular values below this are noise.
        tol = max(d, K) * _EPS * max(float(s[0]), float(torch.linalg.norm(self._mean)))
        if float(s[0]) <= tol:
            raise ValueError("Sigma_B = 0: all class means coincide, so NC1, NC1~ and NC2 are undefined")
        rank = min(K - 1, int((s > tol).sum()))  # the columns of M sum to 0: rank <= K - 1
        U, s = U[:, :rank], s[:rank]
        # q[..., j] = u_j^T S u_j for each class scatter S (or their sum); >= 0 up to rounding.
        if self.per_class:
            q = torch.einsum("dj,kde,ej->kj", U, self._scatter, U).clamp(min=0)
            per_class = ((q / counts[:, None]) / s**2).sum(dim=1)          # (1/K) Tr(Σ_W^(k) Σ_B†)
            nc1 = float((per_class * counts).sum() / N)
            tr_sw = float(torch.diagonal(self._scatter, dim1=1, dim2=2).sum() / N)
            nc1_per_class = per_class.cpu().numpy()
        else:
            q = torch.einsum("dj,de,ej->j", U, self._scatter, U).clamp(min=0)
            nc1 = float((q / s**2).sum() / N)
            tr_sw = float(torch.trace(self._scatter) / N)
            nc1_per_class = None
        tr_sb = float((s**2).sum() / K)
        etf = (torch.eye(K, dtype=torch.float64, device=M.device) - 1.0 / K) / np.sqrt(K - 1)
        gram = M.T @ M
        nc2 = float(torch.linalg.norm(gram / torch.linalg.norm(gram) - etf))
        nc3 = None
        if W is not None:
            Wt = _as_float64(W, "W", self._device)
            if Wt.shape != (K, d):
                raise ValueError(f"W must have shape (K, d) = ({K}, {d}), got {tuple(Wt.shape)}")
            WM = Wt @ M
            norm = torch.linalg.norm(WM)
            if float(norm) == 0.0:
                raise ValueError("W M = 0: W is orthogonal to the centred class means, NC3 is undefined")
            nc3 = float(torch.linalg.norm(WM / norm - etf))
        return NCMetrics(nc1=nc1, nc1_tilde=tr_sw / tr_sb, nc2=nc2, nc3=nc3, nc1_per_class=nc1_per_class,
                         tr_sw=tr_sw, tr_sb=tr_sb, counts=counts.cpu().numpy().astype(np.int64),
                         rank_sb=rank)


def nc_metrics(features, labels, W=None, *, num_classes: int | None = None,
               per_class: bool = True, batch_size: int = 8192) -> NCMetrics:
    """NC1, NC1~ (Eq. 3), NC2, NC3 and per-class NC1 of ``features`` (N, d) with ``labels`` (N,).

    ``W`` (K, d) is the last layer's weight (for NC3). K is ``num_classes`` if given, else
    ``W.shape[0]`` if W is given, else ``labels.max() + 1``; every class must have samples. The
    features are streamed through :class:`NCAccumulator` in batches of ``batch_size`` rows on
    their own device. Definitions and numerics: see :mod:`nclib.metrics`.
    """
    for name, x in (("features", features), ("labels", labels)):
        if not isinstance(x, (np.ndarray, torch.Tensor)):
            raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (N,), got {tuple(labels.shape)}")
    if features.ndim != 2:
        raise ValueError(f"features must have shape (N, d), got {tuple(features.shape)}")
    check_int("batch_size", batch_size, 1)
    if num_classes is None:
        if W is not None:
            num_classes = int(W.shape[0])
        else:
            if len(labels) == 0:
                raise ValueError("labels is empty: there are no samples")
            num_classes = int(labels.max()) + 1
    acc = NCAccumulator(num_classes, features.shape[1], per_class=per_class,
                        device=features.device if isinstance(features, torch.Tensor) else "cpu")
    if len(labels) != features.shape[0]:
        raise ValueError(f"labels must have shape ({features.shape[0]},) to match features, "
                         f"got {tuple(labels.shape)}")
    for start in range(0, features.shape[0], batch_size):
        acc.update(features[start:start + batch_size], labels[start:start + batch_size])
    return acc.compute(W)
