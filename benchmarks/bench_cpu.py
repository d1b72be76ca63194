"""CPU training speed of the medium profile's ResNet18: each choice as a ratio against the plain
eager float32 loop, all measured side by side in one run.

The model is the medium profile's (width 8, CIFAR-10-shaped 3 x 32 x 32 inputs, batch 128, SGD
as in App. E.2, cross-entropy), trained on random data with deterministic algorithms on, as
:func:`nclib.train.train` runs on a CPU. Variants of one training step:

* ``plain``          -- eager, float32, NCHW: the reference;
* ``channels-last``  -- the memory format the medium sweep uses;
* ``bf16 autocast``  -- bfloat16 autocast (channels-last);
* ``torch.compile``  -- inductor-compiled model (channels-last); its compile time is printed apart;

then what the medium sweep's choices gain over a whole run: ``torch.compile`` at the medium
batch (64), and the eval pass every ``nc_every`` epochs before the first learning-rate drop instead
of after every epoch (the run time of a medium CIFAR-10 run from the measured step and eval times);
then the price of the medium profile's width: a channels-last step at twice the width (16, as
``small``) against width 8; the eval pass (forward only) per image at batch 128, 256 and 1024; and
the throughput of the cores used as one run with every thread against one single-threaded run per
core.

    python benchmarks/bench_cpu.py            # medium sizes, about 2.5 minutes on 2 cores
    NCLIB_PROFILE=smoke python benchmarks/bench_cpu.py   # seconds: every path, tiny sizes
"""

from __future__ import annotations

import multiprocessing
import os
import time

import torch

from nclib import profiles
from nclib.models import resnet18
from nclib.train import param_groups

SIZES = {"smoke": dict(width=8, batch=16, steps=2, eval_images=64, compile=False),
         "medium": dict(width=8, batch=128, steps=20, eval_images=2048, compile=True)}


def sizes() -> dict:
    return SIZES["smoke" if profiles.current() == "smoke" else "medium"]


def make(width: int, channels_last: bool):
    torch.manual_seed(0)
    model = resnet18(10, 3, True, width)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(param_groups(model, 5e-4, 5e-4), lr=0.05, momentum=0.9)
    return model, opt


