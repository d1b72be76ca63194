"""Sweeps of Sec. 5 and App. E: the grid of runs behind each figure and Table 1, and a runner.

Experiments (sizes from ``profiles.settings("experiments")``):

* ``fig2``   -- layer-wise MLP on CIFAR-10 (App. E.1), NC1 / NC1~ per added layer;
* ``fig3``   -- ResNet18 on CIFAR-10, {MSE without bias, CE with bias} x the 5 WD presets;
* ``fig4``   -- the same on MNIST with 3K samples per class (deepest and intermediate features);
* ``fig5``   -- the same with 5K samples per class;
* ``table1`` -- CIFAR-10 and MNIST 3K, both losses, 5 presets, 3 seeds, read out at epoch 100
  (the runs of Fig. 3 and Fig. 4 with more seeds);
* ``fig6``   -- MNIST 3K, CE: baseline, then digits 4 and 9 blurred (9 x 9) with the last
  layer's WD 5e-4, 5e-5 and 0 (the paper does not name the loss of Fig. 6; CE with bias, the
  setting of Fig. 4b-c, is assumed).

Command line (:mod:`nclib.cli`)::

    python -m nclib.cli run fig3 --profile small --seeds 0 1 2 --out results

Each run writes ``<out>/<run_name>.json``; finished runs are skipped and interrupted ones resume,
so rerunning a command completes a sweep. ``--executor serial`` (default) runs here, one run
after another, or with several GPUs one worker process per GPU (``--runs-per-device`` more);
``--executor slurm`` submits a job array through submitit, ``--executor local`` uses submitit's
local executor (subprocesses on this machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import concurrent.futures
import json
import multiprocessing
import os
from pathlib import Path

from tqdm.auto import tqdm

from nclib import data as ncdata
from nclib import profiles
from nclib._io import results_root
from nclib.train import WD_PRESETS, RunConfig, RunInProgress, read_result, result_file, train

__all__ = ["EXPERIMENTS", "steps_per_epoch", "schedule", "weight_decay_clock", "readout_epoch", "grid", "settings_rows", "describe", "results_dir", "run", "stored", "reproduce", "EVIDENCE", "evidence_line", "evidence", "run_sweep",
]

EXPERIMENTS = {
    "fig2": "layer-wise MLP on CIFAR-10 (Fig. 2, App. E.1)",
    "fig3": "ResNet18 on CIFAR-10, MSE/CE x 5 WD presets (Fig. 3)",
    "fig4": "ResNet18 on MNIST 3K/class, MSE/CE x 5 WD presets (Fig. 4)",
    "fig5": "ResNet18 on MNIST 5K/class, MSE/CE x 5 WD presets (Fig. 5)",
    "table1": "ResNet18 on CIFAR-10 and MNIST 3K, MSE/CE x 5 WD presets x seeds, epoch 100 (Table 1)",
    "fig6": "ResNet18 on MNIST 3K, digits 4 and 9 blurred, last-layer WD 5e-4 / 5e-5 / 0 (Fig. 6)",
}
"""Experiment name -> description."""


def _fig6_settings(scale: float) -> dict:
    """Fig. 6: setting -> (blurred classes, last-layer WD); the last-layer WD 5e-4, 5e-5, 0 of the
    paper times ``scale``."""
    base = WD_PRESETS["baseline"][1] * scale
    return {"baseline": ((), base), "blur, W WD x1": ((4, 9), base), "blur, W WD x0.1": ((4, 9), base / 10),
            "blur, W WD 0": ((4, 9), 0.0)}


def steps_per_epoch(dataset: str, n_per_class: int | None, batch_size: int) -> int:
    """SGD steps of one epoch over ``n_per_class`` samples per class of ``dataset`` (None: the whole
    training split); the last batch may be smaller (:class:`nclib.data.DeviceLoader`)."""
    n = (ncdata.SPLIT_SIZES[dataset][0] if n_per_class is None
         else n_per_class * ncdata.DATASETS[dataset].num_classes)
    return -(-n // batch_size)


def schedule(s, dataset: str, n_per_class: int | None) -> dict:
    """The ResNet18 learning-rate schedule of profile sizes ``s`` for ``n_per_class`` samples per
    class of ``dataset``: ``epochs`` with a drop every ``lr_step`` epochs, or, where the profile
    gives ``phase_steps`` (data set -> SGD steps at lr, lr/10, lr/100), those phases rounded to
    whole epochs, with the run ending after the last (Table 1's read-out)."""
    if s.phase_steps is None:
        return dict(epochs=s.epochs, lr_step=s.lr_step)
    if n_per_class is None:
        raise ValueError("phase_steps needs a class-balanced subset (n_per_class), not the whole split")
    per_epoch = steps_per_epoch(dataset, n_per_class, s.batch_size)
    phases = [max(1, round(steps / per_epoch)) for steps in s.phase_steps[dataset]]
    return dict(epochs=sum(phases), lr_milestones=(phases[0], phases[0] + phases[1]), lr_step=phases[0])


def weight_decay_clock(config: RunConfig, read_out: int | None = None) -> dict:
    """How long weight decay acts in ``config``'s schedule up to epoch ``read_out`` (default: the
    run's end): SGD steps per learning-rate phase, the top-lr phase in units of the time constant
    τ = (1 - momentum) / (2 lr WD) of the feature weights' relaxation under weight decay, and the
    e-folds by which weight decay alone would shrink them, sum over steps of lr_t WD / (1 - momentum)."""
    per_epoch = steps_per_epoch(config.dataset, config.n_per_class, config.batch_size)
    end = config.epochs if read_out is None else read_out
    edges = [0, *(e for e in config.lr_drops() if e < end), end]
    steps = [per_epoch * (b - a) for a, b in zip(edges, edges[1:])]
    lr_steps = sum(k * config.lr * config.lr_gamma ** i for i, k in enumerate(steps))
    tau = (1 - config.momentum) / (2 * config.lr * config.wd_features)
    return {"steps per epoch": per_epoch, "steps per phase": steps, "top-lr phase / tau": steps[0] / tau,
            "e-folds of shrinkage": lr_steps * config.wd_features / (1 - config.momentum)}


def readout_epoch(result: dict, profile: str) -> int:
    """Table 1's read-out epoch of a run at ``profile``: the profile's ``table1_epoch``, or the
    run's last epoch where the profile's schedule ends at the read-out (``phase_steps``)."""
    epoch = profiles.settings("experiments", profile).table1_epoch
    return len(result["history"]) if epoch is None else epoch


def grid(experiment: str, profile: str | None = None, seeds=None) -> dict[tuple, RunConfig]:
    """The runs of ``experiment`` at ``profile`` (default: the active one), for ``seeds``
    (default: the profile's; ``table1_seeds`` for Table 1), as ``{(dataset, loss, setting, seed):
    config}``. ``setting`` is a WD preset of :data:`nclib.train.WD_PRESETS` (Fig. 3-5, Table 1), a
    Fig. 6 setting, or ``"layer-wise"`` (Fig. 2; none at a profile whose ``fig2`` is false, as
    medium: Fig. 2 runs at the paper profile on a CPU). Weight decays are the paper's times the profile's
    ``wd_scale``. Table 1 is read out of the Fig. 3 (CIFAR-10) and Fig. 4 (MNIST 3K) runs, so the
    runs of one seed are shared between them."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"experiment={experiment!r} is unknown; expected one of {list(EXPERIMENTS)}")
    s = profiles.settings("experiments", profile)
    if seeds is None:
        seeds = s.table1_seeds if experiment == "table1" else s.seeds
    seeds = [int(seed) for seed in seeds]
    common = dict(test_per_class=s.test_per_class, checkpoint_every=s.checkpoint_every)
    if experiment == "fig2":
        if not s.fig2:
            return {}  # App. E.1 runs at the paper profile (on a CPU too)
        return {("cifar10", "ce", "layer-wise", seed):
                RunConfig(dataset="cifar10", model="mlp", loss="ce", wd_features=0.0, wd_classifier=0.0,
                          n_per_class=s.mlp_per_class, width=s.mlp_width, epochs=s.mlp_layers, lr=1e-4,
                          batch_size=256, mlp_epochs=s.mlp_epochs, seed=seed, **common) for seed in seeds}
    resnet = dict(common, width=s.width, batch_size=s.batch_size, bf16=s.bf16, nc_every=s.nc_every,
                  compile=s.compile, channels_last=True)
    if experiment == "fig6":
        return {("mnist", "ce", name, seed):
                RunConfig(dataset="mnist", n_per_class=s.fig6_per_class, loss="ce", blur=blur,
                          wd_features=WD_PRESETS["baseline"][0] * s.wd_scale, wd_classifier=wd_w, seed=seed,
                          **resnet, **schedule(s, "mnist", s.fig6_per_class))
                for seed in seeds for name, (blur, wd_w) in _fig6_settings(s.wd_scale).items()}
    data = {"fig3": [("cifar10", s.cifar_per_class)], "fig4": [("mnist", s.mnist3k_per_class)],
            "fig5": [("mnist", s.mnist5k_per_class)],
            "table1": [("cifar10", s.cifar_per_class), ("mnist", s.mnist3k_per_class)]}
    return {(name, loss, preset, seed):
            RunConfig(dataset=name, n_per_class=n, loss=loss, wd_features=wd_h * s.wd_scale,
                      wd_classifier=wd_w * s.wd_scale, seed=seed, **resnet, **schedule(s, name, n),
                      save_weights=s.save_weights and preset == "baseline" and seed == 0)
            for name, n in data[experiment] for loss in ("mse", "ce")
            for preset, (wd_h, wd_w) in WD_PRESETS.items() for seed in seeds}


def results_dir(profile: str | None = None) -> Path:
    """Folder of the result files of ``profile`` (default: the active one): ``<results>/<profile>``
    (:func:`nclib._io.results_root`)."""
    return results_root() / (profile or profiles.current())


_DESCRIBED = ("dataset", "n_per_class", "test_per_class", "model", "width", "loss", "epochs", "batch_size", "lr",
              "lr_step", "wd_features", "wd_classifier", "mlp_epochs", "bf16", "seed")


def settings_rows(experiment: str, profile: str | None = None) -> list[tuple[str, str, str, bool]]:
    """``(field, value at profile, value in the paper, differs)`` for each setting of
    ``experiment``'s runs (default profile: the active one); several values are joined by ", ";
    weight decays are those of the baseline (first) run; seeds never count as differing."""
    mine, paper = grid(experiment, profile), grid(experiment, "paper")
    first = next(iter(mine.values()))
    rows = []
    for field in _DESCRIBED:
        if field == ("lr_step" if first.model == "mlp" else "mlp_epochs"):
            continue
        a = sorted({str(getattr(c, field)) for c in mine.values()}, key=lambda v: (len(v), v))
        b = sorted({str(getattr(c, field)) for c in paper.values()}, key=lambda v: (len(v), v))
        if field.startswith("wd_"):
            a, b = [str(getattr(first, field))], [str(getattr(next(iter(paper.values())), field))]
        a, b = ([x.replace("None", "all") for x in v] for v in (a, b))
        rows.append((field, ", ".join(a), ", ".join(b), a != b and field != "seed"))
    return rows


def describe(experiment: str, profile: str | None = None) -> str:
    """:func:`settings_rows` as a text table, each field that differs marked."""
    rows = [("setting", f"{profile or profiles.current()}", "paper", "")]
    rows += [(f, a, b, "<- differs" if d else "") for f, a, b, d in settings_rows(experiment, profile)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows)


def run(experiment: str, profile: str | None = None, seeds=None, *, workers: int | None = None,
        progress: bool = True) -> dict[tuple, dict]:
    """Run (or read back, or resume) every run of ``experiment`` into :func:`results_dir` and return
    ``{key: result}`` in :func:`grid`'s order. ``workers``: concurrent runs (default: one per CPU
    core up to 4 on CPU, one per GPU with CUDA)."""
    profile = profile or profiles.current()
    out = results_dir(profile)
    pending = [c for c in grid(experiment, profile, seeds).values() if not result_file(out, c).is_file()]
    if pending:
        import torch

        if workers is None:
            workers = 1 if torch.cuda.is_available() else max(1, min(4, os.cpu_count() or 1, len(pending)))
        device = None if torch.cuda.is_available() else "cpu"
        run_sweep(pending, out, device=device, runs_per_device=workers, progress=progress)
    return stored(experiment, profile, seeds)


def stored(experiment: str, profile: str, seeds=None) -> dict[tuple, dict]:
    """The finished runs of ``experiment`` at ``profile`` found in :func:`results_dir` (e.g. the
    committed paper-profile results), ``{key: result}``; runs without a readable result file are
    left out (a damaged one is set aside with a warning, :func:`nclib.train.read_result`)."""
    folder = results_dir(profile)
    read_out = profiles.settings("experiments", profile).table1_epoch
    found = {}
    for key, config in grid(experiment, profile, seeds).items():
        found[key] = read_result(result_file(folder, config), config)
        if found[key] is None and experiment == "table1" and read_out is not None and config.epochs > read_out:
            # a run computed only up to Table 1's read-out: the same first epochs (the schedule
            # does not depend on the run's length)
            found[key] = read_result(result_file(folder, dataclasses.replace(config, epochs=read_out)))
    return {key: result for key, result in found.items() if result is not None}


def reproduce(path, device: str | None = None, channels_last: bool | None = None) -> dict:
    """Re-run the stored run in ``path`` (a result JSON) from scratch in a temporary folder and
    compare: ``{"identical": every recorded number equal, "max_drift": {metric: largest |log10(new /
    stored)| over epochs and feature sets}, "level_drift": {metric: largest change of a late-phase
    level (:func:`nclib.analysis.level`), in decades}, "zero_error_epoch": (stored, new),
    "seconds": run time}``. On the machine that made the run (same CPU, torch and thread count) the
    re-run is bit for bit; elsewhere kernels may round differently and the drift says by how much.
    ``channels_last`` (a layout field, :data:`nclib.train.LAYOUT_FIELDS`) re-runs with the other
    memory layout, whose convolution kernels round differently: the drift a re-run with other
    kernels brings, measured on one machine."""
    import tempfile

    import numpy as np

    from nclib import analysis

    stored_result = read_result(path)
    if stored_result is None:
        raise FileNotFoundError(f"{path} holds no finished run")
    config = RunConfig.from_dict(stored_result["config"])
    if channels_last is not None:
        config = dataclasses.replace(config, channels_last=channels_last)
    with tempfile.TemporaryDirectory() as tmp:
        new = train(config, tmp, device=device)
    strip = [[{k: v for k, v in h.items() if k != "seconds"} for h in r["history"]] for r in (stored_result, new)]
    drift, level_drift = {}, {}
    for key in ("nc1", "nc1_tilde", "nc2", "nc3"):
        for features in stored_result["history"][0]["nc"]:
            a, b = (analysis.curve(r, key, features) for r in (stored_result, new))
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.abs(np.log10(b / a))
            if np.isfinite(d).any():
                drift[key] = max(drift.get(key, 0.0), float(np.nanmax(d)))
                level_drift[key] = max(level_drift.get(key, 0.0), abs(analysis.level(new, key, features)
                                                                      - analysis.level(stored_result, key, features)))
    return {"identical": strip[0] == strip[1], "max_drift": drift, "level_drift": level_drift,
            "zero_error_epoch": (analysis.zero_error_epoch(stored_result), analysis.zero_error_epoch(new)),
            "seconds": new["wall_time_s"]}


def _run_one(config: RunConfig, out_dir: str, device: str | None = None, progress: bool = False) -> str | None:
    """Train one run (top level, so that worker processes and submitit can pickle it); None if
    another process is computing it (:class:`nclib.train.RunInProgress`)."""
    try:
        return train(config, out_dir, device=device, progress=progress)["name"]
    except RunInProgress as exc:
        print(f"skipped: {exc}", flush=True)
        return None


_WORKER_DEVICE = None


def _pin_worker(devices, threads: int) -> None:
    global _WORKER_DEVICE
    _WORKER_DEVICE = devices.get()
    if _WORKER_DEVICE == "cpu":
        import torch

        torch.set_num_threads(threads)  # share the cores instead of oversubscribing them


def _run_pinned(config: RunConfig, out_dir: str) -> str:
    return _run_one(config, out_dir, _WORKER_DEVICE)


EVIDENCE = ("paper", "medium")
"""The profiles whose stored runs a chapter shows before its live run, best first."""


def evidence(experiment: str, exclude: str | None = None) -> list[tuple[str, dict, str]]:
    """The stored evidence for ``experiment``, best first: ``(profile, runs, status)`` for each
    profile of :data:`EVIDENCE` other than ``exclude`` (default: the active profile, whose runs
    the chapter runs live) that has at least one stored run (:func:`stored`). ``status``: one line
    that says how many of the grid's runs are stored, on which data, device(s) and commit(s), and
    their total run time, and names each other profile of the experiment with no run stored as
    pending."""
    exclude = profiles.current() if exclude is None else exclude
    found = {profile: stored(experiment, profile) for profile in EVIDENCE if profile != exclude}
    missing = [profile for profile, runs in found.items() if not runs and grid(experiment, profile)]
    out = []
    for profile, runs in found.items():
        if runs:
            total = len(grid(experiment, profile))
            datasets = sorted({r["dataset"] for r in runs.values()})
            devices = sorted({r["provenance"]["device"] for r in runs.values()})
            commits = sorted({r["provenance"]["git commit"] for r in runs.values()})
            hours = sum(r["wall_time_s"] for r in runs.values()) / 3600
            state = "all runs stored" if len(runs) == total else f"{len(runs)} of {total} runs stored (the rest pending)"
            out.append((profile, runs, f"`{profile}` profile, {experiment}: {state} in results/{profile}/, "
                                       f"data {'; '.join(datasets)}, computed on {'; '.join(devices)} at commit "
                                       f"{', '.join(commits)}, "
                                       f"{hours:.2f} hours of run time in all."
                                       + "".join(f" The `{other}` profile's runs are pending (none stored)."
                                                 for other in missing)))
    return out


def evidence_line(experiment: str) -> str:
    """One line naming the stored evidence that a chapter shows before its live run, best first:
    for each profile of :data:`EVIDENCE` other than the active one, how many of its grid's runs
    are stored (``"`medium` profile: 30 of 60 runs; `paper` profile: none"``)."""
    parts = []
    for profile in EVIDENCE:
        if profile == profiles.current() or not grid(experiment, profile):
            continue
        found, total = len(stored(experiment, profile)), len(grid(experiment, profile))
        parts.append(f"`{profile}` profile: {f'{found} of {total} runs' if found else 'none'}")
    return "; ".join(parts) or "none (the active profile's runs are the stored ones)"


def run_sweep(configs, out_dir, *, executor: str = "serial", device: str | None = None,
              runs_per_device: int = 1, slurm: dict | None = None, progress: bool = True) -> list[str]:
    """Run ``configs`` and return their run names (results in ``out_dir``).

    ``executor``: "serial" -- here, one after another; with ``device`` unset and several CUDA
    devices (or ``runs_per_device > 1``), a pool of worker processes, ``runs_per_device`` per GPU;
    "local" / "slurm" -- a submitit job array (``slurm``: extra submitit parameters, e.g.
    ``{"slurm_partition": "gpu", "timeout_min": 600}``).
    """
    configs, out_dir = list(configs), str(out_dir)
    if executor == "serial":
        import torch

        n_gpu = torch.cuda.device_count() if device is None else 0
        workers = n_gpu * runs_per_device if n_gpu else (runs_per_device if runs_per_device > 1 else 0)
        if workers <= 1:
            return [_run_one(c, out_dir, device, progress) for c in tqdm(configs, desc="runs", disable=not progress)]
        ctx = multiprocessing.get_context("spawn")
        devices = ctx.Queue()
        for i in range(workers):
            devices.put(f"cuda:{i % n_gpu}" if n_gpu else (device or "cpu"))
        threads = max(1, (os.cpu_count() or 1) // workers)
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pin_worker,
                                                    initargs=(devices, threads)) as pool:
            futures = [pool.submit(_run_pinned, c, out_dir) for c in configs]
            for _ in tqdm(concurrent.futures.as_completed(futures), total=len(futures), desc="runs",
                          disable=not progress):
                pass
            return [f.result() for f in futures]
    if executor not in ("local", "slurm"):
        raise ValueError(f"executor={executor!r} is unknown; expected 'serial', 'local' or 'slurm'")
    import submitit

    folder = Path(out_dir) / "submitit"
    if executor == "local":
        ex = submitit.LocalExecutor(folder=folder)
    else:
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
    params = {"timeout_min": 24 * 60, "gpus_per_node": 1 if executor == "slurm" else 0}
    params.update(slurm or {})
    ex.update_parameters(**params)
    jobs = ex.map_array(_run_one, configs, [out_dir] * len(configs), [device] * len(configs))
    return [job.result() for job in tqdm(jobs, desc="runs", disable=not progress)]
