"""The paper-profile sweep cut into chunks that one command on a lent GPU finishes, and the
packing of their result files into the few files such a command may hand back.

A chunk is a set of pending runs (every experiment of :mod:`nclib.experiments`, each run once,
whose result file is not yet in :func:`nclib.experiments.results_dir`) that ``runs_sharing``
processes finish on one GPU within ``minutes`` (default 9) at the throughput of
:mod:`nclib.costs`, start-up included. Chunks are filled first-fit in the order of
:data:`nclib.experiments.EXPERIMENTS`, so the first chunks complete the first experiments.

A run that one command cannot finish alone would have to be split at its checkpoints; that needs
its checkpoint (weights, SGD momentum, history) to travel back and forth with the data, within the
carry limit. When it does not fit, the run is planned at Table 1's read-out epoch instead (its
first ``table1_epoch`` epochs: the learning-rate schedule does not depend on the run's length,
so they are the first epochs of the full run) and the plan says so; a run that does not fit even
then is listed as not planned.

:func:`pack` and :func:`unpack` move result files through at most :data:`PACK_FILES` files of at
most :data:`PACK_FILE_BYTES` bytes (a gzipped tar archive, cut into parts), byte for byte.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import re
import tarfile
from pathlib import Path

from nclib import costs, profiles
from nclib import data as ncdata
from nclib import experiments as ex
from nclib._io import atomic_write, results_root
from nclib.train import RunConfig, result_file, run_name

__all__ = ["LIMIT_MINUTES", "STARTUP_MINUTES", "CARRY_BYTES", "DATA_BYTES", "PACK_FILES", "PACK_FILE_BYTES",
           "Chunk", "Plan", "pending_runs", "checkpoint_bytes", "make_plan", "format_plan", "run_chunk", "pack",
           "unpack"]

LIMIT_MINUTES = 9.0
"""Wall minutes one chunk may take (one command may run 10)."""
STARTUP_MINUTES = 0.5
"""Assumed minutes of a command's start: importing torch, loading the data onto the GPU,
starting the worker processes."""
CARRY_BYTES = 64 * 2**20
"""What may travel to the GPU machine with one command: the working tree and the carried paths."""
DATA_BYTES = 11_507_688 + 18_386_001
"""``mnist.npz`` + ``cifar10_jpeg.npz`` (the offline data sets), carried with every command."""
PACK_FILES = 7
"""Files one pack may take: 8 come back from a command, one is left for its log."""
PACK_FILE_BYTES = 16 * 2**20
"""Bytes per file that may come back."""
SHARING = tuple(sorted(costs.SHARING_GAIN))
"""Runs sharing the GPU that the planner tries per chunk."""


@dataclasses.dataclass(frozen=True)
class Chunk:
    """Runs that ``runs_sharing`` processes finish together in an estimated ``minutes``."""

    index: int
    configs: tuple
    runs_sharing: int
    minutes: float


@dataclasses.dataclass(frozen=True)
class Plan:
    """The chunks of a profile's pending runs, and what could not be planned whole."""

    profile: str
    gpu: str
    limit: float
    chunks: tuple
    truncated: tuple
    """(full config, config planned at Table 1's read-out, why) triples."""
    unplanned: tuple
    """(config, why) pairs: runs that no command finishes, even cut at the read-out epoch."""


def pending_runs(profile: str, experiments=None) -> list[RunConfig]:
    """The runs of ``experiments`` (default: all, in :data:`~nclib.experiments.EXPERIMENTS`'
    order) at ``profile``, each once, whose result file is not in the profile's results folder."""
    names = list(ex.EXPERIMENTS) if experiments is None else list(experiments)
    folder, seen, pending = ex.results_dir(profile), set(), []
    for name in names:
        for config in ex.grid(name, profile).values():
            if run_name(config) not in seen and not result_file(folder, config).is_file():
                pending.append(config)
            seen.add(run_name(config))
    return pending


def checkpoint_bytes(config: RunConfig) -> int:
    """Bytes of the tensors in a checkpoint of ``config`` (:func:`nclib.train.train` saves the
    model's parameters and buffers and, for ResNet18, SGD's momentum buffer of every parameter),
    counted on the ``meta`` device at the run's last depth; the pickled history comes on top."""
    depth = config.epochs if config.model == "mlp" else 1
    return _checkpoint_bytes(config.model, config.dataset, config.loss == "ce", config.width, depth)


@functools.lru_cache(maxsize=None)
def _checkpoint_bytes(model: str, dataset: str, bias: bool, width: int, depth: int) -> int:
    import torch

    from nclib.models import LayerwiseMLP, resnet18

    info = ncdata.DATASETS[dataset]
    with torch.device("meta"):
        if model == "resnet18":
            net = resnet18(info.num_classes, info.channels, bias, width)
        else:
            net = LayerwiseMLP(info.channels * info.size**2, info.num_classes, width, depth, fc_bias=bias)
    params = sum(p.numel() * p.element_size() for p in net.parameters())
    buffers = sum(b.numel() * b.element_size() for b in net.buffers())
    return params * (2 if model == "resnet18" else 1) + buffers


