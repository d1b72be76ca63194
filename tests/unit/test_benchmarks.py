"""The training benchmarks run at the smoke profile and print their ratios."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script,patterns", [
    ("bench_train.py", [r"ratio plain / engine = \d+\.\d+x"]),
    ("bench_sweep.py", [r"ratio best \(\d+ runs\) / 1 run = \d+\.\d+x"]),
    ("bench_cpu.py", [r"ratio channels-last / plain = \d+\.\d+x",
                      r"ratio width 16 / width 8 \(channels-last step\) = \d+\.\d+x",
                      r"ratio eval every epoch / nc_every=\d+ \(medium CIFAR-10 run\) = \d+\.\d+x"]),
])
def test_benchmark_prints_its_ratios(script, patterns):
    env = dict(os.environ, NCLIB_PROFILE="smoke")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for pattern in patterns:
        assert re.search(pattern, proc.stdout), (pattern, proc.stdout)
