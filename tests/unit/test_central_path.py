"""nclib.central_path (Sec. 3, App. A-B): L(H), Eq. 7, Lemma A.1, the flow of Eq. 4 and the
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

from nclib import central_path as cp
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
        assert cp.central_path_loss(H, lam_W, lam_H, n, form=form) == pytest.approx(
            L_ref, rel=1e-10, abs=1e-13)
        g = cp.central_path_grad(H, lam_W, lam_H, n, form=form)
        assert g.shape == H.shape
        assert np.linalg.norm(g - g_ref) <= 1e-10 * np.linalg.norm(g_ref)


def test_covariances_and_traces_match_sample_sums():
    rng = np.random.default_rng(3)
    K, n, d = 3, 4, 5
    H = rng.standard_normal((d, K * n)) + 3.0
    S = cp.covariances(H, n)
    ref = _torch_covariances(torch.tensor(H), n)
    for got, want in zip(S, ref):  # sums of 12 outer products: ~1e-15 relative
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-13)
    stack = np.stack([H, 2 * H, H - 5.0])
    tr_sw, tr_sb = cp.covariance_traces(stack, n)
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
    got = cp.covariance_rates(H, lam_W, lam_H, n)
    for name, a, b in zip(got._fields, got, rates):
        b = b.numpy()
        # Closed forms vs the chain rule through autograd: round-off of d x d products, 1e-9.
        assert np.linalg.norm(a - b) <= 1e-9 * max(np.linalg.norm(b), 1e-12), name


def test_gradient_flow_energy_identity_and_first_step():
    rng = np.random.default_rng(0)
    K, n, d, lam_W, lam_H = 3, 4, 5, 0.1, 0.02
    H0 = rng.standard_normal((d, K * n)) + 1.0
    t = np.linspace(0.0, 2.0, 2001)
    path = cp.gradient_flow(H0, t, lam_W, lam_H, n, rtol=1e-11, atol=1e-13)
    assert path.H.shape == (t.size, d, K * n) and path.nfev > 0
    np.testing.assert_array_equal(path.t, t)
    np.testing.assert_allclose(path.H[0], H0, rtol=0, atol=1e-14)  # rebuilt from means + D
    # within = H - class means; here both are O(1), so they agree to rounding.
    means = np.stack([ufm.class_means(H, n) for H in path.H])
    np.testing.assert_allclose(path.within, path.H - np.repeat(means, n, axis=2), rtol=0, atol=1e-12)
    L = np.array([cp.central_path_loss(H, lam_W, lam_H, n) for H in path.H])
    G2 = np.array([np.sum(cp.central_path_grad(H, lam_W, lam_H, n) ** 2) for H in path.H])
    assert np.all(np.diff(L) < 0)
    # dL/dt = -Kn |grad L|^2 along Eq. 4; trapezoid error ~ (dt^2/12) T max|d^2/dt^2| ~ 1e-8.
    dissipated = K * n * np.sum((G2[1:] + G2[:-1]) / 2 * np.diff(t))
    assert L[0] - L[-1] == pytest.approx(dissipated, rel=1e-6)
    # First step: H(t) = H0 - t Kn grad L(H0) + O(t^2).
    v = -K * n * cp.central_path_grad(H0, lam_W, lam_H, n)
    for i in (1, 2):
        err = np.linalg.norm(path.H[i] - H0 - t[i] * v)
        assert err <= 10 * t[i] ** 2 * np.linalg.norm(v) ** 2 / np.linalg.norm(H0) + 1e-10


def test_gradient_flow_resolves_within_class_variability_far_below_round_off():
    rng = np.random.default_rng(4)
    K, n, d, lam_W, lam_H = 2, 3, 4, 1.0, 0.5
    t = np.array([0.0, 50.0, 100.0])
    path = cp.gradient_flow(rng.standard_normal((d, K * n)), t, lam_W, lam_H, n)
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
    W, H = cp.solve_eq2(H0, lam_W, lam_H, beta, n, gtol=1e-11)
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
    W, H = cp.solve_eq2(H_star, lam_W, lam_H, 1.0, n)
    # Unique minimizer (Corollary 2.2); the start is already stationary to rounding.
    np.testing.assert_allclose(H, H_star, rtol=0, atol=1e-9)
    np.testing.assert_allclose(W, W_star, rtol=0, atol=1e-9)


def test_solve_eq2_reports_when_it_stops_short():
    rng = np.random.default_rng(1)
    with pytest.raises(RuntimeError, match="gtol"):
        cp.solve_eq2(rng.standard_normal((5, 12)), 0.01, 0.01, 0.1, 4, max_iter=1)


_H = np.ones((5, 12)) + np.arange(60).reshape(5, 12) % 7  # K = 3, n = 4, d = 5
_inf_H = _H.copy()
_inf_H[1, 2] = np.inf

BAD = [
    (lambda: cp.central_path_loss(np.ones((5, 13)), 0.1, 0.1, 4), ValueError, "H"),
    (lambda: cp.central_path_loss(_inf_H, 0.1, 0.1, 4), ValueError, "H"),
    (lambda: cp.central_path_loss(_H, 0.0, 0.1, 4), ValueError, "lam_W"),
    (lambda: cp.central_path_loss(_H, -1.0, 0.1, 4), ValueError, "lam_W"),
    (lambda: cp.central_path_loss(_H, 0.1, -0.1, 4), ValueError, "lam_H"),
    (lambda: cp.central_path_loss(_H, 0.1, 0.1, 4, form="exact"), ValueError, "form"),
    (lambda: cp.central_path_grad(np.ones(60), 0.1, 0.1, 4), ValueError, "H"),
    (lambda: cp.central_path_grad(_H, 0.0, 0.1, 4, form="trace"), ValueError, "lam_W"),
    (lambda: cp.central_path_grad(_H, 0.1, 0.1, 4.0), TypeError, "n"),
    (lambda: cp.covariances(np.ones((5, 13)), 4), ValueError, "H"),
    (lambda: cp.covariance_traces(np.ones((2, 5, 13)), 4), ValueError, "H"),
    (lambda: cp.covariance_traces(np.ones(5), 4), ValueError, "H"),
    (lambda: cp.covariance_rates(_H, 0.0, 0.1, 4), ValueError, "lam_W"),
    (lambda: cp.gradient_flow(_H, [0.0, 1.0], 0.0, 0.1, 4), ValueError, "lam_W"),
    (lambda: cp.gradient_flow(_inf_H, [0.0, 1.0], 0.1, 0.1, 4), ValueError, "H"),
    (lambda: cp.gradient_flow(_H, [1.0, 0.5], 0.1, 0.1, 4), ValueError, "t_eval"),
    (lambda: cp.gradient_flow(_H, [-1.0, 0.5], 0.1, 0.1, 4), ValueError, "t_eval"),
    (lambda: cp.gradient_flow(_H, [0.0, np.nan], 0.1, 0.1, 4), ValueError, "t_eval"),
    (lambda: cp.gradient_flow(_H, [[0.0, 1.0]], 0.1, 0.1, 4), ValueError, "t_eval"),
    (lambda: cp.gradient_flow(_H, [0.0, 1.0], 0.1, 0.1, 4, rtol=0.0), ValueError, "rtol"),
    (lambda: cp.gradient_flow(_H, [0.0, 1.0], 0.1, 0.1, 4, atol=-1.0), ValueError, "atol"),
    (lambda: cp.solve_eq2(_H, 0.1, 0.1, 0.0, 4), ValueError, "beta"),
    (lambda: cp.solve_eq2(_H, 0.1, 0.1, np.inf, 4), ValueError, "beta"),
    (lambda: cp.solve_eq2(_H, 0.0, 0.1, 1.0, 4), ValueError, "lam_W"),
    (lambda: cp.solve_eq2(np.ones((5, 13)), 0.1, 0.1, 1.0, 4), ValueError, "H"),
    (lambda: cp.solve_eq2(_inf_H, 0.1, 0.1, 1.0, 4), ValueError, "H"),
    (lambda: cp.solve_eq2(_H, 0.1, 0.1, 1.0, 4, gtol=0.0), ValueError, "gtol"),
    (lambda: cp.solve_eq2(_H, 0.1, 0.1, 1.0, 4, max_iter=0), ValueError, "max_iter"),
    (lambda: cp.theorem_3_1_grid([(0.1, 0.1, 2, 2, 3)], 0, [0.0, 1.0], 1e-8, 1e-10,
                                 np.random.default_rng()), ValueError, "starts"),
]


@pytest.mark.parametrize("call,exc,name", BAD, ids=[f"{i:02d}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input_names_the_argument(call, exc, name):
    with pytest.raises(exc, match=rf"^{name}\b"):
        call()


# --------------------------------------------------------------------------- re-export, new checks


def test_imports_go_one_way_only():
    """nclib.central_path builds on nclib.ufm; importing nclib.ufm must not import it back."""
    import subprocess
    import sys
    code = "import sys, nclib.ufm; print('nclib.central_path' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert not hasattr(ufm, "solve_eq2")


def _nc1_pinv_by_hand(H, n):
    """Tr(Sigma_W Sigma_B^+)/K with Sigma_B^+ from an SVD cut at the K-1 nonzero values."""
    SW, SB, _, _ = (x.numpy() for x in _torch_covariances(torch.tensor(H), n))
    K = H.shape[1] // n
    U, s, _ = np.linalg.svd(SB)
    P = U[:, :K - 1] @ np.diag(1 / s[:K - 1]) @ U[:, :K - 1].T
    return np.trace(SW @ P) / K


def test_nc1_and_nc1_tilde_by_hand():
    rng = np.random.default_rng(5)
    K, n, d = 3, 4, 6
    H = rng.standard_normal((d, K * n)) + rng.standard_normal((d, 1))
    SW, SB, _, _ = _torch_covariances(torch.tensor(H), n)
    assert cp.nc1_tilde(H, n) == pytest.approx(float(torch.trace(SW) / torch.trace(SB)), rel=1e-12)
    assert cp.nc1(H, n) == pytest.approx(_nc1_pinv_by_hand(H, n), rel=1e-10)


def test_nc1_rates_match_the_flow():
    """d/dt NC1~ (Lemma A.1) and d/dt NC1 (central difference) against a finely integrated flow."""
    rng = np.random.default_rng(6)
    K, n, d, lam_W, lam_H = 3, 3, 4, 0.1, 0.02
    H0 = rng.standard_normal((d, K * n)) + rng.standard_normal((d, 1))
    h = 1e-4
    path = cp.gradient_flow(H0, [0.0, h, 2 * h], lam_W, lam_H, n, rtol=1e-13, atol=1e-15)
    fd_t = (-3 * cp.nc1_tilde(path.H[0], n) + 4 * cp.nc1_tilde(path.H[1], n)
            - cp.nc1_tilde(path.H[2], n)) / (2 * h)  # one-sided, O(h^2)
    fd = (-3 * cp.nc1(path.H[0], n) + 4 * cp.nc1(path.H[1], n) - cp.nc1(path.H[2], n)) / (2 * h)
    # O(h^2) ~ 1e-8 relative times the third derivative; 1e-5 leaves room for it
    assert cp.nc1_tilde_rate(H0, lam_W, lam_H, n) == pytest.approx(fd_t, rel=1e-5)
    assert cp.nc1_rate(H0, lam_W, lam_H, n) == pytest.approx(fd, rel=1e-5)


def test_lemma_b1_constants_bound_the_gradient():
    """The sharp constant bounds Kn|grad L|/|H| (random H of many scales) and is approached: by
    small collapsed H (1/lam_W - lam_H) and by large H (lam_H)."""
    rng = np.random.default_rng(7)
    K, n, d = 3, 2, 4
    for lam_W, lam_H in [(0.1, 0.02), (1.0, 2.0)]:
        sharp = cp.lemma_b1_constant(lam_W, lam_H, sharp=True)
        assert sharp == max(lam_H, abs(1 / lam_W - lam_H)) and sharp < cp.lemma_b1_constant(lam_W, lam_H)
        ratios = [cp.gradient_ratio(10 ** rng.uniform(-3, 3) * rng.standard_normal((d, K * n)),
                                    lam_W, lam_H, n) for _ in range(200)]
        assert max(ratios) <= sharp * (1 + 1e-12)
        small = 1e-6 * np.kron(np.eye(d)[:, :K], np.ones((1, n)))
        large = 1e6 * rng.standard_normal((d, K * n))
        approached = max(cp.gradient_ratio(small, lam_W, lam_H, n), cp.gradient_ratio(large, lam_W, lam_H, n))
        assert approached == pytest.approx(sharp, rel=1e-6)


def test_max_gradient_ratio_climbs_to_the_sharp_constant():
    """L-BFGS on the exact (autograd) gradient of the ratio: never below its starts, never above
    the sharp constant (rounding: 1e-12), and within 1e-4 of it (it is approached only as H -> 0
    or infinity, so the search stops short; wrong gradients would stall it far below)."""
    rng = np.random.default_rng(9)
    K, n, d = 3, 2, 4
    for lam_W, lam_H in [(0.1, 0.02), (1.0, 2.0)]:
        sharp = cp.lemma_b1_constant(lam_W, lam_H, sharp=True)
        starts = [10 ** rng.uniform(-2, 1) * rng.standard_normal((d, K * n)) for _ in range(3)]
        found = cp.max_gradient_ratio(starts, lam_W, lam_H, n)
        assert max(cp.gradient_ratio(H, lam_W, lam_H, n) for H in starts) <= found <= sharp * (1 + 1e-12)
        assert found == pytest.approx(sharp, rel=1e-4)
    with pytest.raises(ValueError, match="lam_W"):
        cp.max_gradient_ratio(starts, 0.0, 0.1, n)


def test_eq2_multistart_agrees_and_w_init_is_used():
    rng = np.random.default_rng(8)
    K, n, d = 3, 4, 5
    H0 = rng.standard_normal((d, K * n)) + rng.standard_normal((d, 1))
    res = cp.eq2_multistart(H0, 0.05, 0.02, 1.0, n, starts=3, seed=1)
    assert res.objectives.shape == (4,)
    assert np.ptp(res.objectives) < 1e-12 and res.spread < 1e-8  # one minimizer from every start
    W1, H1 = cp.solve_eq2(H0, 0.05, 0.02, 1.0, n, W_init=np.zeros((K, d)))
    assert W1.shape == (K, d) and np.linalg.norm(H1 - res.H) < 1e-8
    with pytest.raises(ValueError, match="W_init must be"):
        cp.solve_eq2(H0, 0.05, 0.02, 1.0, n, W_init=np.zeros((2, d)))


def test_nc1_attribution_separates_rotation_from_shrinkage():
    """K = 2: Sigma_B has one eigenpair. Rotating the mean difference (same length) changes NC1 only
    through the span; shrinking it only through the eigenvalue."""
    n = 3
    dev = np.zeros((3, 2 * n))
    dev[0] = [1.0, -1.0, 0.0, 0.5, -0.5, 0.0]
    dev[1] = [0.3, 0.0, -0.3, 0.0, 0.2, -0.2]

    def feats(mean_diff):
        return np.repeat(np.column_stack([mean_diff / 2, -mean_diff / 2]), n, axis=1) + dev

    lo = feats(np.array([2.0, 0.0, 0.0]))
    rotated = feats(np.array([0.0, 2.0, 0.0]))
    a = cp.nc1_attribution(lo, rotated, n)
    assert a.angle == pytest.approx(np.pi / 2) and a.frozen_basis == pytest.approx(a.lo)
    assert a.frozen_values == pytest.approx(a.hi) and a.hi != pytest.approx(a.lo)
    shrunk = feats(np.array([1.0, 0.0, 0.0]))
    b = cp.nc1_attribution(lo, shrunk, n)
    assert b.angle == pytest.approx(0.0, abs=1e-7) and b.hi == pytest.approx(4 * b.lo)
    assert b.frozen_values == pytest.approx(b.lo) and b.frozen_between == pytest.approx(b.lo)
    assert b.frozen_span == pytest.approx(b.hi)  # no rotation: freezing the span changes nothing


def test_nc1_attribution_span_freeze_by_hand():
    """frozen_span = Tr(Sigma_W(hi) (P Sigma_B(hi) P)^+)/K, P the projector on the start's span:
    for K = 2 the span is the line u of the start's mean difference, so it is
    u^T Sigma_W(hi) u / (K u^T Sigma_B(hi) u); for d = K - 1 the span is all of R^d (P = I)."""
    rng = np.random.default_rng(3)
    n = 4
    lo, hi = rng.standard_normal((3, 2 * n)), rng.standard_normal((3, 2 * n))
    SW, SB, _, _ = (x.numpy() for x in _torch_covariances(torch.tensor(hi), n))
    diff = lo[:, :n].mean(axis=1) - lo[:, n:].mean(axis=1)
    u = diff / np.linalg.norm(diff)
    a = cp.nc1_attribution(lo, hi, n)
    assert a.frozen_span == pytest.approx(u @ SW @ u / (2 * u @ SB @ u), rel=1e-10)
    K = 3  # d = 2 = K - 1
    lo, hi = rng.standard_normal((2, K * n)), rng.standard_normal((2, K * n))
    a = cp.nc1_attribution(lo, hi, n)
    assert a.frozen_span == pytest.approx(a.hi, rel=1e-10) and a.frozen_basis != pytest.approx(a.hi)


def test_joint_descent_rises_against_a_hand_loop():
    """The same starts (same seed), descent written out here, NC1~ from sample-by-sample traces;
    W_opt starts from W*(H0) = Y H0^T (H0 H0^T + n lam I)^{-1}."""
    K, n, d, lam, lr, steps = 2, 3, 3, 5e-3, 0.05, 40
    Y = ufm.targets(K, n)
    for W_opt in (False, True):
        out = cp.joint_descent_rises(K, n, d, lam, lam, lr=lr, steps=steps, starts=3, seed=0, W_opt=W_opt)
        rng = np.random.default_rng(0)
        for rise, step in zip(out.rise, out.step):
            W = rng.standard_normal((K, d)) / np.sqrt(d)
            H = rng.standard_normal((d, K * n)) / np.sqrt(d)
            if W_opt:
                W = Y @ H.T @ np.linalg.inv(H @ H.T + n * lam * np.eye(d))
            r = []
            for _ in range(steps + 1):
                SW, SB, _, _ = _torch_covariances(torch.tensor(H), n)
                r.append(float(torch.trace(SW) / torch.trace(SB)))
                R = W @ H - Y
                W, H = W - lr * (R @ H.T / n + lam * W), H - lr * (W.T @ R + lam * H)
            up = np.diff(r) / np.array(r[:-1])
            assert rise == pytest.approx(np.max(up), rel=1e-9, abs=1e-14) and step == np.argmax(up) + 1


def test_flow_trace_error_is_small_and_grows_with_rtol():
    rng = np.random.default_rng(9)
    K, n, d, lam_W, lam_H = 2, 3, 4, 1.0, 0.5
    H0 = rng.standard_normal((d, K * n))
    t = np.concatenate([[0.0], np.geomspace(1e-2, 50, 30)])
    tight, scale = cp.flow_trace_error(H0, t, lam_W, lam_H, n, rtol=1e-10, atol=1e-12)
    loose, _ = cp.flow_trace_error(H0, t, lam_W, lam_H, n, rtol=1e-6, atol=1e-8)
    # lam_H = 0.5 over t = 50: Tr Sigma_W falls by e^-50 at least, |log |D|| > 20
    assert scale > 20 and tight < 1e-8 and tight < loose


def test_eq2_multistart_spread_sees_a_rotation_orbit():
    """H0 = 0: Eq. 2 is Eq. 1 with lam_H + beta (c < 1 here), whose minimizers form a rotation
    orbit: random starts tie in objective at different points; W*(0) = 0 is a stationary point
    (a saddle) with a higher objective."""
    K, n, d = 2, 3, 3
    res = cp.eq2_multistart(np.zeros((d, K * n)), 0.05, 0.02, 1.0, n, starts=4, seed=2)
    assert res.objectives[0] - res.objectives.min() > 0.1 and res.spread > 0.1


def test_theorem_3_1_grid_draws_measures_and_holds():
    grid = [(0.1, 0.05, 2, 3, 4), (1.0, 0.0, 3, 2, 3)]
    t = np.array([0.0, 0.1, 1.0, 10.0])
    out = cp.theorem_3_1_grid(grid, 2, t, 1e-10, 1e-12, np.random.default_rng(5))
    assert len(out.rows) == 2 and len(out.flows) == 4
    ref = np.random.default_rng(5)
    for i, (case, r, TW, TB) in enumerate(out.flows):
        lam_W, lam_H, K, n, d = case
        assert case == grid[i // 2]
        H0 = ref.standard_normal((d, K * n)) + ref.standard_normal((d, 1))  # the documented draw
        means = np.stack([H0[:, k * n:(k + 1) * n].mean(axis=1) for k in range(K)], axis=1)
        tr_w = np.sum((H0 - np.repeat(means, n, axis=1)) ** 2) / (K * n)
        tr_b = np.sum((means - means.mean(axis=1, keepdims=True)) ** 2) / K
        assert r[0] == pytest.approx(tr_w / tr_b, rel=1e-12)
        assert TW[0] == TB[0] == 1.0
        # Theorem 3.1: NC1~ and T_W fall, T_B rises, here by far more than the integrator error.
        assert np.all(np.diff(r) < 0) and np.all(np.diff(TW) < 0) and np.all(np.diff(TB) > 0)
    for case, worst, lo, hi in out.rows:
        mine = [f for f in out.flows if f[0] == case]
        assert worst["nc1t"] == max(np.max(np.diff(f[1]) / f[1][:-1]) for f in mine) < 0
        assert worst["TB"] < 0 and worst["TW"] < 0
        assert (lo, hi) == (min(f[1][-1] / f[1][0] for f in mine), max(f[1][-1] / f[1][0] for f in mine))
