"""The central path of Sec. 3 and App. A-B: the loss ``L(H) = f(W*(H), H)`` of Eq. 1 on the best
last layer, its gradient (Eq. 7), the covariances of Sec. 3 and their dynamics (Lemma A.1), the
gradient flow of Eq. 4, the minimizer ``H_{1/beta}`` of Eq. 2, and the checks this book runs on
them: Lemma B.1's constant, the NC1 rate along the flow, and the joint (W, H) descent.

Notation as in :mod:`nclib.ufm`: ``H`` is ``d x Kn`` with class-major columns, ``W`` is ``K x d``,
``Y = I_K (x) 1_n^T``. All arrays are float64 numpy arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.integrate
import scipy.linalg

from nclib import metrics
from nclib._checks import check_int, check_real
from nclib._ufm_core import _eq2_increment, _features, _lbfgs_on_increments, _optimal_W
from nclib.ufm import class_labels, class_means, gradient_descent, objective, optimal_W, targets

__all__ = [
    "Covariances",
    "covariances",
    "covariance_traces",
    "central_path_loss",
    "central_path_grad",
    "covariance_rates",
    "FlowPath",
    "gradient_flow",
    "solve_eq2",
    "Eq2Starts",
    "eq2_multistart",
    "nc1",
    "nc1_tilde",
    "nc1_tilde_rate",
    "nc1_rate",
    "lemma_b1_constant",
    "gradient_ratio",
    "max_gradient_ratio",
    "JointRises",
    "joint_descent_rises",
    "NC1Attribution",
    "nc1_attribution",
    "NC1Rise",
    "nc1_rise_search",
    "steepest_nc1_start",
    "eq2_step_metrics",
    "flow_trace_error",
    "flow_traces",
    "Theorem31Grid",
    "theorem_3_1_grid",
]



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
    relative to its own size: ``Tr Sigma_W`` and ``Tr Sigma_B`` are resolved at every ``t``. The
    log-scale ``a`` itself is controlled to ``rtol |a|``, so a priori the traces are accurate to
    about ``rtol |a|`` relative, not ``rtol``; :func:`flow_trace_error` measures the accuracy
    reached.
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
              max_iter: int = 20000, W_init=None) -> tuple[np.ndarray, np.ndarray]:
    """The minimizer ``(W, H) = (W*(H_{1/beta}), H_{1/beta})`` of Eq. 2 for input features ``H0``.

    ``H_{1/beta}`` minimizes the reduced objective of Sec. 3 (``H``, ``H0``: d x Kn)::

        F(H) = L(H) + beta ||H - H0||^2 / (2Kn),   grad F = grad L(H) + beta (H - H0) / (Kn)

    and is returned with ``||grad F||_F <= gtol``, ``grad L`` being Eq. 7
    (:func:`central_path_grad`), and ``W = W*(H)`` (:func:`optimal_W`).

    How. For fixed ``W``, Eq. 2 is a ridge regression in ``H`` with the closed form
    ``H - H0 = (W^T W + (lam_H + beta) I)^{-1} (W^T (Y - W H0) - lam_H H0)`` (a ``K x K`` solve by
    the Woodbury identity), whose rows lie in the span of the rows of ``Y`` and ``H0``. So, in an
    orthonormal basis ``B`` of that span (one QR of ``[Y^T, H0^T]``, at most ``d + K`` columns),
    L-BFGS minimizes ``min_H f(W, H; H0)`` over ``W`` (``K x d``), started at ``W_init`` (default
    ``W*(H0)``); the
    optimal ``W`` and ``H`` of that problem are exactly the minimizer of Eq. 2. As in
    :func:`minimize`, L-BFGS runs on displacements, each increment being Eq. 2's exact
    expansion, so the gradient can be driven below the round-off of the objective; its stop is
    ``||grad F(H(W))|| <= gtol`` (Eq. 7, in the same coordinates). Cost per evaluation
    ``O(K d min(Kn, d + K))``. Needs ``lam_W > 0``, ``lam_H >= 0``, ``beta > 0``. Raises
    ``RuntimeError`` (stating the norm reached) if ``max_iter`` iterations do not get there.
    ``H - H0`` is formed directly (no cancellation); a gradient recomputed from the returned
    ``H`` carries an extra round-off of about ``beta eps |H0| / (Kn)``. Eq. 2 is not convex: the
    result is a stationary point reached from ``W_init``; :func:`eq2_multistart` compares starts.
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
    if W_init is None:
        W0 = _optimal_W(X0, Y, lam_W, n)
    else:
        W0 = np.asarray(W_init, dtype=np.float64)
        if W0.shape != (K, d) or not np.all(np.isfinite(W0)):
            raise ValueError(f"W_init must be a finite K x d = {(K, d)} array; got shape {W0.shape}")
    x, norm, n_iter, message = _lbfgs_on_increments(W0.ravel(), increment_from, norm_at, gtol,
                                                     max_iter, inner_gtol=gtol * lam_W / K)
    if norm > gtol:
        raise RuntimeError(f"solve_eq2 stopped at |grad F| = {norm:.3e} > gtol={gtol:.1e} after "
                           f"{n_iter} L-BFGS iterations ({message}); raise max_iter or gtol")
    D = delta(x.reshape(K, d))
    W = _optimal_W(X0 + D, Y, lam_W, n)
    return W, H0 + (D if B is None else D @ B.T)


