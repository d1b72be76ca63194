"""nclib.metrics against a straightforward per-sample float64 reference.

Tolerance: relative 1e-10. Both sides compute the same quantities in float64 by different
summation orders; on these well-conditioned problems (condition numbers of Σ_B below ~1e4)
the forward error is a few hundred eps at most, so 1e-10 leaves a wide margin while still
catching any real mistake (a missing 1/K, a wrong mean, float32 anywhere: ~1e-7).
"""

import numpy as np
import pytest
import torch

from nclib.metrics import NCAccumulator, nc_metrics

RTOL = 1e-10


def reference(X, y, W=None):
    """The definitions of nclib.metrics, written out sample by sample (float64, numpy)."""
    X = np.asarray(X, dtype=np.float64)
    K = int(y.max()) + 1
    N, d = X.shape
    means = np.array([X[y == k].mean(axis=0) for k in range(K)])
    mu_G = means.mean(axis=0)
    Sw_k = np.zeros((K, d, d))
    for i in range(N):
        r = X[i] - means[y[i]]
        Sw_k[y[i]] += np.outer(r, r)
    counts = np.bincount(y, minlength=K)
    Sw = Sw_k.sum(axis=0) / N
    Sb = sum(np.outer(m - mu_G, m - mu_G) for m in means) / K
    Sb_pinv = np.linalg.pinv(Sb, rcond=1e-10, hermitian=True)
    etf = (np.eye(K) - 1.0 / K) / np.sqrt(K - 1)
    Mc = (means - mu_G).T
    G = Mc.T @ Mc
    out = dict(
        nc1=np.trace(Sw @ Sb_pinv) / K,
        nc1_tilde=np.trace(Sw) / np.trace(Sb),
        nc2=np.linalg.norm(G / np.linalg.norm(G) - etf),
        nc1_per_class=np.array([np.trace(Sw_k[k] / counts[k] @ Sb_pinv) / K for k in range(K)]),
        tr_sw=np.trace(Sw),
        tr_sb=np.trace(Sb),
    )
    if W is not None:
        A = W @ Mc
        out["nc3"] = np.linalg.norm(A / np.linalg.norm(A) - etf)
    return out


def assert_matches(got, ref):
    for key, value in ref.items():
        np.testing.assert_allclose(getattr(got, key), value, rtol=RTOL, atol=0, err_msg=key)


def blobs(rng, counts, d, spread=1.0, offset=0.0, means=None):
    K = len(counts)
    y = np.repeat(np.arange(K), counts)
    rng.shuffle(y)
    means = 3.0 * rng.normal(size=(K, d)) if means is None else means
    X = offset + means[y] + spread * rng.normal(size=(len(y), d))
    return X, y


@pytest.mark.parametrize("case", ["balanced", "imbalanced", "d_greater_than_N", "far_from_origin", "near_collapse"])
def test_matches_reference(case):
    rng = np.random.default_rng(0)
    counts, d, offset, spread = {
        "balanced": ([40] * 5, 7, 0.0, 1.0),
        "imbalanced": ([3, 50, 11, 2, 30], 6, 0.0, 1.0),
        "d_greater_than_N": ([4, 3, 5], 40, 0.0, 1.0),
        "far_from_origin": ([25] * 4, 5, 1e4, 1.0),  # "second moment minus mean^2" would lose ~8 digits
        "near_collapse": ([30] * 4, 5, 0.0, 1e-7),  # NC1 ~ 1e-15: all of it must be resolved
    }[case]
    X, y = blobs(rng, counts, d, spread=spread, offset=offset)
    W = rng.normal(size=(len(counts), d))
    got = nc_metrics(X, y, W)
    assert_matches(got, reference(X, y, W))
    assert got.rank_sb == len(counts) - 1
    np.testing.assert_array_equal(got.counts, counts)


def test_rank_deficient_between_class_covariance():
    """K = 5 class means on a line: Σ_B has rank 1, the pseudo-inverse is restricted to it."""
    rng = np.random.default_rng(1)
    direction = rng.normal(size=6)
    means = np.outer(np.arange(5.0), direction)
    y = np.repeat(np.arange(5), 20)
    noise = rng.normal(size=(100, 6))
    noise -= np.array([noise[y == k].mean(axis=0) for k in range(5)])[y]  # sample means = means
    X = means[y] + noise
    got = nc_metrics(X, y)
    assert got.rank_sb == 1
    assert_matches(got, reference(X, y))


