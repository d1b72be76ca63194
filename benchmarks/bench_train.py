"""Epoch time of ResNet18 with the nclib training engine vs a plain torchvision DataLoader loop.

Both train the same ResNet18 (same initial weights, SGD as in App. E.2, CE loss) for one epoch
on the same device, on random CIFAR-10-shaped data:

* ``engine`` -- :func:`nclib.train.train_epoch` on batches cut from tensors already on the device
  (:class:`nclib.data.DeviceLoader`); on CUDA also channels-last and bfloat16 autocast
  (``--no-fast`` disables both);
* ``plain``  -- ``torchvision.datasets.FakeData`` (PIL images through ``ToTensor`` and
  ``Normalize``, as ``torchvision.datasets.CIFAR10`` serves them) in a ``DataLoader``, each batch
  copied to the device, float32.

It also times the engine's per-epoch NC metrics pass over the training set. Sizes:
``NCLIB_PROFILE=smoke`` -- 128 images, width-4 ResNet, one CPU thread (CI, seconds on a CPU); otherwise
50,000 images, the full-width ResNet18.

    python benchmarks/bench_train.py [--no-fast]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

from nclib import profiles
from nclib.data import DATASETS, DeviceLoader
from nclib.models import resnet18
from nclib.train import evaluate, param_groups, train_epoch

SIZES = {"smoke": dict(N=128, width=4, batch=32, workers=0), "small": dict(N=50_000, width=64, batch=256, workers=8)}
SIZES["paper"] = SIZES["small"]


def sgd(model):
    return torch.optim.SGD(param_groups(model, 5e-4, 5e-4), lr=0.05, momentum=0.9)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_epoch(model, loader, device, batches=None):
    model.train()
    opt = sgd(model)
    for _, (x, y) in zip(range(batches or len(loader)), loader):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-fast", action="store_true", help="no channels-last / bf16 autocast on CUDA")
    args = parser.parse_args()
    cfg = SIZES[profiles.current()]
    N, width, batch = cfg["N"], cfg["width"], cfg["batch"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if profiles.current() == "smoke":
        torch.set_num_threads(1)
    fast = device.type == "cuda" and not args.no_fast
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    info = DATASETS["cifar10"]
    print(f"ResNet18 width {width}, {N} images 3x32x32, batch {batch}, device = {profiles.device_name()}, "
          f"torch threads = {torch.get_num_threads()}, engine fast path (channels-last + bf16) = {fast}")

    torch.manual_seed(0)
    base = resnet18(10, 3, True, width).to(device)
    x = torch.randn(N, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (N,), device=device)

    model = copy.deepcopy(base)
    if fast:
        model.to(memory_format=torch.channels_last)
    opt = sgd(model)
    loader = DeviceLoader(x, y, batch, seed=0)
    warm = [b for _, b in zip(range(3), loader.epoch(0))]
    train_epoch(model, opt, warm, "ce", amp=fast, channels_last=fast)  # warm-up (cuDNN autotuning)
    synchronize(device)
    start = time.perf_counter()
    train_epoch(model, opt, loader.epoch(1), "ce", amp=fast, channels_last=fast)
    synchronize(device)
    t_engine = time.perf_counter() - start
    start = time.perf_counter()
    evaluate(model, DeviceLoader(x, y, max(batch, 1024), shuffle=False).epoch(0), "ce", 10, channels_last=fast)
    synchronize(device)
    t_metrics = time.perf_counter() - start

    fake = torchvision.datasets.FakeData(N, (3, 32, 32), 10, transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(info.mean, info.std)]), random_offset=0)
    plain_loader = DataLoader(fake, batch, shuffle=True, num_workers=cfg["workers"],
                              pin_memory=device.type == "cuda", persistent_workers=cfg["workers"] > 0)
    model = copy.deepcopy(base)
    plain_epoch(model, plain_loader, device, 3)  # warm-up
    synchronize(device)
    start = time.perf_counter()
    plain_epoch(model, plain_loader, device)
    synchronize(device)
    t_plain = time.perf_counter() - start

    print(f"{'loop':<26}{'s/epoch':>10}{'images/s':>12}")
    print(f"{'engine':<26}{t_engine:>10.3f}{N / t_engine:>12.0f}")
    print(f"{'plain DataLoader':<26}{t_plain:>10.3f}{N / t_plain:>12.0f}")
    print(f"{'engine NC metrics pass':<26}{t_metrics:>10.3f}{N / t_metrics:>12.0f}")
    print(f"ratio plain / engine = {t_plain / t_engine:.2f}x ; metrics pass / engine epoch = {t_metrics / t_engine:.2f}")


if __name__ == "__main__":
    main()
