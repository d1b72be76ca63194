"""Cost of the NC metrics on network-sized features, measured side by side in one run.

Compares, on the same random (N, d) float32 features with K classes:

* ``nclib``      -- :func:`nclib.metrics.nc_metrics` (streaming, float64, its default route:
  per-class scatters at this K and d, one pass);
* ``pooled``     -- the bounded route (d x d plus K x d), with the second pass for per-class NC1;
* ``pooled/no pc`` -- the bounded route without per-class NC1 (one pass);
* ``gram``       -- one float64 Gram matrix X^T X of all features: the floor any exact
  float64 method pays (it must look at every feature pair once);
* ``loop``       -- the straightforward per-sample reference (one outer product per sample, as
  in public NC code); timed on a subset and scaled linearly to N, as its cost is linear in N;
* ``float32 pinv`` -- the common shortcut: covariances by torch in float32, ``torch.linalg.pinv``.

Prints the times and the ratios, and the NC1 each method gives (the float32 route also shows
how far it drifts from float64); then the default's time at N/4, N/2 and N beside the Gram
floor's, per row, to show that the cost is linear in N. Timings are the best of three, interleaved,
with ``NCLIB_BENCH_THREADS`` torch threads (default 1: on a machine shared with other jobs one
thread gives steady ratios; the ratio, not the absolute time, is the result). Peak memory at large
K: ``benchmarks/bench_metrics_memory.py``. Sizes: ``NCLIB_PROFILE=smoke`` runs a small problem (CI);
otherwise N = 50,000, d = 512, K = 10 (a CIFAR-10 training set through ResNet18).

    python benchmarks/bench_metrics.py
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from nclib import profiles
from nclib.metrics import nc_metrics

SIZES = {"smoke": dict(N=5_000, d=128, K=10, loop_n=500), "small": dict(N=50_000, d=512, K=10, loop_n=2_000)}
SIZES["paper"] = SIZES["small"]


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def per_sample_loop(X, y, K):
    """NC1 with one outer product per sample (float64 numpy), the reference formulation."""
    X = X.astype(np.float64)
    means = np.array([X[y == k].mean(axis=0) for k in range(K)])
    Sw = np.zeros((X.shape[1], X.shape[1]))
    for i in range(len(y)):
        r = X[i] - means[y[i]]
        Sw += np.outer(r, r)
    Sw /= len(y)
    Mc = means - means.mean(axis=0)
    Sb = Mc.T @ Mc / K
    return float(np.trace(Sw @ np.linalg.pinv(Sb, hermitian=True)) / K)


def float32_pinv(X, y, K):
    """NC1 as often computed: float32 covariances and torch.linalg.pinv."""
    X = torch.from_numpy(X)
    y = torch.from_numpy(y)
    means = torch.stack([X[y == k].mean(dim=0) for k in range(K)])
    R = X - means[y]
    Sw = R.T @ R / len(y)
    Mc = means - means.mean(dim=0)
    Sb = Mc.T @ Mc / K
    return float(torch.trace(Sw @ torch.linalg.pinv(Sb)) / K)


def main():
    torch.set_num_threads(int(os.environ.get("NCLIB_BENCH_THREADS", "1")))
    cfg = SIZES[profiles.current()]
    N, d, K, loop_n = cfg["N"], cfg["d"], cfg["K"], cfg["loop_n"]
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, N)
    X = (rng.normal(size=(K, d))[y] + 0.3 * rng.normal(size=(N, d))).astype(np.float32)
    print(f"features {N} x {d} (float32), K = {K}, torch threads = {torch.get_num_threads()}, "
          f"device = {profiles.device_name()}")

    Xd = torch.from_numpy(X)
    fns = {"nclib": lambda: nc_metrics(X, y), "pooled": lambda: nc_metrics(X, y, route="pooled"),
           "pooled/no pc": lambda: nc_metrics(X, y, per_class=False),
           "gram": lambda: (lambda A: A.T @ A)(Xd.double())}
    best, outs = {k: float("inf") for k in fns}, {}
    for _ in range(3):  # interleaved, so that a busy moment of the machine hits every method alike
        for k, fn in fns.items():
            t, outs[k] = best_of(fn, repeat=1)
            best[k] = min(best[k], t)
    t_nclib, m, t_gram = best["nclib"], outs["nclib"], best["gram"]
    t_f32, nc1_f32 = best_of(lambda: float32_pinv(X, y, K))
    sub = rng.permutation(N)[:loop_n]
    t_loop_sub, _ = best_of(lambda: per_sample_loop(X[sub], y[sub], K), repeat=1)
    t_loop = t_loop_sub * N / loop_n

    print(f"{'method':<14}{'seconds':>10}{'vs nclib':>10}   NC1")
    print(f"{'nclib':<14}{t_nclib:>10.3f}{1.0:>10.2f}   {m.nc1:.10e}")
    for k in ("pooled", "pooled/no pc"):
        print(f"{k:<14}{best[k]:>10.3f}{best[k] / t_nclib:>10.2f}   {outs[k].nc1:.10e}")
    print(f"{'gram (floor)':<14}{t_gram:>10.3f}{t_gram / t_nclib:>10.2f}   -")
    print(f"{'loop':<14}{t_loop:>10.3f}{t_loop / t_nclib:>10.2f}   (timed on {loop_n} samples, scaled to {N})")
    print(f"{'float32 pinv':<14}{t_f32:>10.3f}{t_f32 / t_nclib:>10.2f}   {nc1_f32:.10e} "
          f"(relative error {abs(nc1_f32 - m.nc1) / m.nc1:.1e})")
    print(f"ratio loop / nclib = {t_loop / t_nclib:.1f}x ; nclib / gram floor = {t_nclib / t_gram:.2f}x ; "
          f"pooled / gram floor = {best['pooled'] / t_gram:.2f}x ; "
          f"pooled/no pc / gram floor = {best['pooled/no pc'] / t_gram:.2f}x")

    print(f"{'N':>8}{'nclib s':>10}{'gram s':>10}{'nclib us/row':>14}{'ratio':>8}")
    per_row = []
    for n in (N // 4, N // 2, N):
        Xn, yn = X[:n], y[:n]
        Xdn = torch.from_numpy(Xn)
        t_n, t_g = float("inf"), float("inf")
        for _ in range(3):
            t_n = min(t_n, best_of(lambda: nc_metrics(Xn, yn), repeat=1)[0])
            t_g = min(t_g, best_of(lambda: (lambda A: A.T @ A)(Xdn.double()), repeat=1)[0])
        print(f"{n:>8}{t_n:>10.3f}{t_g:>10.3f}{1e6 * t_n / n:>14.2f}{t_n / t_g:>8.2f}")
        per_row.append(t_n / n)
    print(f"ratio time per row at N / at N/4 = {per_row[-1] / per_row[0]:.2f}x (1.00x: linear in N)")



if __name__ == "__main__":
    main()
