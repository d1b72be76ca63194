"""One GPU check before the paper-profile sweep: training throughput at the paper's setting as
ratios, the bfloat16-vs-float32 agreement of the NC metrics, and the GPU NC metrics pass; all
written to one JSON file, rewritten after each part (so a check stopped midway keeps what it
measured).

Measured in one process (the sharing runs in worker processes), at the paper's setting (ResNet18,
CIFAR-10-shaped 3 x 32 x 32 inputs, batch 256, SGD of App. E.2), on random inputs except where
said:

* ``step_s``: seconds per training step of :func:`nclib.train.train_epoch` in float32, bfloat16
  autocast, channels-last and both; ``compile``: the same for ``torch.compile`` of the float32
  channels-last model, and its first (compiling) step, measured last (or the error, if it does
  not compile there);
* ``engine_vs_plain``: a float32 ``DataLoader`` loop over PIL images (``benchmarks/bench_train.py``'s)
  against the engine at the paper profile's precision on the same GPU, seconds per step,
  plain / engine;
* ``epoch_s``: one whole training epoch at the paper profile's precision, the NC metrics pass over
  the training set and the test pass; ``nc_pass_fraction`` = NC pass / training epoch;
  ``run_flops_per_s``: :func:`nclib.costs.run_flops` of one epoch over the three, the throughput
  that :mod:`nclib.costs` reads when this file is committed as ``results/paper/device/device_check.json``;
* ``sharing_images_per_s`` / ``sharing_gain``: 1, 2, 4, 8 runs sharing the GPU
  (``benchmarks/bench_sweep.py``'s workers), total images/s and its ratio to one run;
* ``bf16_agreement``: short runs of :func:`nclib.train.train` on a CIFAR-10 subset (the data of
  ``$NCLIB_DATA``), float32 and bfloat16, two seeds; per metric of the last epoch (log10 for NC1),
  the mean |bfloat16 - float32| change over seeds against the mean |seed 0 - seed 1| change;
  ``agrees`` is true when the precision moves no metric more than the seed does;
* ``nc_metrics_s``: :func:`nclib.metrics.nc_metrics` of 50,000 x 512 float32 features on the GPU
  and of the same features in float64 on the CPU (the reference), and their ratio.

``NCLIB_PROFILE=smoke``: the same steps at tiny sizes on a CPU (about a minute on 2 cores;
``torch.compile`` with the ``eager`` backend, 1 and 2 runs sharing). On the GPU, at most 8 minutes.

    PYTHONPATH=. NCLIB_DATA=data python benchmarks/device_check.py --out DIR
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

import bench_sweep
from bench_train import plain_epoch, sgd
from nclib import costs, profiles
from nclib._io import atomic_write_text
from nclib.data import DATASETS, DeviceLoader
from nclib.experiments import grid
from nclib.metrics import nc_metrics
from nclib.models import resnet18
from nclib.train import evaluate, train, train_epoch

FULL = dict(width=64, batch=256, N=50_000, n_test=10_000, steps=30, warm=5, workers=8, runs=(1, 2, 4, 8),
            agree=dict(n_per_class=1500, test_per_class=100, epochs=10, lr_step=4, width=64, batch_size=256),
            nc=(50_000, 512), backend="inductor")
SIZES = {"smoke": dict(width=8, batch=16, N=64, n_test=32, steps=2, warm=1, workers=0, runs=(1, 2),
                       agree=dict(n_per_class=4, test_per_class=2, epochs=2, lr_step=1, width=8, batch_size=20),
                       nc=(2_000, 16), backend="eager")}
SEEDS = (0, 1)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_time(model, batches, device, *, amp, channels_last, warm):
    """Seconds per training step over ``batches`` after ``warm`` steps (and the first step's)."""
    opt = sgd(model)
    start = time.perf_counter()
    train_epoch(model, opt, batches[:1], "ce", amp=amp, channels_last=channels_last)
    synchronize(device)
    first = time.perf_counter() - start
    train_epoch(model, opt, batches[1:warm + 1], "ce", amp=amp, channels_last=channels_last)
    synchronize(device)
    start = time.perf_counter()
    train_epoch(model, opt, batches[warm + 1:], "ce", amp=amp, channels_last=channels_last)
    synchronize(device)
    return (time.perf_counter() - start) / len(batches[warm + 1:]), first


def variants(base, batches, device, cfg) -> dict:
    """Seconds per step of float32, bfloat16, channels-last and both."""
    out = {}
    for name, amp, cl in (("float32", False, False), ("bf16", True, False), ("channels_last", False, True),
                          ("bf16_channels_last", True, True)):
        model = copy.deepcopy(base)
        if cl:
            model.to(memory_format=torch.channels_last)
        out[name] = step_time(model, batches, device, amp=amp, channels_last=cl, warm=cfg["warm"])[0]
    return out


def compiled_step(base, batches, device, cfg) -> dict:
    """Seconds per step of ``torch.compile`` of the float32 channels-last model, and of its first
    (compiling) step; the error instead if it does not compile here."""
    model = copy.deepcopy(base).to(memory_format=torch.channels_last)
    try:
        step, first = step_time(torch.compile(model, backend=cfg["backend"]), batches, device, amp=False,
                                channels_last=True, warm=cfg["warm"])
    except Exception as exc:  # e.g. no C compiler for inductor: recorded, the other measurements stand
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    return {"step_s": step, "first_step_s": first}


def plain_step(base, device, cfg) -> float:
    """Seconds per step of the plain DataLoader loop (PIL images, ToTensor, Normalize)."""
    info = DATASETS["cifar10"]
    n = cfg["batch"] * (cfg["steps"] + cfg["warm"] + 1)
    fake = torchvision.datasets.FakeData(n, (3, 32, 32), 10, transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(info.mean, info.std)]), random_offset=0)
    loader = DataLoader(fake, cfg["batch"], shuffle=True, num_workers=cfg["workers"],
                        pin_memory=device.type == "cuda", persistent_workers=cfg["workers"] > 0)
    model = copy.deepcopy(base)
    plain_epoch(model, loader, device, cfg["warm"] + 1)  # warm-up, and the workers' start
    synchronize(device)
    start = time.perf_counter()
    plain_epoch(model, loader, device, cfg["steps"])
    synchronize(device)
    return (time.perf_counter() - start) / cfg["steps"]