# --------------------------------------------------------------------------- checks of Sec. 3 and 4


class Eq2Starts(NamedTuple):
    """Outcome of :func:`eq2_multistart`: ``objectives`` (``starts + 1``,) of Eq. 2 at each
    solution (entry 0 from ``W*(H0)``); ``spread``: the largest ``|H_i - H_best|_F / |H_best|_F``
    over the solutions whose objective ties the best (to ``1e-12 max(1, |f|)``), so a large
    spread means several distinct minimizers; and the best solution ``W`` (``K x d``),
    ``H`` (``d x Kn``)."""

    objectives: np.ndarray
    spread: float
    W: np.ndarray
    H: np.ndarray


def eq2_multistart(H0, lam_W: float, lam_H: float, beta: float, n: int, starts: int,
                   seed: int = 0, gtol: float = 1e-10) -> Eq2Starts:
    """:func:`solve_eq2` from ``W*(H0)`` and from ``starts`` random ``W``, Gaussian with a random
    scale ``10^U(-2, 1) / sqrt(d)`` (so random orientation and size). Eq. 2 is nonconvex: a start
    may end at a stationary point with a higher objective. ``objectives[0]`` equal to the best and
    a small ``spread`` are evidence (not proof) that the point found from ``W*(H0)`` is the unique
    global minimizer."""
    H0, K, n, d = _features(H0, n, "H0")
    starts = check_int("starts", starts, 0)
    rng = np.random.default_rng(seed)
    inits = [None] + [rng.standard_normal((K, d)) * 10 ** rng.uniform(-2, 1) / np.sqrt(d)
                      for _ in range(starts)]
    sols = [solve_eq2(H0, lam_W, lam_H, beta, n, gtol=gtol, W_init=W0) for W0 in inits]
    f = np.array([objective(W, H, lam_W, lam_H, n, beta, H0) for W, H in sols])
    W_best, H_best = sols[int(np.argmin(f))]
    ties = f <= f.min() + 1e-12 * max(1.0, abs(f.min()))
    spread = max(np.linalg.norm(H - H_best) for (_, H), tie in zip(sols, ties) if tie)
    spread /= max(np.linalg.norm(H_best), np.finfo(float).tiny)
    return Eq2Starts(f, float(spread), W_best, H_best)


def nc1(H, n: int) -> float:
    """``NC1 = Tr(Sigma_W Sigma_B^+) / K`` (Sec. 5) of ``H`` (d x Kn), by :func:`nclib.metrics.nc_metrics`."""
    H, K, n, d = _features(H, n)
    return float(metrics.nc_metrics(H.T, class_labels(K, n)).nc1)


def nc1_tilde(H, n: int) -> np.ndarray | float:
    """``NC1~ = Tr Sigma_W / Tr Sigma_B`` (Eq. 3) of one ``H`` (d x Kn) or a stack ``(..., d, Kn)``."""
    tr_sw, tr_sb = covariance_traces(H, n)
    return tr_sw / tr_sb


