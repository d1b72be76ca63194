"""nclib.costs: FLOPs of a run against a count by hand, and the minutes estimated from them."""

import json

import pytest

from nclib import costs
from nclib.train import RunConfig


def resnet18_forward(width, channels, size, K=10):
    """2 x multiply-adds of the convolutions and of fc of ResNet18 with the small-image stem."""
    flops, side, prev = 2 * channels * width * 9 * size**2, size, width
    for stage in range(4):
        c = width * 2**stage
        if stage:
            side = (side + 1) // 2  # stride 2, padding 1
            flops += 2 * prev * c * 9 * side**2 + 2 * prev * c * side**2  # strided 3x3 + 1x1 shortcut
            flops += 3 * 2 * c * c * 9 * side**2
        else:
            flops += 4 * 2 * c * c * 9 * side**2
        prev = c
    return flops + 2 * 8 * width * K


@pytest.mark.parametrize("dataset,channels,size", [("cifar10", 3, 32), ("mnist", 1, 28)])
def test_resnet_run_counts_its_convolutions_per_sample(dataset, channels, size):
    forward = resnet18_forward(64, channels, size)
    assert forward > 9e8  # ResNet18 at 32 x 32: ~0.56 G multiply-adds
    config = RunConfig(dataset=dataset, width=64, epochs=1, n_per_class=100, test_per_class=30)
    n_train, n_test = 1000, 300
    # training step: forward + backward, which is 2 x forward except the input gradient of the stem
    stem = 2 * channels * 64 * 9 * size**2
    expected = n_train * (forward + 2 * forward - stem + forward) + n_test * forward
    assert costs.run_flops(config) == pytest.approx(expected, rel=1e-12)
    assert costs.run_flops(RunConfig(dataset=dataset, width=64, epochs=7, n_per_class=100, test_per_class=30)) \
        == pytest.approx(7 * expected, rel=1e-12)


def test_whole_split_sizes_apply_without_a_subset():
    full = RunConfig(dataset="cifar10", width=8, epochs=1)
    forward = resnet18_forward(8, 3, 32)
    step = 3 * forward - 2 * 3 * 8 * 9 * 32**2
    assert costs.run_flops(full) == pytest.approx(50_000 * (step + forward) + 10_000 * forward, rel=1e-12)


def test_layerwise_mlp_trains_the_newest_layer_on_frozen_features():
    d_in, w, K, layers, epochs, n_train, n_test = 3072, 16, 10, 3, 2, 50, 30
    expected = 0
    for depth in range(1, layers + 1):
        fan_in = d_in if depth == 1 else w
        forward = 2 * (d_in * w + (depth - 1) * w * w + w * K)
        frozen = forward - 2 * (fan_in * w + w * K)
        # newest layer and fc: forward, gradients of both weights, fc's input gradient
        step = 2 * (fan_in * w + w * K) + 2 * fan_in * w + 2 * 2 * w * K
        expected += n_train * (frozen + epochs * step) + (n_train + n_test) * forward
    config = RunConfig(dataset="cifar10", model="mlp", width=w, epochs=layers, mlp_epochs=epochs, n_per_class=5,
                       test_per_class=3, wd_features=0.0, wd_classifier=0.0)
    assert costs.run_flops(config) == pytest.approx(expected, rel=1e-12)


def test_minutes_follow_the_assumed_throughput_and_the_sharing(tmp_path, monkeypatch):
    monkeypatch.setenv("NCLIB_RESULTS", str(tmp_path))  # no measurement stored
    a = RunConfig(dataset="mnist", width=8, epochs=2, n_per_class=10)
    b = RunConfig(dataset="mnist", width=8, epochs=6, n_per_class=10)
    fa, fb = costs.run_flops(a), costs.run_flops(b)
    T = costs.GPU_FLOPS["A100"]
    assert costs.estimate_minutes(a, "A100") == pytest.approx(fa / T / 60)
    assert costs.estimate_minutes([a, b], "A100") == pytest.approx((fa + fb) / T / 60)
    # two slots, each at half the shared throughput: the longer run sets the time
    per_run = T * costs.SHARING_GAIN[2] / 2
    assert costs.estimate_minutes([a, b], "A100", 2) == pytest.approx(fb / per_run / 60)
    assert costs.estimate_minutes([a, a, b], "A100", 2) == pytest.approx(fb / per_run / 60)  # 2 a's fill one slot
    assert costs.estimate_minutes([a], "T4") > costs.estimate_minutes([a], "H200")


def test_assumptions_stay_below_the_published_peaks():
    peaks = {"H200": 989e12, "A100": 312e12, "L4": 121e12, "T4": 65e12}
    assert set(costs.GPU_FLOPS) == set(peaks)
    assert all(0 < costs.GPU_FLOPS[g] < peaks[g] for g in peaks)
    assert costs.SHARING_GAIN[1] == 1.0


def test_a_stored_measurement_replaces_the_h200_assumption(tmp_path, monkeypatch):
    monkeypatch.setenv("NCLIB_RESULTS", str(tmp_path))
    path = tmp_path / costs.MEASURED
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"run_flops_per_s": 2e13, "sharing_gain": {"1": 1.0, "2": 1.7}}))
    assert costs.measured_flops(path) == 2e13
    assert costs.throughput("H200") == 2e13
    assert costs.throughput("H200", 2) == pytest.approx(3.4e13)
    assert costs.throughput("H200", 4) == pytest.approx(2e13 * costs.SHARING_GAIN[4])  # not measured: assumed
    assert costs.throughput("A100") == costs.GPU_FLOPS["A100"]
    path.write_text(json.dumps({"sharing_gain": {}}))
    with pytest.raises(ValueError, match="run_flops_per_s"):
        costs.measured_flops(path)


def test_bad_arguments_are_named():
    config = RunConfig(dataset="mnist", width=8, epochs=1, n_per_class=10)
    with pytest.raises(ValueError, match="gpu"):
        costs.estimate_minutes(config, "V100")
    with pytest.raises(ValueError, match="runs_sharing"):
        costs.estimate_minutes(config, "H200", 3)
    with pytest.raises(TypeError, match="config"):
        costs.run_flops({"dataset": "mnist"})


def test_profile_estimates_count_shared_runs_once_and_cover_every_profile():
    from nclib import experiments, profiles

    text = costs.profile_estimates("fig3", "table1", gpu="T4")
    for p in profiles.PROFILES:
        shared = {c for e in ("fig3", "table1") for c in experiments.grid(e, p).values()}
        minutes = costs.estimate_minutes(list(shared), "T4")
        assert f"  {p:<7} {len(shared):>3} runs  {minutes:>9,.1f} min" in text