def epoch_times(base, x, y, x_test, y_test, device, paper) -> dict:
    """Seconds of one training epoch at the paper profile's precision, of the NC pass over the
    training set and of the test pass (:func:`nclib.train.evaluate`)."""
    amp, cl = paper.bf16, paper.channels_last
    model = copy.deepcopy(base)
    if cl:
        model.to(memory_format=torch.channels_last)
    opt = sgd(model)
    loader = DeviceLoader(x, y, paper.batch_size, seed=0)
    train_epoch(model, opt, [next(loader.epoch(0))], "ce", amp=amp, channels_last=cl)  # warm-up
    times = {}
    for name, work in (
            ("train", lambda: train_epoch(model, opt, loader.epoch(1), "ce", amp=amp, channels_last=cl)),
            ("nc_pass", lambda: evaluate(model, DeviceLoader(x, y, 1024, shuffle=False).epoch(0), "ce", 10,
                                         channels_last=cl)),
            ("test", lambda: evaluate(model, DeviceLoader(x_test, y_test, 1024, shuffle=False).epoch(0), "ce", 10,
                                      nc=False, channels_last=cl))):
        synchronize(device)
        start = time.perf_counter()
        work()
        synchronize(device)
        times[name] = time.perf_counter() - start
    return times


def sharing(cfg, device) -> dict:
    """Total images/s of 1, 2, 4, 8 runs sharing the device (``bench_sweep``'s workers)."""
    sizes = dict(width=cfg["width"], batch=cfg["batch"], steps=cfg["steps"])
    ctx = mp.get_context("spawn" if device.type == "cuda" else "fork")
    return {k: bench_sweep.measure(k, sizes, device.type, device.type == "cuda", ctx) for k in cfg["runs"]}


def _final(result) -> dict:
    last = result["history"][-1]
    nc = last["nc"]["penultimate"]
    return {"log10_nc1": math.log10(nc.get("nc1", math.nan)), "nc2": nc.get("nc2", math.nan),
            "nc3": nc.get("nc3", math.nan),
            "train_error": last["train_error"]}


def bf16_agreement(cfg, device, paper) -> dict:
    """Short float32 and bfloat16 runs, two seeds: how far the precision and the seed move the
    last epoch's metrics."""
    base = dataclasses.replace(paper, **cfg["agree"], checkpoint_every=cfg["agree"]["epochs"])
    finals = {}
    with tempfile.TemporaryDirectory() as folder:
        for bf16 in (False, True):
            for seed in SEEDS:
                config = dataclasses.replace(base, bf16=bf16, seed=seed)
                finals[bf16, seed] = _final(train(config, folder, device=device))
    by_metric = {}
    for metric in finals[False, 0]:
        precision = float(np.mean([abs(finals[True, s][metric] - finals[False, s][metric]) for s in SEEDS]))
        seed = float(np.mean([abs(finals[b, 0][metric] - finals[b, 1][metric]) for b in (False, True)]))
        by_metric[metric] = {"precision_change": precision, "seed_change": seed, "agrees": precision <= seed}
    return {"config": {k: v for k, v in dataclasses.asdict(base).items() if k in cfg["agree"]},
            "seeds": list(SEEDS), "final": {f"{'bf16' if b else 'float32'}_seed{s}": v for (b, s), v in finals.items()},
            "metrics": by_metric, "agrees": all(m["agrees"] for m in by_metric.values())}


