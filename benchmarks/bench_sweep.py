"""Aggregate throughput of several training runs sharing one device (1, 2, 4, 8 concurrent runs).

Each run is a worker process training its own ResNet18 with the nclib engine
(:func:`nclib.train.train_epoch` on device-resident batches; on CUDA channels-last + bfloat16
autocast) -- what ``python -m nclib.cli run ... --runs-per-device R`` does. The workers
build their model and data, wait at a barrier, then train ``steps`` mini-batches; the aggregate
rate is (runs x steps x batch) / (last finish - first start). Prints images/s per concurrency and
the ratio to one run, and, off the smoke profile, the training time of the Table 1 grid this
rate implies (60 runs x 100 epochs; CIFAR-10 50K and MNIST 30K training images; eval passes not
included). Sizes: ``NCLIB_PROFILE=smoke`` -- width-4 ResNet, batch 16, 3 steps (CI, seconds on a
CPU, one thread per worker); otherwise the full ResNet18, batch 256, 30 steps.

    python benchmarks/bench_sweep.py [--no-fast] [--runs 1 2 4 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import torch

from nclib import profiles
from nclib.data import DeviceLoader
from nclib.models import resnet18
from nclib.train import param_groups, train_epoch

SIZES = {"smoke": dict(width=4, batch=16, steps=3), "small": dict(width=64, batch=256, steps=30)}
SIZES["paper"] = SIZES["small"]


def worker(rank, cfg, device, fast, threads, barrier, times):
    torch.set_num_threads(threads)
    torch.manual_seed(rank)
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
    model = resnet18(10, 3, True, cfg["width"]).to(device)
    if fast:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(param_groups(model, 5e-4, 5e-4), lr=0.05, momentum=0.9)
    n = cfg["batch"] * cfg["steps"]
    loader = DeviceLoader(torch.randn(n, 3, 32, 32, device=device), torch.randint(0, 10, (n,), device=device),
                          cfg["batch"], seed=rank)
    train_epoch(model, opt, [next(loader.epoch(0))], "ce", amp=fast, channels_last=fast)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    barrier.wait()
    start = time.perf_counter()
    train_epoch(model, opt, loader.epoch(1), "ce", amp=fast, channels_last=fast)
    if device == "cuda":
        torch.cuda.synchronize()
    times[rank] = (start, time.perf_counter())


def measure(runs, cfg, device, fast, ctx):
    barrier, times = ctx.Barrier(runs), ctx.Manager().dict()
    threads = max(1, (os.cpu_count() or 1) // runs) if device == "cpu" and profiles.current() != "smoke" else 1
    procs = [ctx.Process(target=worker, args=(r, cfg, device, fast, threads, barrier, times)) for r in range(runs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"worker exited with code {p.exitcode}")
    start = min(t[0] for t in times.values())
    end = max(t[1] for t in times.values())
    return runs * cfg["steps"] * cfg["batch"] / (end - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-fast", action="store_true", help="no channels-last / bf16 autocast on CUDA")
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    cfg = SIZES[profiles.current()]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    fast = device == "cuda" and not args.no_fast
    # CUDA cannot be used in forked children; on CPU fork skips re-importing torch per worker.
    ctx = mp.get_context("spawn" if device == "cuda" else "fork")
    print(f"ResNet18 width {cfg['width']}, batch {cfg['batch']}, {cfg['steps']} steps per run, "
          f"device = {profiles.device_name()}, fast path = {fast}")
    rates = {}
    print(f"{'runs':>5}{'images/s':>12}{'vs 1 run':>10}")
    for runs in args.runs:
        rates[runs] = measure(runs, cfg, device, fast, ctx)
        print(f"{runs:>5}{rates[runs]:>12.0f}{rates[runs] / rates[args.runs[0]]:>10.2f}")
    best = max(rates, key=rates.get)
    print(f"ratio best ({best} runs) / 1 run = {rates[best] / rates[args.runs[0]]:.2f}x")
    if profiles.current() != "smoke":
        images = 100 * 15 * (50_000 + 30_000) * 2  # 2 losses x 5 presets x 3 seeds per data set
        print(f"Table 1 grid, training steps only, at {rates[best]:.0f} images/s: {images / rates[best] / 3600:.2f} h")


if __name__ == "__main__":
    main()
