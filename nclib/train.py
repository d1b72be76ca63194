"""Training with NC tracking (Sec. 5, App. E): ResNet18 with weight decay split between the
feature mapping and the last layer, and the layer-wise MLP of App. E.1.

ResNet18 (App. E.2): SGD with momentum 0.9, batch 256, learning rate 0.05 divided by 10 every 40
epochs, weight decay ``wd_features`` on every parameter except the last layer's (the analogue of
lambda_H in Eq. 2) and ``wd_classifier`` on ``model.fc`` (lambda_W); MSE on one-hot targets with
a bias-free last layer, or cross-entropy with a bias. The MLP (App. E.1): Adam, learning rate
1e-4, batch 256, 3 epochs per outer iteration, one hidden layer added per outer iteration.

After every epoch (ResNet) or outer iteration (MLP) one eval-mode pass over the whole training
set gives the training loss and error and, through :class:`nclib.metrics.NCAccumulator` (float64),
NC1, NC1~ (Eq. 3), NC2, NC3 (W = ``model.fc.weight``) and per-class NC1 of the deepest
("penultimate") and, for ResNet18, intermediate ("block3") features. That pass runs in float32
(no autocast, no TF32), whatever the training steps use.

:func:`train` writes one JSON result per run, atomically, and checkpoints every
``checkpoint_every`` epochs; a killed run resumes from its checkpoint and, on CPU, reproduces the
uninterrupted run exactly; a finished run is read back instead of recomputed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nclib import data as ncdata
from nclib._checks import check_int, check_real
from nclib._io import atomic_write
from nclib.analysis import divergences
from nclib.metrics import NCAccumulator
from nclib.models import LayerwiseMLP, resnet18

__all__ = ["WD_PRESETS", "PRESET_LABELS", "wd_preset", "param_groups", "RunConfig", "LAYOUT_FIELDS", "result_fields",
           "run_name", "result_file", "read_result", "loss_fn", "train_epoch", "evaluate", "train", "RunInProgress",
           "run_lock"]

WD_PRESETS = {
    "baseline": (5e-4, 5e-4),
    "wd2_W": (5e-4, 1e-3),
    "wd2_H": (1e-3, 5e-4),
    "wd0_W": (5e-4, 0.0),
    "wd0_H": (0.0, 5e-4),
}
"""The five settings of Sec. 5 / Table 1: name -> (wd_features, wd_classifier)."""

PRESET_LABELS = {"baseline": "Baseline", "wd2_W": "WDx2 for W", "wd2_H": "WDx2 for H",
                 "wd0_W": "WD=0 for W", "wd0_H": "WD=0 for H"}
"""Preset name -> row label of Table 1."""


def wd_preset(name: str) -> tuple[float, float]:
    """``(wd_features, wd_classifier)`` of a preset of :data:`WD_PRESETS`."""
    if name not in WD_PRESETS:
        raise ValueError(f"preset={name!r} is unknown; expected one of {list(WD_PRESETS)}")
    return WD_PRESETS[name]


def param_groups(model: torch.nn.Module, wd_features: float, wd_classifier: float) -> list[dict]:
    """Optimiser parameter groups: ``model.fc``'s parameters (weight and bias, if any) with
    ``weight_decay=wd_classifier``, every other parameter (convolutions, BatchNorm, ...) with
    ``wd_features``. Each parameter of ``model`` is in exactly one group."""
    wd_features, wd_classifier = check_real("wd_features", wd_features), check_real("wd_classifier", wd_classifier)
    if not isinstance(getattr(model, "fc", None), torch.nn.Module):
        raise TypeError("model must have its last layer as the submodule `fc`")
    head = {id(p) for p in model.fc.parameters()}
    return [{"params": [p for p in model.parameters() if id(p) not in head], "weight_decay": float(wd_features),
             "name": "features"},
            {"params": list(model.fc.parameters()), "weight_decay": float(wd_classifier), "name": "classifier"}]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One training run. ``model="resnet18"``: ``epochs`` SGD epochs; ``model="mlp"``: ``epochs``
    outer iterations of App. E.1 (one hidden layer each, ``mlp_epochs`` Adam epochs)."""

    dataset: str = "cifar10"
    model: str = "resnet18"
    loss: str = "ce"
    """"mse" (one-hot targets, bias-free last layer) or "ce" (last layer with bias)."""
    wd_features: float = 5e-4
    wd_classifier: float = 5e-4
    n_per_class: int | None = None
    """Class-balanced training subset (:func:`nclib.data.balanced_subset`); None: all samples."""
    test_per_class: int | None = None
    blur: tuple = ()
    """Classes whose training images are blurred (App. E.2: (4, 9)); the test set is left as is."""
    blur_size: int = 9
    width: int = 64
    """ResNet18 base channels, or the MLP's hidden width."""
    epochs: int = 100
    lr: float = 0.05
    lr_step: int = 40
    """Epochs between the learning-rate drops (x ``lr_gamma``), unless ``lr_milestones`` is given."""
    lr_milestones: tuple = ()
    """Epochs after which the learning rate drops (x ``lr_gamma``), e.g. (72, 96); () means every
    ``lr_step`` epochs."""
    lr_gamma: float = 0.1
    momentum: float = 0.9
    batch_size: int = 256
    mlp_epochs: int = 3
    seed: int = 0
    """Seeds the initialisation and the batch order."""
    data_seed: int = 0
    """Seeds the training and test subsets."""
    bf16: bool = False
    """bfloat16 autocast in the training steps (the eval pass is float32 whatever this is)."""
    nc_every: int = 1
    """Before the first learning-rate drop, the eval pass (training error, NC metrics, test
    accuracy) runs after epoch 1 and every ``nc_every``-th epoch only; from the first drop on, and
    at the last epoch, after every epoch. The other epochs record the running loss and accuracy."""
    checkpoint_every: int = 5
    channels_last: bool = False
    """Channels-last memory format for ResNet18 (a layout: it changes rounding, not the model). On
    CPU it needs ``width`` a multiple of 8: torch's channels-last CPU convolutions corrupt memory
    for other channel counts (measured with widths 2, 4 and 6)."""
    compile: bool = False
    """``torch.compile`` the training steps' forward and backward (a way of computing: it changes
    rounding, not the model; ``benchmarks/bench_train.py`` measures what it gains)."""
    save_weights: bool = False
    """Also write the trained network's final ``state_dict`` to ``<out>/weights/<run_name>.pt``."""

    def __post_init__(self):
        ncdata._check_name(self.dataset)
        for name, allowed in (("model", ("resnet18", "mlp")), ("loss", ("mse", "ce"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is unknown; expected one of {allowed}")
        for name in ("width", "epochs", "lr_step", "batch_size", "mlp_epochs", "checkpoint_every", "blur_size",
                     "nc_every"):
            check_int(name, getattr(self, name), 1)
        for name in ("n_per_class", "test_per_class"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        for name in ("wd_features", "wd_classifier", "lr", "lr_gamma", "momentum"):
            check_real(name, getattr(self, name))
        K = ncdata.DATASETS[self.dataset].num_classes
        object.__setattr__(self, "blur", tuple(int(k) for k in self.blur))
        object.__setattr__(self, "lr_milestones", tuple(int(e) for e in self.lr_milestones))
        if any(b <= a for a, b in zip((0,) + self.lr_milestones, self.lr_milestones)):
            raise ValueError(f"lr_milestones must be increasing positive epochs, got {self.lr_milestones}")
        if any(not 0 <= k < K for k in self.blur):
            raise ValueError(f"blur classes must lie in 0..{K - 1}, got {self.blur}")

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        """Inverse of ``dataclasses.asdict`` (also after a JSON round trip)."""
        return cls(**{**d, "blur": tuple(d.get("blur", ())), "lr_milestones": tuple(d.get("lr_milestones", ()))})

    def lr_drops(self) -> tuple:
        """The epochs after which the learning rate drops, up to ``epochs``."""
        if self.lr_milestones:
            return tuple(e for e in self.lr_milestones if e < self.epochs)
        return tuple(range(self.lr_step, self.epochs, self.lr_step))

    def evaluates(self, epoch: int) -> bool:
        """Whether the eval pass runs after ``epoch`` (1-based): see ``nc_every``."""
        drops = self.lr_drops()
        return (epoch == 1 or epoch == self.epochs or epoch % self.nc_every == 0
                or (bool(drops) and epoch > drops[0]))


LAYOUT_FIELDS = ("checkpoint_every", "channels_last", "compile", "save_weights")
"""Fields of :class:`RunConfig` that say how a run is computed, not what it computes: they do not
enter its name, so a run is found whatever they were when it was made."""


_LATER_FIELDS = {"lr_milestones": [], "nc_every": 1}
"""Fields added after runs were stored, with their defaults: at the default they are left out of
:func:`result_fields`, so that the name of a run made before them is unchanged."""


def result_fields(config: RunConfig) -> dict:
    """The fields of ``config`` that determine its result (all but :data:`LAYOUT_FIELDS`), as JSON."""
    fields = json.loads(json.dumps(dataclasses.asdict(config)))
    return {k: v for k, v in fields.items()
            if k not in LAYOUT_FIELDS and not (k in _LATER_FIELDS and v == _LATER_FIELDS[k])}


def run_name(config: RunConfig) -> str:
    """File stem of a run: readable fields plus a hash of :func:`result_fields`."""
    digest = hashlib.sha1(json.dumps(result_fields(config), sort_keys=True).encode()).hexdigest()[:8]
    n = "all" if config.n_per_class is None else config.n_per_class
    blur = "-blur" + "".join(map(str, config.blur)) if config.blur else ""
    return (f"{config.model}-{config.dataset}{n}-{config.loss}-wdH{config.wd_features:g}-wdW{config.wd_classifier:g}"
            f"{blur}-seed{config.seed}-{digest}")


def result_file(out_dir, config: RunConfig) -> Path:
    """The JSON result file of ``config`` in ``out_dir`` (written by :func:`train`)."""
    return Path(out_dir) / f"{run_name(config)}.json"


EVAL_BATCH = {"cpu": 256, "cuda": 1024}
"""Batch size of the eval passes per device type: per image, a CPU is no faster at 1024 than at
256 (``benchmarks/bench_cpu.py``) and needs four times less memory."""


NC_BLOCK = 4096
"""Rows of features per :meth:`nclib.metrics.NCAccumulator.update` in the eval pass (several eval
batches at once): fewer, larger updates amortise each update's fixed cost."""


def loss_fn(kind: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (``"ce"``) or mean squared error against one-hot targets (``"mse"``,
    averaged over the N x K entries, ``torch.nn.MSELoss``'s default)."""
    if kind == "ce":
        return F.cross_entropy(logits, labels)
    return F.mse_loss(logits.float(), F.one_hot(labels, logits.shape[1]).float())


def _prepare_input(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.ndim == 4 else x


def train_epoch(model, optimizer, batches, loss: str, *, amp: bool = False,
                channels_last: bool = False) -> tuple[float, float]:
    """One pass of optimiser steps over ``batches`` ((x, y) pairs on the model's device).
    ``amp``: bfloat16 autocast. Returns (mean loss, accuracy) of the batches as trained on."""
    model.train()
    total_loss = correct = None
    count = 0
    for x, y in batches:
        x = _prepare_input(x, channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = model(x)
            value = loss_fn(loss, logits, y)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        batch_loss = value.detach() * y.shape[0]
        batch_correct = (logits.detach().argmax(1) == y).sum()
        total_loss = batch_loss if total_loss is None else total_loss + batch_loss
        correct = batch_correct if correct is None else correct + batch_correct
        count += y.shape[0]
    return float(total_loss) / count, float(correct) / count


@contextlib.contextmanager
def _float32_exact(device_type: str):
    """No autocast and no TF32 convolutions/matmuls inside (restored on exit)."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.autocast(device_type, enabled=False):
            yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _nc_record(acc: NCAccumulator, W) -> dict:
    try:
        m = acc.compute(W)
    except ValueError as exc:  # e.g. all class means coincide: the metrics are undefined
        return {"error": str(exc)}
    return {"nc1": m.nc1, "nc1_tilde": m.nc1_tilde, "nc2": m.nc2, "nc3": m.nc3,
            "nc1_per_class": None if m.nc1_per_class is None else m.nc1_per_class.tolist(), "tr_sw": m.tr_sw, "tr_sb": m.tr_sb}


@torch.no_grad()
def evaluate(model, batches, loss: str, num_classes: int, *, nc: bool = True,
             channels_last: bool = False) -> dict:
    """Eval-mode pass in float32: ``{"loss", "acc"}`` and, with ``nc``, ``{"nc": {key: metrics}}``
    for every feature set of ``model.features`` (NC3 only for "penultimate", W = ``model.fc.weight``)."""
    model.eval()
    accs, pending, total_loss, correct, count = {}, [], 0.0, 0, 0

    def flush():  # NC updates in blocks of >= NC_BLOCK rows: each update passes over K d^2 scatter
        feats = {key: torch.cat([f[key] for f, _ in pending]) for key in pending[0][0]}
        y = torch.cat([y for _, y in pending])
        for key, f in feats.items():
            if key not in accs:
                accs[key] = NCAccumulator(num_classes, f.shape[1], device=f.device)
            accs[key].update(f, y)
        pending.clear()

    with _float32_exact(model.fc.weight.device.type):
        for x, y in batches:
            feats = model.features(_prepare_input(x, channels_last))
            logits = model.fc(feats["penultimate"])
            total_loss += float(loss_fn(loss, logits, y)) * y.shape[0]
            correct += int((logits.argmax(1) == y).sum())
            count += y.shape[0]
            if nc:
                pending.append((feats, y))
                if sum(len(b) for _, b in pending) >= NC_BLOCK:
                    flush()
        if pending:
            flush()
    out = {"loss": total_loss / count, "acc": correct / count}
    if nc:
        out["nc"] = {key: _nc_record(acc, model.fc.weight if key == "penultimate" else None)
                     for key, acc in accs.items()}
    return out


@contextlib.contextmanager
def _backend_flags(device: torch.device):
    """CPU: deterministic algorithms (exact resume); CUDA: cuDNN autotuning (fixed batch shapes)."""
    saved = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    else:
        torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.benchmark = saved[1]


def _load_split(config: RunConfig, train: bool, device) -> tuple[torch.Tensor, torch.Tensor, str]:
    images, labels = ncdata.load_dataset(config.dataset, train=train)
    n = config.n_per_class if train else config.test_per_class
    digest = "all"
    if n is not None:
        idx = ncdata.balanced_subset(labels, n, config.data_seed + (0 if train else 1))
        digest = hashlib.sha1(idx.tobytes()).hexdigest()[:12]
        images, labels = images[idx], labels[idx]
    if config.blur and train:
        images = ncdata.blur_classes(images, labels, config.blur, config.blur_size)
    return images.to(device), labels.to(device), digest


class _Session:
    """Model, optimiser and schedule of one run, advanced one unit (epoch / outer iteration) at a time."""

    def __init__(self, config: RunConfig, in_shape: tuple, num_classes: int, device, units_done: int = 0):
        self.config, self.device = config, device
        self.amp, self.channels_last = config.bf16, config.channels_last and config.model == "resnet18"
        if self.channels_last and device.type == "cpu" and config.width % 8:
            raise ValueError(f"channels_last=True on CPU needs width a multiple of 8, got width={config.width}")
        torch.manual_seed(config.seed)
        if config.model == "resnet18":
            self.model = resnet18(num_classes, in_shape[0], config.loss == "ce", config.width)
        else:
            self.model = LayerwiseMLP(math.prod(in_shape), num_classes, config.width, max(units_done, 1),
                                      fc_bias=config.loss == "ce")
        self.model.to(device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = self.scheduler = None
        if config.model == "resnet18":
            self.optimizer = torch.optim.SGD(param_groups(self.model, config.wd_features, config.wd_classifier),
                                             lr=config.lr, momentum=config.momentum)
            if config.lr_milestones:
                self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, list(config.lr_milestones),
                                                                      config.lr_gamma)
            else:
                self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.lr_step, config.lr_gamma)
        self.step_model = torch.compile(self.model) if config.compile and config.model == "resnet18" else self.model

    def run_unit(self, unit: int, loader: ncdata.DeviceLoader) -> dict:
        """Train epoch ``unit`` (ResNet) or outer iteration ``unit`` (MLP); 0-based."""
        cfg = self.config
        kw = dict(amp=self.amp, channels_last=self.channels_last)
        if cfg.model == "resnet18":
            lr = self.optimizer.param_groups[0]["lr"]
            loss, acc = train_epoch(self.step_model, self.optimizer, loader.epoch(unit), cfg.loss, **kw)
            self.scheduler.step()
            return {"lr": lr, "train_loss": loss, "train_acc": acc}
        if unit > 0:
            self.model.grow()
        # The frozen layers' outputs, computed once for the outer iteration; the same batches as
        # a pass through the whole MLP (same order, same values).
        frozen = torch.cat([self.model.frozen_features(x) for x in loader.images.split(1024)])
        batches = ncdata.DeviceLoader(frozen, loader.labels, loader.batch_size, seed=loader.seed)
        head = self.model.head()
        optimizer = torch.optim.Adam(param_groups(head, cfg.wd_features, cfg.wd_classifier), lr=cfg.lr)
        for e in range(cfg.mlp_epochs):
            loss, acc = train_epoch(head, optimizer, batches.epoch(unit * cfg.mlp_epochs + e), cfg.loss, **kw)
        del frozen, batches
        return {"lr": cfg.lr, "depth": self.model.depth, "train_loss": loss, "train_acc": acc}

    def state(self) -> dict:
        return {"model": self.model.state_dict(),
                "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict()}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if self.optimizer is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(config: RunConfig, out_dir, *, device=None, on_epoch_end=None, progress: bool = False) -> dict:
    """Run ``config`` and return its result (also written to ``out_dir/<run_name>.json``).

    A finished run (its JSON exists) is read back, not recomputed; a run with a checkpoint
    (``<run_name>.ckpt``, written every ``config.checkpoint_every`` units and deleted at the end)
    resumes from it. ``on_epoch_end(unit, record)`` is called after each unit (and its checkpoint);
    an exception it raises stops the run as a kill would. On CPU the run is deterministic
    (``torch.use_deterministic_algorithms``), so a resumed run gives the same metrics. A damaged
    result or checkpoint file is set aside and recomputed (:func:`read_result`). While a process
    computes a run it holds ``<run_name>.lock`` (:func:`run_lock`); a second process asked for the
    same run raises :class:`RunInProgress` instead of computing it twice.

    Result keys: ``name``, ``config``, ``dataset`` (display name), ``seed``, ``history`` (one record
    per epoch / outer iteration: lr, train_loss, train_acc during the epoch; where the eval pass ran
    (``config.evaluates``): train_eval_loss, train_error from the eval pass; test_acc; nc -> feature
    set -> nc1, nc1_tilde, nc2, nc3, nc1_per_class, tr_sw, tr_sb), ``divergences``
    (:func:`nclib.analysis.divergences`), ``wall_time_s``, ``data`` (sizes and subset hashes),
    ``provenance`` (:func:`nclib.profiles.provenance`: device, torch, git commit, ...).
    """
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name, result_path = run_name(config), result_file(out, config)
    result = read_result(result_path, config)
    if result is not None:
        return result
    with run_lock(out / f"{name}.lock") as mine:
        if not mine:
            raise RunInProgress(f"{name} is being computed by another process (lock {name}.lock held)")
        result = read_result(result_path, config)  # finished while we waited for the lock
        if result is None:
            result = _train(config, out, device, on_epoch_end, progress)
        (out / f"{name}.lock").unlink(missing_ok=True)  # the result file now says the run is done
        return result


class RunInProgress(RuntimeError):
    """Another process holds the run's lock: it is computing that run now."""


@contextlib.contextmanager
def run_lock(path):
    """Yield True if this process got the exclusive lock on ``path`` (``fcntl.flock``; released on
    exit, and by the kernel if the process dies), False if another process holds it."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _set_aside(path: Path, why: str) -> None:
    """Rename a damaged file to ``<name>.corrupt`` (kept for inspection) and warn."""
    import warnings

    path.replace(path.with_name(path.name + ".corrupt"))
    warnings.warn(f"{path.name} is damaged ({why}); set aside as {path.name}.corrupt and recomputed", stacklevel=3)


def read_result(path, config: RunConfig | None = None) -> dict | None:
    """The finished result in ``path``, or None if there is none. A truncated or otherwise unreadable
    file (or one without a complete history) is set aside as ``<name>.corrupt`` with a warning, and
    None is returned, so the run is recomputed. ``config`` given: the file must hold a run with the
    same :func:`result_fields`, else ``ValueError``."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
        complete = len(result["history"]) == result["config"]["epochs"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        _set_aside(path, f"{type(exc).__name__}: {exc}")
        return None
    if not complete:
        _set_aside(path, f"{len(result['history'])} of {result['config']['epochs']} epochs")
        return None
    if config is not None:
        if result_fields(RunConfig.from_dict(result["config"])) != result_fields(config):
            raise ValueError(f"{path} holds a different configuration; move it away to rerun")
    return result


def _read_checkpoint(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        ckpt["units_done"], ckpt["state"], ckpt["rng"], ckpt["history"]  # noqa: B018 -- all present
        return ckpt
    except Exception as exc:  # noqa: BLE001 -- torch.load raises many types on a damaged file
        _set_aside(path, f"{type(exc).__name__}: {exc}")
        return None


def _train(config: RunConfig, out: Path, device, on_epoch_end, progress: bool) -> dict:
    """The computation of :func:`train`, with this process holding the run's lock."""
    from nclib.profiles import provenance

    name = run_name(config)
    result_path, ckpt_path = result_file(out, config), out / f"{name}.ckpt"
    for stale in out.glob(f"{name}.ckpt.*.tmp"):  # a checkpoint whose writer was killed mid-write
        stale.unlink()
    config_dict = json.loads(json.dumps(dataclasses.asdict(config)))
    device = torch.device(device) if device is not None else _default_device()
    K = ncdata.DATASETS[config.dataset].num_classes
    with _backend_flags(device):
        x_train, y_train, train_digest = _load_split(config, True, device)
        x_test, y_test, test_digest = _load_split(config, False, device)
        loader = ncdata.DeviceLoader(x_train, y_train, config.batch_size, seed=config.seed)
        eval_bs = EVAL_BATCH.get(device.type, 1024)
        ckpt = _read_checkpoint(ckpt_path)
        done = ckpt["units_done"] if ckpt else 0
        session = _Session(config, tuple(x_train.shape[1:]), K, device, done)
        history, elapsed = [], 0.0
        if ckpt:
            session.load(ckpt["state"])
            _set_rng_state(ckpt["rng"])
            history, elapsed = json.loads(ckpt["history"]), ckpt["elapsed"]
        kw = dict(channels_last=session.channels_last)
        bar = tqdm(range(done, config.epochs), initial=done, total=config.epochs, disable=not progress,
                   desc=name, leave=False, unit="ep" if config.model == "resnet18" else "layer")
        for unit in bar:
            start = time.perf_counter()
            record = {"epoch": unit + 1, **session.run_unit(unit, loader)}
            if config.evaluates(unit + 1):
                ev = evaluate(session.model, ncdata.DeviceLoader(x_train, y_train, eval_bs, shuffle=False).epoch(0),
                              config.loss, K, **kw)
                test = evaluate(session.model, ncdata.DeviceLoader(x_test, y_test, eval_bs, shuffle=False).epoch(0),
                                config.loss, K, nc=False, **kw)
                record.update(train_eval_loss=ev["loss"], train_error=1.0 - ev["acc"], test_acc=test["acc"],
                              nc=ev["nc"])
                bar.set_postfix(err=f"{record['train_error']:.3f}",
                                nc1=f"{record['nc']['penultimate'].get('nc1', float('nan')):.3g}")
            elapsed += time.perf_counter() - start
            record["seconds"] = time.perf_counter() - start
            history.append(record)
            if (unit + 1) % config.checkpoint_every == 0 and unit + 1 < config.epochs:
                state = {"units_done": unit + 1, "state": session.state(), "rng": _rng_state(),
                         "history": json.dumps(history), "elapsed": elapsed}
                atomic_write(ckpt_path, lambda f: torch.save(state, f))
            if on_epoch_end is not None:
                on_epoch_end(unit, record)
    result = {"name": name, "config": config_dict, "dataset": ncdata.display_name(config.dataset),
              "seed": config.seed, "history": history, "divergences": divergences(history),
              "wall_time_s": elapsed,
              "data": {"n_train": int(y_train.shape[0]), "n_test": int(y_test.shape[0]),
                       "train_subset_sha1": train_digest, "test_subset_sha1": test_digest},
              "provenance": provenance(device_used=str(device))}
    if config.save_weights:
        weights = {k: v.detach().cpu() for k, v in session.model.state_dict().items()}
        atomic_write(out / "weights" / f"{name}.pt", lambda f: torch.save(weights, f))
    atomic_write(result_path, lambda f: f.write(json.dumps(result, indent=1).encode()))
    with contextlib.suppress(FileNotFoundError):
        ckpt_path.unlink()
    return result