def test_streaming_equals_one_shot_and_is_order_independent():
    rng = np.random.default_rng(2)
    X, y = blobs(rng, [17, 23, 9, 31], 5)
    ref = reference(X, y)
    acc = NCAccumulator(4, 5)
    perm = rng.permutation(len(y))
    for chunk in np.array_split(perm, 13):  # uneven batches, some missing classes
        acc.update(X[chunk], y[chunk])
    assert_matches(acc.compute(), ref)
    assert_matches(nc_metrics(X, y, batch_size=1), ref)


def test_paper_identity_nc1_is_mean_of_per_class_when_balanced():
    """App. E.2: NC1 = (1/K) sum_k NC1^(k) for balanced classes (per-class scatter in float64)."""
    rng = np.random.default_rng(3)
    X, y = blobs(rng, [30] * 6, 8)
    got = nc_metrics(X, y)
    np.testing.assert_allclose(got.nc1_per_class.mean(), got.nc1, rtol=RTOL)


def test_without_per_class_scatter_gives_same_metrics():
    rng = np.random.default_rng(4)
    X, y = blobs(rng, [12, 40, 25], 9)
    full, pooled = nc_metrics(X, y), nc_metrics(X, y, per_class=False)
    assert pooled.nc1_per_class is None
    for key in ("nc1", "nc1_tilde", "nc2", "tr_sw", "tr_sb"):
        np.testing.assert_allclose(getattr(pooled, key), getattr(full, key), rtol=RTOL)


def test_torch_float32_input_is_accumulated_in_float64():
    rng = np.random.default_rng(5)
    X, y = blobs(rng, [50] * 3, 4)
    X32 = torch.from_numpy(X.astype(np.float32))
    got = nc_metrics(X32, torch.from_numpy(y))
    assert_matches(got, reference(X32.double().numpy(), y))


def test_exact_collapse_gives_zero_not_negative():
    """All samples equal to their class mean: NC1 = NC1~ = 0 exactly up to rounding, never < 0."""
    rng = np.random.default_rng(6)
    means = rng.normal(size=(4, 6))
    y = np.repeat(np.arange(4), 25)
    X = means[y] * (1 + 1e-3)  # class means not exactly representable as sums of samples
    m = nc_metrics(X, y)
    assert 0.0 <= m.nc1 < 1e-25 and 0.0 <= m.nc1_tilde < 1e-25
    assert np.all(m.nc1_per_class >= 0.0)


def test_simplex_etf_features_have_zero_nc2_and_nc3():
    K, d = 4, 6
    etf = np.eye(K) - 1.0 / K  # columns: centred one-hots, a simplex ETF in R^K
    means = np.zeros((K, d))
    means[:, :K] = 5.0 * etf.T
    y = np.repeat(np.arange(K), 3)
    m = nc_metrics(means[y] + 2.0, y, W=means.copy())
    assert m.nc2 < 1e-14 and m.nc3 < 1e-14 and m.nc1 < 1e-25


def test_nc3_is_none_without_W():
    rng = np.random.default_rng(7)
    X, y = blobs(rng, [5] * 3, 4)
    assert nc_metrics(X, y).nc3 is None


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(X=np.zeros((4, 3)), y=np.array([0, 0, 1, 1])), ValueError, "Sigma_B = 0"),
        (dict(y=np.array([0, 1, 2, 5]), num_classes=4), ValueError, "labels must lie in 0..3"),
        (dict(y=np.array([0, -1, 2, 3])), ValueError, "labels must lie"),
        (dict(y=np.array([0, 1, 1, 3])), ValueError, r"classes \[2\] have no samples"),
        (dict(y=np.array([0.0, 1.0, 2.0, 3.0])), TypeError, "labels must be integers"),
        (dict(y=np.array([0, 1, 2])), ValueError, r"labels must have shape \(4,\)"),
        (dict(y=[0, 1, 2, 3]), TypeError, "labels must be a numpy array"),
        (dict(y=np.zeros(4, dtype=np.int64)), ValueError, "num_classes must be an integer >= 2"),
        (dict(X=np.ones(4)), ValueError, r"features must have shape \(N, d\)"),
        (dict(X=np.array([[0.0, 1], [np.nan, 0], [1, 1], [2, 2]])), ValueError, "features contains NaN"),
        (dict(X=np.array([[0, 1], [1, 0], [1, 1], [2, 2]], dtype=complex)), TypeError, "features must hold real"),
        (dict(W=np.ones((4, 3))), ValueError, r"W must have shape \(K, d\) = \(4, 2\)"),
        (dict(W=np.array([[1.0, 0], [0, 1], [1, 1], [np.inf, 0]])), ValueError, "W contains NaN"),
        (dict(W=np.zeros((4, 2))), ValueError, "W M = 0"),
        (dict(num_classes=5), ValueError, r"classes \[4\] have no samples"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_error(kwargs, error, match):
    X = kwargs.pop("X", np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))
    y = kwargs.pop("y", np.array([0, 1, 2, 3]))
    W = kwargs.pop("W", None)
    with pytest.raises(error, match=match):
        nc_metrics(X, y, W, **kwargs)


