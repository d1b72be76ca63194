"""The perturbation operator F of Sec. 4: Theorem 4.1, Eq. 5, the blocks of Eq. 6, and the
closed-form spectra of Theorem 4.2 and App. D.

Notation follows the paper and :mod:`nclib.ufm`: ``H`` is ``d x Kn`` (class-major columns),
``W`` is ``K x d``, ``vec`` stacks columns (``X.reshape(-1, order="F")``). At a minimizer
``(W, H)`` of Eq. 2, Theorem 4.1 links a small change ``dH0`` of the input features to the
change ``(dW, dH)`` of the minimizer, ``vec(dH) ~ F vec(dH0)``. With every second derivative
multiplied by ``Kn`` (App. C)::

    D = I_Kn (x) P,          P = (lam_H + beta) I_d + W^T W        (Kn d2f/dH dH)
    B vec(X) = vec(R X^T + W X H^T),   R = WH - Y                   (Kn d2f/dH dW, Kd x dnK)
    M vec(V) = vec(V G),     G = H H^T + n lam_W I_d                (Kn d2f/dW dW)

and ``Z = B^T M^{-1} B`` (the ``Z*`` of Eq. 5), the exact operator of Theorem 4.1 is
``F = beta (D - Z)^{-1}`` and Eq. 5 is its first-order Neumann truncation
``F ~ I - (lam_H I + I_Kn (x) W^T W - Z) / beta``.

:class:`PerturbationOperator` applies both without forming any ``dnK x dnK`` matrix: ``Z`` has
rank at most ``Kd``, so ``(D - Z)^{-1}`` follows from the Woodbury identity with the ``Kd x Kd``
capacitance ``C = M - B D^{-1} B^T`` (the Schur complement of the Hessian in the other order),
assembled from ``d x d``, ``K x d`` and ``K x K`` Gram matrices and Cholesky-factored once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse.linalg

from nclib import central_path, ufm
from nclib._checks import check_int, check_matrix, check_real
from nclib._ufm_core import _gradients, _model

__all__ = [
    "commutation_matrix",
    "residual_jacobian",
    "HessianBlocks",
    "hessian_blocks",
    "PerturbationOperator",
    "perturbation_operator",
    "blocks",
    "refine_eq2",
    "Hypotheses",
    "theorem_4_1_hypotheses",
    "Theorem42",
    "theorem_4_2",
    "Spectrum",
    "intra_block_spectrum",
    "Theorem41Sweep",
    "theorem_4_1_sweep",
    "Theorem42Grid",
    "theorem_4_2_grid",
    "crosstalk_table",
    "crossover",
    "crossover_by_svd",
]


# --------------------------------------------------------------------------- validation


def _point(W, H, n):
    """Validate a point ``(W, H)`` of Eq. 2; return ``(W, H, K, n, d)``."""
    W, H, K, n, _, _ = _model(W, H, n, 0.0, None)
    return W, H, K, n, H.shape[0]


def _hyper(lam_W, lam_H, beta):
    """``lam_W > 0``, ``lam_H >= 0``, ``beta > 0`` as floats."""
    return (check_real("lam_W", lam_W, positive=True), check_real("lam_H", lam_H),
            check_real("beta", beta, positive=True))


def _collapse_regime(lam_W, lam_H):
    """``lam_W, lam_H > 0`` with ``c = sqrt(lam_H lam_W) < 1`` (Theorem 2.1, Theorem 4.2)."""
    lam_W = check_real("lam_W", lam_W, positive=True)
    lam_H = check_real("lam_H", lam_H, positive=True)
    if lam_H * lam_W >= 1:
        raise ValueError(f"Theorem 4.2 needs lam_H * lam_W < 1 (a nonzero collapsed minimizer, "
                         f"Theorem 2.1); got lam_H * lam_W = {lam_H * lam_W:g}")
    return lam_W, lam_H


# --------------------------------------------------------------------------- App. C: the Hessian


def commutation_matrix(m: int, n: int) -> np.ndarray:
    """The commutation matrix ``K_{m,n}`` (``mn x mn``, App. D): ``K_{m,n} vec(A) = vec(A^T)``
    for every ``m x n`` matrix ``A``. The paper's ``K_{d,K}`` is ``commutation_matrix(d, K)``."""
    m, n = check_int("m", m, 1), check_int("n", n, 1)
    perm = np.arange(m * n).reshape(m, n, order="F").reshape(-1)  # vec(A^T) = vec(A)[perm]
    return np.eye(m * n)[perm]


