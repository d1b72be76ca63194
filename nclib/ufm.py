"""The unconstrained features model (UFM) of Sec. 2: Eq. 1, its regularized variant Eq. 2, the
closed-form classifier of footnote 3, the collapsed minimizers of Theorem 2.1, and the joint
(W, H) solvers (L-BFGS, gradient descent). The central path of Sec. 3 lives in
:mod:`nclib.central_path`, which builds on this module (never the other way round); the private
helpers both use live in :mod:`nclib._ufm_core`.

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
import scipy.optimize
import torch

from nclib import metrics
from nclib._checks import check_int, check_matrix, check_real
from nclib._ufm_core import (_eq2_increment, _features, _gradients, _lbfgs_on_increments, _model,
                              _optimal_W)

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
    "footnote3_errors",
    "theorem_2_1_runs",
]

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


def optimal_W(H, lam_W: float, n: int) -> np.ndarray:
    """Minimizer over ``W`` of Eq. 1 or Eq. 2 for fixed ``H`` (footnote 3), shape ``(K, d)``::

        W*(H) = Y H^T (H H^T + n lam_W I_d)^{-1} = Y (H^T H + n lam_W I_Kn)^{-1} H^T

    (the second form by the push-through identity). Solves the smaller of the two symmetric
    positive-definite systems (d x d or Kn x Kn); no inverse is formed. Needs ``lam_W > 0``.
    """
    H, K, n, d = _features(H, n)
    lam_W = check_real("lam_W", lam_W, positive=True)
    return _optimal_W(H, targets(K, n), lam_W, n)


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


class GDPath(NamedTuple):
    """Recorded iterates of :func:`gradient_descent`: ``steps`` (T,), ``W`` (T, K, d),
    ``H`` (T, d, Kn)."""

    steps: np.ndarray
    W: np.ndarray
    H: np.ndarray


def gradient_descent(W, H, lam_W: float, lam_H: float, n: int, lr: float, steps: int,
                     record_every: int = 1) -> GDPath:
    """Full-batch gradient descent on Eq. 1, jointly in ``(W, H)``, preconditioned by blocks.

    The gradients of Eq. 1 carry the factors ``1/(Kn)`` (in ``H``) and ``1/K`` (in ``W``);
    the step undoes them, i.e. it scales the ``H`` block of the gradient by ``Kn`` and the ``W``
    block by ``K`` (a block-diagonal preconditioner, not plain gradient descent on Eq. 1, whose
    single step size would move ``H`` ``n`` times more slowly than ``W``), so that ``lr`` means the
    same for every K and n::

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


# --------------------------------------------------------------------------- checks of Sec. 2


def footnote3_errors(cases, n_H: int, lam_W: float, lam_H: float, rng: np.random.Generator) -> dict:
    """Worst relative errors of :func:`optimal_W` (footnote 3) over ``n_H`` Gaussian ``H`` (d x Kn)
    per ``(K, n, d)`` of ``cases``, drawn from ``rng`` in that order:

    * ``"autograd"``: ``|dEq.1/dW at W*(H)| / |dEq.1/dW at 0|``, by torch autograd of Eq. 1
      written term by term;
    * ``"direct"``: ``|W_LBFGS - W*(H)| / |W*(H)|``, ``W_LBFGS`` minimizing Eq. 1 over ``W``
      from 0 (``gtol = 1e-14``);
    * ``"forms"``: the larger distance of the ``d x d`` and ``Kn x Kn`` forms, written with
      explicit inverses, to ``W*(H)``.
    """
    n_H = check_int("n_H", n_H, 1)
    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H)
    norm = np.linalg.norm

    def autograd_W(W, H, n):
        Wt = torch.tensor(W, requires_grad=True)
        Ht = torch.tensor(H)
        K, Kn = W.shape[0], H.shape[1]
        Y = torch.kron(torch.eye(K, dtype=torch.float64), torch.ones(1, n, dtype=torch.float64))
        f = (((Wt @ Ht - Y) ** 2).sum() / (2 * Kn) + lam_W / (2 * K) * (Wt ** 2).sum()
             + lam_H / (2 * Kn) * (Ht ** 2).sum())
        f.backward()
        return Wt.grad.numpy()

    worst = dict(autograd=0.0, direct=0.0, forms=0.0)
    for K, n, d in cases:
        Y = targets(K, n)
        for _ in range(n_H):
            H = rng.standard_normal((d, K * n))
            W_star = optimal_W(H, lam_W, n)
            worst["autograd"] = max(worst["autograd"], norm(autograd_W(W_star, H, n))
                                    / norm(autograd_W(np.zeros((K, d)), H, n)))

            def f_of_W(w, H=H, K=K, d=d, n=n):
                W = w.reshape(K, d)
                return objective(W, H, lam_W, lam_H, n), gradients(W, H, lam_W, lam_H, n)[0].ravel()

            direct = scipy.optimize.minimize(f_of_W, np.zeros(K * d), jac=True, method="L-BFGS-B",
                                             options=dict(ftol=0.0, gtol=1e-14, maxiter=10_000))
            worst["direct"] = max(worst["direct"], norm(direct.x.reshape(K, d) - W_star) / norm(W_star))
            W_dd = Y @ H.T @ np.linalg.inv(H @ H.T + n * lam_W * np.eye(d))
            W_kn = Y @ np.linalg.inv(H.T @ H + n * lam_W * np.eye(K * n)) @ H.T
            worst["forms"] = max(worst["forms"], norm(W_dd - W_star) / norm(W_star),
                                 norm(W_kn - W_star) / norm(W_star))
    return worst


