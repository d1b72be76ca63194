"""The unconstrained features model (UFM) of Sec. 2: Eq. 1, its regularized variant Eq. 2, the
closed-form classifier of footnote 3 and the collapsed minimizers of Theorem 2.1; and the
"central path" of Sec. 3 and App. A-B: the loss ``L(H) = f(W*(H), H)``, its gradient (Eq. 7),
the gradient flow of Eq. 4, the covariance dynamics of Lemma A.1 and the minimizer
``H_{1/beta}`` of Eq. 2.

Notation follows the paper. ``K`` classes, ``n`` samples per class, feature dimension ``d``:

* ``H`` is ``d x Kn`` with class-major columns ``h_{1,1..n}, h_{2,1..n}, ..., h_{K,1..n}``;
* ``W`` is ``K x d`` (row ``k`` is ``w_k^T``);
* ``Y = I_K (x) 1_n^T`` is ``K x Kn``.

Eq. 2 (``beta > 0`` with input features ``H0``, same shape as ``H``)::

    f(W, H; H0) = ||WH - Y||^2 / (2Kn) + lam_W ||W||^2 / (2K) + lam_H ||H||^2 / (2Kn)
                  + beta ||H - H0||^2 / (2Kn)

and ``beta = 0`` gives Eq. 1. All arrays are float64 numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.integrate
import scipy.linalg
import scipy.optimize

from nclib._checks import check_int, check_matrix, check_real

__all__ = [
    "targets",
    "class_labels",
    "class_means",
    "objective",
    "gradients",
    "optimal_W",
    "rho",
    "optimal_value",
    "collapsed_minimizer",
    "MinimizeResult",
    "minimize",
    "GDPath",
    "gradient_descent",
    "Covariances",
    "covariances",
    "covariance_traces",
    "central_path_loss",
    "central_path_grad",
    "covariance_rates",
    "FlowPath",
    "gradient_flow",
    "solve_eq2",
]


# --------------------------------------------------------------------------- validation helpers


def _features(H, n, name: str = "H") -> tuple[np.ndarray, int, int, int]:
    """Validate ``H`` (d x Kn, class-major, K >= 2) and ``n``; return ``(H, K, n, d)``."""
    n = check_int("n", n, 1)
    H = check_matrix(name, H)
    d, Kn = H.shape
    if Kn % n:
        raise ValueError(f"{name} must be d x Kn with Kn a multiple of n={n}; "
                         f"got shape {H.shape} ({Kn} columns)")
    K = Kn // n
    if K < 2:
        raise ValueError(f"{name} must hold K >= 2 classes of n={n} columns; "
                         f"got shape {H.shape}, i.e. K={K}")
    return H, K, n, d


def _model(W, H, n, beta, H0):
    """Validate the arguments shared by :func:`objective` and :func:`gradients`."""
    H, K, n, d = _features(H, n)
    W = check_matrix("W", W)
    if W.shape != (K, d):
        raise ValueError(f"W must be K x d = {(K, d)} to match H of shape {H.shape} "
                         f"with n={n}; got shape {W.shape}")
    beta = check_real("beta", beta)
    if H0 is not None:
        H0 = check_matrix("H0", H0)
        if H0.shape != H.shape:
            raise ValueError(f"H0 must have the shape of H, {H.shape}; got {H0.shape}")
    elif beta > 0:
        raise ValueError(f"H0 is required when beta > 0 (Eq. 2); got beta={beta} and H0=None")
    return W, H, K, n, beta, H0


# --------------------------------------------------------------------------- the model


def targets(K: int, n: int) -> np.ndarray:
    """One-hot targets ``Y = I_K (x) 1_n^T``, shape ``(K, Kn)`` (Sec. 2, below Eq. 1)."""
    K, n = check_int("K", K, 2), check_int("n", n, 1)
    return np.kron(np.eye(K), np.ones((1, n)))


def class_labels(K: int, n: int) -> np.ndarray:
    """Class of every column of ``H``: ``repeat(arange(K), n)``, shape ``(Kn,)``, int64."""
    K, n = check_int("K", K, 2), check_int("n", n, 1)
    return np.repeat(np.arange(K, dtype=np.int64), n)


def class_means(H, n: int) -> np.ndarray:
    """Class means ``H_bar = [h_bar_1, ..., h_bar_K]`` of ``H`` (d x Kn), shape ``(d, K)``."""
    H, K, n, d = _features(H, n)
    return H.reshape(d, K, n).mean(axis=2)


def objective(W, H, lam_W: float, lam_H: float, n: int, beta: float = 0.0, H0=None) -> float:
    """Value of Eq. 1 (``beta = 0``) or of ``f(W, H; H0)`` in Eq. 2 (``beta > 0``).

    ``W``: ``(K, d)``; ``H``, ``H0``: ``(d, Kn)``. Returns a float.
    """
    W, H, K, n, beta, H0 = _model(W, H, n, beta, H0)
    lam_W, lam_H = check_real("lam_W", lam_W), check_real("lam_H", lam_H)
    Kn = K * n
    R = W @ H - targets(K, n)
    value = (np.sum(R * R) + lam_H * np.sum(H * H)) / (2 * Kn) + lam_W * np.sum(W * W) / (2 * K)
    if beta > 0:
        D = H - H0
        value += beta * np.sum(D * D) / (2 * Kn)
    return float(value)


def gradients(W, H, lam_W: float, lam_H: float, n: int, beta: float = 0.0,
              H0=None) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form gradients ``(df/dW, df/dH)`` of Eq. 1 / Eq. 2.

    Shapes ``(K, d)`` and ``(d, Kn)``; ``beta = 0`` drops the last term::

        df/dW = (WH - Y) H^T / (Kn) + lam_W W / K
        df/dH = (W^T (WH - Y) + lam_H H + beta (H - H0)) / (Kn)
    """
    W, H, K, n, beta, H0 = _model(W, H, n, beta, H0)
    lam_W, lam_H = check_real("lam_W", lam_W), check_real("lam_H", lam_H)
    return _gradients(W, H, targets(K, n), lam_W, lam_H, n, beta, H0)