def step_time(width: int, batch: int, steps: int, *, channels_last=False, bf16=False, compile=False) -> tuple:
    """(seconds per training step, seconds of the first step, which includes any compilation)."""
    model, opt = make(width, channels_last)
    run = torch.compile(model) if compile else model
    x = torch.randn(batch, 3, 32, 32)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def one():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(run(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    start = time.perf_counter()
    one()
    first = time.perf_counter() - start
    one()
    start = time.perf_counter()
    for _ in range(steps):
        one()
    return (time.perf_counter() - start) / steps, first


def eval_time(width: int, images: int, batch: int) -> float:
    """Seconds per image of the eval-mode forward pass at ``batch`` (channels-last)."""
    model, _ = make(width, True)
    model.eval()
    x = torch.randn(images, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        model(x[:batch])
        start = time.perf_counter()
        for chunk in x.split(batch):
            model(chunk)
    return (time.perf_counter() - start) / images


def _worker(threads: int, width: int, batch: int, steps: int, out) -> None:
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    out.put(step_time(width, batch, steps, channels_last=True)[0])


def throughput(runs: int, threads: int, width: int, batch: int, steps: int) -> float:
    """Images per second of ``runs`` concurrent single-run processes of ``threads`` threads each."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(threads, width, batch, steps, out)) for _ in range(runs)]
    for p in procs:
        p.start()
    times = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(batch / t for t in times)


def main() -> None:
    s = sizes()
    cores = os.cpu_count() or 1
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    print(f"ResNet18 width {s['width']}, batch {s['batch']}, 3x32x32, {profiles.device_name()}, "
          f"torch {torch.__version__}, 1 thread unless said")
    plain, _ = step_time(s["width"], s["batch"], s["steps"])
    rows = [("plain (eager float32 NCHW)", plain)]
    channels_last_step = step_time(s["width"], s["batch"], s["steps"], channels_last=True)[0]
    rows.append(("channels-last", channels_last_step))
    rows.append(("bf16 autocast + channels-last",
                 step_time(s["width"], s["batch"], s["steps"], channels_last=True, bf16=True)[0]))
    compile_note = "torch.compile: not measured at this profile"
    if s["compile"]:
        try:
            t, first = step_time(s["width"], s["batch"], s["steps"], channels_last=True, compile=True)
            rows.append(("torch.compile + channels-last", t))
            compile_note = f"torch.compile: first step (compilation) {first:.1f} s = {first / t:.0f} steps"
        except Exception as exc:  # noqa: BLE001 -- inductor needs a C++ toolchain; report, don't hide
            compile_note = f"torch.compile: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    print(f"{'training step':<32}{'ms / image':>12}{'speed vs plain':>16}")
    for name, t in rows:
        print(f"{name:<32}{t / s['batch'] * 1e3:>12.3f}{plain / t:>15.2f}x")
    print(compile_note)
    wide = step_time(2 * s["width"], s["batch"], s["steps"], channels_last=True)[0]
    print(f"ratio width {2 * s['width']} / width {s['width']} (channels-last step) = {wide / channels_last_step:.2f}x")

    evals = {b: eval_time(s["width"], s["eval_images"], b) for b in (128, 256, 1024)}
    print(f"{'eval pass, batch':<32}{'ms / image':>12}{'vs batch 1024':>16}")
    for b, t in evals.items():
        print(f"{b:<32}{t * 1e3:>12.3f}{evals[1024] / t:>15.2f}x")

    if cores >= 2:
        one_run = throughput(1, cores, s["width"], s["batch"], s["steps"])
        per_core = throughput(cores, 1, s["width"], s["batch"], s["steps"])
        print(f"{cores} cores: 1 run x {cores} threads {one_run:.0f} images/s, {cores} runs x 1 thread "
              f"{per_core:.0f} images/s")
        print(f"ratio runs per core / threads = {per_core / one_run:.2f}x")
    print(f"ratio channels-last / plain = {plain / channels_last_step:.2f}x")
    medium_run(s, evals[256])


def interleaved(width: int, batch: int, steps: int, rounds: int = 5) -> tuple[float, float]:
    """(eager, compiled) seconds per channels-last training step, timed in alternating rounds of
    ``steps`` steps after compilation, the fastest round of each: a load that comes and goes on a
    shared machine then slows both alike."""
    x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))
    variants = []
    for compiled in (False, True):
        model, opt = make(width, True)
        variants.append((torch.compile(model) if compiled else model, opt))

    def one(run, opt):
        loss = torch.nn.functional.cross_entropy(run(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for run, opt in variants:  # compile, warm up
        one(run, opt)
        one(run, opt)
    best = [float("inf")] * 2
    for _ in range(rounds):
        for i, (run, opt) in enumerate(variants):
            start = time.perf_counter()
            for _ in range(steps):
                one(run, opt)
            best[i] = min(best[i], (time.perf_counter() - start) / steps)
    return best[0], best[1]


def medium_run(s: dict, eval_per_image: float) -> None:
    """The medium sweep's choices over one medium CIFAR-10 run (its grid config): torch.compile at
    its batch, and the eval pass every ``nc_every`` epochs before the first drop."""
    from nclib import experiments

    config = experiments.grid("table1", "medium")["cifar10", "ce", "baseline", 0]
    clock = experiments.weight_decay_clock(config)
    batch = config.batch_size if s["compile"] else s["batch"]
    if s["compile"]:
        eager, compiled = interleaved(s["width"], batch, s["steps"])
        print(f"ratio torch.compile / eager (batch {batch}, training step, interleaved) = {eager / compiled:.2f}x")
    else:
        eager = step_time(s["width"], batch, s["steps"], channels_last=True)[0]
    train_s = clock["steps per epoch"] * eager * config.epochs
    eval_s = eval_per_image * (config.n_per_class + config.test_per_class) * 10  # training and test sets
    sparse = sum(config.evaluates(e) for e in range(1, config.epochs + 1))
    every, fewer = train_s + config.epochs * eval_s, train_s + sparse * eval_s
    print(f"medium CIFAR-10 run: {config.epochs} epochs, the eval pass after {sparse} of them (nc_every="
          f"{config.nc_every}); eval pass {eval_s:.2f} s, training epoch {train_s / config.epochs:.2f} s (eager)")
    print(f"ratio eval every epoch / nc_every={config.nc_every} (medium CIFAR-10 run) = {every / fewer:.2f}x")


if __name__ == "__main__":
    main()