def nc1_tilde_rate(H, lam_W: float, lam_H: float, n: int) -> float:
    """``d NC1~ / dt`` at ``H`` along Eq. 4, from the traces of Lemma A.1 (:func:`covariance_rates`)."""
    S, dS = covariances(H, n), covariance_rates(H, lam_W, lam_H, n)
    tw, tb = np.trace(S.Sigma_W), np.trace(S.Sigma_B)
    return float((tw / tb) * (np.trace(dS.Sigma_W) / tw - np.trace(dS.Sigma_B) / tb))


def nc1_rate(H, lam_W: float, lam_H: float, n: int, rel_step: float = 1e-5) -> float:
    """``d NC1 / dt`` at ``H`` along Eq. 4: the central difference of :func:`nc1` along
    ``v = -Kn grad L(H)`` with step ``h = rel_step |H| / |v|`` (error ``O(h^2)``)."""
    H, K, n, d = _features(H, n)
    v = -K * n * central_path_grad(H, lam_W, lam_H, n)
    h = check_real("rel_step", rel_step, positive=True) * np.linalg.norm(H) / np.linalg.norm(v)
    return (nc1(H + h * v, n) - nc1(H - h * v, n)) / (2 * h)


def lemma_b1_constant(lam_W: float, lam_H: float, sharp: bool = False) -> float:
    """``Kn M`` of Lemma B.1, ``|grad L(H)|_F <= M |H|_F``: the paper's ``3/lam_W + lam_H`` or
    (``sharp=True``) ``max(lam_H, |1/lam_W - lam_H|)``, which follows from
    ``Kn grad L = H (lam_H I - n lam_W G^{-1} Y^T Y G^{-1})``, ``G = H^T H + n lam_W I``: the
    middle term is positive semidefinite with norm ``<= 1/lam_W``."""
    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H)
    return max(lam_H, abs(1 / lam_W - lam_H)) if sharp else 3 / lam_W + lam_H


def gradient_ratio(H, lam_W: float, lam_H: float, n: int) -> float:
    """``Kn |grad L(H)|_F / |H|_F`` (Lemma B.1 bounds it by :func:`lemma_b1_constant`)."""
    H, K, n, d = _features(H, n)
    return float(K * n * np.linalg.norm(central_path_grad(H, lam_W, lam_H, n)) / np.linalg.norm(H))


def max_gradient_ratio(starts, lam_W: float, lam_H: float, n: int) -> float:
    """The largest :func:`gradient_ratio` that L-BFGS-B reaches from each ``H`` in ``starts`` (each
    ``d x Kn``): a search for ``H`` that break Lemma B.1's bound. The ratio's gradient is exact,
    by torch autograd in float64 through ``W*(H)`` (finite differences would cost ``dKn + 1``
    evaluations per step)."""
    import scipy.optimize
    import torch

    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H)
    best = -np.inf
    for H0 in starts:
        H0, K, n, d = _features(H0, n)
        Y = torch.as_tensor(targets(K, n))
        ridge = n * lam_W * torch.eye(d, dtype=torch.float64)

        def neg_ratio(x):
            H = torch.tensor(x.reshape(d, K * n), requires_grad=True)
            W = torch.linalg.solve(H @ H.T + ridge, H @ Y.T).T  # W*(H), App. A
            grad_L = W.T @ (W @ H - Y) + lam_H * H              # Kn grad L(H), Eq. 7
            r = -torch.linalg.norm(grad_L) / torch.linalg.norm(H)
            r.backward()
            return r.item(), H.grad.numpy().ravel()

        found = scipy.optimize.minimize(neg_ratio, H0.ravel(), jac=True, method="L-BFGS-B")
        best = max(best, gradient_ratio(found.x.reshape(d, K * n), lam_W, lam_H, n))
    return float(best)


class JointRises(NamedTuple):
    """Outcome of :func:`joint_descent_rises`, one entry per start."""

    rise: np.ndarray  #: (starts,) largest relative increase of NC1~ between consecutive steps
    step: np.ndarray  #: (starts,) the step (1-based) at which it ends


