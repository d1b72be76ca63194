"""This book's link between Sec. 3 and Sec. 4: Theorem 4.1's F is the resolvent of the Hessian of
the central-path loss, and a search that uses it to differentiate the minimizer of Eq. 2.

Notation as in :mod:`nclib.ufm` (``H``: d x Kn class-major, ``W``: K x d, ``vec`` stacks columns).
With ``L(H) = f(W*(H), H)`` the central-path loss of Sec. 3 (Eq. 1 on the best last layer) and

    G(H) = Kn * Hess L(H)   (dnK x dnK; the Schur complement of the Hessian of Eq. 1, W eliminated)

the optimality condition of Eq. 2 reads ``H = H0 - (Kn/beta) grad L(H)``: ``H_{1/beta}`` is one
backward-Euler (proximal) step of Eq. 4 with step ``1/beta``. Differentiating it in ``H0`` gives

    F = (I + G(H_{1/beta}) / beta)^{-1}                                   (Theorem 4.1)

and ``G = lam_H I + I_Kn (x) W^T W - Z*`` of Eq. 5. ``L(U H) = L(H)`` for every orthogonal ``U``
(``W*(UH) = W*(H) U^T``), so for every skew-symmetric ``A`` (``d x d``)

    G vec(A H) = Kn vec(A grad L(H)),  hence at H = H_{1/beta}:  F vec(A H0) = vec(A H_{1/beta}),

the derivative of the equivariance "rotating H0 rotates the minimizer". At a collapse
(``H_{1/beta} = H0 = H*``) the right side vanishes: the tangent space of the orbit of Eq. 1's
minimizers lies in the null space of G, where F has eigenvalue 1 (Theorem 4.2's unit values).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg
import scipy.optimize

from nclib import central_path, perturbation, ufm
from nclib._checks import check_int, check_real
from nclib._ufm_core import _features, _optimal_W

__all__ = ["central_path_hessian", "orbit_tangent_basis", "log_nc1_tilde_grad", "Cor32Search",
           "corollary_3_2_search"]


def central_path_hessian(H, lam_W: float, lam_H: float, n: int) -> np.ndarray:
    """``G = Kn Hess L(H)``, ``dnK x dnK`` in ``vec`` order, for ``H`` (d x Kn): the Schur complement
    ``Kn (HH - WH WW^{-1} HW)`` of the Hessian of Eq. 1 (:func:`nclib.perturbation.hessian_blocks`,
    ``beta = 0``) at ``W = W*(H)`` (footnote 3), where ``df/dW = 0`` so that, by the implicit
    function theorem, it is the Hessian of ``L(H) = min_W f(W, H)``. Dense: small sizes only."""
    H, K, n, d = _features(H, n)
    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H)
    W = _optimal_W(H, ufm.targets(K, n), lam_W, n)
    hb = perturbation.hessian_blocks(W, H, None, lam_W, lam_H, 0.0, n)
    S = hb.HH - hb.WH @ scipy.linalg.solve(hb.WW, hb.HW, assume_a="pos")
    return K * n * (S + S.T) / 2


def orbit_tangent_basis(H) -> np.ndarray:
    """An orthonormal basis (columns, ``vec`` order) of ``{vec(A H): A skew-symmetric d x d}``,
    the tangent space at ``H`` (d x m) of its orbit under rotations ``H -> U H``. At a collapse
    ``H* = sqrt(rho) R (x) 1_n^T`` its dimension is ``Kd - K(K+1)/2``."""
    H = np.asarray(H, dtype=np.float64)
    d = H.shape[0]
    cols = []
    for i in range(d):
        for j in range(i + 1, d):
            A = np.zeros((d, d))
            A[i, j], A[j, i] = 1.0, -1.0
            cols.append((A @ H).reshape(-1, order="F"))
    return scipy.linalg.orth(np.array(cols).T, rcond=1e-10)


def log_nc1_tilde_grad(H, n: int) -> np.ndarray:
    """Gradient in ``H`` (d x Kn) of ``log NC1~ = log Tr Sigma_W - log Tr Sigma_B`` (Eq. 3)::

        (2 / Kn) (D / Tr Sigma_W - M / Tr Sigma_B)

    with ``D`` the within-class deviations and ``M`` the centred class means, repeated ``n``
    times (both ``d x Kn``)."""
    H, K, n, d = _features(H, n)
    means = ufm.class_means(H, n)
    D = H - np.repeat(means, n, axis=1)
    M = np.repeat(means - means.mean(axis=1, keepdims=True), n, axis=1)
    tr_w, tr_b = central_path.covariance_traces(H, n)
    return 2 / (K * n) * (D / tr_w - M / tr_b)


def _rise_and_grad(H0, log_beta, lam_W, lam_H, n, gtol):
    """``phi = log NC1~(H_{1/beta}) - log NC1~(H0)`` and its gradient in ``(H0, log beta)``: by
    Theorem 4.1, ``dH/dH0 = F`` (symmetric) and ``dH/dbeta = -F (H - H0) / beta``."""
    beta = float(np.exp(log_beta))
    W, H = central_path.solve_eq2(H0, lam_W, lam_H, beta, n, gtol=gtol)
    op = perturbation.PerturbationOperator(W, H, lam_W, lam_H, beta, n)
    g_out = op.apply(log_nc1_tilde_grad(H, n))
    phi = float(np.log(central_path.nc1_tilde(H, n)) - np.log(central_path.nc1_tilde(H0, n)))
    return phi, g_out - log_nc1_tilde_grad(H0, n), float(-np.sum(g_out * (H - H0)))


class Cor32Search(NamedTuple):
    """Outcome of :func:`corollary_3_2_search`: one row per restart, the largest rise first."""

    rises: np.ndarray  #: (restarts,) best ``NC1~(H_{1/beta}) / NC1~(H0) - 1`` found (< 0: a fall)
    starts: np.ndarray  #: (restarts,) the same at the random start
    cases: list        #: (K, n, d, lam_W, lam_H, beta, rms) of each restart
    H0s: list          #: the best ``H0`` of each restart (d x Kn)
    evaluations: int   #: Eq. 2 solves in all


def corollary_3_2_search(restarts: int, iters: int, beta: float, seed: int = 0,
                         gtol: float = 1e-12) -> Cor32Search:
    """Adversarial search for a counterexample to Corollary 3.2 with ``C(H0) = 0`` at one ``beta``:
    maximise ``phi = log NC1~(H_{1/beta}) - log NC1~(H0)`` over ``H0`` of a fixed size, by L-BFGS-B
    (at most ``iters`` iterations per restart) with the exact gradient of :func:`_rise_and_grad`
    (Theorem 4.1 differentiates the minimizer). ``H0 = r sqrt(dKn) X / |X|_F`` with ``X`` free: the
    root-mean-square entry ``r`` is held fixed, since ``phi -> 0`` from below as ``|H0| -> inf``
    (Eq. 2 then barely moves ``H0``), a limit the search would otherwise run into. Each restart
    draws ``K`` in 2..4, ``n`` in 2..4, ``d`` in ``K..K+2`` (``d >= K``, Theorem 2.1), ``lam_W`` and
    ``lam_H`` log-uniform on [1e-3, 1], ``r`` log-uniform on [0.1, 10] and a Gaussian ``X`` with a
    random global mean. ``H_{1/beta}`` is :func:`nclib.central_path.solve_eq2` from ``W*(H0)``; a
    point where the Hessian of Eq. 2 is not positive definite (no strict minimizer) is rejected
    by the line search (infinite objective)."""
    restarts, iters = check_int("restarts", restarts, 1), check_int("iters", iters, 1)
    beta = check_real("beta", beta, positive=True)
    rng = np.random.default_rng(seed)
    out, evals = [], [0]
    for _ in range(restarts):
        K = int(rng.integers(2, 5))
        n, d = int(rng.integers(2, 5)), K + int(rng.integers(0, 3))
        lam_W, lam_H, rms = (float(10 ** rng.uniform(*r)) for r in ((-3, 0), (-3, 0), (-1, 1)))
        X0 = rng.standard_normal((d, K * n)) + rng.uniform(0, 2) * rng.standard_normal((d, 1))
        size = rms * np.sqrt(X0.size)

        def neg(x, K=K, n=n, d=d, lam_W=lam_W, lam_H=lam_H, size=size):
            evals[0] += 1
            scale = size / np.linalg.norm(x)
            try:
                phi, gH, _ = _rise_and_grad(scale * x.reshape(d, K * n), np.log(beta), lam_W, lam_H, n, gtol)
            except (ValueError, RuntimeError, np.linalg.LinAlgError):
                return np.inf, np.zeros_like(x)
            g = scale * gH.ravel()
            return -phi, -(g - x * (x @ g) / (x @ x))  # the chain rule through x -> size x / |x|

        start = -neg(X0.ravel())[0]
        res = scipy.optimize.minimize(neg, X0.ravel(), jac=True, method="L-BFGS-B",
                                      options=dict(maxiter=iters))
        out.append((float(np.expm1(-res.fun)), float(np.expm1(start)), (K, n, d, lam_W, lam_H, beta, rms),
                    size * res.x.reshape(d, K * n) / np.linalg.norm(res.x)))
    out.sort(key=lambda r: -r[0])
    return Cor32Search(np.array([r[0] for r in out]), np.array([r[1] for r in out]),
                       [r[2] for r in out], [r[3] for r in out], evals[0])