def test_accumulator_rejects_wrong_feature_dimension():
    acc = NCAccumulator(3, 4)
    with pytest.raises(ValueError, match=r"features must have shape \(B, 4\)"):
        acc.update(np.zeros((2, 5)), np.array([0, 1]))
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        NCAccumulator(3, 0)
    with pytest.raises(ValueError, match=r"classes \[0, 1, 2\] have no samples"):
        NCAccumulator(3, 4).compute()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_features_match_cpu():
    rng = np.random.default_rng(8)
    X, y = blobs(rng, [30] * 4, 6)
    got = nc_metrics(torch.from_numpy(X).cuda(), torch.from_numpy(y).cuda())
    assert_matches(got, reference(X, y))


# --- the two routes: per-class scatters (one pass) and the bounded pooled route (two passes) ---

CASES = {  # (counts, d, offset, spread): the adversarial cases of test_matches_reference
    "balanced": ([40] * 5, 7, 0.0, 1.0),
    "imbalanced": ([3, 50, 11, 2, 30], 6, 0.0, 1.0),
    "d_greater_than_N": ([4, 3, 5], 40, 0.0, 1.0),
    "far_from_origin": ([25] * 4, 5, 1e4, 1.0),
    "near_collapse": ([30] * 4, 5, 0.0, 1e-7),
}


def stream(acc, X, y, rng, pieces=7, second=False):
    """Feed (X, y) to ``acc`` in uneven shuffled batches (some missing classes)."""
    for chunk in np.array_split(rng.permutation(len(y)), pieces):
        (acc.update_per_class if second else acc.update)(X[chunk], y[chunk])


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("route", ["pooled", "scatter"])
def test_both_routes_match_reference_when_streamed(case, route):
    rng = np.random.default_rng(10)
    counts, d, offset, spread = CASES[case]
    X, y = blobs(rng, counts, d, spread=spread, offset=offset)
    W = rng.normal(size=(len(counts), d))
    acc = NCAccumulator(len(counts), d, route=route)
    stream(acc, X, y, rng)
    assert acc.needs_second_pass == (route == "pooled")
    if route == "pooled":
        assert acc.compute(W).nc1_per_class is None  # not yet: the second pass gives it
        stream(acc, X, y, rng, pieces=3, second=True)  # other batches, other order
        assert not acc.needs_second_pass
    got = acc.compute(W)
    assert_matches(got, reference(X, y, W))
    assert got.rank_sb == len(counts) - 1


@pytest.mark.parametrize("route", ["pooled", "scatter"])
def test_routes_rank_deficient_and_exact_collapse(route):
    rng = np.random.default_rng(11)
    means = np.outer(np.arange(5.0), rng.normal(size=6))  # rank-1 Σ_B
    y = np.repeat(np.arange(5), 20)
    noise = rng.normal(size=(100, 6))
    noise -= np.array([noise[y == k].mean(axis=0) for k in range(5)])[y]  # sample means = means
    X = means[y] + noise
    got = nc_metrics(X, y, route=route, batch_size=17)
    assert got.rank_sb == 1
    assert_matches(got, reference(X, y))
    Xc = rng.normal(size=(4, 6))[np.repeat(np.arange(4), 25)] * (1 + 1e-3)  # every sample at its mean
    yc = np.repeat(np.arange(4), 25)
    m = nc_metrics(Xc, yc, route=route, batch_size=9)
    assert 0.0 <= m.nc1 < 1e-25 and 0.0 <= m.nc1_tilde < 1e-25 and np.all(m.nc1_per_class >= 0.0)


