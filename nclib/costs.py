"""What a training run costs: its floating-point operations, counted from the architecture, and
the wall time they take on a GPU at an assumed (or measured) sustained throughput.

:func:`run_flops` counts the operations of one run of :func:`nclib.train.train`:
``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add of the convolutions and
matrix products; BatchNorm, activations and the optimiser are not counted) times one training step
(forward, loss and backward, of the layers that train) and one forward pass at batch 2 on the
``meta`` device, per sample; times the training samples and epochs (ResNet18) or outer iterations
x ``mlp_epochs`` (layer-wise MLP, at each depth); plus the evaluation passes after each epoch over
the training set (with the NC metrics) and the test set.

:data:`GPU_FLOPS` holds the sustained throughput of one run per GPU kind, whole epochs (bfloat16
training steps, float32 evaluation passes) over their FLOPs; they are assumptions until the device
check (``benchmarks/device_check.py``) measures them; :func:`measured_flops` reads that
measurement, and a committed one (:data:`MEASURED`) replaces the H200's. Every time computed from
them is an estimate and is printed as one.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from pathlib import Path

from nclib import data as ncdata
from nclib._io import results_root
from nclib.train import RunConfig

__all__ = ["GPU_FLOPS", "SHARING_GAIN", "MEASURED", "run_flops", "measured_flops", "throughput",
           "estimate_minutes", "profile_estimates"]

GPU_FLOPS = {
    # Assumption: 5% of the H200 SXM's published dense BF16 tensor-core peak (989 TFLOP/s). A
    # ResNet18 at 32 x 32 makes small convolutions at 4 x 4 to 32 x 32 pixels, and the evaluation
    # passes run in float32 without TF32 (67 TFLOP/s peak), so whole epochs sit far below the peak.
    "H200": 0.05 * 989e12,
    # Assumption: 7% of the A100's published dense BF16 peak (312 TFLOP/s), by the same reasoning
    # (float32 peak without TF32: 19.5 TFLOP/s).
    "A100": 0.07 * 312e12,
    # Assumption: 10% of the L4's published dense BF16 peak (121 TFLOP/s; float32: 30 TFLOP/s).
    "L4": 0.10 * 121e12,
    # Assumption: 40% of the T4's published float32 peak (8.1 TFLOP/s): Turing has no bfloat16
    # tensor cores, so the bfloat16 autocast of the training steps gains nothing there.
    "T4": 0.40 * 8.1e12,
}
"""GPU kind -> assumed sustained FLOP/s of one training run (whole epochs), until measured."""

SHARING_GAIN = {1: 1.0, 2: 1.3, 4: 1.4, 8: 1.4}
"""Runs sharing one GPU (separate processes) -> their total throughput over one run's. An
assumption until the device check measures it: processes time-slice the GPU, so sharing only
fills the gaps one run leaves (kernel launches, Python, the evaluation's host work)."""


MEASURED = Path("paper") / "device" / "device_check.json"
"""Where the device check's JSON is committed, under :func:`nclib._io.results_root`; when it is
there, its measured H200 throughput and sharing gains replace the assumed ones."""


@functools.lru_cache(maxsize=None)
def _step_flops(model: str, in_shape: tuple, num_classes: int, width: int, depth: int, loss: str) -> tuple:
    """``(train, forward)``: FLOPs per sample of one training step (forward, loss, backward of
    the layers that train) and of one forward pass of ResNet18 or of a ``depth``-layer MLP on
    inputs of ``in_shape``, counted at batch 2 on the ``meta`` device."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from nclib.models import LayerwiseMLP, resnet18
    from nclib.train import loss_fn

    with torch.device("meta"):
        if model == "resnet18":
            net = resnet18(num_classes, in_shape[0], loss == "ce", width)
        else:
            net = LayerwiseMLP(math.prod(in_shape), num_classes, width, depth, fc_bias=loss == "ce")
        x = torch.empty(2, *in_shape)  # BatchNorm in training mode needs two samples
        y = torch.zeros(2, dtype=torch.long)
    net.train()
    with FlopCounterMode(display=False) as train_count:
        loss_fn(loss, net(x), y).backward()
    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as forward_count:
        net(x)
    return train_count.get_total_flops() / 2, forward_count.get_total_flops() / 2


def _split_sizes(config: RunConfig) -> tuple[int, int]:
    """(training, test) samples of ``config``."""
    n_train, n_test = ncdata.SPLIT_SIZES[config.dataset]
    K = ncdata.DATASETS[config.dataset].num_classes
    if config.n_per_class is not None:
        n_train = K * config.n_per_class
    if config.test_per_class is not None:
        n_test = K * config.test_per_class
    return n_train, n_test


def run_flops(config: RunConfig) -> float:
    """FLOPs of the whole run ``config``: its training steps and, after each epoch (ResNet18) or
    outer iteration (MLP), the evaluation passes over the training and test sets. An outer
    iteration of the MLP at depth D passes the training set once through its D - 1 frozen layers
    and trains the newest layer and ``fc`` on their outputs for ``mlp_epochs`` epochs."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    return _run_flops(config)


@functools.lru_cache(maxsize=None)
def _run_flops(config: RunConfig) -> float:
    info = ncdata.DATASETS[config.dataset]
    in_shape, K = (info.channels, info.size, info.size), info.num_classes
    n_train, n_test = _split_sizes(config)
    if config.model == "resnet18":
        step, forward = _step_flops("resnet18", in_shape, K, config.width, 1, config.loss)
        return config.epochs * (n_train * (step + forward) + n_test * forward)
    total = 0.0
    for depth in range(1, config.epochs + 1):
        forward = _step_flops("mlp", in_shape, K, config.width, depth, config.loss)[1]
        head_in = in_shape if depth == 1 else (config.width,)
        head_step, head_forward = _step_flops("mlp", head_in, K, config.width, 1, config.loss)
        frozen = forward - head_forward
        total += n_train * (frozen + config.mlp_epochs * head_step) + (n_train + n_test) * forward
    return total


def _read_measurement(path) -> dict:
    record = json.loads(Path(path).read_text())
    value = record.get("run_flops_per_s")
    if not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{path} has no positive 'run_flops_per_s'")
    return record


def measured_flops(path) -> float:
    """The sustained FLOP/s of one run measured by ``benchmarks/device_check.py`` (its JSON at
    ``path``, key ``run_flops_per_s``)."""
    return float(_read_measurement(path)["run_flops_per_s"])


def throughput(gpu: str, runs_sharing: int = 1) -> float:
    """Total FLOP/s of ``runs_sharing`` runs on one GPU of kind ``gpu``: one run's
    (:data:`GPU_FLOPS`) times :data:`SHARING_GAIN`, both measured ones for the H200 when
    :data:`MEASURED` is committed."""
    if gpu not in GPU_FLOPS:
        raise ValueError(f"gpu={gpu!r} is unknown; expected one of {list(GPU_FLOPS)}")
    if runs_sharing not in SHARING_GAIN:
        raise ValueError(f"runs_sharing={runs_sharing!r} must be one of {list(SHARING_GAIN)}")
    path = results_root() / MEASURED
    if gpu == "H200" and path.is_file():
        record = _read_measurement(path)
        gains = {int(k): float(v) for k, v in record.get("sharing_gain", {}).items()}
        return float(record["run_flops_per_s"]) * gains.get(runs_sharing, SHARING_GAIN[runs_sharing])
    return GPU_FLOPS[gpu] * SHARING_GAIN[runs_sharing]


def estimate_minutes(configs: RunConfig | Iterable[RunConfig], gpu: str, runs_sharing: int = 1) -> float:
    """Estimated wall minutes of running ``configs`` on one GPU of kind ``gpu``, ``runs_sharing``
    at a time: each run gets an equal share of :func:`throughput`, runs are dealt (longest first)
    to the least-loaded of ``runs_sharing`` slots, and the fullest slot sets the time. Data loading
    and start-up are not included. An estimate: print it as one."""
    configs = [configs] if isinstance(configs, RunConfig) else list(configs)
    per_run = throughput(gpu, runs_sharing) / runs_sharing
    slots = [0.0] * runs_sharing
    for cost in sorted((run_flops(c) for c in configs), reverse=True):
        slots[slots.index(min(slots))] += cost
    return max(slots) / per_run / 60


def profile_estimates(*experiments: str, gpu: str = "T4") -> str:
    """Lines that say, per profile, how many runs ``experiments`` (names of
    :data:`nclib.experiments.EXPERIMENTS`, runs shared between them counted once) make and their
    estimated minutes on one ``gpu``, one run at a time (:func:`estimate_minutes`)."""
    from nclib import experiments as ex
    from nclib import profiles

    lines = [f"Estimated minutes of the live runs on one {gpu}, at an assumed {throughput(gpu, 1) / 1e12:.3g} TFLOP/s",
             "(start-up and data loading not counted):"]
    for p in profiles.PROFILES:
        configs = list(dict.fromkeys(c for e in experiments for c in ex.grid(e, p).values()))
        minutes = estimate_minutes(configs, gpu)
        lines.append(f"  {p:<7} {len(configs):>3} runs  {minutes:>9,.1f} min  ({minutes / 60:,.1f} h)")
    return "\n".join(lines)