def _gradients(W, H, Y, lam_W, lam_H, n, beta, H0):
    """:func:`gradients` on validated arguments (shared with :func:`gradient_descent`)."""
    K = W.shape[0]
    Kn = K * n
    R = W @ H - Y
    dW = R @ H.T / Kn + (lam_W / K) * W
    dH = W.T @ R + lam_H * H
    if beta > 0:
        dH += beta * (H - H0)
    return dW, dH / Kn


def optimal_W(H, lam_W: float, n: int) -> np.ndarray:
    """Minimizer over ``W`` of Eq. 1 or Eq. 2 for fixed ``H`` (footnote 3), shape ``(K, d)``::

        W*(H) = Y H^T (H H^T + n lam_W I_d)^{-1} = Y (H^T H + n lam_W I_Kn)^{-1} H^T

    (the second form by the push-through identity). Solves the smaller of the two symmetric
    positive-definite systems (d x d or Kn x Kn); no inverse is formed. Needs ``lam_W > 0``.
    """
    H, K, n, d = _features(H, n)
    lam_W = check_real("lam_W", lam_W, positive=True)
    return _optimal_W(H, targets(K, n), lam_W, n)


def _optimal_W(H, Y, lam_W, n):
    """:func:`optimal_W` on validated arguments."""
    d, Kn = H.shape
    shift = n * lam_W
    if d <= Kn:
        A = H @ H.T
        A[np.diag_indices_from(A)] += shift
        return scipy.linalg.solve(A, H @ Y.T, assume_a="pos").T
    A = H.T @ H
    A[np.diag_indices_from(A)] += shift
    return scipy.linalg.solve(A, Y.T, assume_a="pos").T @ H.T


def rho(lam_W: float, lam_H: float) -> float:
    """``rho = (1 - c) sqrt(lam_W / lam_H)`` with ``c = sqrt(lam_H lam_W)`` (Theorem 2.1);
    ``0`` for ``c >= 1``. Both hyperparameters must be > 0."""
    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H, positive=True)
    c = np.sqrt(lam_H * lam_W)
    return float((1.0 - c) * np.sqrt(lam_W / lam_H)) if c < 1 else 0.0


def optimal_value(lam_W: float, lam_H: float) -> float:
    """Minimum value of Eq. 1: ``c - c^2/2`` for ``c <= 1`` and ``1/2`` for ``c > 1``.

    This is the value at the minimizers of Theorem 2.1, where Eq. 1 reduces to the scalar
    ``(xy - 1)^2/2 + lam_W x^2/2 + lam_H y^2/2`` at ``xy = 1 - c``; it does not depend on K, n, d.
    """
    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H, positive=True)
    c = float(np.sqrt(lam_H * lam_W))
    return c - 0.5 * c * c if c <= 1 else 0.5


def collapsed_minimizer(K: int, n: int, d: int, lam_W: float, lam_H: float,
                        R=None) -> tuple[np.ndarray, np.ndarray]:
    """A global minimizer ``(W*, H*)`` of Eq. 1 built from a partial orthonormal ``R`` (Sec. 2)::

        H* = sqrt(rho) R (x) 1_n^T            (d x Kn)
        W* = sqrt(lam_H / lam_W) sqrt(rho) R^T (K x d)

    ``R`` is ``d x K`` with ``R^T R = I_K`` (checked to 1e-10); ``None`` takes the first K
    columns of ``I_d``. Needs ``d >= K`` (Theorem 2.1). For ``c >= 1`` both are zero.
    """
    K, n, d = check_int("K", K, 2), check_int("n", n, 1), check_int("d", d, 1)
    if d < K:
        raise ValueError(f"d must be >= K (Theorem 2.1 assumes d >= K); got d={d}, K={K}")
    r = rho(lam_W, lam_H)
    if R is None:
        R = np.eye(d)[:, :K]
    else:
        R = check_matrix("R", R)
        if R.shape != (d, K):
            raise ValueError(f"R must be d x K = {(d, K)}; got shape {R.shape}")
        err = float(np.max(np.abs(R.T @ R - np.eye(K))))
        if err > 1e-10:
            raise ValueError(f"R must have orthonormal columns (R^T R = I_K to 1e-10); "
                             f"max |R^T R - I_K| = {err:.3e}")
    H = np.sqrt(r) * np.kron(R, np.ones((1, n)))
    W = np.sqrt(lam_H / lam_W) * np.sqrt(r) * R.T
    return W, H


