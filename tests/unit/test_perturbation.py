"""nclib.perturbation (Sec. 4: Theorem 4.1, Eq. 5, Eq. 6, Theorem 4.2, App. C-D).

References are independent of the code under test: the Hessian comes from torch autograd on
Eq. 2 written out again, F from inverting that whole Hessian (Eq. 10) or from central finite
differences of the minimizer of Eq. 2, Eq. 5 from its printed formula with E* built entry by
entry, and the spectra from dense eigen/singular value decompositions. Everything is float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nclib import perturbation as pt
from nclib import ufm

LAMS = (0.1, 0.05)  # (lam_W, lam_H): c = 0.07, well inside Theorem 2.1's c < 1


def _vec(X):
    return X.reshape(-1, order="F")


def _torch_f(w, h, H0, lam_W, lam_H, beta, K, n, d):
    """Eq. 2 as printed, as a function of (vec H, vec W)."""
    W = w.reshape(d, K).T  # vec is column-stacking: vec(W) = W^T row-major
    H = h.reshape(K * n, d).T
    Y = torch.kron(torch.eye(K, dtype=torch.float64), torch.ones(1, n, dtype=torch.float64))
    Kn = K * n
    return (((W @ H - Y) ** 2).sum() / (2 * Kn) + lam_W / (2 * K) * (W ** 2).sum()
            + lam_H / (2 * Kn) * (H ** 2).sum() + beta / (2 * Kn) * ((H - H0) ** 2).sum())


def _autograd_hessian(W, H, H0, lam_W, lam_H, beta, n):
    """The full Hessian of Eq. 2 in the order (vec H, vec W), by torch autograd."""
    K, d = W.shape
    x = torch.tensor(np.concatenate([_vec(H), _vec(W)]))
    H0t = torch.tensor(H0)
    split = H.size

    def f(x):
        return _torch_f(x[split:], x[:split], H0t, lam_W, lam_H, beta, K, n, d)

    return torch.autograd.functional.hessian(f, x).numpy()


@pytest.fixture(scope="module")
def minimizer():
    """A non-collapsed minimizer of Eq. 2 (K=3, n=4, d=5), refined by Newton to ~1e-16."""
    rng = np.random.default_rng(1)
    K, n, d = 3, 4, 5
    lam_W, lam_H = LAMS
    beta = 2.0
    H0 = rng.standard_normal((d, K * n))
    start = ufm.minimize(rng.standard_normal((K, d)), H0.copy(), lam_W, lam_H, n, beta=beta,
                         H0=H0, gtol=1e-8)
    res = pt.refine_eq2(start.W, start.H, H0, lam_W, lam_H, beta, n, gtol=1e-14)
    return dict(W=res.W, H=res.H, H0=H0, K=K, n=n, d=d, beta=beta, res=res, rng=rng)


def _collapsed(K, n, d, lam_W, lam_H, seed=0):
    R, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, K)))
    return ufm.collapsed_minimizer(K, n, d, lam_W, lam_H, R=R)


# --------------------------------------------------------------------------- App. C


def test_commutation_matrix_transposes_and_swaps_kronecker_factors():
    rng = np.random.default_rng(0)
    d, K = 5, 3
    A = rng.standard_normal((d, K))
    Kdk = pt.commutation_matrix(d, K)
    assert np.array_equal(Kdk @ _vec(A), _vec(A.T))  # a permutation: exact
    X1, X2 = rng.standard_normal((d, d)), rng.standard_normal((K, K))
    assert np.array_equal(Kdk.T @ np.kron(X1, X2) @ Kdk, np.kron(X2, X1))  # App. D
    x, Y = rng.standard_normal((K, 1)), rng.standard_normal((d, 4))
    assert np.array_equal(Kdk @ np.kron(x, Y), np.kron(Y, x))  # Eq. 12


def test_residual_jacobian_is_the_derivative_of_Wt_r():
    """E vec(dW) = vec(dW^T (WH - Y)): the derivative of (I (x) W^T) r in W with r fixed."""
    rng = np.random.default_rng(0)
    K, n, d = 3, 2, 4
    W, H, dW = rng.standard_normal((K, d)), rng.standard_normal((d, K * n)), rng.standard_normal((K, d))
    E = pt.residual_jacobian(W, H, n)
    assert E.shape == (d * K * n, K * d)
    expected = _vec(dW.T @ (W @ H - ufm.targets(K, n)))
    # entries are sums of K products of O(1) numbers: rounding ~1e-15
    np.testing.assert_allclose(E @ _vec(dW), expected, rtol=0, atol=1e-13)


def test_hessian_blocks_match_autograd(minimizer):
    m = minimizer
    lam_W, lam_H = LAMS
    for W, H in [(m["W"], m["H"]), (m["rng"].standard_normal((3, 5)), m["rng"].standard_normal((5, 12)))]:
        hb = pt.hessian_blocks(W, H, m["H0"], lam_W, lam_H, m["beta"], m["n"])
        ref = _autograd_hessian(W, H, m["H0"], lam_W, lam_H, m["beta"], m["n"])
        # same O(1) sums evaluated in two orders: agreement to a few ulps of the largest entry
        np.testing.assert_allclose(hb.full(), ref, rtol=0, atol=1e-13)
        np.testing.assert_array_equal(hb.HW, hb.WH.T)


# --------------------------------------------------------------------------- Theorem 4.1


def test_exact_F_is_the_block_of_the_inverse_hessian(minimizer):
    """Eq. 10: [vec dH; vec dW] = Hess^{-1} [(beta/Kn) vec dH0; 0]."""
    m = minimizer
    lam_W, lam_H = LAMS
    K, n, d, beta = m["K"], m["n"], m["d"], m["beta"]
    Kn, size = K * n, d * K * n
    hess = _autograd_hessian(m["W"], m["H"], m["H0"], lam_W, lam_H, beta, n)
    inv = np.linalg.inv(hess)
    F_ref, FW_ref = (beta / Kn) * inv[:size, :size], (beta / Kn) * inv[size:, :size]
    F = pt.perturbation_operator(m["W"], m["H"], lam_W, lam_H, beta, n)
    # two inversions of the same matrix, condition number < 1e3: agreement to ~1e-13
    np.testing.assert_allclose(F, F_ref, rtol=0, atol=1e-12)
    op = pt.PerturbationOperator(m["W"], m["H"], lam_W, lam_H, beta, n)
    dH0 = m["rng"].standard_normal((d, Kn))
    dW, dH = op.response(dH0)
    np.testing.assert_allclose(_vec(dH), F_ref @ _vec(dH0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(_vec(dW), FW_ref @ _vec(dH0), rtol=0, atol=1e-12)


def test_exact_F_is_the_derivative_of_the_minimizer(minimizer):
    """Central differences of the minimizer of Eq. 2 in H0 equal F (Theorem 4.1)."""
    m = minimizer
    lam_W, lam_H = LAMS
    n, beta = m["n"], m["beta"]
    delta = m["rng"].standard_normal(m["H0"].shape)
    eps = 1e-4
    sols = [pt.refine_eq2(m["W"], m["H"], m["H0"] + s * eps * delta, lam_W, lam_H, beta, n,
                          gtol=1e-15) for s in (1, -1)]
    dH_fd = (sols[0].H - sols[1].H) / (2 * eps)
    dW_fd = (sols[0].W - sols[1].W) / (2 * eps)
    dW, dH = pt.PerturbationOperator(m["W"], m["H"], lam_W, lam_H, beta, n).response(delta)
    # central differences: O(eps^2) = 1e-8 truncation, plus solve error / eps ~ 1e-12
    np.testing.assert_allclose(dH, dH_fd, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dW, dW_fd, rtol=0, atol=1e-6)


def test_eq5_matches_its_printed_formula(minimizer):
    m = minimizer
    lam_W, lam_H = LAMS
    W, H, K, n, d, beta = m["W"], m["H"], m["K"], m["n"], m["d"], m["beta"]
    Kn = K * n
    Rm = W @ H - ufm.targets(K, n)
    cols = []
    for i in range(d):  # E* column by column, in the order printed below Eq. 5
        for k in range(K):
            cols.append(_vec(np.outer(np.eye(d)[i], np.eye(K)[k]) @ Rm))
    E = np.stack(cols, axis=1)
    B = E.T + np.kron(H, W)
    Z = B.T @ np.linalg.inv(np.kron(H @ H.T, np.eye(K)) + n * lam_W * np.eye(d * K)) @ B
    F5 = (np.eye(d * Kn) - lam_H / beta * np.eye(d * Kn) - np.kron(np.eye(Kn), W.T @ W) / beta
          + Z / beta)
    np.testing.assert_allclose(pt.perturbation_operator(W, H, lam_W, lam_H, beta, n, exact=False),
                               F5, rtol=0, atol=1e-12)


@pytest.mark.parametrize("collapsed", [False, True])
def test_matrix_free_equals_dense(minimizer, collapsed):
    m = minimizer
    lam_W, lam_H = LAMS
    K, n, d, beta = m["K"], m["n"], m["d"], m["beta"]
    W, H = _collapsed(K, n, d, lam_W, lam_H) if collapsed else (m["W"], m["H"])
    op = pt.PerturbationOperator(W, H, lam_W, lam_H, beta, n)
    X = m["rng"].standard_normal((d, K * n))
    for exact in (True, False):
        F = pt.perturbation_operator(W, H, lam_W, lam_H, beta, n, exact=exact)
        # both are backward-stable solves / products of O(1) matrices: ~1e-15 relative
        np.testing.assert_allclose(_vec(op.apply(X, exact)), F @ _vec(X), rtol=0, atol=1e-12)
        np.testing.assert_allclose(op.linear_operator(exact).matvec(_vec(X)), F @ _vec(X),
                                   rtol=0, atol=1e-12)


def test_eq5_error_is_second_order_in_one_over_beta():
    """Eq. 5 truncates a Neumann series: ||F5 - F|| ~ C / beta^2, so x10 beta -> /100."""
    lam_W, lam_H = LAMS
    W, H = _collapsed(3, 2, 4, lam_W, lam_H)
    err = [np.linalg.norm(pt.perturbation_operator(W, H, lam_W, lam_H, b, 2, exact=False)
                          - pt.perturbation_operator(W, H, lam_W, lam_H, b, 2), 2)
           for b in (1e2, 1e3)]
    assert 90 < err[0] / err[1] < 110  # 100 up to the O(beta^-3) term, ~1% at beta = 100


def test_blocks_are_the_class_blocks_of_eq6():
    rng = np.random.default_rng(0)
    K, n, d = 3, 2, 4
    F = rng.standard_normal((d * n * K,) * 2)
    blk = pt.blocks(F, K, d, n)
    assert blk.shape == (K, K, d * n, d * n)
    for k in range(K):
        for l in range(K):
            X = np.zeros((d, K * n))
            X[:, l * n:(l + 1) * n] = rng.standard_normal((d, n))  # perturb class l only
            out = (F @ _vec(X)).reshape(d, K * n, order="F")[:, k * n:(k + 1) * n]
            np.testing.assert_allclose(blk[k, l] @ _vec(X[:, l * n:(l + 1) * n]), _vec(out),
                                       rtol=0, atol=1e-12)


def test_refine_eq2_reaches_the_minimizer(minimizer):
    m = minimizer
    res = m["res"]
    assert res.converged and res.grad_norm <= 1e-14
    lam_W, lam_H = LAMS
    # L-BFGS to gtol 1e-11 lands within ~gtol/mu ~ 1e-8 of the same point (mu >= lam_H/Kn)
    lb = ufm.minimize(res.W, res.H + 1e-3, lam_W, lam_H, m["n"], beta=m["beta"], H0=m["H0"],
                      gtol=1e-11)
    np.testing.assert_allclose(lb.H, res.H, rtol=0, atol=1e-7)


def test_refine_eq2_refuses_a_saddle():
    """At (0, 0) with lam_W (lam_H + beta) < 1 the Hessian of Eq. 2 is indefinite."""
    K, n, d = 2, 2, 3
    with pytest.raises(ValueError, match="not positive definite"):
        pt.refine_eq2(np.zeros((K, d)), np.zeros((d, K * n)), np.zeros((d, K * n)), 0.1, 0.05,
                      1.0, n)


# --------------------------------------------------------------------------- Theorem 4.2, App. D


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("case", [(0.1, 0.05, 50.0, 3, 5, 4), (np.sqrt(2), 0.3, 100.0, 4, 10, 3),
                                  (1e-2, 2.0, 20.0, 2, 3, 1)])
def test_theorem_4_2_and_app_d_against_svd(case, exact):
    lam_W, lam_H, beta, K, d, n = case
    W, H = _collapsed(K, n, d, lam_W, lam_H, seed=3)
    blk = pt.blocks(pt.perturbation_operator(W, H, lam_W, lam_H, beta, n, exact=exact), K, d, n)
    spec = pt.intra_block_spectrum(K, d, n, lam_W, lam_H, beta, exact=exact)
    th = pt.theorem_4_2(lam_W, lam_H, beta, n, exact=exact)
    c = np.sqrt(lam_H * lam_W)
    for k in range(K):
        sv = np.linalg.svd(blk[k, k], compute_uv=False)
        # singular values of O(1) symmetric matrices: ~1e-15
        np.testing.assert_allclose(sv, np.abs(spec.expand()), rtol=0, atol=1e-12)
        assert abs(sv[0] - th.sigma_max_intra) < 1e-12
        assert abs(sv[-1] - th.sigma_min_intra) < 1e-12  # n = 1 included
        assert np.sum(np.abs(sv - 1) < 1e-12) == d - K  # fraction (1 - K/d)/n of the dn values
        off = np.linalg.svd(blk[k, (k + 1) % K], compute_uv=False)
        assert abs(off[0] - th.sigma_max_inter) < 1e-12 and off[1] < 1e-12  # rank 1
    if not exact:  # the printed forms, written out here (n = 1: the s_1 (x) r_k family, App. D)
        g_min = np.sqrt(lam_H / lam_W) if n >= 2 else 4 * lam_H * (1 - c)
        assert th == pytest.approx((1.0, 1 - g_min / beta, 2 * lam_H * (1 - c) / beta), abs=1e-15)


def test_n_equals_one_drops_the_within_class_families():
    spec = pt.intra_block_spectrum(3, 5, 1, 0.1, 0.05, 50.0)
    assert spec.multiplicities.sum() == 5 and len(spec.values) == 3


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, match", [
    (lambda: pt.theorem_4_2(2.0, 0.5, 100.0, 2), "lam_H \\* lam_W < 1"),
    (lambda: pt.intra_block_spectrum(3, 5, 2, 1.0, 1.0, 100.0), "lam_H \\* lam_W < 1"),
    (lambda: pt.intra_block_spectrum(3, 3, 2, 0.1, 0.05, 100.0), "d > K"),
    (lambda: pt.theorem_4_2(1e-4, 1e-2, 5.0, 2), "beta > sqrt"),
    (lambda: pt.theorem_4_2(0.1, 0.05, 50.0, 0), "n must be an integer >= 1"),
    (lambda: pt.theorem_4_2(0.1, 0.05, 0.0, 2), "beta must be > 0"),
    (lambda: pt.perturbation_operator(np.zeros((3, 4)), np.zeros((5, 6)), 0.1, 0.05, 1.0, 2),
     "W must be K x d"),
    (lambda: pt.perturbation_operator(np.zeros((3, 5)), np.zeros((5, 7)), 0.1, 0.05, 1.0, 2),
     "multiple of n"),
    (lambda: pt.hessian_blocks(np.zeros((3, 5)), np.zeros((5, 6)), np.zeros((5, 7)), 0.1, 0.05,
                               1.0, 2), "H0 must have the shape of H"),
    (lambda: pt.hessian_blocks(np.zeros((3, 5)), np.zeros((5, 6)), None, 0.1, 0.05, 1.0, 2),
     "H0 is required"),
    (lambda: pt.PerturbationOperator(*_collapsed(2, 2, 3, *LAMS), *LAMS, 1.0, 2).apply(np.zeros((3, 3))),
     "dH0 must have the shape of H"),
    (lambda: pt.blocks(np.zeros((10, 10)), 2, 3, 2), "F must be dnK x dnK"),
    (lambda: pt.perturbation_operator(*_collapsed(2, 2, 3, *LAMS), 0.0, 0.05, 1.0, 2),
     "lam_W must be > 0"),
])
def test_bad_input_is_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_integer_sizes_are_type_errors():
    with pytest.raises(TypeError, match="K must be an integer"):
        pt.intra_block_spectrum(3.0, 5, 2, 0.1, 0.05, 100.0)
    with pytest.raises(TypeError, match="dH0 must be a 2-D array of real numbers"):
        pt.PerturbationOperator(*_collapsed(2, 2, 3, *LAMS), *LAMS, 1.0, 2).apply(
            np.full((3, 4), "x"))


# --------------------------------------------------------------------------- Theorem 4.1's hypotheses


def test_theorem_4_1_hypotheses_hold_at_a_collapse_and_fail_at_zero():
    K, n, d, lam_W, lam_H, beta = 3, 2, 4, 0.05, 0.02, 1.0
    _, H_star = _collapsed(K, n, d, lam_W, lam_H, seed=4)
    good = pt.theorem_4_1_hypotheses(H_star, lam_W, lam_H, beta, n, starts=2)
    assert good.objective_gap < 1e-14 and good.spread < 1e-8 and good.hessian_min > 1e-3
    assert good.hessian_max >= good.hessian_min and good.hessian_max > 1.0  # >= n lam_W + (lam_H + beta)
    # H0 = 0: Eq. 2 is Eq. 1 with lam_H + beta; c = sqrt(1.02 * 0.05) < 1, so its minimizers are a
    # rotation orbit (singular Hessian, not unique) and W*(0) = 0 starts at a saddle.
    bad = pt.theorem_4_1_hypotheses(np.zeros((d, K * n)), lam_W, lam_H, beta, n, starts=3)
    assert bad.objective_gap > 0.1 and bad.spread > 0.1 and abs(bad.hessian_min) < 1e-10


# --------------------------------------------------------------------------- the chapter's sweeps


def test_theorem_4_1_sweep_remainder_is_second_order():
    K, n, d, beta = 2, 2, 3, 2.0
    lam_W, lam_H = LAMS
    W, H = _collapsed(K, n, d, lam_W, lam_H, seed=5)
    Delta = np.random.default_rng(6).standard_normal((d, K * n))
    Delta /= np.linalg.norm(Delta)
    eps = np.logspace(-4, -2, 3)
    out = pt.theorem_4_1_sweep(H, Delta, eps, lam_W, lam_H, beta, n, base=(W, H))
    # |F vec(Delta)| from the dense exact operator (Theorem 4.1).
    F = pt.perturbation_operator(W, H, lam_W, lam_H, beta, n, exact=True)
    assert out.response == pytest.approx(np.linalg.norm(F @ _vec(Delta)), rel=1e-12)
    np.testing.assert_allclose(out.remainders[:, 2], eps * out.response, rtol=1e-14)
    assert out.grad_norm < 1e-14
    for j in (0, 1):  # O(eps^2): slope 2 on a log-log scale; a wrong F leaves slope 1
        assert abs(np.polyfit(np.log(eps), np.log(out.remainders[:, j]), 1)[0] - 2) < 0.1
    # Without the base, Eq. 2 at the collapsed H0 is solved again (Corollary 2.2: same point).
    again = pt.theorem_4_1_sweep(H, Delta, eps, lam_W, lam_H, beta, n)
    np.testing.assert_allclose(again.remainders, out.remainders, rtol=1e-6, atol=1e-14)
    with pytest.raises(ValueError, match="Delta must have the shape of H0"):
        pt.theorem_4_1_sweep(H, Delta[:, :2], eps, lam_W, lam_H, beta, n)


def test_theorem_4_2_grid_against_printed_forms():
    grid = [(0.1, 0.05, 50.0, 3, 5, 4), (np.sqrt(2), 0.3, 100.0, 4, 10, 3)]
    out = pt.theorem_4_2_grid(grid, np.random.default_rng(7))
    assert out.worst["spec"] < 1e-12 and out.worst["th"] < 1e-12 and out.worst["rank1"] < 1e-12
    assert out.worst["unit"] == 0 and out.worst["singular"] == 0 and out.worst["weyl"] <= 0
    for (lw, lh, bb, K, d, n), row in zip(grid, out.rows):
        c, s = np.sqrt(lw * lh), np.sqrt(lh / lw)
        assert row[:6] == (lw, lh, bb, K, d, n)
        smin5, smin, sint5, sint, frac, frac_pred = row[6:]
        # Theorem 4.2 as printed (n >= 2), written out here
        assert smin5 == pytest.approx(1 - s / bb, abs=1e-15)
        assert sint5 == pytest.approx(2 * lh * (1 - c) / bb, abs=1e-15)
        # the exact F differs from Eq. 5 by at most (s/beta)^2, and does differ
        assert 0 < abs(smin - smin5) <= (s / bb) ** 2 and 0 < abs(sint - sint5) <= (s / bb) ** 2
        assert frac == pytest.approx((1 - K / d) / n, abs=1e-15)
        assert frac_pred == pytest.approx(frac, abs=1e-15)


def test_crosstalk_table_crossover():
    lam_W, lam_H = LAMS
    c, s = np.sqrt(lam_W * lam_H), np.sqrt(lam_H / lam_W)
    rows = pt.crosstalk_table([2, 4], [0.5, 1.5, 50.0], lam_W, lam_H, np.random.default_rng(8))
    assert [(K, b) for K, b, *_ in rows] == [(2, 1.5), (2, 50.0), (4, 1.5), (4, 50.0)]  # beta > s only
    for K, beta, beta_star, inter, s_min, err in rows:
        assert beta_star == pytest.approx(s + 2 * (K - 1) * lam_H * (1 - c), rel=1e-15)
        assert err < 1e-12
        assert inter == pytest.approx((K - 1) * 2 * lam_H * (1 - c) / beta, abs=1e-12)
        assert s_min == pytest.approx(1 - s / beta, abs=1e-12)
        assert (inter < s_min) == (beta > beta_star)
    with pytest.raises(ValueError, match="lam_H \\* lam_W < 1"):
        pt.crosstalk_table([2], [10.0], 2.0, 1.0, np.random.default_rng())


@pytest.mark.parametrize("lam_W, lam_H, K", [(0.1, 1.0, 2), (0.1, 1.0, 4), (1e-4, 1e-2, 2), (0.3, 0.2, 5)])
def test_crossover_exact_against_a_dense_svd_scan(lam_W, lam_H, K):
    """The exact operator's crossover against a bisection on dense SVDs written out here, and
    Eq. 5's against its printed form s + 2(K-1) lam_H (1-c)."""
    c, s = np.sqrt(lam_W * lam_H), np.sqrt(lam_H / lam_W)
    W, H = _collapsed(K, 2, K + 1, lam_W, lam_H, seed=9)

    def intra_wins(beta):
        F = pt.perturbation_operator(W, H, lam_W, lam_H, beta, 2)
        dn = 2 * (K + 1)
        inter = np.linalg.svd(F[:dn, dn:2 * dn], compute_uv=False)[0]
        own = np.linalg.svd(F[:dn, :dn], compute_uv=False)[-1]
        return (K - 1) * inter < own

    lo, hi = 1e-6, 1e6
    for _ in range(80):
        mid = np.sqrt(lo * hi)
        lo, hi = (lo, mid) if intra_wins(mid) else (mid, hi)
    assert pt.crossover(lam_W, lam_H, K) == pytest.approx(np.sqrt(lo * hi), rel=1e-9)
    assert pt.crossover_by_svd(lam_W, lam_H, K, np.random.default_rng(1)) == pytest.approx(
        np.sqrt(lo * hi), rel=1e-9)
    assert pt.crossover(lam_W, lam_H, K, exact=False) == pytest.approx(s + 2 * (K - 1) * lam_H * (1 - c),
                                                                       rel=1e-15)