def joint_descent_rises(K: int, n: int, d: int, lam_W: float, lam_H: float, lr: float, steps: int,
                        starts: int, seed: int = 0, W_opt: bool = False) -> JointRises:
    """For ``starts`` random starts (entries of standard deviation ``1/sqrt(d)``), run the joint
    gradient descent of Eq. 1 (:func:`nclib.ufm.gradient_descent`, every step recorded) and return
    each run's largest relative increase of NC1~ between consecutive steps (negative: NC1~ fell at
    every step) and the step where it occurs. ``W_opt=True`` replaces the random ``W0`` by
    ``W*(H0)`` (footnote 3), i.e. starts on the central path (the same ``H0``: the random ``W0``
    is still drawn). A small ``lr`` approximates the joint gradient flow."""
    starts = check_int("starts", starts, 1)
    rng = np.random.default_rng(seed)
    rises, where = [], []
    for _ in range(starts):
        W0 = rng.standard_normal((K, d)) / np.sqrt(d)
        H0 = rng.standard_normal((d, K * n)) / np.sqrt(d)
        if W_opt:
            W0 = optimal_W(H0, lam_W, n)
        r = nc1_tilde(gradient_descent(W0, H0, lam_W, lam_H, n, lr=lr, steps=steps).H, n)
        up = np.diff(r) / r[:-1]
        rises.append(np.max(up))
        where.append(int(np.argmax(up)) + 1)
    return JointRises(np.array(rises), np.array(where, dtype=np.int64))


class NC1Attribution(NamedTuple):
    """NC1 at ``H_hi`` with ``Sigma_B`` replaced (:func:`nc1_attribution`); ``angle``: the largest
    principal angle (radians) between the spans of the centred class means of ``H_lo`` and ``H_hi``."""

    lo: float             #: NC1(H_lo)
    hi: float             #: NC1(H_hi)
    frozen_span: float    #: Sigma_B(H_hi) compressed to the span of Sigma_B(H_lo)'s top K-1 eigenvectors
    frozen_basis: float   #: Sigma_B(H_hi)'s eigenvalues on Sigma_B(H_lo)'s eigenvectors
    frozen_values: float  #: Sigma_B(H_lo)'s eigenvalues on Sigma_B(H_hi)'s eigenvectors
    frozen_between: float  #: Sigma_B(H_lo) itself, with Sigma_W(H_hi)
    angle: float


def nc1_attribution(H_lo, H_hi, n: int) -> NC1Attribution:
    """Split a change of ``NC1 = Tr(Sigma_W Sigma_B^+)/K`` from ``H_lo`` to ``H_hi`` (both d x Kn)
    between the rotation of the span of the centred class means and the change of ``Sigma_B``
    within it. ``frozen_span`` freezes the span only: ``Tr(Sigma_W(H_hi) (P Sigma_B(H_hi) P)^+)/K``
    with ``P`` the projector on the top ``K - 1`` eigenvectors of ``Sigma_B(H_lo)`` (when
    ``d = K - 1`` the span is all of ``R^d``, ``P = I`` and nothing can rotate). The other fields
    mix the top ``K - 1`` eigenpairs of ``Sigma_B(H_hi)`` and ``Sigma_B(H_lo)`` (matched by order);
    ``frozen_basis`` keeps the start's eigenvectors, which freezes the eigenbasis, not only the span."""
    H_lo, K, n, d = _features(H_lo, n, "H_lo")
    H_hi, _, _, _ = _features(H_hi, n, "H_hi")
    if H_hi.shape != H_lo.shape:
        raise ValueError(f"H_hi must have the shape of H_lo, {H_lo.shape}; got {H_hi.shape}")

    def top(S):
        vals, vecs = np.linalg.eigh(S)
        return vals[::-1][:K - 1], vecs[:, ::-1][:, :K - 1]

    S_lo, S_hi = covariances(H_lo, n), covariances(H_hi, n)
    (v_lo, U_lo), (v_hi, U_hi) = top(S_lo.Sigma_B), top(S_hi.Sigma_B)

    def nc1_with(SW, vals, U):
        with np.errstate(divide="ignore"):  # a zero variance in a frozen span: NC1 = inf
            return float(np.trace(U.T @ SW @ U @ np.diag(1 / vals)) / K)

    # Sigma_B(H_hi) compressed to span(U_lo): its K-1 eigenpairs there, as vectors of R^d
    v_c, Q = np.linalg.eigh(U_lo.T @ S_hi.Sigma_B @ U_lo)
    cosines = np.linalg.svd(U_lo.T @ U_hi, compute_uv=False)
    return NC1Attribution(nc1_with(S_lo.Sigma_W, v_lo, U_lo), nc1_with(S_hi.Sigma_W, v_hi, U_hi),
                          nc1_with(S_hi.Sigma_W, v_c, U_lo @ Q),
                          nc1_with(S_hi.Sigma_W, v_hi, U_lo), nc1_with(S_hi.Sigma_W, v_lo, U_hi),
                          nc1_with(S_hi.Sigma_W, v_lo, U_lo),
                          float(np.arccos(np.clip(cosines.min(), -1.0, 1.0))))