def residual_jacobian(W, H, n: int) -> np.ndarray:
    """``E(W, H)`` of App. C, shape ``(dnK, Kd)``, built column by column from its definition::

        E = [vec(e_{d,1} e_{K,1}^T (WH - Y)), ..., vec(e_{d,1} e_{K,K}^T (WH - Y)),
             vec(e_{d,2} e_{K,1}^T (WH - Y)), ..., vec(e_{d,d} e_{K,K}^T (WH - Y))]

    i.e. column ``k + K i`` (0-based; the position of ``w_{k,i}`` in ``vec(W)``) is ``vec`` of
    the ``d x Kn`` matrix whose row ``i`` is row ``k`` of ``WH - Y`` and whose other rows are 0.
    """
    W, H, K, n, d = _point(W, H, n)
    R = W @ H - ufm.targets(K, n)
    E = np.einsum("ai,kc->acki", np.eye(d), R)  # E[a, c, k, i] = delta_{ai} R[k, c]
    return E.reshape(d * K * n, K * d, order="F")


class HessianBlocks(NamedTuple):
    """The second derivatives of Eq. 2 returned by :func:`hessian_blocks` (App. C):
    ``HH`` (``dnK x dnK``), ``WH`` (``dnK x Kd``), ``HW = WH^T`` (``Kd x dnK``), ``WW``
    (``Kd x Kd``); the derivatives are w.r.t. ``vec(H)`` and ``vec(W)``."""

    HH: np.ndarray
    WH: np.ndarray
    HW: np.ndarray
    WW: np.ndarray

    def full(self) -> np.ndarray:
        """The whole Hessian ``[[HH, WH], [HW, WW]]`` in the order ``(vec(H), vec(W))``."""
        return np.block([[self.HH, self.WH], [self.HW, self.WW]])


def hessian_blocks(W, H, H0, lam_W: float, lam_H: float, beta: float, n: int) -> HessianBlocks:
    """The four second-derivative blocks of Eq. 2 at ``(W, H)`` in closed form (App. C)::

        HH = d2f/dH dH^T = (I_nK (x) W^T W + (lam_H + beta) I_dnK) / (Kn)
        WH = d2f/dH dW^T = (E(W, H) + H^T (x) W^T) / (Kn)
        HW = d2f/dW dH^T = WH^T = (E^T + H (x) W) / (Kn)
        WW = d2f/dW dW^T = H H^T (x) I_K / (Kn) + lam_W I_Kd / K

    ``W``: ``(K, d)``; ``H``, ``H0``: ``(d, Kn)``. Eq. 2 is quadratic in ``H - H0``, so the
    blocks do not depend on ``H0``; it is validated (shape, and required when ``beta > 0``) so
    that the call reads like :func:`nclib.ufm.objective`. Returns :class:`HessianBlocks`.
    """
    W, H, K, n, beta, H0 = _model(W, H, n, beta, H0)
    lam_W, lam_H = check_real("lam_W", lam_W), check_real("lam_H", lam_H)
    d, Kn = H.shape
    HH = np.kron(np.eye(Kn), W.T @ W) + (lam_H + beta) * np.eye(d * Kn)
    WH = residual_jacobian(W, H, n) + np.kron(H.T, W.T)
    WW = np.kron(H @ H.T, np.eye(K)) + (n * lam_W) * np.eye(K * d)
    return HessianBlocks(HH / Kn, WH / Kn, WH.T / Kn, WW / Kn)


# --------------------------------------------------------------------------- Theorem 4.1, matrix-free


