"""The insight of Sec. 4, end to end: from near-collapsed input features ``H0 = H* + dH0``, how
close to collapse does the minimizer of Eq. 2 get, as a function of ``lam_H`` and ``lam_W``, and
does the first-order prediction of Theorem 4.1 / App. D say so?

At a collapsed ``H*`` (Theorem 2.1, ``H* = sqrt(rho) R (x) 1_n^T``), the within-class directions
``s_j (x) r_i`` (``j >= 2``) are eigenvectors of every block of the exact F of Theorem 4.1, with
eigenvalue ``g_1 = 1 / (1 + s/beta)`` for ``r_i`` in the span of ``R`` (``s = sqrt(lam_H/lam_W)``)
and ``g_2 = 1 / (1 + lam_H/beta)`` outside it; the inter-class blocks do not reach them. So, to
first order in ``dH0``, the within-class deviations ``D0`` of ``dH0`` become
``g_1 P_R D0 + g_2 (I - P_R) D0`` (:func:`predicted_within`).

Notation as in :mod:`nclib.ufm` (``H``: d x Kn, class-major).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nclib import central_path, perturbation, resolvent, ufm
from nclib._checks import check_int, check_matrix, check_real

__all__ = ["attenuations", "predicted_within", "NearCollapseGrid", "near_collapse_grid", "DistanceSweep",
           "distance_sweep", "class_leak"]


def attenuations(lam_W: float, lam_H: float, beta: float) -> tuple[float, float]:
    """``(g_1, g_2) = (1/(1 + s/beta), 1/(1 + lam_H/beta))``: the exact F of Theorem 4.1 on the
    within-class directions inside / outside the span of ``R`` at a collapse (App. D, exact form
    of Eqs. 14-15), ``s = sqrt(lam_H/lam_W)``."""
    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H, positive=True)
    beta = check_real("beta", beta, positive=True)
    return 1 / (1 + np.sqrt(lam_H / lam_W) / beta), 1 / (1 + lam_H / beta)


def predicted_within(dH0, R, n: int, lam_W: float, lam_H: float, beta: float) -> np.ndarray:
    """First-order within-class deviations (d x Kn) of the minimizer of Eq. 2 for
    ``H0 = H* + dH0``, ``H*`` collapsed on ``R`` (d x K, orthonormal columns)."""
    dH0, R = check_matrix("dH0", dH0), check_matrix("R", R)
    n = check_int("n", n, 1)
    d, Kn = dH0.shape
    if R.shape[0] != d or Kn % n:
        raise ValueError(f"R must be d x K with d = {d} and dH0 d x Kn with Kn a multiple of n={n}; "
                         f"got R {R.shape}, dH0 {dH0.shape}")
    means = dH0.reshape(d, Kn // n, n).mean(axis=2)
    D0 = dH0 - np.repeat(means, n, axis=1)
    g1, g2 = attenuations(lam_W, lam_H, beta)
    inside = R @ (R.T @ D0)
    return g1 * inside + g2 * (D0 - inside)


class NearCollapseGrid(NamedTuple):
    """Arrays of shape ``(len(lam_Ws), len(lam_Hs))`` (NaN where ``lam_H lam_W >= 1``)."""

    lam_Ws: np.ndarray
    lam_Hs: np.ndarray
    nc1_tilde_in: np.ndarray   #: NC1~(H0)
    nc1_tilde_out: np.ndarray  #: NC1~ of the minimizer of Eq. 2
    nc1_tilde_pred: np.ndarray  #: NC1~ of H* + predicted_within (first order)
    nc1_in: np.ndarray         #: NC1(H0)
    nc1_out: np.ndarray        #: NC1 of the minimizer
    nc1_pred: np.ndarray       #: NC1 of H* + predicted_within
    spread: np.ndarray         #: eq2_multistart spread (0 if starts = 0)


def near_collapse_grid(K: int, n: int, d: int, lam_Ws, lam_Hs, beta: float, noise: float,
                       seed: int = 0, starts: int = 0) -> NearCollapseGrid:
    """Solve Eq. 2 from ``H0 = H* + noise |H*|_F G`` over a grid of ``(lam_W, lam_H)``.

    One random ``R`` (d x K) and one Gaussian direction ``G`` (``|G|_F = 1``) serve the whole grid;
    ``H*`` is the collapsed minimizer of Eq. 1 for each pair (:func:`nclib.ufm.collapsed_minimizer`).
    The minimizer comes from :func:`nclib.central_path.eq2_multistart` (``W*(H0)`` and ``starts``
    random starts; the best is kept). The predictions are NC1~ and NC1 of
    ``H* + (class means of dH0 unchanged) + predicted_within``: only the within-class part is
    predicted, and to first order Tr Sigma_B does not change.
    """
    K, n, d = check_int("K", K, 2), check_int("n", n, 2), check_int("d", d, 2)
    if d <= K:
        raise ValueError(f"d must be > K (Theorem 4.2); got d={d}, K={K}")
    noise = check_real("noise", noise, positive=True)
    lam_Ws, lam_Hs = np.asarray(lam_Ws, dtype=np.float64), np.asarray(lam_Hs, dtype=np.float64)
    rng = np.random.default_rng(seed)
    R = np.linalg.qr(rng.standard_normal((d, K)))[0]
    G = rng.standard_normal((d, K * n))
    G /= np.linalg.norm(G)
    out = np.full((8, lam_Ws.size, lam_Hs.size), np.nan)
    for i, lw in enumerate(lam_Ws):
        for j, lh in enumerate(lam_Hs):
            if lw * lh >= 1:
                continue
            _, H_star = ufm.collapsed_minimizer(K, n, d, lw, lh, R=R)
            dH0 = noise * np.linalg.norm(H_star) * G
            H0 = H_star + dH0
            res = central_path.eq2_multistart(H0, lw, lh, beta, n, starts, seed=seed, gtol=1e-13)
            means = dH0.reshape(d, K, n).mean(axis=2)
            H_pred = H_star + np.repeat(means, n, axis=1) + predicted_within(dH0, R, n, lw, lh, beta)
            out[:, i, j] = (central_path.nc1_tilde(H0, n), central_path.nc1_tilde(res.H, n),
                            central_path.nc1_tilde(H_pred, n), central_path.nc1(H0, n),
                            central_path.nc1(res.H, n), central_path.nc1(H_pred, n), res.spread, 0.0)
    return NearCollapseGrid(lam_Ws, lam_Hs, *out[:7])


def _within(H, n):
    """Within-class deviations ``H - H_bar (x) 1_n^T`` of ``H`` (d x Kn)."""
    d, Kn = H.shape
    return H - np.repeat(H.reshape(d, Kn // n, n).mean(axis=2), n, axis=1)


def _collapse_and_direction(K, n, d, lam_W, lam_H, seed):
    """A collapsed minimizer ``(W*, H*)`` of Eq. 1 on a random ``R`` and a Gaussian direction
    ``G`` (d x Kn, ``|G|_F = 1``), both from ``seed``; also ``R``."""
    rng = np.random.default_rng(seed)
    R = np.linalg.qr(rng.standard_normal((d, K)))[0]
    G = rng.standard_normal((d, K * n))
    W, H = ufm.collapsed_minimizer(K, n, d, lam_W, lam_H, R=R)
    return W, H, R, G / np.linalg.norm(G)


class DistanceSweep(NamedTuple):
    """Outcome of :func:`distance_sweep`, arrays of shape ``(len(noises),)``."""

    noises: np.ndarray
    nc1_in: np.ndarray         #: NC1 of the input H0
    nc1_tilde_in: np.ndarray   #: NC1~ of the input H0
    err_nc1: np.ndarray        #: ``|NC1(minimiser) / NC1(prediction) - 1|``
    err_nc1_tilde: np.ndarray  #: the same for NC1~
    sigma_min: np.ndarray      #: min over k of sigma_min(F_kk), exact F at the minimiser
    norm_F: np.ndarray         #: ||F||_2, exact F at the minimiser (1 at a collapse)
    lam_min_G: np.ndarray      #: smallest eigenvalue of G = Kn Hess L at the minimiser (0 at a collapse)
    spread: np.ndarray         #: eq2_multistart spread


def distance_sweep(K: int, n: int, d: int, lam_W: float, lam_H: float, beta: float, noises,
                   seed: int = 0, starts: int = 0) -> DistanceSweep:
    """How far from collapse the first-order predictions of Sec. 4 hold: for each ``noise``, solve
    Eq. 2 (:func:`nclib.central_path.eq2_multistart`) from ``H0 = H* + noise |H*|_F G`` (one
    collapse ``H*`` on a random ``R`` and one direction ``G``, from ``seed``) and compare the
    minimiser's NC1 and NC1~ with the prediction of :func:`near_collapse_grid` (Theorem 4.1 at the
    collapse, App. D's attenuations); and the exact F at the minimiser (dense
    :func:`nclib.perturbation.perturbation_operator`, small sizes) with its values at the collapse:
    ``sigma_min(F_kk) = 1/(1 + s/beta)`` and ``||F||_2 = 1`` (Theorem 4.2, exact form).
    ``G`` of the resolvent identity (:func:`nclib.resolvent.central_path_hessian`) is reported by
    its smallest eigenvalue."""
    K, n, d = check_int("K", K, 2), check_int("n", n, 2), check_int("d", d, 2)
    noises = np.asarray(noises, dtype=np.float64)
    W_s, H_s, R, G = _collapse_and_direction(K, n, d, lam_W, lam_H, seed)
    rows = []
    for noise in noises:
        dH0 = check_real("noise", noise, positive=True) * np.linalg.norm(H_s) * G
        H0 = H_s + dH0
        res = central_path.eq2_multistart(H0, lam_W, lam_H, beta, n, starts, seed=seed, gtol=1e-13)
        H_pred = (H_s + np.repeat(dH0.reshape(d, K, n).mean(axis=2), n, axis=1)
                  + predicted_within(dH0, R, n, lam_W, lam_H, beta))
        F = perturbation.perturbation_operator(res.W, res.H, lam_W, lam_H, beta, n)
        blk = perturbation.blocks(F, K, d, n)
        s_min = min(np.linalg.svd(blk[k, k], compute_uv=False)[-1] for k in range(K))
        lam_G = np.linalg.eigvalsh(resolvent.central_path_hessian(res.H, lam_W, lam_H, n))[0]
        rows.append((central_path.nc1(H0, n), central_path.nc1_tilde(H0, n),
                     abs(central_path.nc1(res.H, n) / central_path.nc1(H_pred, n) - 1),
                     abs(central_path.nc1_tilde(res.H, n) / central_path.nc1_tilde(H_pred, n) - 1),
                     s_min, np.linalg.norm(F, 2), lam_G, res.spread))
    return DistanceSweep(noises, *np.array(rows).T)


def class_leak(K: int, n: int, d: int, lam_W: float, lam_H: float, beta: float, noises,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-class near-collapse (Sec. 4): from ``H0 = H* + noise |H*|_F G`` with class 0's columns of
    ``G`` set to 0 (class 0 of ``H0`` exactly collapsed, the others not), the minimiser of Eq. 2
    (:func:`nclib.central_path.solve_eq2`); returns, per ``noise``, the within-class deviations of
    class 0 and of the other classes, ``|D|_F / |H*|_F``, arrays ``(len(noises),)``. Theorem 4.1 at
    the collapse says the first is ``O(noise^2)`` and the second ``O(noise)``."""
    K, n, d = check_int("K", K, 2), check_int("n", n, 2), check_int("d", d, 2)
    _, H_s, _, G = _collapse_and_direction(K, n, d, lam_W, lam_H, seed)
    G[:, :n] = 0.0
    G /= np.linalg.norm(G)
    own, rest = [], []
    for noise in np.asarray(noises, dtype=np.float64):
        _, H = central_path.solve_eq2(H_s + noise * np.linalg.norm(H_s) * G, lam_W, lam_H, beta, n, gtol=1e-13)
        D = _within(H, n)
        own.append(np.linalg.norm(D[:, :n]) / np.linalg.norm(H_s))
        rest.append(np.linalg.norm(D[:, n:]) / np.linalg.norm(H_s))
    return np.array(own), np.array(rest)
