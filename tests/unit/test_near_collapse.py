"""nclib.near_collapse: the first-order prediction of the within-class deviations against the dense
exact operator of Theorem 4.1 (nclib.perturbation.perturbation_operator, built from the Hessian of
App. C), and the grid against its own prediction at a small perturbation. Float64 throughout."""

from __future__ import annotations

import numpy as np
import pytest

from nclib import near_collapse as nc
from nclib import perturbation as pt
from nclib import ufm


@pytest.mark.parametrize("lam_W, lam_H, beta", [(0.1, 0.05, 10.0), (1e-2, 0.5, 2.0), (0.5, 1.0, 0.3)])
def test_predicted_within_is_the_exact_operator_on_within_class_directions(lam_W, lam_H, beta):
    rng = np.random.default_rng(0)
    K, n, d = 3, 3, 5
    R = np.linalg.qr(rng.standard_normal((d, K)))[0]
    W, H = ufm.collapsed_minimizer(K, n, d, lam_W, lam_H, R=R)
    F = pt.perturbation_operator(W, H, lam_W, lam_H, beta, n)
    X = rng.standard_normal((d, K * n))
    X -= np.repeat(X.reshape(d, K, n).mean(axis=2), n, axis=1)  # within-class only
    FX = (F @ X.reshape(-1, order="F")).reshape(d, K * n, order="F")
    # O(1) entries through a dense inverse of a well-conditioned matrix: 1e-12
    np.testing.assert_allclose(nc.predicted_within(X, R, n, lam_W, lam_H, beta), FX, atol=1e-12)
    g1, g2 = nc.attenuations(lam_W, lam_H, beta)
    assert g1 == pytest.approx(1 / (1 + np.sqrt(lam_H / lam_W) / beta)) and g2 < 1


def test_grid_matches_prediction_and_skips_c_at_least_one():
    g = nc.near_collapse_grid(3, 3, 5, [0.1, 2.0], [0.05, 1.0], beta=5.0, noise=1e-4, seed=1, starts=1)
    assert g.nc1_tilde_out.shape == (2, 2) and np.isnan(g.nc1_tilde_out[1, 1])  # c = sqrt(2) > 1
    ok = ~np.isnan(g.nc1_tilde_out)
    # second-order terms are O(noise) relative
    assert np.max(np.abs(g.nc1_tilde_out[ok] / g.nc1_tilde_pred[ok] - 1)) < 1e-2
    assert np.max(np.abs(g.nc1_out[ok] / g.nc1_pred[ok] - 1)) < 1e-2
    assert np.all(g.nc1_tilde_out[ok] < g.nc1_tilde_in[ok]) and np.max(g.spread[ok]) < 1e-8


def test_bad_input():
    with pytest.raises(ValueError, match="d must be > K"):
        nc.near_collapse_grid(3, 3, 3, [0.1], [0.1], 5.0, 1e-3)
    with pytest.raises(ValueError, match="R must be d x K"):
        nc.predicted_within(np.zeros((4, 6)), np.zeros((5, 2)), 3, 0.1, 0.1, 1.0)


def test_distance_sweep_is_first_order_and_exact_at_tiny_noise():
    out = nc.distance_sweep(3, 3, 5, 0.1, 0.05, 2.0, [1e-6, 1e-5, 0.5], seed=2)
    # errors and lambda_min(G) linear in the distance: a tenfold step multiplies them by ~10
    assert 9 < out.err_nc1[1] / out.err_nc1[0] < 11 and 9 < out.lam_min_G[1] / out.lam_min_G[0] < 11
    assert np.all(out.lam_min_G < 0) and out.norm_F[2] > 1 + 1e-3
    g1, _ = nc.attenuations(0.1, 0.05, 2.0)
    assert out.sigma_min[0] == pytest.approx(g1, rel=1e-5)  # Theorem 4.2 (exact F) at the collapse
    # ||F|| = 1/(1 + lambda_min(G)/beta): F = (I + G/beta)^{-1}
    np.testing.assert_allclose(out.norm_F, 1 / (1 + out.lam_min_G / 2.0), rtol=1e-9)


def test_class_leak_a_collapsed_class_stays_collapsed():
    own, rest = nc.class_leak(3, 3, 5, 0.1, 0.05, 2.0, [1e-3, 1e-1], seed=3)
    assert np.all(own < 1e-14) and np.all(rest > 1e-5) and rest[1] / rest[0] == pytest.approx(100, rel=0.1)