# --------------------------------------------------------------------------- optimisation


@dataclass(frozen=True)
class MinimizeResult:
    """Outcome of :func:`minimize`.

    ``grad_norm`` is the Euclidean norm of the full gradient ``(df/dW, df/dH)`` at the returned
    point, recomputed there; ``converged`` is ``grad_norm <= gtol``.
    """

    W: np.ndarray
    H: np.ndarray
    objective: float
    grad_norm: float
    n_iter: int
    converged: bool
    message: str


def minimize(W_init, H_init, lam_W: float, lam_H: float, n: int, beta: float = 0.0, H0=None,
             gtol: float = 1e-10, max_iter: int = 20000) -> MinimizeResult:
    """Minimize Eq. 1 (or Eq. 2 if ``beta > 0``) jointly over ``(W, H)`` by L-BFGS.

    ``W_init``: ``(K, d)``; ``H_init``, ``H0``: ``(d, Kn)``. Uses
    ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)`` on the packed vector ``(W, H)``
    with the closed-form :func:`gradients`; its relative-decrease test is switched off
    (``ftol=0``) so that the gradient tolerance governs. L-BFGS-B stops when the largest
    gradient entry is below ``gtol / sqrt(size)``, which implies a Euclidean norm ``<= gtol``.

    Near a minimizer the decrease of ``f`` per step falls below the round-off of ``f`` itself
    (about ``1e-16 f``) long before the gradient is ``1e-10``, and the line search stalls. So
    L-BFGS runs on the displacement ``(dW, dH)`` from a reference point ``(W0, H0)`` and
    sees ``f(W0 + dW, H0 + dH) - f(W0, H0)`` expanded exactly in the displacement (its
    round-off scales with the displacement, not with ``f``); when it stalls the reference
    moves to the point reached and L-BFGS restarts (at most 8 rounds).

    ``converged`` reports whether the Euclidean norm of the gradient, recomputed at the
    returned point, is ``<= gtol``; ``n_iter`` counts L-BFGS iterations over all rounds.
    """
    W, H, K, n, beta, H0 = _model(W_init, H_init, n, beta, H0)
    lam_W, lam_H = check_real("lam_W", lam_W), check_real("lam_H", lam_H)
    gtol = check_real("gtol", gtol, positive=True)
    max_iter = check_int("max_iter", max_iter, 1)
    d, Kn = H.shape
    Y = targets(K, n)
    split = K * d

    def unpack(x):
        return x[:split].reshape(K, d), x[split:].reshape(d, Kn)

    def increment_from(x):
        """f(W + dW, H + dH) - f(W, H) and its gradient in the packed displacement (dW, dH)."""
        W, H = unpack(x)
        R0 = W @ H - Y
        D0 = H - H0 if beta > 0 else None

        def increment(dx):
            df, gW, gH = _eq2_increment(W, H, R0, D0, *unpack(dx), lam_W, lam_H, beta, Kn)
            return df, np.concatenate([gW.ravel(), gH.ravel()])
        return increment

    def norm_at(x):
        dW, dH = _gradients(*unpack(x), Y, lam_W, lam_H, n, beta, H0)
        return float(np.sqrt(np.sum(dW * dW) + np.sum(dH * dH)))

    x, grad_norm, n_iter, message = _lbfgs_on_increments(
        np.concatenate([W.ravel(), H.ravel()]), increment_from, norm_at, gtol, max_iter)
    W, H = unpack(x)
    return MinimizeResult(W=W, H=H, objective=objective(W, H, lam_W, lam_H, n, beta, H0),
                          grad_norm=grad_norm, n_iter=n_iter, converged=grad_norm <= gtol,
                          message=message)