def theorem_2_1_runs(grid, starts: int, gtol: float, rng: np.random.Generator) -> list[dict]:
    """:func:`minimize` Eq. 1 from ``starts`` standard-normal ``(W, H)`` (``W`` drawn first, from
    ``rng``) for each ``(lam_W, lam_H, K, n, d)`` of ``grid``, and measure Theorem 2.1 on each run.

    One dict per run, in order: ``case``, ``c``, ``converged``, ``grad`` (final gradient norm),
    ``f``, ``f_star`` (:func:`optimal_value`), ``gap = |f - f_star|``; for ``c < 1`` also ``Hbar``
    (d x K class means), ``rho``, ``nc1_tilde`` and ``nc2`` (:func:`nclib.metrics.nc_metrics`),
    ``ortho = |Hbar^T Hbar - rho I|/rho``, ``align = |W - sqrt(lam_H/lam_W) Hbar^T|/|W|`` and
    ``etf = |M^T M - rho (I - 11^T/K)|/rho`` (``M``: centred means); for ``c >= 1``
    ``origin = max(|W|, |H|)``.
    """
    starts = check_int("starts", starts, 1)
    gtol = check_real("gtol", gtol, positive=True)
    norm = np.linalg.norm
    runs = []
    for lam_W, lam_H, K, n, d in grid:
        c_val, r, f_star = np.sqrt(lam_W * lam_H), rho(lam_W, lam_H), optimal_value(lam_W, lam_H)
        labels = class_labels(K, n)
        for _ in range(starts):
            res = minimize(rng.standard_normal((K, d)), rng.standard_normal((d, K * n)),
                           lam_W, lam_H, n, gtol=gtol)
            run = dict(case=(lam_W, lam_H, K, n, d), c=c_val, converged=res.converged,
                       grad=res.grad_norm, f=res.objective, f_star=f_star, gap=abs(res.objective - f_star))
            if c_val < 1:
                Hbar = class_means(res.H, n)
                centred = Hbar - Hbar.mean(axis=1, keepdims=True)
                P = np.eye(K) - np.ones((K, K)) / K
                m = metrics.nc_metrics(res.H.T, labels, res.W)
                run.update(Hbar=Hbar, rho=r, nc1_tilde=m.nc1_tilde, nc2=m.nc2,
                           ortho=norm(Hbar.T @ Hbar - r * np.eye(K)) / r,
                           align=norm(res.W - np.sqrt(lam_H / lam_W) * Hbar.T) / norm(res.W),
                           etf=norm(centred.T @ centred - r * P) / r)
            else:
                run.update(origin=max(norm(res.W), norm(res.H)))
            runs.append(run)
    return runs
