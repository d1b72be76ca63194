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

Numerics: float64 throughout, one pass over the data. Each class's shift :math:`c_k` is the
mean of its first batch; the pass accumulates :math:`n_k`, :math:`t_k = \sum_{i \in k} (h_i - c_k)`
and the scatter of the shifted features, so that :math:`\mu_k = c_k + t_k / n_k` and
:math:`n_k \Sigma_W^{(k)} = \sum_{i \in k} (h_i - c_k)(h_i - c_k)^\top - t_k t_k^\top / n_k`: the
"shifted data" algorithm (Chan, Golub & LeVeque, 1983). As the shift is a mean of the class, the
subtraction loses at most a small factor, never the catastrophic
:math:`\|\mu_k\|^2 / \operatorname{Tr}\Sigma_W^{(k)}` of "second moment minus squared mean", and
:math:`h_i - c_k` is exact for features near their class mean. Two routes
(:class:`NCAccumulator`'s ``route``) keep that scatter:

* ``"pooled"`` -- bounded memory, :math:`O(d^2 + K d)`: one d x d scatter summed over classes.
  Per-class NC1 needs the range of :math:`\Sigma_B`, known only at the end: a second pass
  (:meth:`NCAccumulator.update_per_class`) sums :math:`\|S_r^{-1} U_r^\top (h_i - \mu_{y_i})\|^2`
  per class, in the same memory, at O(d r) per sample.
* ``"scatter"`` -- one d x d scatter per class, ``8 K d^2`` bytes, which gives per-class NC1 in
  the same single pass.

:math:`\Sigma_B^\dagger` is never formed: the SVD :math:`M = U S V^\top` of the d x K matrix ``M``
gives the range of :math:`\Sigma_B` (rank ``<= K-1``; singular values below
``max(d, K) * eps * max(s_max, ||means||_F)`` are treated as zero -- the rule of
``numpy.linalg.pinv``, widened to the rounding that centring far-from-origin means leaves), and the
traces are sums of projections :math:`u_j^\top \Sigma_W u_j / s_j^2`, which are non-negative by
construction. NC2 and NC3 are computed from the rank-r SVD without forming a K x K matrix (K may
be tens of thousands): with :math:`P = I_K - \frac1K 1 1^\top = V_r V_r^\top + P_\perp`,
:math:`NC_2^2 = \sum_{j \le r} (s_j^2 / \|s^2\| - 1/\sqrt{K-1})^2 + (K-1-r)/(K-1)` and
:math:`NC_3^2 = \|W U_r S_r / \|W U_r S_r\|_F - V_r / \sqrt{K-1}\|_F^2 + (K-1-r)/(K-1)`,
sums of squares with no cancellation (exact ETFs give 0 to rounding).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from nclib._checks import check_int

__all__ = ["NCMetrics", "NCAccumulator", "nc_metrics", "SCATTER_LIMIT_BYTES", "BLOCK_CLASSES", "available_bytes"]

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
    """(K,) per-class NC1 of App. E.2; None when not asked for (``per_class=False``) or, on the
    pooled route, before the second pass (:meth:`NCAccumulator.update_per_class`)."""
    tr_sw: float
    """Tr Σ_W."""
    tr_sb: float
    """Tr Σ_B."""
    counts: np.ndarray
    """(K,) number of samples of each class."""
    rank_sb: int
    """Numerical rank of Σ_B (K-1 for non-degenerate class means)."""


def _as_real(x, name: str, device: torch.device | None, check_finite: bool = True) -> torch.Tensor:
    """``x`` (numpy or torch, real; finite unless ``check_finite=False``, for callers that check
    their own sums) as a tensor on ``device`` (default: where it is), in its own floating dtype
    (float64 for integers)."""
    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got numpy dtype {x.dtype}")
        x = torch.from_numpy(x)
    elif not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    x = x.detach().to(device=device if device is not None else x.device)
    if not x.dtype.is_floating_point:
        x = x.to(torch.float64)
    if check_finite:
        _check_finite(x.sum(), x, name)
    return x


def _check_finite(total: torch.Tensor, x: torch.Tensor, name: str) -> None:
    """Raise if ``x`` holds NaN or inf; ``total`` is a sum of (functions of) it, which is finite
    when ``x`` is, so that only a non-finite ``total`` costs a second look at every entry."""
    if not bool(torch.isfinite(total).all()) and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


def _as_float64(x, name: str, device: torch.device | None) -> torch.Tensor:
    """``x`` (numpy or torch, real, finite) as a float64 tensor on ``device``."""
    return _as_real(x, name, device).to(torch.float64)


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


SCATTER_LIMIT_BYTES = 1 << 30
"""``route="auto"`` keeps per-class scatters (one pass) only while they take at most this many
bytes (``8 K d^2``; 1 GiB is K = 10 up to d = 3,600); beyond it, the bounded pooled route."""


def available_bytes(device: torch.device) -> int:
    """Memory that ``device`` can still allocate: ``MemAvailable`` of ``/proc/meminfo`` on a CPU
    (free physical pages elsewhere), free memory for CUDA."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


BLOCK_CLASSES = 256
"""A batch with at most this many classes present is sorted by class and processed class by class
(contiguous blocks); one with more, on the pooled route, by gathering each row's class shift."""


class NCAccumulator:
    """Streaming NC metrics: ``update`` with batches of (features, labels), then ``compute``.

    Two routes (definitions and numerics in :mod:`nclib.metrics`), both float64 on ``device``,
    both with per-class counts, shifts and sums (K x d):

    * ``"pooled"``: one pooled scatter (d x d), ``8 (d^2 + 2 K d)`` bytes in all (66 MB for
      K = 1,000, d = 2,048; 0.4 GB for K = 32,768, d = 768). One pass gives NC1, NC1~, NC2, NC3;
      per-class NC1 (App. E.2) needs a second pass over the same data through
      :meth:`update_per_class` (``needs_second_pass`` says when), in the same memory.
    * ``"scatter"``: one scatter per class (K x d x d, ``8 K d^2`` bytes: 21 MB for K = 10,
      d = 512, 34 GB for K = 1,000, d = 2,048), which gives per-class NC1 in the one pass.

    Args:
        num_classes: K >= 2.
        dim: feature dimension d >= 1.
        device: where to accumulate; default: the device of the first batch.
        per_class: whether per-class NC1 (``nc1_per_class``) is wanted.
        route: ``"pooled"``, ``"scatter"`` or ``"auto"`` (default): ``"scatter"`` when
            ``per_class`` and ``8 K d^2 <=`` :data:`SCATTER_LIMIT_BYTES`, else ``"pooled"``. An
            explicit ``"scatter"`` that needs more memory than the device has available raises
            ``ValueError`` (pass ``route="pooled"`` and make the second pass instead).
    """

    def __init__(self, num_classes: int, dim: int, *, device=None, per_class: bool = True,
                 route: str = "auto"):
        self.num_classes, self.dim = check_int("num_classes", num_classes, 2), check_int("dim", dim, 1)
        self.per_class = bool(per_class)
        if route not in ("auto", "pooled", "scatter"):
            raise ValueError(f"route must be 'auto', 'pooled' or 'scatter', got {route!r}")
        if route == "scatter" and not self.per_class:
            raise ValueError("route='scatter' keeps per-class scatters for per-class NC1: it needs per_class=True")
        if route == "auto":
            route = "scatter" if self.per_class and self.scatter_bytes <= SCATTER_LIMIT_BYTES else "pooled"
        self.route = route
        self._device = None if device is None else torch.device(device)
        self._between_cache = None  # (U_r, s_r, Vh_r), fixed once the second pass has begun
        if self._device is not None:
            self._allocate(self._device)

    @property
    def scatter_bytes(self) -> int:
        """Bytes of the per-class scatters of the ``"scatter"`` route, ``8 K d^2``."""
        return 8 * self.num_classes * self.dim ** 2

    @property
    def needs_second_pass(self) -> bool:
        """True while per-class NC1 is wanted from the pooled route and the second pass
        (:meth:`update_per_class`) has not seen every sample of the first."""
        if not (self.per_class and self.route == "pooled"):
            return False
        return self._pc_count is None or not bool((self._pc_count == self._count).all())

    def _allocate(self, device: torch.device) -> None:
        K, d = self.num_classes, self.dim
        if self.route == "scatter" and self.scatter_bytes > available_bytes(device):
            raise ValueError(f"route='scatter' needs 8 K d^2 = {self.scatter_bytes / 1e9:.1f} GB on {device}, "
                             f"which has {available_bytes(device) / 1e9:.1f} GB available; pass route='pooled' "
                             "(per-class NC1 then comes from a second pass, update_per_class)")
        self._device = device
        zeros = lambda *shape: torch.zeros(shape, dtype=torch.float64, device=device)  # noqa: E731
        self._count, self._shift, self._sum = zeros(K), zeros(K, d), zeros(K, d)
        self._scatter = zeros(K, d, d) if self.route == "scatter" else zeros(d, d)
        self._pc_sq = self._pc_count = None

    def _batch(self, features, labels) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The batch: features (B, d) in their floating dtype (finiteness is checked by the
        caller, on its sums) and labels (B,) on the device, class counts (K,) float64."""
        if self._device is None:
            self._allocate(features.device if isinstance(features, torch.Tensor) else torch.device("cpu"))
        X = _as_real(features, "features", self._device, check_finite=False)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"features must have shape (B, {self.dim}), got {tuple(X.shape)}")
        y = _as_labels(labels, X.shape[0], self.num_classes, self._device)
        return X, y, torch.bincount(y, minlength=self.num_classes).to(torch.float64)

    @staticmethod
    def _blocks(X, y, n_b, centres, fresh=None) -> tuple[torch.Tensor, list, list]:
        """X sorted by class, in float64, each class's rows minus its row of ``centres`` (K, d):
        (B, d), the classes present and their row ranges. Where ``fresh`` (K,) is true, the row
        of ``centres`` is first set to the class's mean in the batch."""
        present = torch.nonzero(n_b).flatten()
        R = X.index_select(0, torch.argsort(y, stable=True)).to(torch.float64)
        ends = torch.cumsum(n_b[present], 0).long().tolist()
        present = present.tolist()
        spans = list(zip([0] + ends[:-1], ends))
        fresh = [False] * len(present) if fresh is None else fresh[present].tolist()
        for k, (a, b), new in zip(present, spans, fresh):
            if new:
                centres[k] = R[a:b].mean(dim=0)
            R[a:b] -= centres[k]
        return R, present, spans

    @torch.no_grad()
    def update(self, features, labels) -> "NCAccumulator":
        """Add a batch: ``features`` (B, d), ``labels`` (B,) ints in 0..K-1. Returns ``self``."""
        if self._between_cache is not None:
            raise RuntimeError("update() after update_per_class(): the second pass has begun, so the "
                               "class means and Sigma_B it projects on are fixed")
        X, y, n_b = self._batch(features, labels)
        if X.shape[0] == 0:
            return self
        present = n_b > 0
        if self.route == "pooled" and int(present.sum()) > BLOCK_CLASSES:
            new = present & (self._count == 0)
            if bool(new.any()):  # shift c_k: the mean of the class's first batch
                rows = new[y]
                sums = torch.zeros_like(self._shift).index_add_(0, y[rows], X[rows].to(torch.float64))
                self._shift[new] = sums[new] / n_b[new, None]
            R = self._shift.index_select(0, y).neg_().add_(X)             # h_i - c_{y_i}
            _check_finite(R.sum(), X, "features")
            self._sum.index_add_(0, y, R)
        else:
            R, classes, spans = self._blocks(X, y, n_b, self._shift, fresh=self._count == 0)
            ones = torch.ones(R.shape[0], dtype=torch.float64, device=R.device)
            sums = torch.stack([ones[a:b] @ R[a:b] for a, b in spans])      # t_k of the batch (gemv)
            _check_finite(sums, X, "features")
            self._sum[classes] += sums
            if self.route == "scatter":
                for k, (a, b) in zip(classes, spans):
                    self._scatter[k].addmm_(R[a:b].T, R[a:b])
        if self.route == "pooled":
            self._scatter.addmm_(R.T, R)
        self._count += n_b
        return self

    @torch.no_grad()
    def update_per_class(self, features, labels) -> "NCAccumulator":
        """Second pass of the pooled route, for per-class NC1: add a batch of the same data as the
        first pass (any order and batching), ``features`` (B, d), ``labels`` (B,). The first call
        fixes the class means and the range of Σ_B; afterwards ``update`` is refused. Cost per
        sample: O(d r), r = rank Σ_B <= K - 1. Returns ``self``."""
        if not (self.per_class and self.route == "pooled"):
            raise RuntimeError(f"update_per_class() is the second pass of route='pooled' with per_class=True; "
                               f"this accumulator has route={self.route!r}, per_class={self.per_class}")
        if self._between_cache is None:
            self._between_cache = self._between()
            self._pc_sq, self._pc_count = torch.zeros_like(self._count), torch.zeros_like(self._count)
        U, s, _ = self._between_cache
        X, y, n_b = self._batch(features, labels)
        if X.shape[0] == 0:
            return self
        if int((n_b > 0).sum()) > BLOCK_CLASSES:
            mean = self._sum.index_select(0, y).div_(self._count[y, None]).add_(self._shift.index_select(0, y))
            Z = mean.neg_().add_(X) @ (U / s)                             # S_r^-1 U_r^T (h_i - mu_y)
            sq = (Z * Z).sum(dim=1)
            _check_finite(sq, X, "features")
            self._pc_sq.index_add_(0, y, sq)
        else:
            R, classes, spans = self._blocks(X, y, n_b, self._sum / self._count[:, None] + self._shift)
            sq = ((R @ (U / s)) ** 2).sum(dim=1)
            _check_finite(sq, X, "features")
            self._pc_sq[classes] += torch.stack([sq[a:b].sum() for a, b in spans])
        self._pc_count += n_b
        if bool((self._pc_count > self._count).any()):
            raise ValueError("update_per_class() has seen more samples of some class than update() did: "
                             "the second pass must go over the same data as the first")
        return self

    def _between(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The rank-r SVD of M (d x K): U_r (d, r), s_r (r,), Vh_r (r, K). Raises when a class has
        no samples or Σ_B = 0."""
        if self._between_cache is not None:
            return self._between_cache
        K, d = self.num_classes, self.dim
        if self._device is None or not bool((self._count > 0).all()):
            empty = list(range(K)) if self._device is None else torch.nonzero(self._count == 0).flatten().tolist()
            raise ValueError(f"classes {empty} have no samples; every class 0..{K - 1} needs at least one")
        M = self._sum / self._count[:, None] + self._shift                 # class means mu_k (K, d)
        norm_means = float(torch.linalg.norm(M))
        M -= M.mean(dim=0)                                                 # in place: K x d may be large
        U, s, Vh = torch.linalg.svd(M.T, full_matrices=False)              # of the d x K centred means
        del M
        # Centring rounds each entry of M by ~eps |mu|, so singular values below this are noise.
        tol = max(d, K) * _EPS * max(float(s[0]), norm_means)
        if float(s[0]) <= tol:
            raise ValueError("Sigma_B = 0: all class means coincide, so NC1, NC1~ and NC2 are undefined")
        rank = min(K - 1, int((s > tol).sum()))  # the columns of M sum to 0: rank <= K - 1
        return U[:, :rank], s[:rank], Vh[:rank]

    @torch.no_grad()
    def compute(self, W=None) -> NCMetrics:
        """The metrics of everything added so far; ``W`` (K, d), if given, adds NC3.

        ``nc1_per_class`` is None when ``per_class=False``, and on the pooled route until the
        second pass (:meth:`update_per_class`) is complete. Raises ``ValueError`` when a class has
        no samples, when all class means coincide (Σ_B = 0, so NC1 and NC1~ are undefined), or
        when a second pass was begun but has not seen every sample of the first.
        """
        K = self.num_classes
        U, s, Vh = self._between()
        counts, N, rank = self._count, float(self._count.sum()), s.shape[0]
        T = self._sum / counts[:, None].sqrt()                             # t_k / sqrt(n_k)
        nc1_per_class = None
        if self.route == "scatter":
            # q[k, j] = u_j^T (n_k Σ_W^(k)) u_j, >= 0 up to rounding; shifted scatter minus t t^T / n
            q = (torch.einsum("dj,kde,ej->kj", U, self._scatter, U) - (T @ U) ** 2).clamp(min=0)
            per_class = ((q / counts[:, None]) / s**2).sum(dim=1)          # (1/K) Tr(Σ_W^(k) Σ_B†)
            nc1 = float((per_class * counts).sum() / N)
            tr_sw = float((torch.diagonal(self._scatter, dim1=1, dim2=2).sum(dim=1)
                           - (T * T).sum(dim=1)).clamp(min=0).sum() / N)
            nc1_per_class = per_class.cpu().numpy()
        else:
            S = self._scatter - T.T @ T                                    # N Σ_W
            del T
            q = ((S @ U) * U).sum(dim=0).clamp(min=0)                      # u_j^T (N Σ_W) u_j
            nc1 = float((q / s**2).sum() / N)
            tr_sw = float(torch.diagonal(S).clamp(min=0).sum() / N)
            if self._pc_count is not None:
                if self.needs_second_pass:
                    missing = torch.nonzero(self._pc_count != self._count).flatten().tolist()
                    raise ValueError(f"the second pass (update_per_class) is incomplete: classes {missing[:10]} "
                                     "have fewer samples than in the first pass")
                nc1_per_class = (self._pc_sq / counts).cpu().numpy()
        tr_sb = float((s**2).sum() / K)
        off = (K - 1 - rank) / (K - 1)           # ||P_perp||_F^2 / (K-1): directions M leaves out
        t = s**2 / s[0] ** 2
        nc2 = float(((t / torch.linalg.norm(t) - (K - 1) ** -0.5) ** 2).sum() + off) ** 0.5
        nc3 = None
        if W is not None:
            Wt = _as_float64(W, "W", self._device)
            if Wt.shape != (K, self.dim):
                raise ValueError(f"W must have shape (K, d) = ({K}, {self.dim}), got {tuple(Wt.shape)}")
            A = Wt @ U
            A *= s / s[0]                                                  # W M V_r, scaled
            del Wt
            norm = torch.linalg.norm(A)
            if float(norm) == 0.0:
                raise ValueError("W M = 0: W is orthogonal to the centred class means, NC3 is undefined")
            A.div_(norm).sub_(Vh.T, alpha=(K - 1) ** -0.5)                   # in place: K x r may be large
            nc3 = float(A.pow_(2).sum() + off) ** 0.5
        return NCMetrics(nc1=nc1, nc1_tilde=tr_sw / tr_sb, nc2=nc2, nc3=nc3, nc1_per_class=nc1_per_class,
                         tr_sw=tr_sw, tr_sb=tr_sb, counts=counts.cpu().numpy().astype(np.int64),
                         rank_sb=rank)


def nc_metrics(features, labels, W=None, *, num_classes: int | None = None,
               per_class: bool = True, batch_size: int = 4096, route: str = "auto") -> NCMetrics:
    """NC1, NC1~ (Eq. 3), NC2, NC3 and per-class NC1 of ``features`` (N, d) with ``labels`` (N,).

    ``W`` (K, d) is the last layer's weight (for NC3). K is ``num_classes`` if given, else
    ``W.shape[0]`` if W is given, else ``labels.max() + 1``; every class must have samples. The
    features are streamed through :class:`NCAccumulator` in batches of ``batch_size`` rows on
    their own device, on ``route`` (see :class:`NCAccumulator`; where the per-class scatters would
    take more than :data:`SCATTER_LIMIT_BYTES`, the bounded ``"pooled"`` route, with the second
    pass for per-class NC1 over the same array). Definitions and numerics: see :mod:`nclib.metrics`.
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
    acc = NCAccumulator(num_classes, features.shape[1], per_class=per_class, route=route,
                        device=features.device if isinstance(features, torch.Tensor) else "cpu")
    if len(labels) != features.shape[0]:
        raise ValueError(f"labels must have shape ({features.shape[0]},) to match features, "
                         f"got {tuple(labels.shape)}")
    starts = range(0, features.shape[0], batch_size)
    for start in starts:
        acc.update(features[start:start + batch_size], labels[start:start + batch_size])
    if acc.needs_second_pass:
        for start in starts:
            acc.update_per_class(features[start:start + batch_size], labels[start:start + batch_size])
    return acc.compute(W)