class PerturbationOperator:
    """The operator F of Theorem 4.1 (``exact=True``) and of Eq. 5 (``exact=False``) at a
    minimizer ``(W, H)`` of Eq. 2, applied to ``d x Kn`` perturbations without forming it.

    Construction factors ``P`` and ``G`` (``d x d``) and the ``Kd x Kd`` capacitance
    ``C = M - B D^{-1} B^T`` (module docstring): ``O(d^2 Kn + (Kd)^3)`` time, ``O((Kd)^2)``
    memory. ``C`` is positive definite exactly when the Hessian of Eq. 2 is (``D`` always is),
    so a point that is not a strict local minimizer raises ``ValueError``. Each application
    then costs a few ``d x d`` by ``d x Kn`` products.
    """

    def __init__(self, W, H, lam_W: float, lam_H: float, beta: float, n: int):
        W, H, K, n, d = _point(W, H, n)
        lam_W, lam_H, beta = _hyper(lam_W, lam_H, beta)
        self.W, self.H, self.K, self.n, self.d = W, H, K, n, d
        self.lam_W, self.lam_H, self.beta = lam_W, lam_H, beta
        self.R = W @ H - ufm.targets(K, n)
        HHt, WtW = H @ H.T, W.T @ W
        self._P = scipy.linalg.cho_factor(WtW + (lam_H + beta) * np.eye(d))
        self._G = scipy.linalg.cho_factor(HHt + (n * lam_W) * np.eye(d))
        # C vec(V) = vec(V G - B D^{-1} B^T V) for V (K x d), with Q = P^{-1}, is
        #   V G - RR^T V Q - WQW^T V HH^T - RH^T V^T WQ - WQ V^T RH^T;
        # entry ((k, i), (l, j)) (vec order: index k + K i) is sum_t A_t[i, j] B_t[k, l]
        # - sum_t X_t[k, j] Y_t[l, i], assembled as a (d, K, d, K) array.
        Q = scipy.linalg.cho_solve(self._P, np.eye(d))
        RHt, WQ = self.R @ H.T, W @ Q
        A = np.stack([HHt + (n * lam_W) * np.eye(d), Q, HHt])
        B = np.stack([np.eye(K), -self.R @ self.R.T, -WQ @ W.T])
        C = np.einsum("tij,tkl->ikjl", A, B, optimize=True)
        C -= np.einsum("tkj,tli->ikjl", np.stack([RHt, WQ]), np.stack([WQ, RHt]), optimize=True)
        C = C.reshape(K * d, K * d)
        try:
            self._C = scipy.linalg.cho_factor(C, overwrite_a=True)
        except np.linalg.LinAlgError:
            raise ValueError("the Hessian of Eq. 2 at (W, H) is not positive definite, so (W, H) "
                             "is not a strict local minimizer and Theorem 4.1 does not apply") from None

    # B, B^T, D^{-1} and M^{-1} of the module docstring, on matrices
    def _B(self, X):
        return self.R @ X.T + self.W @ X @ self.H.T

    def _Bt(self, V):
        return V.T @ self.R + self.W.T @ V @ self.H

    def _Dinv(self, X):
        return scipy.linalg.cho_solve(self._P, X)

    def _Minv(self, V):
        return scipy.linalg.cho_solve(self._G, V.T).T

    def _Z(self, X):
        """``Z* vec(X)`` of Eq. 5, as a ``d x Kn`` matrix."""
        return self._Bt(self._Minv(self._B(X)))

    def _kkt(self, A, V):
        """Solve ``[[D, B^T], [B, M]] [vec X; vec U] = [vec A; vec V]``; return ``(X, U)``."""
        DA = self._Dinv(A)
        rhs = (V - self._B(DA)).reshape(-1, order="F")
        U = scipy.linalg.cho_solve(self._C, rhs).reshape(self.K, self.d, order="F")
        return DA - self._Dinv(self._Bt(U)), U

    def _check(self, dH0):
        dH0 = check_matrix("dH0", dH0)
        if dH0.shape != self.H.shape:
            raise ValueError(f"dH0 must have the shape of H, {self.H.shape}; got {dH0.shape}")
        return dH0

    def apply(self, dH0, exact: bool = True) -> np.ndarray:
        """``F vec(dH0)`` as a ``d x Kn`` matrix: Theorem 4.1 (``exact=True``) or Eq. 5."""
        dH0 = self._check(dH0)
        if exact:
            return self._kkt(self.beta * dH0, np.zeros((self.K, self.d)))[0]
        G_X = self.lam_H * dH0 + self.W.T @ (self.W @ dH0) - self._Z(dH0)
        return dH0 - G_X / self.beta

    def response(self, dH0) -> tuple[np.ndarray, np.ndarray]:
        """Both lines of Theorem 4.1: ``(dW, dH)``, shapes ``(K, d)`` and ``(d, Kn)``."""
        dH, dW = self._kkt(self.beta * self._check(dH0), np.zeros((self.K, self.d)))
        return dW, dH

    def newton_step(self, gW, gH) -> tuple[np.ndarray, np.ndarray]:
        """``-(Hessian of Eq. 2)^{-1} (gW, gH)``: the Newton step for gradients ``(gW, gH)``."""
        Kn = self.K * self.n
        sH, sW = self._kkt(-Kn * gH, -Kn * gW)
        return sW, sH

    def linear_operator(self, exact: bool = True) -> scipy.sparse.linalg.LinearOperator:
        """F as a ``dnK x dnK`` :class:`scipy.sparse.linalg.LinearOperator` on ``vec`` vectors
        (symmetric, so ``rmatvec`` is ``matvec``)."""
        shape, size = self.H.shape, self.H.size

        def matvec(x):
            return self.apply(np.reshape(x, shape, order="F"), exact).reshape(-1, order="F")

        return scipy.sparse.linalg.LinearOperator((size, size), matvec=matvec, rmatvec=matvec,
                                                  dtype=np.float64)


def perturbation_operator(W, H, lam_W: float, lam_H: float, beta: float, n: int,
                          exact: bool = True) -> np.ndarray:
    """The dense ``dnK x dnK`` matrix F with ``vec(dH) ~ F vec(dH0)`` at a minimizer ``(W, H)``
    of Eq. 2 (``W``: ``(K, d)``, ``H``: ``(d, Kn)``).

    ``exact=True``: Theorem 4.1, ``F = (beta/Kn) S^{-1}`` with the Schur complement
    ``S = HH - WH WW^{-1} HW`` of :func:`hessian_blocks`. ``exact=False``: Eq. 5,
    ``F = (1 - lam_H/beta) I - (I_nK (x) W^T W)/beta + Z*/beta`` with
    ``Z* = (E*^T + H (x) W)^T (H H^T (x) I_K + n lam_W I_dK)^{-1} (E*^T + H (x) W)``.
    Memory ``O((dnK)^2)``: for large sizes use :class:`PerturbationOperator`.
    """
    W, H, K, n, d = _point(W, H, n)
    lam_W, lam_H, beta = _hyper(lam_W, lam_H, beta)
    Kn = K * n
    hb = hessian_blocks(W, H, None, lam_W, lam_H, 0.0, n)  # beta enters HH only, added below
    if exact:
        S = hb.HH + (beta / Kn) * np.eye(d * Kn) - hb.WH @ scipy.linalg.solve(hb.WW, hb.HW, assume_a="pos")
        return (beta / Kn) * scipy.linalg.inv(S)
    Bt = Kn * hb.WH  # E* + H^T (x) W^T
    Z = Bt @ scipy.linalg.solve(Kn * hb.WW, Bt.T, assume_a="pos")
    return (1 - lam_H / beta) * np.eye(d * Kn) - np.kron(np.eye(Kn), W.T @ W) / beta + Z / beta