def _eq2_increment(W, H, R0, D0, dW, dH, lam_W, lam_H, beta, Kn):
    """``f(W + dW, H + dH) - f(W, H)`` of Eq. 2, expanded exactly in the displacement, and the
    gradients ``(df/dW, df/dH)`` at ``(W + dW, H + dH)``; ``R0 = WH - Y``, ``D0 = H - H0``,
    ``Kn`` the number of samples (the scale of Eq. 2; ``H`` may hold reduced coordinates).

    The round-off of the expansion scales with the displacement, not with ``f`` (see
    :func:`minimize`)."""
    K = W.shape[0]
    E = dW @ H + W @ dH + dW @ dH  # (W + dW)(H + dH) - WH
    df = (2 * np.sum(R0 * E) + np.sum(E * E)
          + lam_H * (2 * np.sum(H * dH) + np.sum(dH * dH))) / (2 * Kn)
    df += lam_W * (2 * np.sum(W * dW) + np.sum(dW * dW)) / (2 * K)
    if beta > 0:
        df += beta * (2 * np.sum(D0 * dH) + np.sum(dH * dH)) / (2 * Kn)
    Wx, Hx, R = W + dW, H + dH, R0 + E
    gW = R @ Hx.T / Kn + (lam_W / K) * Wx
    gH = Wx.T @ R + lam_H * Hx
    if beta > 0:
        gH += beta * (D0 + dH)
    return float(df), gW, gH / Kn


def _lbfgs_on_increments(x, increment_from, grad_norm, gtol, max_iter, rounds=8,
                         inner_gtol=None):
    """L-BFGS-B on the displacement from a reference point ``x`` that moves when it stalls.

    ``increment_from(x)`` returns ``fun(dx) -> (F(x + dx) - F(x), gradient at x + dx)``, computed
    so that its round-off scales with ``dx``; ``grad_norm(x)`` is the Euclidean gradient norm at
    ``x``. Each round restarts L-BFGS at the point reached, until ``grad_norm <= gtol``,
    ``max_iter`` iterations in all, a round that makes no step, or ``rounds`` rounds. L-BFGS-B's
    own stop (largest entry ``<= inner_gtol / sqrt(size)``, default ``inner_gtol = gtol``)
    implies a Euclidean norm of the gradient of ``fun`` ``<= inner_gtol``.
    Returns ``(x, grad_norm, n_iter, message)``.
    """
    pgtol = (gtol if inner_gtol is None else inner_gtol) / np.sqrt(x.size)
    n_iter, message = 0, ""
    for _ in range(rounds):
        res = scipy.optimize.minimize(
            increment_from(x), np.zeros(x.size), jac=True, method="L-BFGS-B",
            options=dict(maxiter=max_iter - n_iter, ftol=0.0, gtol=pgtol, maxcor=20,
                         maxls=50, maxfun=10 * max_iter))
        x = x + res.x
        n_iter += int(res.nit)
        message = str(res.message)
        norm = grad_norm(x)
        if norm <= gtol or n_iter >= max_iter or res.nit == 0:
            break
    return x, norm, n_iter, message


class GDPath(NamedTuple):
    """Recorded iterates of :func:`gradient_descent`: ``steps`` (T,), ``W`` (T, K, d),
    ``H`` (T, d, Kn)."""

    steps: np.ndarray
    W: np.ndarray
    H: np.ndarray