def _chunk_minutes(configs, gpu: str) -> tuple[float, int]:
    """(estimated minutes, runs sharing) of the fastest way to run ``configs`` together."""
    return min((STARTUP_MINUTES + costs.estimate_minutes(configs, gpu, k), k)
               for k in SHARING if k <= max(1, len(configs)))


def make_plan(profile: str = "paper", *, gpu: str = "H200", minutes: float = LIMIT_MINUTES,
              experiments=None) -> Plan:
    """Cut :func:`pending_runs` into chunks of at most ``minutes`` each (estimated), first-fit."""
    if not minutes > STARTUP_MINUTES:
        raise ValueError(f"minutes={minutes!r} must exceed the start-up time, {STARTUP_MINUTES} minutes")
    read_out = profiles.settings("experiments", profile).table1_epoch  # None: the runs end at the read-out
    budget = CARRY_BYTES - DATA_BYTES
    runs, truncated, unplanned = [], [], []
    for config in pending_runs(profile, experiments):
        alone = _chunk_minutes([config], gpu)[0]
        if alone <= minutes:
            runs.append(config)
            continue
        ckpt = checkpoint_bytes(config)
        why = (f"{alone:.1f} min alone (estimate) > {minutes:g}; its checkpoint, {ckpt / 2**20:.0f} MiB, "
               f"{'fits' if ckpt <= budget else 'exceeds'} the {budget / 2**20:.0f} MiB that the carry "
               "limit leaves beside the data")
        short = dataclasses.replace(config, epochs=read_out or config.epochs)
        if ckpt <= budget:
            unplanned.append((config, why + ": split it at checkpoints, which this planner does not do"))
        elif short.epochs < config.epochs and _chunk_minutes([short], gpu)[0] <= minutes:
            if not result_file(ex.results_dir(profile), short).is_file():
                runs.append(short)
            truncated.append((config, short, why))
        else:
            unplanned.append((config, why))
    chunks: list[list] = []
    for config in runs:
        for chunk in chunks:
            if _chunk_minutes(chunk + [config], gpu)[0] <= minutes:
                chunk.append(config)
                break
        else:
            chunks.append([config])
    return Plan(profile, gpu, minutes,
                tuple(Chunk(i, tuple(c), *reversed(_chunk_minutes(c, gpu))) for i, c in enumerate(chunks)),
                tuple(truncated), tuple(unplanned))


def format_plan(plan: Plan) -> str:
    """The plan as text: one line per chunk with its estimated minutes, then the runs cut at the
    read-out epoch and those not planned."""
    total = sum(c.minutes for c in plan.chunks)
    lines = [f"Pending {plan.profile}-profile runs in {len(plan.chunks)} chunks of <= {plan.limit:g} minutes on one "
             f"{plan.gpu} (estimates, {costs.throughput(plan.gpu) / 1e12:.1f} TFLOP/s per run "
             f"{'measured' if _measured(plan.gpu) else 'assumed'}, {STARTUP_MINUTES:g} min start-up per chunk); "
             f"{total:.0f} estimated minutes in all."]
    for chunk in plan.chunks:
        names, n = ", ".join(_label(c) for c in chunk.configs), len(chunk.configs)
        lines.append(f"  chunk {chunk.index:>3}: {chunk.minutes:4.1f} min (estimate), {n} run{'s' * (n != 1)}, "
                     f"{chunk.runs_sharing} sharing the GPU: {names}")
    if plan.truncated:
        groups: dict[str, list] = {}
        for full, short, why in plan.truncated:
            groups.setdefault(f"{_data_label(full)}, {full.epochs} -> {short.epochs} epochs: {why}", []).append(full)
        lines.append(f"{len(plan.truncated)} runs planned at Table 1's read-out epoch only, since one command "
                     "cannot finish them and they cannot be split at checkpoints:")
        lines += [f"  {len(runs)} x {text}" for text, runs in groups.items()]
        full, short, _ = plan.truncated[0]
        lines.append(f"  Their epochs {short.epochs + 1}-{full.epochs} need commands longer than {plan.limit:g} "
                     "minutes, or a checkpoint small enough to travel with the data.")
    if plan.unplanned:
        lines.append(f"{len(plan.unplanned)} runs not planned:")
        lines += [f"  {_label(config)}: {why}" for config, why in plan.unplanned]
    return "\n".join(lines)


def _measured(gpu: str) -> bool:
    return gpu == "H200" and (results_root() / costs.MEASURED).is_file()


def _data_label(config: RunConfig) -> str:
    n = "all" if config.n_per_class is None else f"{config.n_per_class}/class"
    return f"{config.model} on {config.dataset} ({n})"


def _label(config: RunConfig) -> str:
    return f"{run_name(config).rsplit('-', 1)[0]} ({config.epochs} {'ep' if config.model == 'resnet18' else 'layers'})"