def _random_case(rng, d_min: int):
    """A random (K, n, d, lam_W, lam_H, H0) for the NC1 searches: K in 2..3, n in 2..4,
    d in 2..5 (d_min = 0) or K..5 (d_min = 1), lam_W log-uniform on [1e-3, 10^0.5], lam_H 0 or log-uniform
    on [1e-3, 1], H0 Gaussian of a random scale plus a random global mean."""
    K, n = int(rng.integers(2, 4)), int(rng.integers(2, 5))
    d = int(rng.integers(max(d_min, K) if d_min else 2, 6))
    lam_W, lam_H = 10 ** rng.uniform(-3, 0.5), float(rng.choice([0.0, 10 ** rng.uniform(-3, 0)]))
    H0 = (10 ** rng.uniform(-1, 1) * rng.standard_normal((d, K * n))
          + rng.uniform(0, 3) * rng.standard_normal((d, 1)))
    return (K, n, d, float(lam_W), lam_H), H0


class NC1Rise(NamedTuple):
    """A flow of Eq. 4 along which NC1 rises (:func:`nc1_rise_search`)."""

    config: tuple                # (K, n, d, lam_W, lam_H)
    H0: np.ndarray               # d x Kn start
    rise: float                  # largest relative increase of NC1 between consecutive samples
    above: float                 # max_t NC1(t) / NC1(0) - 1
    attribution: NC1Attribution  # nc1_attribution across that steepest step


def nc1_rise_search(draws: int, seed: int = 0, t_eval=None, rtol: float = 1e-10,
                    atol: float = 1e-12, threshold: float = 1e-6) -> list[NC1Rise]:
    """Integrate Eq. 4 from ``draws`` random starts (see ``_random_case``; ``t_eval`` default
    ``linspace(0, 2, 21)``) and return the flows on which NC1 (:func:`nc1`) rises by more than
    ``threshold`` (relative) between consecutive samples, the largest ``above`` first."""
    draws = check_int("draws", draws, 1)
    t_eval = np.linspace(0.0, 2.0, 21) if t_eval is None else np.asarray(t_eval, dtype=np.float64)
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(draws):
        (K, n, d, lam_W, lam_H), H0 = _random_case(rng, 0)
        path = gradient_flow(H0, t_eval, lam_W, lam_H, n, rtol=rtol, atol=atol)
        v = np.array([nc1(H, n) for H in path.H])
        steps = np.diff(v) / v[:-1]
        i = int(np.argmax(steps))
        if steps[i] > threshold:
            found.append(NC1Rise((K, n, d, lam_W, lam_H), H0, float(steps[i]), float(v.max() / v[0] - 1),
                                 nc1_attribution(path.H[i], path.H[i + 1], n)))
    return sorted(found, key=lambda r: (-r.above, -r.rise))


def steepest_nc1_start(draws: int, seed: int = 0) -> tuple[float, tuple, np.ndarray]:
    """Among ``draws`` random starts with ``d >= K`` (see ``_random_case``), the one where NC1
    rises fastest at ``t = 0`` along Eq. 4: ``(rate / NC1, (K, n, d, lam_W, lam_H), H0)``, the
    rate by :func:`nc1_rate`."""
    draws = check_int("draws", draws, 1)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(draws):
        (K, n, d, lam_W, lam_H), H0 = _random_case(rng, 1)
        rel = nc1_rate(H0, lam_W, lam_H, n) / nc1(H0, n)
        if best is None or rel > best[0]:
            best = (float(rel), (K, n, d, lam_W, lam_H), H0)
    return best


