"""nclib.ufm, central path (Sec. 3, App. A-B): L(H), Eq. 7, Lemma A.1, the flow of Eq. 4 and the
minimizer of Eq. 2.

References are independent of the code under test: L(H) is written again in torch from its
definition (W*(H) of footnote 3 by a dense solve) and differentiated by autograd; the covariances
are summed sample by sample; their rates are torch forward-mode derivatives along -Kn grad L; the
flow is checked by its energy identity; Eq. 2's minimizer against the joint L-BFGS of
:func:`nclib.ufm.minimize` and the collapsed minimizer of Corollary 2.2. Everything is float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nclib import ufm


def _torch_Y(K, n):
    Y = torch.zeros(K, K * n, dtype=torch.float64)
    for k in range(K):
        Y[k, k * n:(k + 1) * n] = 1.0
    return Y


def _torch_L(H, lam_W, lam_H, n):
    """L(H) of Sec. 3 from its definition, W*(H) = Y H^T (H H^T + n lam_W I)^{-1}."""
    d, Kn = H.shape
    K = Kn // n
    Y = _torch_Y(K, n)
    W = torch.linalg.solve(H @ H.T + n * lam_W * torch.eye(d, dtype=torch.float64), H @ Y.T).T
    return (((W @ H - Y) ** 2).sum() / (2 * Kn) + lam_W / (2 * K) * (W ** 2).sum()
            + lam_H / (2 * Kn) * (H ** 2).sum())


def _autograd_L(H, lam_W, lam_H, n):
    Ht = torch.tensor(H, dtype=torch.float64, requires_grad=True)
    L = _torch_L(Ht, lam_W, lam_H, n)
    L.backward()
    return L.item(), Ht.grad.numpy()


def _torch_covariances(H, n):
    """(Sigma_W, Sigma_B, Sigma~_T, Sigma~_B) summed sample by sample (Sec. 3, App. A)."""
    d, Kn = H.shape
    K = Kn // n
    means = [H[:, k * n:(k + 1) * n].sum(dim=1) / n for k in range(K)]
    glob = sum(means) / K
    SW = sum(torch.outer(H[:, k * n + i] - means[k], H[:, k * n + i] - means[k])
             for k in range(K) for i in range(n)) / Kn
    SB = sum(torch.outer(m - glob, m - glob) for m in means) / K
    ST = sum(torch.outer(H[:, j], H[:, j]) for j in range(Kn)) / Kn
    SBt = sum(torch.outer(m, m) for m in means) / K
    return SW, SB, ST, SBt


# (K, n, d, offset): d < Kn, d > Kn, d = K, and a nonzero global mean
CASES = [(3, 4, 5, 0.0), (3, 2, 10, 0.0), (4, 3, 4, 2.0), (2, 5, 3, -1.5), (3, 2, 7, 1.0)]


@pytest.mark.parametrize("K,n,d,offset", CASES)
@pytest.mark.parametrize("lam_W,lam_H", [(0.1, 0.05), (5e-3, 0.0), (2.0, 1.0)])
def test_loss_and_eq7_match_autograd_in_both_forms(K, n, d, offset, lam_W, lam_H):
    rng = np.random.default_rng(K * 100 + n * 10 + d)
    H = rng.standard_normal((d, K * n)) + offset * rng.standard_normal((d, 1))
    L_ref, g_ref = _autograd_L(H, lam_W, lam_H, n)
    for form in ("definition", "trace"):
        # Both sides are float64 evaluations of the same smooth formula; the trace form solves
        # with Sigma~_T + lam_W/K I (condition <= 1 + K |H|^2/(Kn lam_W) ~ 1e4 here): 1e-10.
        assert ufm.central_path_loss(H, lam_W, lam_H, n, form=form) == pytest.approx(
            L_ref, rel=1e-10, abs=1e-13)
        g = ufm.central_path_grad(H, lam_W, lam_H, n, form=form)
        assert g.shape == H.shape
        assert np.linalg.norm(g - g_ref) <= 1e-10 * np.linalg.norm(g_ref)


def test_covariances_and_traces_match_sample_sums():
    rng = np.random.default_rng(3)
    K, n, d = 3, 4, 5
    H = rng.standard_normal((d, K * n)) + 3.0
    S = ufm.covariances(H, n)
    ref = _torch_covariances(torch.tensor(H), n)
    for got, want in zip(S, ref):  # sums of 12 outer products: ~1e-15 relative
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-13)
    stack = np.stack([H, 2 * H, H - 5.0])
    tr_sw, tr_sb = ufm.covariance_traces(stack, n)
    assert tr_sw.shape == tr_sb.shape == (3,)
    # Tr Sigma_W scales by 4 under H -> 2H and is shift invariant (as is Tr Sigma_B).
    want_w = np.trace(S.Sigma_W) * np.array([1, 4, 1])
    want_b = np.trace(S.Sigma_B) * np.array([1, 4, 1])
    np.testing.assert_allclose(tr_sw, want_w, rtol=1e-12)
    np.testing.assert_allclose(tr_sb, want_b, rtol=1e-12)


@pytest.mark.parametrize("K,n,d,offset", CASES[:4])
@pytest.mark.parametrize("lam_W,lam_H", [(0.1, 0.05), (1.0, 0.0)])
def test_lemma_a1_rates_match_forward_mode_derivatives(K, n, d, offset, lam_W, lam_H):
    rng = np.random.default_rng(7 + d)
    H = rng.standard_normal((d, K * n)) + offset
    _, g = _autograd_L(H, lam_W, lam_H, n)
    V = torch.tensor(-K * n * g)  # dH/dt of Eq. 4
    _, rates = torch.func.jvp(lambda X: _torch_covariances(X, n), (torch.tensor(H),), (V,))
    got = ufm.covariance_rates(H, lam_W, lam_H, n)
    for name, a, b in zip(got._fields, got, rates):
        b = b.numpy()
        # Closed forms vs the chain rule through autograd: round-off of d x d products, 1e-9.
        assert np.linalg.norm(a - b) <= 1e-9 * max(np.linalg.norm(b), 1e-12), name


def test_gradient_flow_energy_identity_and_first_step():
    rng = np.random.default_rng(0)
    K, n, d, lam_W, lam_H = 3, 4, 5, 0.1, 0.02
    H0 = rng.standard_normal((d, K * n)) + 1.0
    t = np.linspace(0.0, 2.0, 2001)
    path = ufm.gradient_flow(H0, t, lam_W, lam_H, n, rtol=1e-11, atol=1e-13)
    assert path.H.shape == (t.size, d, K * n) and path.nfev > 0
    np.testing.assert_array_equal(path.t, t)
    np.testing.assert_allclose(path.H[0], H0, rtol=0, atol=1e-14)  # rebuilt from means + D
    # within = H - class means; here both are O(1), so they agree to rounding.
    means = np.stack([ufm.class_means(H, n) for H in path.H])
    np.testing.assert_allclose(path.within, path.H - np.repeat(means, n, axis=2), rtol=0, atol=1e-12)
    L = np.array([ufm.central_path_loss(H, lam_W, lam_H, n) for H in path.H])
    G2 = np.array([np.sum(ufm.central_path_grad(H, lam_W, lam_H, n) ** 2) for H in path.H])
    assert np.all(np.diff(L) < 0)
    # dL/dt = -Kn |grad L|^2 along Eq. 4; trapezoid error ~ (dt^2/12) T max|d^2/dt^2| ~ 1e-8.
    dissipated = K * n * np.sum((G2[1:] + G2[:-1]) / 2 * np.diff(t))
    assert L[0] - L[-1] == pytest.approx(dissipated, rel=1e-6)
    # First step: H(t) = H0 - t Kn grad L(H0) + O(t^2).
    v = -K * n * ufm.central_path_grad(H0, lam_W, lam_H, n)
    for i in (1, 2):
        err = np.linalg.norm(path.H[i] - H0 - t[i] * v)
        assert err <= 10 * t[i] ** 2 * np.linalg.norm(v) ** 2 / np.linalg.norm(H0) + 1e-10


def test_gradient_flow_resolves_within_class_variability_far_below_round_off():
    rng = np.random.default_rng(4)
    K, n, d, lam_W, lam_H = 2, 3, 4, 1.0, 0.5
    t = np.array([0.0, 50.0, 100.0])
    path = ufm.gradient_flow(rng.standard_normal((d, K * n)), t, lam_W, lam_H, n)
    tr_sw = np.sum(path.within ** 2, axis=(1, 2)) / (K * n)
    # Deviations decay at least like e^{-lam_H t} (Theorem 3.1) and at most like
    # e^{-(1/lam_W + lam_H) t}: Tr Sigma_W(100) lies between e^{-300} and e^{-100} of the start,
    # far below the round-off of H (1e-32 relative), yet positive and decreasing.
    assert np.all(np.diff(tr_sw) < 0) and tr_sw[-1] > 0
    assert np.exp(-2 * (1 / lam_W + lam_H) * 100) <= tr_sw[-1] / tr_sw[0] <= np.exp(-2 * lam_H * 100)
    assert tr_sw[-1] / tr_sw[0] < 1e-40


@pytest.mark.parametrize("K,n,d", [(3, 4, 5), (3, 2, 10), (3, 10, 4)])  # d<Kn, d>Kn, reduced basis
@pytest.mark.parametrize("beta", [0.5, 10.0, 1e4])
def test_solve_eq2_is_the_minimizer_of_eq2(K, n, d, beta):
    rng = np.random.default_rng(K + n + d)
    lam_W, lam_H = 0.05, 0.02
    H0 = rng.standard_normal((d, K * n)) + 0.5
    W, H = ufm.solve_eq2(H0, lam_W, lam_H, beta, n, gtol=1e-11)
    # Stationarity of L(H) + beta |H - H0|^2/(2Kn) by autograd, and W = W*(H) (footnote 3).
    _, g = _autograd_L(H, lam_W, lam_H, n)
    assert np.linalg.norm(g + beta * (H - H0) / (K * n)) <= 2e-11
    np.testing.assert_allclose(W, ufm.optimal_W(H, lam_W, n), rtol=0, atol=1e-12)
    # Joint L-BFGS on (W, H) from (W*(H0), H0): same point. At these beta the Hessian of Eq. 2 at
    # the minimizer has smallest eigenvalue >= ~1e-3 / (Kn), so gradients <= 1e-10 agree to 1e-6.
    ref = ufm.minimize(ufm.optimal_W(H0, lam_W, n), H0, lam_W, lam_H, n, beta=beta, H0=H0)
    assert ref.converged
    assert np.linalg.norm(H - ref.H) <= 1e-6 * max(1.0, np.linalg.norm(H))


def test_solve_eq2_keeps_a_collapsed_minimizer_corollary_2_2():
    K, n, d, lam_W, lam_H = 3, 10, 5, 0.05, 0.2
    W_star, H_star = ufm.collapsed_minimizer(K, n, d, lam_W, lam_H)
    W, H = ufm.solve_eq2(H_star, lam_W, lam_H, 1.0, n)
    # Unique minimizer (Corollary 2.2); the start is already stationary to rounding.
    np.testing.assert_allclose(H, H_star, rtol=0, atol=1e-9)
    np.testing.assert_allclose(W, W_star, rtol=0, atol=1e-9)


def test_solve_eq2_reports_when_it_stops_short():
    rng = np.random.default_rng(1)
    with pytest.raises(RuntimeError, match="gtol"):
        ufm.solve_eq2(rng.standard_normal((5, 12)), 0.01, 0.01, 0.1, 4, max_iter=1)


_H = np.ones((5, 12)) + np.arange(60).reshape(5, 12) % 7  # K = 3, n = 4, d = 5
_inf_H = _H.copy()
_inf_H[1, 2] = np.inf

BAD = [
    (lambda: ufm.central_path_loss(np.ones((5, 13)), 0.1, 0.1, 4), ValueError, "H"),
    (lambda: ufm.central_path_loss(_inf_H, 0.1, 0.1, 4), ValueError, "H"),
    (lambda: ufm.central_path_loss(_H, 0.0, 0.1, 4), ValueError, "lam_W"),
    (lambda: ufm.central_path_loss(_H, -1.0, 0.1, 4), ValueError, "lam_W"),
    (lambda: ufm.central_path_loss(_H, 0.1, -0.1, 4), ValueError, "lam_H"),
    (lambda: ufm.central_path_loss(_H, 0.1, 0.1, 4, form="exact"), ValueError, "form"),
    (lambda: ufm.central_path_grad(np.ones(60), 0.1, 0.1, 4), ValueError, "H"),
    (lambda: ufm.central_path_grad(_H, 0.0, 0.1, 4, form="trace"), ValueError, "lam_W"),
    (lambda: ufm.central_path_grad(_H, 0.1, 0.1, 4.0), TypeError, "n"),
    (lambda: ufm.covariances(np.ones((5, 13)), 4), ValueError, "H"),
    (lambda: ufm.covariance_traces(np.ones((2, 5, 13)), 4), ValueError, "H"),
    (lambda: ufm.covariance_traces(np.ones(5), 4), ValueError, "H"),
    (lambda: ufm.covariance_rates(_H, 0.0, 0.1, 4), ValueError, "lam_W"),
    (lambda: ufm.gradient_flow(_H, [0.0, 1.0], 0.0, 0.1, 4), ValueError, "lam_W"),
    (lambda: ufm.gradient_flow(_inf_H, [0.0, 1.0], 0.1, 0.1, 4), ValueError, "H"),
    (lambda: ufm.gradient_flow(_H, [1.0, 0.5], 0.1, 0.1, 4), ValueError, "t_eval"),
    (lambda: ufm.gradient_flow(_H, [-1.0, 0.5], 0.1, 0.1, 4), ValueError, "t_eval"),
    (lambda: ufm.gradient_flow(_H, [0.0, np.nan], 0.1, 0.1, 4), ValueError, "t_eval"),
    (lambda: ufm.gradient_flow(_H, [[0.0, 1.0]], 0.1, 0.1, 4), ValueError, "t_eval"),
    (lambda: ufm.gradient_flow(_H, [0.0, 1.0], 0.1, 0.1, 4, rtol=0.0), ValueError, "rtol"),
    (lambda: ufm.gradient_flow(_H, [0.0, 1.0], 0.1, 0.1, 4, atol=-1.0), ValueError, "atol"),
    (lambda: ufm.solve_eq2(_H, 0.1, 0.1, 0.0, 4), ValueError, "beta"),
    (lambda: ufm.solve_eq2(_H, 0.1, 0.1, np.inf, 4), ValueError, "beta"),
    (lambda: ufm.solve_eq2(_H, 0.0, 0.1, 1.0, 4), ValueError, "lam_W"),
    (lambda: ufm.solve_eq2(np.ones((5, 13)), 0.1, 0.1, 1.0, 4), ValueError, "H"),
    (lambda: ufm.solve_eq2(_inf_H, 0.1, 0.1, 1.0, 4), ValueError, "H"),
    (lambda: ufm.solve_eq2(_H, 0.1, 0.1, 1.0, 4, gtol=0.0), ValueError, "gtol"),
    (lambda: ufm.solve_eq2(_H, 0.1, 0.1, 1.0, 4, max_iter=0), ValueError, "max_iter"),
]


@pytest.mark.parametrize("call,exc,name", BAD, ids=[f"{i:02d}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()