def blocks(F, K: int, d: int, n: int) -> np.ndarray:
    """The ``dn x dn`` blocks ``F_{k, k~}`` of Eq. 6 as an array of shape ``(K, K, dn, dn)``:
    ``blocks(F, K, d, n)[k, l]`` maps ``vec`` of class ``l``'s columns of ``dH0`` to class ``k``'s
    columns of ``dH`` (classes 0-based; class ``k`` holds columns ``kn .. (k+1)n - 1``)."""
    K, d, n = check_int("K", K, 2), check_int("d", d, 1), check_int("n", n, 1)
    F = check_matrix("F", F)
    dn = d * n
    if F.shape != (K * dn, K * dn):
        raise ValueError(f"F must be dnK x dnK = {(K * dn, K * dn)} for K={K}, d={d}, n={n}; "
                         f"got shape {F.shape}")
    return F.reshape(K, dn, K, dn).transpose(0, 2, 1, 3)


def refine_eq2(W, H, H0, lam_W: float, lam_H: float, beta: float, n: int, gtol: float = 1e-13,
               max_iter: int = 30) -> ufm.MinimizeResult:
    """Newton's method on Eq. 2 with the exact Hessian (App. C), from a nearby ``(W, H)``.

    Each step solves the Hessian system through :class:`PerturbationOperator` (so it stays
    cheap for large ``Kn``); near a strict minimizer the gradient norm falls quadratically.
    A local method: start from a point in the minimizer's basin (e.g. the result of
    :func:`nclib.ufm.minimize`, or the minimizer for a nearby ``H0``). The Hessian is factored
    at every iterate, the returned one included, and a point where it is not positive definite
    raises ``ValueError``; so a converged result is a strict local minimizer. Stops at ``grad_norm <= gtol``, at
    ``max_iter`` steps, or when a step no longer reduces the gradient (the round-off floor).
    Returns a :class:`nclib.ufm.MinimizeResult` (``converged``: ``grad_norm <= gtol``).
    """
    W, H, K, n, beta, H0 = _model(W, H, n, beta, H0)
    lam_W, lam_H, beta = _hyper(lam_W, lam_H, beta)
    gtol = check_real("gtol", gtol, positive=True)
    max_iter = check_int("max_iter", max_iter, 0)
    Y = ufm.targets(K, n)

    def grad(W, H):
        gW, gH = _gradients(W, H, Y, lam_W, lam_H, n, beta, H0)
        return gW, gH, float(np.sqrt(np.sum(gW * gW) + np.sum(gH * gH)))

    gW, gH, gnorm = grad(W, H)
    n_iter, message = 0, "gradient norm <= gtol"
    while True:
        op = PerturbationOperator(W, H, lam_W, lam_H, beta, n)  # checks the Hessian is PD here
        if gnorm <= gtol:
            break
        if n_iter == max_iter:
            message = "max_iter reached"
            break
        sW, sH = op.newton_step(gW, gH)
        gW_new, gH_new, gnorm_new = grad(W + sW, H + sH)
        if gnorm_new >= gnorm:
            message = "round-off floor: a Newton step no longer reduces the gradient"
            break
        W, H, gW, gH, gnorm = W + sW, H + sH, gW_new, gH_new, gnorm_new
        n_iter += 1
    return ufm.MinimizeResult(W=W, H=H, objective=ufm.objective(W, H, lam_W, lam_H, n, beta, H0),
                              grad_norm=gnorm, n_iter=n_iter, converged=gnorm <= gtol,
                              message=message)


class Hypotheses(NamedTuple):
    """What Theorem 4.1 silently assumes at a base point (:func:`theorem_4_1_hypotheses`)."""

    objective_gap: float  #: f from the W*(H0) start minus the best f over all starts (>= 0)
    spread: float         #: largest ``||H_i - H_best||_F / ||H_best||_F`` over the starts
    hessian_min: float    #: smallest eigenvalue of Kn x (Hessian of Eq. 2) at the best point
    hessian_max: float    #: largest eigenvalue of the same matrix