def eq2_step_metrics(H0, lam_W: float, lam_H: float, n: int, betas, gtol: float = 1e-12
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``(NC1, NC1~)`` of the minimizer ``H_{1/beta}`` of Eq. 2 (:func:`solve_eq2`) for each beta
    in ``betas``: one layer-wise step from ``H0``. Arrays of shape ``(len(betas),)``."""
    out = np.array([(nc1(H, n), nc1_tilde(H, n))
                    for _, H in (solve_eq2(H0, lam_W, lam_H, b, n, gtol=gtol) for b in betas)])
    return out[:, 0], out[:, 1]


def flow_trace_error(H0, t_eval, lam_W: float, lam_H: float, n: int, rtol: float, atol: float,
                     ref_rtol: float = 1e-13, ref_atol: float = 1e-15) -> tuple[float, float]:
    """How accurately :func:`gradient_flow` at ``(rtol, atol)`` resolves ``Tr Sigma_W``: its
    largest relative error over ``t_eval`` against a reference run at ``(ref_rtol, ref_atol)``,
    and the largest ``|log |D||_F`` (``D``: the within-class deviations, whose log-scale the
    integrator carries; an error of ``rtol`` in it is ``rtol |log |D||`` relative in ``|D|``)."""
    runs = [gradient_flow(H0, t_eval, lam_W, lam_H, n, rtol=r, atol=a)
            for r, a in ((rtol, atol), (ref_rtol, ref_atol))]
    tw, ref = (np.sum(p.within ** 2, axis=(1, 2)) for p in runs)
    return float(np.max(np.abs(tw / ref - 1))), float(np.max(np.abs(np.log(ref) / 2)))


def flow_traces(path: FlowPath, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Tr Sigma_W, Tr Sigma_B)``, each ``(T,)``, along a :class:`FlowPath`; ``Tr Sigma_W``
    from its resolved within-class deviations (``|within|_F^2 / (Kn)``)."""
    return np.sum(path.within ** 2, axis=(1, 2)) / path.H.shape[2], covariance_traces(path.H, n)[1]


class Theorem31Grid(NamedTuple):
    """Outcome of :func:`theorem_3_1_grid`.

    ``rows``: one ``(case, worst, lo, hi)`` per grid point, ``worst`` the largest relative
    violation over its starts between consecutive samples (keys ``"nc1t"``: increase of NC1~,
    ``"TW"``: increase of ``T_W = e^{2 lam_H t} Tr Sigma_W``, ``"TB"``: decrease of
    ``T_B = e^{2 lam_H t} Tr Sigma_B``; negative: none), ``lo, hi`` the range of
    ``NC1~(T) / NC1~(0)``. ``flows``: one ``(case, NC1~, T_W / T_W(0), T_B / T_B(0))`` per flow,
    arrays ``(T,)``."""

    rows: list
    flows: list


def theorem_3_1_grid(grid, starts: int, t_eval, rtol: float, atol: float,
                     rng: np.random.Generator) -> Theorem31Grid:
    """Theorem 3.1 along :func:`gradient_flow` (Eq. 4) for each ``(lam_W, lam_H, K, n, d)`` of
    ``grid``, from ``starts`` non-collapsed ``H0 = G + g 1^T`` (``G`` d x Kn and then ``g`` d x 1
    standard normal, from ``rng``: a random global mean), sampled at ``t_eval``."""
    starts = check_int("starts", starts, 1)
    t_eval = np.asarray(t_eval, dtype=np.float64)
    rows, flows = [], []
    for lam_W, lam_H, K, n, d in grid:
        worst = dict(nc1t=-np.inf, TW=-np.inf, TB=-np.inf)
        drops = []
        for _ in range(starts):
            H0 = rng.standard_normal((d, K * n)) + rng.standard_normal((d, 1))
            path = gradient_flow(H0, t_eval, lam_W, lam_H, n, rtol=rtol, atol=atol)
            tr_sw, tr_sb = flow_traces(path, n)
            growth = np.exp(2 * lam_H * t_eval)
            r, TW, TB = tr_sw / tr_sb, growth * tr_sw, growth * tr_sb
            worst["nc1t"] = max(worst["nc1t"], np.max(np.diff(r) / r[:-1]))
            worst["TW"] = max(worst["TW"], np.max(np.diff(TW) / TW[:-1]))
            worst["TB"] = max(worst["TB"], np.max(-np.diff(TB) / TB[:-1]))
            drops.append(r[-1] / r[0])
            flows.append(((lam_W, lam_H, K, n, d), r, TW / TW[0], TB / TB[0]))
        rows.append(((lam_W, lam_H, K, n, d), worst, min(drops), max(drops)))
    return Theorem31Grid(rows, flows)
