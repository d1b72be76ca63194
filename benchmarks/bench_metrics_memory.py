"""Peak memory of :class:`nclib.metrics.NCAccumulator`'s default route at ImageNet and
language-model class counts, measured.

Each case runs in a fresh process: it streams random float32 features of K classes (class means
plus noise, generated batch by batch, so the data set is never held), makes the first pass, the
second pass for per-class NC1 (the default route at these sizes is the bounded pooled one) and
``compute(W)`` with a random last layer W (K x d), and reports the process's peak resident memory
(``ru_maxrss``) -- everything included: Python, torch, the K x d class-mean table that generates
the data and W -- and the part above the same process after ``import torch``. Per-class scatters
would take ``8 K d^2`` bytes; the ratio to the measured peak is printed.

Sizes: ``NCLIB_PROFILE=smoke`` runs two small cases (CI); otherwise K = 1,000, d = 2,048
(ImageNet through a ResNet50) and K = 32,768, d = 768 (a language model's vocabulary).

    python benchmarks/bench_metrics_memory.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from nclib import profiles

CASES = {"smoke": [dict(K=100, d=64, n_per_class=3), dict(K=600, d=128, n_per_class=2)],
         "small": [dict(K=1_000, d=2_048, n_per_class=4), dict(K=32_768, d=768, n_per_class=2)]}
CASES["paper"] = CASES["medium"] = CASES["small"]

CHILD = r"""
import json, resource, sys, time
import torch
torch.set_num_threads(1)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
from nclib.metrics import NCAccumulator
K, d, n = (int(a) for a in sys.argv[1:4])
gen = torch.Generator().manual_seed(0)
means = 3.0 * torch.randn(K, d, generator=gen)
W = torch.randn(K, d, generator=gen)
labels = torch.randperm(K * n, generator=gen) % K
acc = NCAccumulator(K, d)
start = time.perf_counter()
for second in (False, True):
    if second and not acc.needs_second_pass:
        break
    gen.manual_seed(1)  # the second pass sees the same features
    for y in labels.split(4096):
        x = means[y] + torch.randn(len(y), d, generator=gen)
        (acc.update_per_class if second else acc.update)(x, y)
m = acc.compute(W)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(route=acc.route, peak=peak, base=base, seconds=seconds, nc1=m.nc1,
                      per_class=m.nc1_per_class is not None, scatter=acc.scatter_bytes)))
"""


def main():
    print(f"{'K':>7}{'d':>6}{'N':>8}  {'route':<7}{'peak GB':>9}{'above torch GB':>16}"
          f"{'scatters GB':>13}{'scatters / peak':>17}{'seconds':>9}")
    for case in CASES[profiles.current()]:
        K, d, n = case["K"], case["d"], case["n_per_class"]
        out = subprocess.run([sys.executable, "-c", CHILD, str(K), str(d), str(n)], capture_output=True,
                             text=True, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
        r = json.loads(out.stdout.strip().splitlines()[-1])
        assert r["per_class"], "per-class NC1 missing"
        print(f"{K:>7}{d:>6}{K * n:>8}  {r['route']:<7}{r['peak'] / 1e9:>9.2f}{(r['peak'] - r['base']) / 1e9:>16.2f}"
              f"{r['scatter'] / 1e9:>13.2f}{r['scatter'] / r['peak']:>17.1f}{r['seconds']:>9.1f}")
        print(f"peak memory K = {K}, d = {d}: {r['peak'] / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