def gradient_descent(W, H, lam_W: float, lam_H: float, n: int, lr: float, steps: int,
                     record_every: int = 1) -> GDPath:
    """Plain full-batch gradient descent on Eq. 1, jointly in ``(W, H)``.

    The gradients of Eq. 1 carry the factors ``1/(Kn)`` (in ``H``) and ``1/K`` (in ``W``);
    the step undoes them so that ``lr`` means the same for every K and n::

        H <- H - lr * Kn * df/dH = H - lr * (W^T (WH - Y) + lam_H H)
        W <- W - lr * K  * df/dW = W - lr * ((WH - Y) H^T / n + lam_W W)

    i.e. each feature column moves along the gradient of its own sample's loss (the Kn scaling
    of the flow in Eq. 4), and ``W`` along the gradient averaged within classes and summed over
    them. Both updates use the gradients (:func:`gradients`) at the current ``(W, H)``
    (a simultaneous step). In these units the largest curvature at a collapsed minimizer is
    ``L = rho (1 + lam_H/lam_W) + lam_W + lam_H`` (2.0 for ``lam_W = lam_H = 5e-3``), whatever
    K, n and d are, so the iteration is locally stable there for ``lr < 2 / L``. Far from it the
    curvature grows with the size of ``W`` and ``H``: start from small entries (e.g. standard
    deviation ``<= 1/sqrt(d)``); ``lr = 0.5`` diverges from unit-variance entries in ``d = 8``.

    Records iterations ``0, record_every, 2 record_every, ...`` and always the last one.
    Returns a :class:`GDPath` ``(steps, W, H)`` with arrays ``(T,)``, ``(T, K, d)``,
    ``(T, d, Kn)``. Raises ``FloatingPointError`` if the iterates overflow (lr too large).
    """
    W, H, K, n, _, _ = _model(W, H, n, 0.0, None)
    lam_W, lam_H = check_real("lam_W", lam_W), check_real("lam_H", lam_H)
    lr = check_real("lr", lr, positive=True)
    steps = check_int("steps", steps, 0)
    record_every = check_int("record_every", record_every, 1)
    W, H = W.copy(), H.copy()
    Y = targets(K, n)
    rec_t, rec_W, rec_H = [0], [W.copy()], [H.copy()]
    step_W, step_H = lr * K, lr * K * n
    for t in range(1, steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            dW, dH = _gradients(W, H, Y, lam_W, lam_H, n, 0.0, None)
            W, H = W - step_W * dW, H - step_H * dH
        if t % record_every == 0 or t == steps:
            if not (np.all(np.isfinite(W)) and np.all(np.isfinite(H))):
                raise FloatingPointError(
                    f"gradient descent diverged by step {t}: lr={lr} is too large for this "
                    f"initialization (the W step is stable only while lr * (lam_max(H H^T)/n "
                    f"+ lam_W) < 2); start from smaller H, e.g. entries of standard deviation "
                    f"1/sqrt(d), or lower lr")
            rec_t.append(t)
            rec_W.append(W.copy())
            rec_H.append(H.copy())
    return GDPath(np.asarray(rec_t, dtype=np.int64), np.stack(rec_W), np.stack(rec_H))


# --------------------------------------------------------------------------- the central path (Sec. 3)


class Covariances(NamedTuple):
    """The ``d x d`` covariance matrices of Sec. 3 and App. A (or their time derivatives)."""

    Sigma_W: np.ndarray
    """Within-class covariance ``Sigma_W``."""
    Sigma_B: np.ndarray
    """Between-class covariance ``Sigma_B`` (class means centred at the global mean)."""
    Sigma_T: np.ndarray
    """Non-centred total covariance ``Sigma~_T = H H^T / (Kn)`` (App. A)."""
    Sigma_Bt: np.ndarray
    """Non-centred between-class covariance ``Sigma~_B = H_bar H_bar^T / K`` (App. A)."""


def covariances(H, n: int) -> Covariances:
    """``Sigma_W, Sigma_B`` (Sec. 3) and ``Sigma~_T, Sigma~_B`` (App. A) of ``H`` (d x Kn).

    Each is ``d x d``; ``Sigma~_T = Sigma_W + Sigma~_B`` up to rounding.
    """
    H, K, n, d = _features(H, n)
    means = H.reshape(d, K, n).mean(axis=2)
    within = (H.reshape(d, K, n) - means[:, :, None]).reshape(d, K * n)
    between = means - means.mean(axis=1, keepdims=True)
    return Covariances(within @ within.T / (K * n), between @ between.T / K,
                       H @ H.T / (K * n), means @ means.T / K)


def covariance_traces(H, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Tr Sigma_W, Tr Sigma_B)`` of one ``H`` (d x Kn) or of a stack ``(..., d, Kn)``.

    Computed from the centred features (no "second moment minus squared mean" cancellation);
    ``NC1~ = Tr Sigma_W / Tr Sigma_B`` (Eq. 3). Returns two arrays of shape ``H.shape[:-2]``.
    """
    n = check_int("n", n, 1)
    try:
        arr = np.asarray(H, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"H must be an array of real numbers: {exc}") from None
    if arr.ndim < 2:
        raise ValueError(f"H must have shape (..., d, Kn), got shape {arr.shape}")
    for i in np.ndindex(arr.shape[:-2]):  # validates every matrix of the stack
        _features(arr[i], n)
    *lead, d, Kn = arr.shape
    X = arr.reshape(*lead, d, Kn // n, n)
    means = X.mean(axis=-1)
    tr_sw = np.sum((X - means[..., None]) ** 2, axis=(-3, -2, -1)) / Kn
    tr_sb = np.sum((means - means.mean(axis=-1, keepdims=True)) ** 2, axis=(-2, -1)) / (Kn // n)
    return tr_sw, tr_sb


_FORMS = ("definition", "trace")


def _central_path(H, lam_W, lam_H, n, form):
    """Validate the arguments shared by the central-path functions; return ``(H, K, n, ...)``."""
    H, K, n, d = _features(H, n)
    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H)
    if form not in _FORMS:
        raise ValueError(f"form must be one of {_FORMS}, got {form!r}")
    return H, K, n, lam_W, lam_H


def _trace_terms(H, n, lam_W):
    """``(Sigma, C = (Sigma~_T + lam_W/K I)^{-1} as a Cholesky factor)`` of App. A."""
    S = covariances(H, n)
    K = H.shape[1] // n
    B = S.Sigma_T + (lam_W / K) * np.eye(H.shape[0])
    return S, scipy.linalg.cho_factor(B)


def central_path_loss(H, lam_W: float, lam_H: float, n: int, form: str = "definition") -> float:
    """The central-path loss ``L(H)`` of Sec. 3 (Eq. 1 with ``W = W*(H)``) for ``H`` (d x Kn).

    ``form="definition"``::

        L(H) = ||W*(H) H - Y||^2 / (2Kn) + lam_W ||W*(H)||^2 / (2K) + lam_H ||H||^2 / (2Kn)

    with ``W*(H)`` of footnote 3 (:func:`optimal_W`); ``form="trace"``: the covariance form
    derived in App. A (``d x d`` matrices; ``C = (Sigma~_T + lam_W/K I)^{-1}``)::

        L(H) = Tr((Sigma_W + lam_W/K I) C) / (2K) + lam_H Tr(Sigma~_T) / 2 - (d - K) / (2K)

    Needs ``lam_W > 0`` (Theorem 3.1), ``lam_H >= 0``.
    """
    H, K, n, lam_W, lam_H = _central_path(H, lam_W, lam_H, n, form)
    if form == "definition":
        W = _optimal_W(H, targets(K, n), lam_W, n)
        return objective(W, H, lam_W, lam_H, n)
    S, cho = _trace_terms(H, n, lam_W)
    d = H.shape[0]
    A = S.Sigma_W + (lam_W / K) * np.eye(d)
    return float(np.trace(scipy.linalg.cho_solve(cho, A)) / (2 * K)
                 + lam_H * np.trace(S.Sigma_T) / 2 - (d - K) / (2 * K))


def _grad(H, Y, lam_W, lam_H, n):
    """``grad L(H)`` (Eq. 7) on validated arguments, through ``W*(H)``; also returns ``W*``."""
    W = _optimal_W(H, Y, lam_W, n)
    return (W.T @ (W @ H - Y) + lam_H * H) / (Y.shape[0] * n), W


def central_path_grad(H, lam_W: float, lam_H: float, n: int,
                      form: str = "definition") -> np.ndarray:
    """Gradient of :func:`central_path_loss`, Eq. 7, shape ``(d, Kn)``.

    With ``C = (Sigma~_T + lam_W/K I)^{-1}`` and ``A = Sigma_W + lam_W/K I``, Eq. 7 reads::

        grad L(H) = ( C (H - H_bar (x) 1_n^T) - C A C H + lam_H K H ) / (K^2 n)

    ``form="trace"`` evaluates exactly this (``d x d`` matrices, Cholesky solves).
    ``form="definition"`` (the default, cheaper) uses ``C A C = C - C Sigma~_B C`` and
    ``W*(H) = H_bar^T C / K`` (App. A) to write the same gradient as::

        grad L(H) = ( W*^T (W* H - Y) + lam_H H ) / (Kn)

    i.e. the ``H``-gradient of Eq. 1 at ``W = W*(H)``, solving the smaller of the ``d x d`` and
    ``Kn x Kn`` systems (:func:`optimal_W`). Needs ``lam_W > 0``, ``lam_H >= 0``.
    """
    H, K, n, lam_W, lam_H = _central_path(H, lam_W, lam_H, n, form)
    if form == "definition":
        return _grad(H, targets(K, n), lam_W, lam_H, n)[0]
    S, cho = _trace_terms(H, n, lam_W)
    d = H.shape[0]
    centred = H - np.repeat(class_means(H, n), n, axis=1)
    A = S.Sigma_W + (lam_W / K) * np.eye(d)
    CH = scipy.linalg.cho_solve(cho, H)
    return (scipy.linalg.cho_solve(cho, centred) - scipy.linalg.cho_solve(cho, A @ CH)
            + lam_H * K * H) / (K * K * n)


def covariance_rates(H, lam_W: float, lam_H: float, n: int) -> Covariances:
    """Time derivatives of the covariances along the flow of Eq. 4 at ``H``, by Lemma A.1.

    With ``C_B = Sigma_B C``, ``C~_B = Sigma~_B C``, ``C_W = Sigma_W C`` and
    ``C = (Sigma~_T + lam_W/K I)^{-1}``::

        dSigma_B/dt  = (C_B (I - C~_B) + (I - C~_B^T) C_B^T) / K - 2 lam_H Sigma_B
        dSigma_W/dt  = -(C_W C~_B + C~_B^T C_W^T) / K - 2 lam_H Sigma_W
        dSigma~_T/dt = ((I - C~_B - C_W) C~_B + C~_B^T (I - C~_B^T - C_W^T)) / K
                       - 2 lam_H Sigma~_T

    Returns :class:`Covariances` of these ``d x d`` rates (``Sigma_Bt``: ``dSigma~_T/dt -
    dSigma_W/dt``, since ``Sigma~_T = Sigma_W + Sigma~_B``).
    """
    H, K, n, lam_W, lam_H = _central_path(H, lam_W, lam_H, n, "trace")
    S, cho = _trace_terms(H, n, lam_W)
    I = np.eye(H.shape[0])
    C = scipy.linalg.cho_solve(cho, I)  # d x d, symmetric
    CB, CBt, CW = S.Sigma_B @ C, S.Sigma_Bt @ C, S.Sigma_W @ C

    def sym(X):
        return (X + X.T) / K

    dB = sym(CB @ (I - CBt)) - 2 * lam_H * S.Sigma_B
    dW = -sym(CW @ CBt) - 2 * lam_H * S.Sigma_W
    dT = sym((I - CBt - CW) @ CBt) - 2 * lam_H * S.Sigma_T
    return Covariances(dW, dB, dT, dT - dW)


class FlowPath(NamedTuple):
    """Solution of the gradient flow of Eq. 4 (:func:`gradient_flow`).

    ``t`` (T,): times; ``H`` (T, d, Kn): features; ``within`` (T, d, Kn): the within-class
    deviations ``H - H_bar (x) 1_n^T``, kept to full relative precision even when they are far
    below the round-off of ``H`` (so ``Tr Sigma_W = ||within||^2 / (Kn)``); ``nfev``: number of
    evaluations of the right-hand side."""

    t: np.ndarray
    H: np.ndarray
    within: np.ndarray
    nfev: int


def gradient_flow(H0, t_eval, lam_W: float, lam_H: float, n: int, rtol: float = 1e-10,
                  atol: float = 1e-12, method: str = "DOP853") -> FlowPath:
    """Integrate the gradient flow on the central path, Eq. 4, ``dH/dt = -Kn grad L(H)``.

    Starts at ``H(0) = H0`` (d x Kn) and returns ``H`` at the times ``t_eval`` (1-D, >= 0,
    strictly increasing) as a :class:`FlowPath`, by ``scipy.integrate.solve_ivp`` with the
    adaptive ``method`` (default: 8th-order Dormand-Prince) at tolerances ``rtol``, ``atol``.

    Coordinates. By Eq. 7, with ``W* = W*(H)``, the flow splits into the class means and the
    within-class deviations ``D = H - H_bar (x) 1_n^T``::

        dH_bar/dt = W*^T (I_K - W* H_bar) - lam_H H_bar
        dD/dt     = -(W*^T W* + lam_H I) D

    Either block may decay by hundreds of orders of magnitude (``D`` as the flow collapses, both
    when ``lam_H lam_W > 1`` sends ``H`` to 0), far below ``atol`` and the round-off of ``H``.
    So each block ``X`` is integrated as ``X = e^a X_hat`` with ``|X_hat|`` ~ 1 and
    ``da/dt = <X_hat, V> / |X_hat|^2`` (``V = e^{-a} dX/dt``), and the tolerances control it
    relative to its own size: ``Tr Sigma_W`` and ``Tr Sigma_B`` are resolved at every ``t``.
    Needs ``lam_W > 0``. Raises ``RuntimeError`` if the integrator fails.
    """
    H0, K, n, lam_W, lam_H = _central_path(H0, lam_W, lam_H, n, "definition")
    t_eval = np.asarray(t_eval, dtype=np.float64)
    if t_eval.ndim != 1 or t_eval.size == 0:
        raise ValueError(f"t_eval must be a non-empty 1-D array, got shape {t_eval.shape}")
    if not np.all(np.isfinite(t_eval)) or t_eval[0] < 0 or np.any(np.diff(t_eval) <= 0):
        raise ValueError("t_eval must be finite, >= 0 and strictly increasing")
    rtol = check_real("rtol", rtol, positive=True)
    atol = check_real("atol", atol, positive=True)
    d, Kn = H0.shape
    Y = targets(K, n)
    means0 = class_means(H0, n)
    blocks0 = (means0, H0 - np.repeat(means0, n, axis=1))
    logs0 = [np.log(np.linalg.norm(X)) if np.any(X) else 0.0 for X in blocks0]
    split = d * K

    def unpack(y):
        return y[:split].reshape(d, K), y[split:-2].reshape(d, Kn), y[-2], y[-1]

    def scaled(X, V):
        """(dX_hat/dt, da/dt) for X = e^a X_hat with V = e^{-a} dX/dt."""
        xx = np.sum(X * X)
        rate = np.sum(X * V) / xx if xx > 0 else 0.0
        return V - rate * X, rate

    def rhs(_, y):
        M, U, a, b = unpack(y)
        means = np.exp(a) * M
        W = _optimal_W(np.repeat(means, n, axis=1) + np.exp(b) * U, Y, lam_W, n)
        dM, da = scaled(M, np.exp(-a) * W.T - W.T @ (W @ M) - lam_H * M)
        dU, db = scaled(U, -(W.T @ (W @ U)) - lam_H * U)
        return np.concatenate([dM.ravel(), dU.ravel(), [da, db]])

    y0 = np.concatenate([(X / np.exp(a)).ravel() for X, a in zip(blocks0, logs0)] + [logs0])
    sol = scipy.integrate.solve_ivp(rhs, (0.0, float(t_eval[-1])), y0, method=method,
                                    t_eval=t_eval, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"gradient_flow: solve_ivp ({method}) failed: {sol.message}")
    means = np.exp(sol.y[-2])[:, None, None] * sol.y[:split].T.reshape(-1, d, K)
    within = np.exp(sol.y[-1])[:, None, None] * sol.y[split:-2].T.reshape(-1, d, Kn)
    return FlowPath(sol.t, np.repeat(means, n, axis=2) + within, within, int(sol.nfev))


def solve_eq2(H0, lam_W: float, lam_H: float, beta: float, n: int, gtol: float = 1e-10,
              max_iter: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """The minimizer ``(W, H) = (W*(H_{1/beta}), H_{1/beta})`` of Eq. 2 for input features ``H0``.

    ``H_{1/beta}`` minimizes the reduced objective of Sec. 3 (``H``, ``H0``: d x Kn)::

        F(H) = L(H) + beta ||H - H0||^2 / (2Kn),   grad F = grad L(H) + beta (H - H0) / (Kn)

    and is returned with ``||grad F||_F <= gtol``, ``grad L`` being Eq. 7
    (:func:`central_path_grad`), and ``W = W*(H)`` (:func:`optimal_W`).

    How. For fixed ``W``, Eq. 2 is a ridge regression in ``H`` with the closed form
    ``H - H0 = (W^T W + (lam_H + beta) I)^{-1} (W^T (Y - W H0) - lam_H H0)`` (a ``K x K`` solve by
    the Woodbury identity), whose rows lie in the span of the rows of ``Y`` and ``H0``. So, in an
    orthonormal basis ``B`` of that span (one QR of ``[Y^T, H0^T]``, at most ``d + K`` columns),
    L-BFGS minimizes ``min_H f(W, H; H0)`` over ``W`` (``K x d``), started at ``W*(H0)``; the
    optimal ``W`` and ``H`` of that problem are exactly the minimizer of Eq. 2. As in
    :func:`minimize`, L-BFGS runs on displacements, each increment being Eq. 2's exact
    expansion, so the gradient can be driven below the round-off of the objective; its stop is
    ``||grad F(H(W))|| <= gtol`` (Eq. 7, in the same coordinates). Cost per evaluation
    ``O(K d min(Kn, d + K))``. Needs ``lam_W > 0``, ``lam_H >= 0``, ``beta > 0``. Raises
    ``RuntimeError`` (stating the norm reached) if ``max_iter`` iterations do not get there.
    ``H - H0`` is formed directly (no cancellation); a gradient recomputed from the returned
    ``H`` carries an extra round-off of about ``beta eps |H0| / (Kn)``.
    """
    H0, K, n, lam_W, lam_H = _central_path(H0, lam_W, lam_H, n, "definition")
    beta = check_real("beta", beta, positive=True)
    gtol = check_real("gtol", gtol, positive=True)
    max_iter = check_int("max_iter", max_iter, 1)
    d, Kn = H0.shape
    Y = targets(K, n)
    X0, B = H0, None
    if d + K < Kn:  # coordinates in the span of the rows of Y and H0 (exact: B^T B = I)
        B = np.linalg.qr(np.hstack([Y.T, H0.T]))[0]
        X0, Y = H0 @ B, Y @ B
    c = lam_H + beta

    def delta(W):
        """argmin_H f(W, H; H0) - H0, by the Woodbury identity (K x K solve)."""
        P = W @ X0
        Q = Y - P
        WWt = W @ W.T
        G = WWt + c * np.eye(K)
        S = scipy.linalg.solve(G, WWt @ Q - lam_H * P, assume_a="pos")
        return (W.T @ (Q - S) - lam_H * X0) / c

    def increment_from(x):
        """min_H f(W + dW, .) - min_H f(W, .) and its W-gradient, for the flattened dW."""
        W = x.reshape(K, d)
        D = delta(W)
        H = X0 + D
        R0 = W @ H - Y

        def increment(dx):
            dW = dx.reshape(K, d)
            df, gW, _ = _eq2_increment(W, H, R0, D, dW, delta(W + dW) - D, lam_W, lam_H, beta,
                                       Kn)
            return df, gW.ravel()
        return increment

    def norm_at(x):
        D = delta(x.reshape(K, d))
        return float(np.linalg.norm(_grad(X0 + D, Y, lam_W, lam_H, n)[0] + beta * D / Kn))

    # With g the W-gradient at (W, H(W)), |grad F| <= (K/lam_W) |g| (|WH - Y| + |W*| |H|)/(Kn):
    # L-BFGS aims at |g| <= gtol lam_W / K, and the rounds check grad F itself.
    W0 = _optimal_W(X0, Y, lam_W, n)
    x, norm, n_iter, message = _lbfgs_on_increments(W0.ravel(), increment_from, norm_at, gtol,
                                                     max_iter, inner_gtol=gtol * lam_W / K)
    if norm > gtol:
        raise RuntimeError(f"solve_eq2 stopped at |grad F| = {norm:.3e} > gtol={gtol:.1e} after "
                           f"{n_iter} L-BFGS iterations ({message}); raise max_iter or gtol")
    D = delta(x.reshape(K, d))
    W = _optimal_W(X0 + D, Y, lam_W, n)
    return W, H0 + (D if B is None else D @ B.T)