def theorem_4_1_hypotheses(H0, lam_W: float, lam_H: float, beta: float, n: int, starts: int,
                           seed: int = 0) -> Hypotheses:
    """Test the two hypotheses Theorem 4.1 needs but does not state, at the minimizer of Eq. 2 for
    ``H0`` (d x Kn): a unique minimizer (:func:`nclib.central_path.eq2_multistart` from ``W*(H0)``
    and ``starts`` random starts: equal objectives, small spread) and a nonsingular Hessian there
    (its smallest eigenvalue, dense :func:`hessian_blocks`, so small sizes only). Eq. 2 scaled by
    ``Kn`` has Hessian eigenvalues of order ``lam_H + beta`` and ``n lam_W``."""
    res = central_path.eq2_multistart(H0, lam_W, lam_H, beta, n, starts, seed=seed, gtol=1e-12)
    K = res.W.shape[0]
    hb = hessian_blocks(res.W, res.H, H0, lam_W, lam_H, beta, n)
    eig = K * n * np.linalg.eigvalsh(hb.full())
    return Hypotheses(float(res.objectives[0] - res.objectives.min()), res.spread, float(eig[0]), float(eig[-1]))


# --------------------------------------------------------------------------- Theorem 4.2 / App. D


class Theorem42(NamedTuple):
    """The three singular values of Theorem 4.2."""

    sigma_max_intra: float  #: sigma_max(F_kk)
    sigma_min_intra: float  #: sigma_min(F_kk)
    sigma_max_inter: float  #: sigma_max(F_kk~), k~ != k (F_kk~ has rank 1)


def _collapsed_constants(lam_W, lam_H):
    """``c``, ``s = sqrt(lam_H/lam_W) = sigma_W^2 + lam_H`` and ``t = 2c(1-c)s = 2 lam_H (1-c)``."""
    c = np.sqrt(lam_H * lam_W)
    s = np.sqrt(lam_H / lam_W)
    return c, s, 2 * c * (1 - c) * s


def theorem_4_2(lam_W: float, lam_H: float, beta: float, n: int, exact: bool = False) -> Theorem42:
    """Closed forms of Theorem 4.2 at an orthogonally collapsed ``H0`` (``exact=False``)::

        sigma_max(F_kk) = 1,  sigma_min(F_kk) = 1 - sqrt(lam_H/lam_W) / beta,
        sigma_max(F_kk~) = 2 lam_H (1 - sqrt(lam_H lam_W)) / beta

    for the F of Eq. 5, ``n`` samples per class. Needs ``lam_H lam_W < 1`` and
    ``beta > sqrt(lam_H/lam_W)`` (so that Eq. 14 is positive, App. D). ``sigma_min`` above is
    the within-class family ``s_j (x) r_i`` (``j >= 2``), which needs ``n >= 2``; for ``n = 1``
    the smallest singular value is ``1 - 4 lam_H (1 - c) / beta`` (family ``s_1 (x) r_k`` of
    :func:`intra_block_spectrum`), and that is what is returned. ``exact=True`` gives the same
    three values for the exact F of Theorem 4.1 (this book's extension of App. D, any
    ``beta > 0``): ``1``, ``1 / (1 + s/beta)`` (``n = 1``: ``1 / (1 + 2t/beta)``) and
    ``(t/beta) / (1 + 2t/beta)``, with ``s = sqrt(lam_H/lam_W)`` and ``t = 2 lam_H (1 - c)``.
    """
    lam_W, lam_H = _collapse_regime(lam_W, lam_H)
    beta = check_real("beta", beta, positive=True)
    n = check_int("n", n, 1)
    c, s, t = _collapsed_constants(lam_W, lam_H)
    g_min = s if n >= 2 else 2 * t  # the G eigenvalue of the smallest singular value (App. D)
    if exact:
        return Theorem42(1.0, float(1 / (1 + g_min / beta)), float((t / beta) / (1 + 2 * t / beta)))
    if beta <= s:
        raise ValueError(f"Theorem 4.2 (Eq. 5) needs beta > sqrt(lam_H/lam_W) = {s:g} so that "
                         f"Eq. 14 is positive (App. D); got beta = {beta:g}")
    return Theorem42(1.0, float(1 - g_min / beta), float(2 * lam_H * (1 - c) / beta))


class Spectrum(NamedTuple):
    """Eigenvalues of ``F_kk`` (App. D, Eq. 16), one entry per eigenvector family.

    ``values[i]`` has multiplicity ``multiplicities[i]`` and eigenvectors ``directions[i]``
    (``s_1 = 1_n / sqrt(n)``, ``s_j`` (``j >= 2``) its orthogonal complement in ``R^n``;
    ``r_1..r_K`` the columns of ``R``, ``r_k`` the own class, ``r_{K+1..d}`` the rest of
    ``R^d``). ``F_kk`` is symmetric, so its singular values are ``|values|``.
    """

    values: np.ndarray
    multiplicities: np.ndarray
    directions: tuple

    def expand(self) -> np.ndarray:
        """All ``dn`` eigenvalues, with multiplicity, sorted in decreasing order."""
        return np.sort(np.repeat(self.values, self.multiplicities))[::-1]


