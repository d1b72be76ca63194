"""nclib.ufm (Sec. 2: Eq. 1, Eq. 2, footnote 3, Theorem 2.1, Corollary 2.2).

References are built independently of the code under test: the objective is written out
again in torch and differentiated by autograd, W*(H) is checked against explicit inverses and a
least-squares solver, the scalar problem of Theorem 2.1 is minimised numerically, and expected
values come from the paper's formulas, never from nclib's outputs. Everything is float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from nclib import ufm


def _Y(K, n):
    """I_K (x) 1_n^T written out entry by entry."""
    Y = np.zeros((K, K * n))
    for k in range(K):
        Y[k, k * n:(k + 1) * n] = 1.0
    return Y


def _torch_f(W, H, lam_W, lam_H, n, beta=0.0, H0=None):
    """Eq. 1 / Eq. 2 in torch, term by term as printed in the paper."""
    K, Kn = W.shape[0], H.shape[1]
    Y = torch.as_tensor(_Y(K, n))
    f = (((W @ H - Y) ** 2).sum() / (2 * Kn) + lam_W / (2 * K) * (W ** 2).sum()
         + lam_H / (2 * Kn) * (H ** 2).sum())
    if beta > 0:
        f = f + beta / (2 * Kn) * ((H - H0) ** 2).sum()
    return f


def _autograd(W, H, lam_W, lam_H, n, beta=0.0, H0=None):
    """(f, df/dW, df/dH) by torch autograd."""
    Wt = torch.tensor(W, dtype=torch.float64, requires_grad=True)
    Ht = torch.tensor(H, dtype=torch.float64, requires_grad=True)
    H0t = None if H0 is None else torch.tensor(H0, dtype=torch.float64)
    f = _torch_f(Wt, Ht, lam_W, lam_H, n, beta, H0t)
    f.backward()
    return f.item(), Wt.grad.numpy(), Ht.grad.numpy()


def _rho_paper(lam_W, lam_H):
    """rho of Theorem 2.1, written from the statement."""
    c = np.sqrt(lam_H * lam_W)
    return (1 - c) * np.sqrt(lam_W / lam_H) if c <= 1 else 0.0


def _scalar_f(x, y, lam_W, lam_H):
    """The scalar reduction of Eq. 1 at a collapsed orthogonal point."""
    return 0.5 * (x * y - 1) ** 2 + 0.5 * lam_W * x ** 2 + 0.5 * lam_H * y ** 2


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def _random_R(rng, d, K):
    Q, _ = np.linalg.qr(rng.standard_normal((d, K)))
    return Q


# ------------------------------------------------------------------------------ basic objects


def test_targets_labels_and_class_means():
    K, n, d = 3, 4, 5
    Y = ufm.targets(K, n)
    np.testing.assert_array_equal(Y, _Y(K, n))
    labels = ufm.class_labels(K, n)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, Y.argmax(axis=0))
    H = np.random.default_rng(0).standard_normal((d, K * n))
    expected = np.stack([H[:, labels == k].mean(axis=1) for k in range(K)], axis=1)
    # Exact up to the order of an n-term sum: a few eps.
    np.testing.assert_allclose(ufm.class_means(H, n), expected, rtol=1e-14, atol=1e-15)


# ------------------------------------------------------------------------------ Eq. 1 / Eq. 2


@pytest.mark.parametrize("K,n,d,beta", [(3, 4, 5, 0.0), (4, 2, 3, 0.0), (2, 5, 7, 0.7),
                                        (5, 3, 6, 10.0)])
def test_objective_and_gradients_match_autograd(K, n, d, beta):
    rng = np.random.default_rng(K * 100 + n)
    W, H = rng.standard_normal((K, d)), rng.standard_normal((d, K * n))
    H0 = rng.standard_normal((d, K * n)) if beta > 0 else None
    lam_W, lam_H = 0.03, 0.2
    f_ref, dW_ref, dH_ref = _autograd(W, H, lam_W, lam_H, n, beta, H0)
    dW, dH = ufm.gradients(W, H, lam_W, lam_H, n, beta, H0)
    # Same float64 polynomial, different summation order: agreement to ~1e-15; 1e-10 leaves a
    # wide margin and still catches any wrong factor (a missing 1/K or 1/n is O(1)).
    assert abs(ufm.objective(W, H, lam_W, lam_H, n, beta, H0) - f_ref) <= 1e-10 * abs(f_ref)
    assert _rel(dW, dW_ref) <= 1e-10
    assert _rel(dH, dH_ref) <= 1e-10


def test_eq2_without_beta_is_eq1():
    rng = np.random.default_rng(1)
    K, n, d = 3, 2, 4
    W, H, H0 = rng.standard_normal((K, d)), rng.standard_normal((d, K * n)), rng.standard_normal(
        (d, K * n))
    # beta = 0 must ignore H0 exactly (no arithmetic touches it).
    assert ufm.objective(W, H, 0.1, 0.1, n, 0.0, H0) == ufm.objective(W, H, 0.1, 0.1, n)


# ------------------------------------------------------------------------------ footnote 3


@pytest.mark.parametrize("K,n,d", [(3, 4, 5), (3, 2, 9), (4, 1, 4)])  # d < Kn, d > Kn, d = Kn
@pytest.mark.parametrize("beta", [0.0, 2.0])
def test_optimal_W_zeroes_the_W_gradient(K, n, d, beta):
    rng = np.random.default_rng(7 + d)
    H = rng.standard_normal((d, K * n))
    H0 = rng.standard_normal((d, K * n)) if beta > 0 else None
    lam_W, lam_H = 0.05, 0.3
    W = ufm.optimal_W(H, lam_W, n)
    _, dW, _ = _autograd(W, H, lam_W, lam_H, n, beta, H0)
    _, dW_at_0, _ = _autograd(np.zeros((K, d)), H, lam_W, lam_H, n, beta, H0)
    # A backward-stable SPD solve leaves a residual ~ eps * cond (cond < 1e4 here), so the
    # gradient is ~1e-12 of its size at W = 0; 1e-10 is a safe bound.
    assert np.linalg.norm(dW) <= 1e-10 * np.linalg.norm(dW_at_0)


@pytest.mark.parametrize("K,n,d", [(3, 4, 5), (3, 2, 9), (2, 3, 6)])
def test_optimal_W_matches_both_closed_forms_and_least_squares(K, n, d):
    rng = np.random.default_rng(3 * d + K)
    H = rng.standard_normal((d, K * n))
    lam_W = 0.07
    Y = _Y(K, n)
    W = ufm.optimal_W(H, lam_W, n)
    W_dd = Y @ H.T @ np.linalg.inv(H @ H.T + n * lam_W * np.eye(d))
    W_kn = Y @ np.linalg.inv(H.T @ H + n * lam_W * np.eye(K * n)) @ H.T
    # Ridge least squares: min ||W H - Y||^2 + n lam_W ||W||^2 = ||W [H, s I] - [Y, 0]||^2.
    A = np.hstack([H, np.sqrt(n * lam_W) * np.eye(d)])
    B = np.hstack([Y, np.zeros((K, d))])
    W_ls = np.linalg.lstsq(A.T, B.T, rcond=None)[0].T
    # Three float64 routes through systems with condition number < 1e4: ~1e-12 apart.
    for ref in (W_dd, W_kn, W_ls):
        assert _rel(W, ref) <= 1e-10


# ------------------------------------------------------------------------------ Theorem 2.1


@pytest.mark.parametrize("lam_W,lam_H", [(5e-3, 5e-3), (0.1, 0.4), (0.01, 1.0), (2.0, 0.3),
                                         (0.5, 0.5)])
def test_rho_is_the_minimiser_of_the_scalar_problem(lam_W, lam_H):
    c = np.sqrt(lam_W * lam_H)
    assert ufm.rho(lam_W, lam_H) == pytest.approx(_rho_paper(lam_W, lam_H), rel=1e-14, abs=0)

    def g(v):
        x, y = v
        r = x * y - 1
        return _scalar_f(x, y, lam_W, lam_H), np.array([r * y + lam_W * x, r * x + lam_H * y])

    best = min((scipy.optimize.minimize(g, v0, jac=True, method="BFGS",
                                        options=dict(gtol=1e-13)) for v0 in
                ([1.0, 1.0], [2.0, 0.5], [0.3, 3.0])), key=lambda r: r.fun)
    x, y = np.abs(best.x)
    # BFGS to a gradient of 1e-13 on a problem whose Hessian eigenvalues are >= ~2c(1-c) > 1e-3:
    # the arguments are within ~1e-10; 1e-8 is safe.
    assert y ** 2 == pytest.approx(ufm.rho(lam_W, lam_H), abs=1e-8)
    if c < 1:
        assert x == pytest.approx(np.sqrt(lam_H / lam_W) * y, abs=1e-8)
    assert ufm.optimal_value(lam_W, lam_H) == pytest.approx(best.fun, abs=1e-14)


@pytest.mark.parametrize("K,n,d", [(3, 4, 3), (4, 2, 7)])
@pytest.mark.parametrize("lam_W,lam_H", [(5e-3, 5e-3), (0.01, 1.0), (2.0, 1.0)])
def test_collapsed_minimizer_structure_value_and_stationarity(K, n, d, lam_W, lam_H):
    rng = np.random.default_rng(K + d)
    R = _random_R(rng, d, K)
    W, H = ufm.collapsed_minimizer(K, n, d, lam_W, lam_H, R)
    r = _rho_paper(lam_W, lam_H)
    assert W.shape == (K, d) and H.shape == (d, K * n)
    Hbar = H[:, ::n]
    # Exact construction in float64: everything below holds to a few eps of O(1) numbers.
    np.testing.assert_allclose(H, np.repeat(Hbar, n, axis=1), rtol=0, atol=1e-15)
    np.testing.assert_allclose(Hbar.T @ Hbar, r * np.eye(K), rtol=0, atol=1e-13)
    np.testing.assert_allclose(W, np.sqrt(lam_H / lam_W) * Hbar.T, rtol=0, atol=1e-13)
    y, x = np.sqrt(r), np.sqrt(lam_H / lam_W) * np.sqrt(r)
    assert ufm.objective(W, H, lam_W, lam_H, n) == pytest.approx(_scalar_f(x, y, lam_W, lam_H),
                                                                 rel=1e-13)
    dW, dH = ufm.gradients(W, H, lam_W, lam_H, n)
    # The stationarity equations cancel O(1) terms exactly up to rounding.
    assert max(np.abs(dW).max(), np.abs(dH).max()) <= 1e-14


def test_collapsed_minimizer_default_R_is_identity_columns():
    W, H = ufm.collapsed_minimizer(3, 2, 5, 0.1, 0.4)
    r = _rho_paper(0.1, 0.4)
    np.testing.assert_allclose(H[:, ::2], np.sqrt(r) * np.eye(5)[:, :3], rtol=0, atol=1e-15)


MIN_CASES = [  # (lam_W, lam_H, K, n, d); c < 1 (also d = K) and c > 1
    (5e-3, 5e-3, 3, 4, 5),
    (0.1, 0.4, 3, 4, 3),
    (0.01, 1.0, 4, 3, 6),
    (2.0, 1.0, 3, 4, 5),
    (1.5, 1.5, 4, 2, 4),
]


@pytest.mark.parametrize("lam_W,lam_H,K,n,d", MIN_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_minimize_reaches_the_collapsed_minimizer(lam_W, lam_H, K, n, d, seed):
    rng = np.random.default_rng(seed)
    res = ufm.minimize(0.5 * rng.standard_normal((K, d)), 0.5 * rng.standard_normal((d, K * n)),
                       lam_W, lam_H, n)
    assert res.converged and res.grad_norm <= 1e-10
    W, H = res.W, res.H
    r = _rho_paper(lam_W, lam_H)
    # The smallest nonzero Hessian eigenvalue of Eq. 1 at the minimisers of these cases is
    # >= 4e-4 (lam_H/(Kn) for the first), so gradient <= 1e-10 puts the point within
    # ~2.5e-7 of the set of minimisers (observed: ~1e-9). Tolerance 1e-6.
    tol = 1e-6
    if r == 0:  # c > 1: the minimiser is (0, 0)
        assert np.linalg.norm(W) <= tol and np.linalg.norm(H) <= tol
        return
    Hbar = np.stack([H[:, k * n:(k + 1) * n].mean(axis=1) for k in range(K)], axis=1)
    spread = np.linalg.norm(H - np.repeat(Hbar, n, axis=1))
    assert spread <= tol
    np.testing.assert_allclose(Hbar.T @ Hbar, r * np.eye(K), rtol=0, atol=tol)
    np.testing.assert_allclose(W, np.sqrt(lam_H / lam_W) * Hbar.T, rtol=0, atol=tol)
    # The objective is quadratic in the distance: 1e-12 is generous.
    x, y = np.sqrt(lam_H / lam_W) * np.sqrt(r), np.sqrt(r)
    assert res.objective == pytest.approx(_scalar_f(x, y, lam_W, lam_H), abs=1e-12)


def test_minimize_reports_when_it_stops_short():
    rng = np.random.default_rng(5)
    K, n, d = 3, 4, 5
    res = ufm.minimize(rng.standard_normal((K, d)), rng.standard_normal((d, K * n)), 0.01, 0.01,
                       n, max_iter=3)
    assert not res.converged and res.n_iter <= 3
    dW, dH = ufm.gradients(res.W, res.H, 0.01, 0.01, n)
    # grad_norm is recomputed at the returned point: equal up to rounding of a norm.
    assert res.grad_norm == pytest.approx(np.sqrt(np.sum(dW ** 2) + np.sum(dH ** 2)), rel=1e-12)
    assert res.grad_norm > 1e-10


# ------------------------------------------------------------------------------ Corollary 2.2


@pytest.mark.parametrize("beta", [0.1, 1.0, 10.0])
def test_eq2_with_collapsed_H0_returns_it(beta):
    rng = np.random.default_rng(int(beta * 10))
    K, n, d, lam_W, lam_H = 3, 4, 5, 0.05, 0.2
    W_star, H_star = ufm.collapsed_minimizer(K, n, d, lam_W, lam_H, _random_R(rng, d, K))
    res = ufm.minimize(W_star + 0.3 * rng.standard_normal((K, d)),
                       H_star + 0.3 * rng.standard_normal((d, K * n)),
                       lam_W, lam_H, n, beta=beta, H0=H_star)
    assert res.converged
    # The minimiser is unique (Corollary 2.2) and the Hessian there is positive definite, with
    # smallest eigenvalue >= 3.6e-3 for these betas; gradient <= 1e-10 puts us within ~3e-8.
    assert np.linalg.norm(res.W - W_star) <= 1e-6
    assert np.linalg.norm(res.H - H_star) <= 1e-6


# ------------------------------------------------------------------------------ gradient descent


def test_gradient_descent_step_convention_and_recording():
    rng = np.random.default_rng(11)
    K, n, d, lam_W, lam_H, lr = 3, 2, 4, 0.1, 0.2, 0.3
    W, H = 0.5 * rng.standard_normal((K, d)), 0.5 * rng.standard_normal((d, K * n))
    path = ufm.gradient_descent(W, H, lam_W, lam_H, n, lr=lr, steps=7, record_every=3)
    np.testing.assert_array_equal(path.steps, [0, 3, 6, 7])
    assert path.W.shape == (4, K, d) and path.H.shape == (4, d, K * n)
    np.testing.assert_array_equal(path.W[0], W)
    # One step by hand: W <- W - lr((WH - Y)H^T/n + lam_W W), H <- H - lr(W^T(WH - Y) + lam_H H).
    Wt, Ht = W.copy(), H.copy()
    for _ in range(3):
        Rt = Wt @ Ht - _Y(K, n)
        Wt, Ht = Wt - lr * (Rt @ Ht.T / n + lam_W * Wt), Ht - lr * (Wt.T @ Rt + lam_H * Ht)
    # Same arithmetic up to reassociation: ~eps.
    np.testing.assert_allclose(path.W[1], Wt, rtol=0, atol=1e-13)
    np.testing.assert_allclose(path.H[1], Ht, rtol=0, atol=1e-13)


def test_gradient_descent_collapses_chapter_1_setting():
    rng = np.random.default_rng(0)
    K, n, d, lam = 4, 20, 8, 5e-3
    W0, H0 = rng.normal(size=(K, d)) / np.sqrt(d), rng.normal(size=(d, K * n))
    steps, Ws, Hs = ufm.gradient_descent(W0, H0, lam, lam, n, lr=0.5, steps=6000,
                                         record_every=20)
    assert steps[-1] == 6000 and len(steps) == 301

    def nc1_tilde(H):
        Hbar = ufm.class_means(H, n)
        within = np.sum((H - np.repeat(Hbar, n, axis=1)) ** 2) / (K * n)
        between = np.sum((Hbar - Hbar.mean(axis=1, keepdims=True)) ** 2) / K
        return within / between

    # The slowest within-class mode decays like (1 - lr lam_H)^t = e^{-15} in Tr Sigma_W^(1/2)
    # over 6000 steps, i.e. a factor ~1e13 in NC1~; ask for 1e8.
    assert nc1_tilde(Hs[-1]) <= 1e-8 * nc1_tilde(Hs[0])
    gap = ufm.objective(Ws[-1], Hs[-1], lam, lam, n) - (np.sqrt(lam * lam) - lam * lam / 2)
    assert 0 <= gap + 1e-15 and gap <= 1e-10


def test_gradient_descent_reports_divergence():
    rng = np.random.default_rng(0)
    with pytest.raises(FloatingPointError, match="lr"):
        ufm.gradient_descent(rng.normal(size=(4, 8)), 3 * rng.normal(size=(8, 20)), 5e-3, 5e-3,
                             5, lr=0.5, steps=200, record_every=10)


def test_footnote3_errors_are_small_and_catch_a_wrong_W(monkeypatch):
    cases, n_H = [(2, 3, 4), (3, 1, 5)], 2  # d < Kn and d > Kn
    rng = np.random.default_rng(0)
    worst = ufm.footnote3_errors(cases, n_H, 0.1, 0.3, rng)
    # Same tolerances as the chapter (Sec. 2): rounding for autograd and the explicit forms,
    # line-search resolution ~1e-7 for direct minimisation.
    assert worst["autograd"] <= 1e-10 and worst["forms"] <= 1e-10 and worst["direct"] <= 1e-6
    # The draws: exactly one Gaussian H per (case, repetition), in order.
    ref = np.random.default_rng(0)
    for K, n, d in cases:
        for _ in range(n_H):
            ref.standard_normal((d, K * n))
    assert rng.standard_normal() == ref.standard_normal()
    # A W*(H) off by 1% must show in all three errors.
    right = ufm.optimal_W
    monkeypatch.setattr(ufm, "optimal_W", lambda H, lam_W, n: 1.01 * right(H, lam_W, n))
    wrong = ufm.footnote3_errors(cases, n_H, 0.1, 0.3, np.random.default_rng(0))
    assert min(wrong.values()) > 1e-3


def test_theorem_2_1_runs_measure_the_collapse():
    grid = [(0.1, 0.2, 3, 2, 4), (2.0, 1.0, 2, 2, 2)]  # c < 1 and c > 1
    runs = ufm.theorem_2_1_runs(grid, 2, 1e-10, np.random.default_rng(3))
    assert [run["case"] for run in runs] == [grid[0]] * 2 + [grid[1]] * 2
    for run in runs:
        lam_W, lam_H, K, n, d = run["case"]
        c = np.sqrt(lam_W * lam_H)
        assert run["converged"] and run["grad"] <= 1e-10
        # Independent closed forms: F* = c - c^2/2 (c < 1) or 1/2, quadratic in the distance.
        assert run["f"] == pytest.approx(c - c * c / 2 if c < 1 else 0.5, abs=1e-12)
        if c >= 1:
            assert "Hbar" not in run and run["origin"] <= 1e-6
            continue
        r = _rho_paper(lam_W, lam_H)
        assert run["rho"] == pytest.approx(r, rel=1e-14)
        # 1e-6: the distance bound of test_minimize_reaches_the_collapsed_minimizer.
        np.testing.assert_allclose(run["Hbar"].T @ run["Hbar"], r * np.eye(K), rtol=0, atol=1e-6)
        assert max(run["ortho"], run["align"], run["etf"]) <= 1e-6
        assert run["nc1_tilde"] <= 1e-12 and run["nc2"] <= 1e-6
        assert run["ortho"] == pytest.approx(
            np.linalg.norm(run["Hbar"].T @ run["Hbar"] - r * np.eye(K)) / r, rel=1e-12)


# ------------------------------------------------------------------------------ bad input

_W, _H = np.ones((3, 5)), np.ones((5, 12))  # K = 3, n = 4, d = 5
_nan_W = _W.copy()
_nan_W[0, 0] = np.nan

BAD = [
    (lambda: ufm.footnote3_errors([(2, 2, 3)], 0, 0.1, 0.1, np.random.default_rng()),
     ValueError, "n_H"),
    (lambda: ufm.theorem_2_1_runs([(0.1, 0.1, 2, 2, 3)], 0, 1e-10, np.random.default_rng()),
     ValueError, "starts"),
    # (call, exception, argument named first in the message)
    (lambda: ufm.objective(_W, np.ones((5, 13)), 0.1, 0.1, 4), ValueError, "H"),
    (lambda: ufm.objective(np.ones((3, 4)), _H, 0.1, 0.1, 4), ValueError, "W"),
    (lambda: ufm.objective(np.ones((2, 5)), _H, 0.1, 0.1, 4), ValueError, "W"),
    (lambda: ufm.objective(_W, np.ones(60), 0.1, 0.1, 4), ValueError, "H"),
    (lambda: ufm.objective(_W[:1], np.ones((5, 4)), 0.1, 0.1, 4), ValueError, "H"),  # K = 1
    (lambda: ufm.objective(_W, _H, 0.1, 0.1, 4, beta=1.0, H0=np.ones((5, 11))), ValueError, "H0"),
    (lambda: ufm.objective(_W, _H, 0.1, 0.1, 4, beta=1.0), ValueError, "H0"),
    (lambda: ufm.objective(_W, _H, 0.1, 0.1, 4, beta=-1.0, H0=_H), ValueError, "beta"),
    (lambda: ufm.objective(_nan_W, _H, 0.1, 0.1, 4), ValueError, "W"),
    (lambda: ufm.objective(_W, _H, -0.1, 0.1, 4), ValueError, "lam_W"),
    (lambda: ufm.objective(_W, _H, 0.1, -0.1, 4), ValueError, "lam_H"),
    (lambda: ufm.objective(_W, _H, np.inf, 0.1, 4), ValueError, "lam_W"),
    (lambda: ufm.objective(_W, _H, 0.1, 0.1, 0), ValueError, "n"),
    (lambda: ufm.objective(_W, _H, 0.1, 0.1, 4.0), TypeError, "n"),
    (lambda: ufm.objective("W", _H, 0.1, 0.1, 4), TypeError, "W"),
    (lambda: ufm.objective(_W, _H + 1j, 0.1, 0.1, 4), TypeError, "H"),
    (lambda: ufm.objective(_W, _H, "0.1", 0.1, 4), TypeError, "lam_W"),
    (lambda: ufm.gradients(_W, _H, 0.1, 0.1, 4, beta=0.5), ValueError, "H0"),
    (lambda: ufm.gradients(_W, _H, 0.1, 0.1, 4, beta=np.nan, H0=_H), ValueError, "beta"),
    (lambda: ufm.gradients(_W, np.full((5, 12), np.inf), 0.1, 0.1, 4), ValueError, "H"),
    (lambda: ufm.optimal_W(np.ones((5, 13)), 0.1, 4), ValueError, "H"),
    (lambda: ufm.optimal_W(_H, 0.0, 4), ValueError, "lam_W"),
    (lambda: ufm.optimal_W(_H, 0.1, -2), ValueError, "n"),
    (lambda: ufm.targets(1, 4), ValueError, "K"),
    (lambda: ufm.targets(3, 0), ValueError, "n"),
    (lambda: ufm.class_labels(0, 4), ValueError, "K"),
    (lambda: ufm.rho(0.1, 0.0), ValueError, "lam_H"),
    (lambda: ufm.rho(-0.1, 0.1), ValueError, "lam_W"),
    (lambda: ufm.collapsed_minimizer(4, 2, 3, 0.1, 0.1), ValueError, "d"),
    (lambda: ufm.collapsed_minimizer(1, 2, 3, 0.1, 0.1), ValueError, "K"),
    (lambda: ufm.collapsed_minimizer(3, 0, 3, 0.1, 0.1), ValueError, "n"),
    (lambda: ufm.collapsed_minimizer(3, 2, 4, 0.1, 0.1, R=np.ones((4, 3))), ValueError, "R"),
    (lambda: ufm.collapsed_minimizer(3, 2, 4, 0.1, 0.1, R=np.eye(3)), ValueError, "R"),
    (lambda: ufm.collapsed_minimizer(3, 2, 4, 0.1, -0.1), ValueError, "lam_H"),
    (lambda: ufm.minimize(_W, _H, 0.1, 0.1, 4, gtol=-1.0), ValueError, "gtol"),
    (lambda: ufm.minimize(_W, _H, 0.1, 0.1, 4, max_iter=0), ValueError, "max_iter"),
    (lambda: ufm.minimize(_W, _H, 0.1, 0.1, 4, beta=1.0), ValueError, "H0"),
    (lambda: ufm.minimize(_W, _H, 0.1, 0.1, 4, beta=1.0, H0=_H[:, :8]), ValueError, "H0"),
    (lambda: ufm.gradient_descent(_W, _H, 0.1, 0.1, 4, lr=0.0, steps=3), ValueError, "lr"),
    (lambda: ufm.gradient_descent(_W, _H, 0.1, 0.1, 4, lr=0.1, steps=-1), ValueError, "steps"),
    (lambda: ufm.gradient_descent(_W, _H, 0.1, 0.1, 4, lr=0.1, steps=3, record_every=0),
     ValueError, "record_every"),
    (lambda: ufm.gradient_descent(np.ones((3, 4)), _H, 0.1, 0.1, 4, lr=0.1, steps=3),
     ValueError, "W"),
]


@pytest.mark.parametrize("call,exc,name", BAD, ids=[f"{i:02d}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()