def nc_timing(cfg, device) -> dict:
    """Seconds of nc_metrics on (N, d) float32 features on ``device`` and float64 on the CPU."""
    n, d = cfg["nc"]
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(n) % 10
    features = torch.randn(n, d, generator=gen) + 3 * torch.randn(10, d, generator=gen)[labels]
    W = torch.randn(10, d, generator=gen)
    times = {}
    for name, (f, y, w) in (("device", (features.to(device), labels.to(device), W.to(device))),
                            ("cpu_float64", (features.double(), labels, W.double()))):
        nc_metrics(f[:1000], y[:1000], w)  # warm-up
        synchronize(device)
        start = time.perf_counter()
        nc_metrics(f, y, w)
        synchronize(device)
        times[name] = time.perf_counter() - start
    return {"features": [n, d], "seconds": times, "cpu_over_device": times["cpu_float64"] / times["device"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="folder for device_check.json (default: here)")
    args = parser.parse_args()
    started = time.perf_counter()
    cfg = SIZES.get(profiles.current(), FULL)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(1 if profiles.current() == "smoke" else torch.get_num_threads())
    # the paper profile's run, at this check's sizes
    paper = next(iter(grid("fig3", "paper").values()))
    sized = dataclasses.replace(paper, width=cfg["width"], batch_size=cfg["batch"], n_per_class=cfg["N"] // 10,
                                test_per_class=cfg["n_test"] // 10, epochs=1)
    print(f"device check: {profiles.device_name()}, ResNet18 width {cfg['width']}, batch {cfg['batch']}", flush=True)

    torch.manual_seed(0)
    base = resnet18(10, 3, True, cfg["width"]).to(device)
    x = torch.randn(cfg["N"], 3, 32, 32, device=device)
    y = torch.randint(0, 10, (cfg["N"],), device=device)
    x_test, y_test = x[:cfg["n_test"]].clone(), y[:cfg["n_test"]].clone()
    batches = list(DeviceLoader(x, y, cfg["batch"], seed=0).epoch(0))[:cfg["steps"] + cfg["warm"] + 1]
    record = {"provenance": profiles.provenance(), "sizes": {k: v for k, v in cfg.items() if k != "agree"},
              "precision": {"bf16": sized.bf16, "channels_last": sized.channels_last}}
    path = Path(args.out) / "device_check.json"

    def save(message):  # after each part, so that a stopped check keeps what it measured
        record["wall_s"] = time.perf_counter() - started
        atomic_write_text(path, json.dumps(record, indent=1))
        print(f"  [{record['wall_s']:.0f} s] {message}", flush=True)

    times = epoch_times(base, x, y, x_test, y_test, device, sized)
    record.update(epoch_s=times, nc_pass_fraction=times["nc_pass"] / times["train"],
                  run_flops_per_s=costs.run_flops(sized) / sum(times.values()))
    save(f"epoch (s): {times}; {record['run_flops_per_s'] / 1e12:.2f} TFLOP/s per run")
    rates = sharing(cfg, device)
    record.update(sharing_images_per_s=rates, sharing_gain={k: v / rates[1] for k, v in rates.items()})
    save(f"sharing gain: {record['sharing_gain']}")
    steps = variants(base, batches, device, cfg)
    engine = "bf16_channels_last" if sized.bf16 else ("channels_last" if sized.channels_last else "float32")
    record.update(step_s=steps, step_ratio_vs_float32={k: steps["float32"] / v for k, v in steps.items()},
                  plain_step_s=plain_step(base, device, cfg))
    record["engine_vs_plain"] = record["plain_step_s"] / steps[engine]
    save(f"steps (s): {steps}; plain DataLoader {record['plain_step_s']:.4f}")
    record["nc_metrics_s"] = nc_timing(cfg, device)
    save(f"nc_metrics: {record['nc_metrics_s']['seconds']}")
    record["bf16_agreement"] = bf16_agreement(cfg, device, paper)
    save(f"bf16 agrees with float32 within seed noise: {record['bf16_agreement']['agrees']}")
    record["compile"] = compiled_step(base, batches, device, cfg)
    save(f"torch.compile: {record['compile']}")
    print(f"ratio plain / engine = {record['engine_vs_plain']:.2f}x; NC pass / epoch = "
          f"{record['nc_pass_fraction']:.2f}; {record['wall_s']:.0f} s in all; wrote {path}")


if __name__ == "__main__":
    main()