def intra_block_spectrum(K: int, d: int, n: int, lam_W: float, lam_H: float, beta: float,
                         exact: bool = False) -> Spectrum:
    """Every eigenvalue of the intra-class block ``F_kk`` at an orthogonally collapsed ``H0``,
    with its multiplicity (App. D, Eqs. 14-16), for the F of Eq. 5 (``exact=False``)::

        1 - s/beta              on s_j (x) r_i, j >= 2, i <= K      (K(n-1) times; Eq. 14)
        1 - lam_H/beta          on s_j (x) r_i, j >= 2, i > K       ((d-K)(n-1) times; Eq. 15)
        1 - s/beta + mu_k/beta  on s_1 (x) r_k                      (once)
        1 - s/beta + mu_i/beta  on s_1 (x) r_i, i <= K, i != k      (K-1 times)
        1                       on s_1 (x) r_j, j > K               (d-K times)

    with ``s = sqrt(lam_H/lam_W)``, ``mu_k = (2c-1)^2 s``, ``mu_i = (c^2 + (1-c)^2) s``. The unit
    eigenvalues are the fraction ``(1 - K/d)/n`` of all ``dn``. ``exact=True`` gives the exact
    F of Theorem 4.1 on the same eigenvectors (this book's extension): ``1/(1 + s/beta)``,
    ``1/(1 + lam_H/beta)``, ``1/(1 + 4c(1-c)s/beta)``, ``(1 + t/beta)/(1 + 2t/beta)`` and ``1``,
    ``t = 2c(1-c)s``. Needs ``d > K`` and ``lam_H lam_W < 1``; families of multiplicity 0
    (``n = 1``) are dropped.
    """
    K, d, n = check_int("K", K, 2), check_int("d", d, 1), check_int("n", n, 1)
    if d <= K:
        raise ValueError(f"Theorem 4.2 needs d > K; got d={d}, K={K}")
    lam_W, lam_H = _collapse_regime(lam_W, lam_H)
    beta = check_real("beta", beta, positive=True)
    c, s, t = _collapsed_constants(lam_W, lam_H)
    # G = lam_H I + I (x) W^T W - Z on each family: F = 1 - g/beta (Eq. 5) or 1/(1 + g/beta)
    g = np.array([s, lam_H, 4 * c * (1 - c) * s, t, 0.0])
    values = 1 - g / beta if not exact else 1 / (1 + g / beta)
    if exact:
        values[3] = (1 + t / beta) / (1 + 2 * t / beta)  # s_1 (x) r_i pairs with class i's s_1 (x) r_k
    mult = np.array([K * (n - 1), (d - K) * (n - 1), 1, K - 1, d - K])
    directions = ("s_j (x) r_i, j>=2, i<=K", "s_j (x) r_i, j>=2, i>K", "s_1 (x) r_k",
                  "s_1 (x) r_i, i<=K, i!=k", "s_1 (x) r_j, j>K")
    keep = mult > 0
    return Spectrum(values[keep], mult[keep], tuple(x for x, k in zip(directions, keep) if k))


# --------------------------------------------------------------------------- checks of Sec. 4


class Theorem41Sweep(NamedTuple):
    """Outcome of :func:`theorem_4_1_sweep`."""

    #: ``(len(eps), 3)``: ``|dH - e dH_lin|_F``, ``|dW - e dW_lin|_F`` and ``e |dH_lin|_F``
    remainders: np.ndarray
    response: float         #: ``|dH_lin|_F = |F vec(Delta)|`` (Theorem 4.1, per unit ``e``)
    grad_norm: float        #: largest final gradient norm of all solves (base included)


def theorem_4_1_sweep(H0, Delta, eps, lam_W: float, lam_H: float, beta: float, n: int,
                      base=None) -> Theorem41Sweep:
    """Theorem 4.1 against the true minimizers: solve Eq. 2 at ``H0 + e Delta`` (both d x Kn) for
    each ``e`` of ``eps`` and compare the changes ``(dW, dH)`` of the minimizer with the first-order
    response ``e (dW_lin, dH_lin)`` of :meth:`PerturbationOperator.response` at the minimizer for
    ``H0`` (``base = (W, H)`` if known, gradient counted as 0). Each solve is
    :func:`nclib.central_path.solve_eq2` (``gtol = 1e-12``) polished by :func:`refine_eq2`
    (``gtol = 1e-15``). The remainders are ``O(e^2)`` if Theorem 4.1's F is right."""
    H0, Delta = check_matrix("H0", H0), check_matrix("Delta", Delta)
    if Delta.shape != H0.shape:
        raise ValueError(f"Delta must have the shape of H0 {H0.shape}; got {Delta.shape}")

    def solve(H0_e):
        W, H = central_path.solve_eq2(H0_e, lam_W, lam_H, beta, n, gtol=1e-12)
        res = refine_eq2(W, H, H0_e, lam_W, lam_H, beta, n, gtol=1e-15)
        return res.W, res.H, res.grad_norm

    W_b, H_b, worst_grad = (*base, 0.0) if base is not None else solve(H0)
    dW_lin, dH_lin = PerturbationOperator(W_b, H_b, lam_W, lam_H, beta, n).response(Delta)
    rows = []
    for e in np.asarray(eps, dtype=np.float64):
        W_t, H_t, g = solve(H0 + e * Delta)
        worst_grad = max(worst_grad, g)
        rows.append((np.linalg.norm(H_t - H_b - e * dH_lin), np.linalg.norm(W_t - W_b - e * dW_lin),
                     e * np.linalg.norm(dH_lin)))
    return Theorem41Sweep(np.array(rows), float(np.linalg.norm(dH_lin)), float(worst_grad))