def run_chunk(plan: Plan, index: int, out_dir, *, poll_s: float = 10.0) -> list[Path]:
    """Run chunk ``index`` of ``plan`` into the profile's results folder, ``runs_sharing`` processes
    at a time on a GPU (one after another on a CPU), and keep its finished result files packed in
    ``out_dir`` (:func:`pack`, stem ``chunk<index>``), re-packed every ``poll_s`` seconds, so that
    a command stopped midway still hands back the runs it finished. Returns the packed files."""
    import threading

    import torch

    if not 0 <= index < len(plan.chunks):
        raise ValueError(f"index={index} is not a chunk of the plan, which has {len(plan.chunks)} "
                         f"(0-{len(plan.chunks) - 1})")
    chunk, folder = plan.chunks[index], ex.results_dir(plan.profile)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"chunk{index:03d}"
    sharing = chunk.runs_sharing if torch.cuda.is_available() else 1
    errors = []

    def work():
        try:
            ex.run_sweep(chunk.configs, folder, runs_per_device=sharing, progress=False)
        except BaseException as exc:  # re-raised below, after the last pack
            errors.append(exc)

    def finished():
        return [p for p in (result_file(folder, c) for c in chunk.configs) if p.is_file()]

    thread = threading.Thread(target=work)
    thread.start()
    packed = []
    while thread.is_alive():
        thread.join(poll_s)
        done = finished()
        if done and len(done) != len(packed):
            packed = done
            pack(done, out_dir, stem)
    done = finished()
    parts = pack(done, out_dir, stem) if done else []
    if errors:
        raise errors[0]
    return parts


_SAFE = re.compile(r"[A-Za-z0-9._-]+")


def pack(files, out_dir, stem: str) -> list[Path]:
    """Put ``files`` (plain files, names of letters, digits, '.', '_', '-') into one gzipped tar
    archive written to ``out_dir`` as ``<stem>.tar.gz.000``, ``.001``, ... of at most
    :data:`PACK_FILE_BYTES` each; raise ``ValueError`` if that takes more than :data:`PACK_FILES`
    parts. Returns the parts."""
    files = [Path(f) for f in files]
    if not _SAFE.fullmatch(stem):
        raise ValueError(f"stem={stem!r} must consist of letters, digits, '.', '_' and '-'")
    for f in files:
        if not _SAFE.fullmatch(f.name) or not f.is_file():
            raise ValueError(f"files: {f} is not a plain file with a name of letters, digits, '.', '_' and '-'")
    if len({f.name for f in files}) != len(files):
        raise ValueError("files: two files share a name")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for f in sorted(files, key=lambda f: f.name):
            archive.add(f, arcname=f.name, recursive=False)
    blob = buffer.getvalue()
    parts = max(1, math.ceil(len(blob) / PACK_FILE_BYTES))
    if parts > PACK_FILES:
        raise ValueError(f"{len(files)} files pack to {len(blob)} bytes, more than {PACK_FILES} parts "
                         f"of {PACK_FILE_BYTES} bytes")
    out_dir = Path(out_dir)
    for old in out_dir.glob(f"{stem}.tar.gz.[0-9][0-9][0-9]"):
        old.unlink()
    paths = []
    for i in range(parts):
        path = out_dir / f"{stem}.tar.gz.{i:03d}"
        atomic_write(path, lambda f, i=i: f.write(blob[i * PACK_FILE_BYTES:(i + 1) * PACK_FILE_BYTES]))
        paths.append(path)
    return paths


def unpack(src_dir, dest_dir) -> list[Path]:
    """Extract every pack in ``src_dir`` (:func:`pack`'s parts) into ``dest_dir``, atomically per
    file. A file already in ``dest_dir`` with other bytes is not overwritten: ``ValueError``.
    Returns the files written or found identical."""
    src_dir, dest_dir = Path(src_dir), Path(dest_dir)
    groups: dict[str, list[Path]] = {}
    for part in sorted(src_dir.glob("*.tar.gz.[0-9][0-9][0-9]")):
        groups.setdefault(part.name[:-len(".tar.gz.000")], []).append(part)
    if not groups:
        raise ValueError(f"src_dir={str(src_dir)!r} holds no pack (<stem>.tar.gz.000, ...)")
    contents = {}
    for stem, parts in groups.items():
        if [p.name[-3:] for p in parts] != [f"{i:03d}" for i in range(len(parts))]:
            raise ValueError(f"pack {stem} in {src_dir} lacks a part: has {[p.name for p in parts]}")
        blob = b"".join(p.read_bytes() for p in parts)
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as archive:
            for member in archive.getmembers():
                if not member.isfile() or not _SAFE.fullmatch(member.name):
                    raise ValueError(f"pack {stem} holds {member.name!r}, not a plain file name")
                contents[member.name] = archive.extractfile(member).read()
    written = []
    for name, payload in sorted(contents.items()):
        path = dest_dir / name
        if path.is_file() and path.read_bytes() != payload:
            raise ValueError(f"{path} exists with other contents; move it away to unpack")
        if not path.is_file():
            atomic_write(path, lambda f, payload=payload: f.write(payload))
        written.append(path)
    return written
