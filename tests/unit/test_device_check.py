"""benchmarks/device_check.py end to end at the smoke profile on a CPU: one JSON with every
measurement, readable by nclib.costs."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import offline_files
from nclib import costs

ROOT = Path(__file__).resolve().parents[2]


def test_device_check_writes_one_json_that_costs_reads(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    offline_files.write_cifar(folder, n_train=10, n_test=4)
    env = dict(os.environ, NCLIB_PROFILE="smoke", NCLIB_DATA=str(folder), NCLIB_RESULTS=str(tmp_path / "results"))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--out", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.glob("*.json")] == ["device_check.json"]
    record = json.loads((tmp_path / "device_check.json").read_text())
    assert set(record["step_s"]) == {"float32", "bf16", "channels_last", "bf16_channels_last"}
    assert all(v > 0 for v in record["step_s"].values())
    assert record["compile"]["step_s"] > 0 and record["compile"]["first_step_s"] > 0
    assert record["step_ratio_vs_float32"]["float32"] == 1.0
    assert record["engine_vs_plain"] > 0 and 0 < record["nc_pass_fraction"]
    assert set(record["epoch_s"]) == {"train", "nc_pass", "test"}
    assert set(record["sharing_gain"]) == {"1", "2"} and record["sharing_gain"]["1"] == 1.0
    agreement = record["bf16_agreement"]
    assert set(agreement["final"]) == {"float32_seed0", "float32_seed1", "bf16_seed0", "bf16_seed1"}
    assert agreement["agrees"] == all(m["precision_change"] <= m["seed_change"] for m in agreement["metrics"].values())
    assert all(math.isfinite(v) for m in agreement["final"].values() for v in m.values())
    assert record["nc_metrics_s"]["features"] == [2000, 16] and record["nc_metrics_s"]["cpu_over_device"] > 0
    assert costs.measured_flops(tmp_path / "device_check.json") == record["run_flops_per_s"] > 0
    assert f"wrote {tmp_path / 'device_check.json'}" in proc.stdout