class Theorem42Grid(NamedTuple):
    """Outcome of :func:`theorem_4_2_grid`.

    ``worst``, over the grid and over both F's (Eq. 5's and Theorem 4.1's exact one, each against
    its own closed forms): ``"spec"`` (largest distance of the SVD of ``F_kk`` to the closed-form
    staircase), ``"th"`` (largest distance of ``sigma_max, sigma_min, sigma_inter`` to Theorem
    4.2), ``"rank1"`` (largest ``sigma_2`` of ``F_kk~``), ``"unit"`` (worst miscount of unit
    singular values against ``d - K``), ``"singular"`` (blocks ``F_kk`` with ``sigma_min < 1e-8``)
    and ``"weyl"`` (largest gap between the exact F's singular values and Eq. 5's closed forms,
    over ``(s/beta)^2``, minus 1). ``rows``: per grid point ``(lam_W, lam_H, beta, K, d, n,
    sigma_min (Eq. 5 form), sigma_min (exact F, SVD), sigma_inter (Eq. 5 form), sigma_inter
    (exact F, SVD), fraction of unit singular values of Eq. 5's F_kk, (1 - K/d)/n)``."""

    worst: dict
    rows: list


def theorem_4_2_grid(grid, rng: np.random.Generator) -> Theorem42Grid:
    """Theorem 4.2 and App. D on every ``(lam_W, lam_H, beta, K, d, n)`` of ``grid``: SVDs of the
    blocks of both F's (:func:`perturbation_operator`, :func:`blocks`) at the collapsed minimizer
    on a random ``R`` (Q factor of a d x K Gaussian from ``rng``) against :func:`theorem_4_2` and
    :func:`intra_block_spectrum`."""
    worst = dict(spec=0.0, th=0.0, rank1=0.0, unit=0, singular=0, weyl=-1.0)
    rows = []
    for lw, lh, bb, Kg, dg, ng in grid:
        R = np.linalg.qr(rng.standard_normal((dg, Kg)))[0]
        Wg, Hg = ufm.collapsed_minimizer(Kg, ng, dg, lw, lh, R=R)
        sv_by = {}
        for exact in (False, True):
            blk = blocks(perturbation_operator(Wg, Hg, lw, lh, bb, ng, exact=exact), Kg, dg, ng)
            th = theorem_4_2(lw, lh, bb, ng, exact=exact)
            staircase = np.abs(intra_block_spectrum(Kg, dg, ng, lw, lh, bb, exact=exact).expand())
            for k in range(Kg):
                sv = np.linalg.svd(blk[k, k], compute_uv=False)
                so = np.linalg.svd(blk[k, (k + 1) % Kg], compute_uv=False)
                worst["spec"] = max(worst["spec"], np.abs(np.sort(sv)[::-1] - staircase).max())
                worst["th"] = max(worst["th"], abs(sv[0] - th.sigma_max_intra),
                                  abs(sv[-1] - th.sigma_min_intra), abs(so[0] - th.sigma_max_inter))
                worst["rank1"] = max(worst["rank1"], so[1])
                worst["unit"] = max(worst["unit"], abs(int(np.sum(np.abs(sv - 1) < 1e-12)) - (dg - Kg)))
                worst["singular"] += int(sv[-1] < 1e-8)
            sv_by[exact] = (sv, so)
        th5 = theorem_4_2(lw, lh, bb, ng)
        bound = np.sqrt(lh / lw) ** 2 / bb ** 2
        gap = max(abs(sv_by[True][0][0] - th5.sigma_max_intra), abs(sv_by[True][0][-1] - th5.sigma_min_intra),
                  abs(sv_by[True][1][0] - th5.sigma_max_inter))
        worst["weyl"] = max(worst["weyl"], gap / bound - 1)
        frac = np.sum(np.abs(sv_by[False][0] - 1) < 1e-12) / (dg * ng)
        rows.append((lw, lh, bb, Kg, dg, ng, th5.sigma_min_intra, sv_by[True][0][-1], th5.sigma_max_inter,
                     sv_by[True][1][0], frac, (1 - Kg / dg) / ng))
    return Theorem42Grid(worst, rows)


