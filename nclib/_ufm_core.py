"""Private helpers shared by :mod:`nclib.ufm` and :mod:`nclib.central_path` (and
:mod:`nclib.perturbation`): argument validation of ``(W, H)``, the gradients of Eq. 1 / Eq. 2 and the
footnote-3 classifier on validated arguments, and the L-BFGS-on-increments driver. Shapes as in
:mod:`nclib.ufm`: ``H`` is ``d x Kn`` class-major, ``W`` is ``K x d``, ``Y = I_K (x) 1_n^T``.
Every array is float64.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize

from nclib._checks import check_int, check_matrix, check_real


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
    """Validate the arguments shared by :func:`nclib.ufm.objective` and :func:`nclib.ufm.gradients`."""
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


def _gradients(W, H, Y, lam_W, lam_H, n, beta, H0):
    """:func:`nclib.ufm.gradients` on validated arguments (shared with :func:`nclib.ufm.gradient_descent`)."""
    K = W.shape[0]
    Kn = K * n
    R = W @ H - Y
    dW = R @ H.T / Kn + (lam_W / K) * W
    dH = W.T @ R + lam_H * H
    if beta > 0:
        dH += beta * (H - H0)
    return dW, dH / Kn


def _optimal_W(H, Y, lam_W, n):
    """:func:`nclib.ufm.optimal_W` on validated arguments."""
    d, Kn = H.shape
    shift = n * lam_W
    if d <= Kn:
        A = H @ H.T
        A[np.diag_indices_from(A)] += shift
        return scipy.linalg.solve(A, H @ Y.T, assume_a="pos").T
    A = H.T @ H
    A[np.diag_indices_from(A)] += shift
    return scipy.linalg.solve(A, Y.T, assume_a="pos").T @ H.T


def _eq2_increment(W, H, R0, D0, dW, dH, lam_W, lam_H, beta, Kn):
    """``f(W + dW, H + dH) - f(W, H)`` of Eq. 2, expanded exactly in the displacement, and the
    gradients ``(df/dW, df/dH)`` at ``(W + dW, H + dH)``; ``R0 = WH - Y``, ``D0 = H - H0``,
    ``Kn`` the number of samples (the scale of Eq. 2; ``H`` may hold reduced coordinates).

    The round-off of the expansion scales with the displacement, not with ``f`` (see
    :func:`nclib.ufm.minimize`)."""
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
