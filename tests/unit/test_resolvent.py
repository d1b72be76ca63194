"""nclib.resolvent: G = Kn Hess L against torch autograd of L(H) written from its definition, the
resolvent form of Theorem 4.1's F (dense, nclib.perturbation), the orbit identity, the gradient of
the adversarial search against central finite differences. Float64 throughout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nclib import central_path as cp
from nclib import perturbation as pt
from nclib import resolvent as rv
from nclib import ufm


def _vec(X):
    return X.reshape(-1, order="F")


def _torch_hessian_L(H, lam_W, lam_H, n):
    d, Kn = H.shape
    K = Kn // n
    Y = torch.kron(torch.eye(K, dtype=torch.float64), torch.ones(1, n, dtype=torch.float64))

    def L(x):
        Ht = x.reshape(Kn, d).T
        W = Y @ Ht.T @ torch.linalg.inv(Ht @ Ht.T + n * lam_W * torch.eye(d, dtype=torch.float64))
        return (((W @ Ht - Y) ** 2).sum() / (2 * Kn) + lam_W / (2 * K) * (W ** 2).sum()
                + lam_H / (2 * Kn) * (Ht ** 2).sum())

    return Kn * torch.autograd.functional.hessian(L, torch.tensor(_vec(H))).numpy()


@pytest.fixture(scope="module")
def point():
    rng = np.random.default_rng(0)
    K, n, d, lam_W, lam_H, beta = 3, 2, 4, 0.1, 0.05, 2.0
    H0 = rng.standard_normal((d, K * n)) + rng.standard_normal((d, 1))
    W, H = cp.solve_eq2(H0, lam_W, lam_H, beta, n, gtol=1e-13)
    return dict(K=K, n=n, d=d, lam_W=lam_W, lam_H=lam_H, beta=beta, H0=H0, W=W, H=H, rng=rng)


def test_hessian_and_resolvent(point):
    p = point
    G = rv.central_path_hessian(p["H"], p["lam_W"], p["lam_H"], p["n"])
    ref = _torch_hessian_L(p["H"], p["lam_W"], p["lam_H"], p["n"])
    assert np.linalg.norm(G - ref) / np.linalg.norm(ref) < 1e-10
    F = pt.perturbation_operator(p["W"], p["H"], p["lam_W"], p["lam_H"], p["beta"], p["n"])
    assert np.abs(np.linalg.inv(np.eye(G.shape[0]) + G / p["beta"]) - F).max() < 1e-10
    A = p["rng"].standard_normal((p["d"], p["d"]))
    A -= A.T
    np.testing.assert_allclose(F @ _vec(A @ p["H0"]), _vec(A @ p["H"]), atol=1e-10)


def test_orbit_tangent_is_the_null_space_at_a_collapse():
    K, n, d, lam_W, lam_H = 3, 2, 5, 0.1, 0.05
    R = np.linalg.qr(np.random.default_rng(1).standard_normal((d, K)))[0]
    _, H = ufm.collapsed_minimizer(K, n, d, lam_W, lam_H, R=R)
    T = rv.orbit_tangent_basis(H)
    assert T.shape == (d * K * n, K * d - K * (K + 1) // 2)
    np.testing.assert_allclose(T.T @ T, np.eye(T.shape[1]), atol=1e-12)
    G = _torch_hessian_L(H, lam_W, lam_H, n)
    assert np.abs(G @ T).max() < 1e-10
    assert np.sum(np.abs(np.linalg.eigvalsh(G)) < 1e-10) == T.shape[1]


def test_search_gradient_matches_finite_differences(point):
    p = point
    phi, gH, gb = rv._rise_and_grad(p["H0"], np.log(p["beta"]), p["lam_W"], p["lam_H"], p["n"], 1e-13)
    D = p["rng"].standard_normal(p["H0"].shape)
    h = 1e-5

    def at(H0, lb):
        return rv._rise_and_grad(H0, lb, p["lam_W"], p["lam_H"], p["n"], 1e-13)[0]

    fd_H = (at(p["H0"] + h * D, np.log(p["beta"])) - at(p["H0"] - h * D, np.log(p["beta"]))) / (2 * h)
    fd_b = (at(p["H0"], np.log(p["beta"]) + h) - at(p["H0"], np.log(p["beta"]) - h)) / (2 * h)
    assert np.sum(gH * D) == pytest.approx(fd_H, rel=1e-6) and gb == pytest.approx(fd_b, rel=1e-6)
    assert phi < 0  # Corollary 3.2 at this point


def test_search_finds_no_rise_and_reports_its_cases():
    out = rv.corollary_3_2_search(2, 5, 1.0, seed=3)
    assert out.rises.shape == (2,) and np.all(out.rises >= out.starts - 1e-12)  # L-BFGS never worsens
    assert np.all(out.rises < 0) and out.evaluations >= 4
    for (K, n, d, lam_W, lam_H, beta, rms), H0 in zip(out.cases, out.H0s):
        assert d >= K and H0.shape == (d, K * n) and beta == 1.0
        assert np.linalg.norm(H0) == pytest.approx(rms * np.sqrt(H0.size), rel=1e-12)