def crosstalk_table(Ks, betas, lam_W: float, lam_H: float, rng: np.random.Generator) -> list[tuple]:
    """App. D.1: the inter-class contribution ``(K-1) sigma_max(F_{k,k~})`` against the intra-class
    ``sigma_min(F_kk)``, by SVD of Eq. 5's F (:func:`perturbation_operator`, ``exact=False``) at a
    collapsed minimizer with ``d = K + 1``, ``n = 2`` on a random ``R`` (drawn from ``rng`` for
    each ``K`` of ``Ks``), for each ``beta`` of ``betas`` above ``s = sqrt(lam_H/lam_W)``.
    One row per ``(K, beta)``: ``(K, beta, beta*, (K-1) sigma_inter, sigma_min, error)`` with the
    crossover ``beta* = s + 2(K-1) lam_H (1-c)`` and ``error`` the largest distance of the two
    SVD values to :func:`theorem_4_2`."""
    lam_W, lam_H = _collapse_regime(lam_W, lam_H)
    c, s = np.sqrt(lam_W * lam_H), np.sqrt(lam_H / lam_W)
    rows = []
    for K in Ks:
        R = np.linalg.qr(rng.standard_normal((K + 1, K)))[0]
        W, H = ufm.collapsed_minimizer(K, 2, K + 1, lam_W, lam_H, R=R)
        for beta in betas:
            if beta <= s:
                continue
            th = theorem_4_2(lam_W, lam_H, beta, 2)
            blk = blocks(perturbation_operator(W, H, lam_W, lam_H, beta, 2, exact=False), K, K + 1, 2)
            s_in = np.linalg.svd(blk[0, 1], compute_uv=False)[0]
            s_min = np.linalg.svd(blk[0, 0], compute_uv=False)[-1]
            err = max(abs(s_in - th.sigma_max_inter), abs(s_min - th.sigma_min_intra))
            rows.append((K, beta, s + 2 * (K - 1) * lam_H * (1 - c), (K - 1) * s_in, s_min, err))
    return rows


def crossover(lam_W: float, lam_H: float, K: int, exact: bool = True) -> float:
    """The ``beta*`` above which the intra-class block dominates the ``K - 1`` inter-class blocks at
    a collapse, ``(K-1) sigma_max(F_kk~) < sigma_min(F_kk)`` for ``beta > beta*`` (App. D.1, ``n >= 2``).

    With ``s = sqrt(lam_H/lam_W)`` and ``t = 2 lam_H (1 - c)`` (:func:`theorem_4_2`):

    * ``exact=False``, Eq. 5's F: ``(K-1) t/beta = 1 - s/beta``, so ``beta* = s + (K-1) t``;
    * ``exact=True``, Theorem 4.1's F: ``(K-1) (t/beta)/(1 + 2t/beta) = 1/(1 + s/beta)``, i.e.
      ``beta^2 - (K-3) t beta - (K-1) t s = 0``, whose positive root is
      ``beta* = ((K-3) t + sqrt((K-3)^2 t^2 + 4 (K-1) t s)) / 2``.

    Needs ``lam_H lam_W < 1``."""
    lam_W, lam_H = _collapse_regime(lam_W, lam_H)
    K = check_int("K", K, 2)
    _, s, t = _collapsed_constants(lam_W, lam_H)
    if not exact:
        return float(s + (K - 1) * t)
    return float(((K - 3) * t + np.sqrt((K - 3) ** 2 * t * t + 4 * (K - 1) * t * s)) / 2)


def crossover_by_svd(lam_W: float, lam_H: float, K: int, rng: np.random.Generator,
                     exact: bool = True, bracket=(1e-6, 1e6)) -> float:
    """:func:`crossover` computed without its closed form: the root in ``beta`` (Brent's method on
    ``log beta`` over ``bracket``, to ``1e-13`` relative) of ``(K-1) sigma_max(F_kk~) - sigma_min(F_kk)``,
    both from SVDs of the dense F (:func:`perturbation_operator`) at a collapsed minimizer with
    ``d = K + 1``, ``n = 2`` on a random ``R`` (from ``rng``). For Eq. 5 (``exact=False``) the
    bracket must start above ``s``, where ``sigma_min(F_kk) = 1 - s/beta`` is positive."""
    lam_W, lam_H = _collapse_regime(lam_W, lam_H)
    K = check_int("K", K, 2)
    R = np.linalg.qr(rng.standard_normal((K + 1, K)))[0]
    W, H = ufm.collapsed_minimizer(K, 2, K + 1, lam_W, lam_H, R=R)

    def gap(log_beta):
        F = perturbation_operator(W, H, lam_W, lam_H, float(np.exp(log_beta)), 2, exact=exact)
        blk = blocks(F, K, K + 1, 2)
        return ((K - 1) * np.linalg.svd(blk[0, 1], compute_uv=False)[0]
                - np.linalg.svd(blk[0, 0], compute_uv=False)[-1])

    return float(np.exp(scipy.optimize.brentq(gap, *np.log(bracket), xtol=1e-14, rtol=1e-13)))