def test_pooled_route_with_many_classes_in_a_batch_matches_scatter():
    """More classes in a batch than BLOCK_CLASSES: the pooled route gathers shifts row by row."""
    from nclib.metrics import BLOCK_CLASSES

    rng = np.random.default_rng(12)
    K, d = BLOCK_CLASSES + 44, 5
    X, y = blobs(rng, [3] * K, d, offset=50.0)
    W = rng.normal(size=(K, d))
    pooled, scatter = nc_metrics(X, y, W, route="pooled"), nc_metrics(X, y, W, route="scatter")
    for key in ("nc1", "nc1_tilde", "nc2", "nc3", "tr_sw", "tr_sb", "nc1_per_class"):
        np.testing.assert_allclose(getattr(pooled, key), getattr(scatter, key), rtol=RTOL, atol=0, err_msg=key)


def test_auto_route_keeps_memory_bounded():
    """The default takes per-class scatters only while they take <= SCATTER_LIMIT_BYTES."""
    from nclib.metrics import SCATTER_LIMIT_BYTES

    assert NCAccumulator(10, 512).route == "scatter"
    assert NCAccumulator(10, 3072).route == "scatter"  # the MLP's features: 0.75 GB
    big = NCAccumulator(1000, 2048, device="cpu")  # 34 GB of scatters: pooled, allocated at once
    assert big.route == "pooled" and big.scatter_bytes > SCATTER_LIMIT_BYTES
    assert sum(t.numel() * 8 for t in (big._count, big._shift, big._sum, big._scatter)) < 70e6  # 8 (d^2 + 2Kd + K)
    assert NCAccumulator(10, 512, per_class=False).route == "pooled"


def test_route_errors_name_what_to_pass():
    with pytest.raises(ValueError, match="route must be 'auto', 'pooled' or 'scatter'"):
        NCAccumulator(3, 4, route="fast")
    with pytest.raises(ValueError, match="needs per_class=True"):
        NCAccumulator(3, 4, route="scatter", per_class=False)
    with pytest.raises(ValueError, match="pass route='pooled'"):
        NCAccumulator(2 ** 20, 2 ** 12, route="scatter", device="cpu")  # 1.4e14 bytes
    acc = NCAccumulator(3, 2, route="scatter")
    with pytest.raises(RuntimeError, match="second pass of route='pooled'"):
        acc.update_per_class(np.zeros((1, 2)), np.array([0]))


def test_second_pass_must_cover_the_first():
    rng = np.random.default_rng(13)
    X, y = blobs(rng, [10, 12, 8], 4)
    acc = NCAccumulator(3, 4, route="pooled")
    acc.update(X, y)
    acc.update_per_class(X[:15], y[:15])
    with pytest.raises(RuntimeError, match="update\\(\\) after update_per_class"):
        acc.update(X, y)
    with pytest.raises(ValueError, match="second pass .* is incomplete"):
        acc.compute()
    acc.update_per_class(X[15:], y[15:])
    assert_matches(acc.compute(), reference(X, y))
    with pytest.raises(ValueError, match="more samples of some class"):
        acc.update_per_class(X[:1], y[:1])


def test_nan_is_caught_on_every_path():
    from nclib.metrics import BLOCK_CLASSES

    X = np.ones((4, 2)) * np.arange(4)[:, None]
    X[2, 1] = np.nan
    for route in ("pooled", "scatter"):
        with pytest.raises(ValueError, match="features contains NaN"):
            NCAccumulator(4, 2, route=route).update(X, np.arange(4))
    K = BLOCK_CLASSES + 1
    Xk = np.arange(K * 2.0).reshape(K, 2)
    Xk[5, 0] = np.inf
    with pytest.raises(ValueError, match="features contains NaN"):
        NCAccumulator(K, 2, route="pooled").update(Xk, np.arange(K))


@pytest.mark.parametrize("script,patterns", [
    ("bench_metrics.py", [r"nclib / gram floor = \d+\.\d+x", r"ratio time per row at N / at N/4 = \d+\.\d+x"]),
    ("bench_metrics_memory.py", [r"peak memory K = 100, d = 64: \d+\.\d+ GB"]),
])
def test_metrics_benchmarks_print_their_ratios(script, patterns):
    """The benchmarks run at the smoke profile (timings are not asserted: CI machines vary)."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / script)], cwd=root, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, NCLIB_PROFILE="smoke"))
    assert proc.returncode == 0, proc.stderr
    for pattern in patterns:
        assert re.search(pattern, proc.stdout), (pattern, proc.stdout)
