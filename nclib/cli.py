"""The command line of the training sweeps (Sec. 5, App. E)::

    python -m nclib.cli run fig3 --profile small --seeds 0 1 2
    python -m nclib.cli plan --profile paper          # the pending runs, in chunks of one GPU command
    python -m nclib.cli run --chunk 0 --profile paper --out DIR
    python -m nclib.cli unpack DIR --profile paper
    python -m nclib.cli reproduce results/medium/<run>.json

:mod:`nclib.experiments` holds the grids and the runner, :mod:`nclib.chunks` the GPU chunks.
"""

from __future__ import annotations

import argparse
import json
import os

from nclib import chunks, costs, profiles
from nclib.experiments import EXPERIMENTS, grid, reproduce, results_dir, run_sweep

__all__ = ["main"]


def main(argv=None) -> None:
    """Command line: ``python -m nclib.cli run <experiment> [options]``; ``plan`` /
    ``run --chunk N --out DIR`` / ``unpack DIR``: the pending runs cut into chunks for one GPU
    command each (:mod:`nclib.chunks`); ``reproduce <result file>``: :func:`reproduce`."""
    listing = "\n".join(f"  {name:<7} {text}" for name, text in EXPERIMENTS.items())
    parser = argparse.ArgumentParser(prog="python -m nclib.cli", description="Training sweeps of Sec. 5 and App. E",
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"experiments:\n{listing}")
    sub = parser.add_subparsers(dest="command", required=True)
    profile_help = f"sizes (default: ${profiles.ENV_VAR} or {profiles.DEFAULT_PROFILE})"
    plan = sub.add_parser("plan", help="print the pending runs cut into chunks of one GPU command each")
    run = sub.add_parser("run", help="run the grid of an experiment, or one chunk of the plan",
                         epilog=f"experiments:\n{listing}", formatter_class=argparse.RawDescriptionHelpFormatter)
    unpack = sub.add_parser("unpack", help="extract the result files that `run --chunk` packed")
    again = sub.add_parser("reproduce", help="re-run one stored run from scratch and compare it with its file")
    again.add_argument("result", help="a result file, e.g. results/medium/<run>.json")
    again.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    again.add_argument("--channels-last", choices=("on", "off"), default=None,
                       help="re-run with this memory layout (default: the stored run's)")
    for p in (plan, run, unpack):
        p.add_argument("--profile", choices=profiles.PROFILES, default=None, help=profile_help)
    for p in (plan, run):
        p.add_argument("--minutes", type=float, default=chunks.LIMIT_MINUTES,
                       help="estimated minutes per chunk, start-up included (default: %(default)g)")
        p.add_argument("--gpu", choices=list(costs.GPU_FLOPS), default="H200", help="GPU kind (default: %(default)s)")
        p.add_argument("--experiments", nargs="+", choices=list(EXPERIMENTS), default=None,
                       help="plan only these (default: all)")
    run.add_argument("experiment", nargs="?", choices=list(EXPERIMENTS), help="the experiment (without --chunk)")
    run.add_argument("--chunk", type=int, default=None, help="run chunk N of `plan` (same options) and pack its "
                     "result files into --out")
    run.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: the profile's)")
    run.add_argument("--out", default=None, help="result folder (default: results/<profile> of the checkout); "
                     "with --chunk, the folder for the packed result files")
    run.add_argument("--executor", choices=("serial", "local", "slurm"), default="serial")
    run.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    run.add_argument("--runs-per-device", type=int, default=1, help="concurrent runs per GPU (serial executor)")
    run.add_argument("--slurm-partition", default=None)
    run.add_argument("--timeout-min", type=int, default=24 * 60, help="per-job time limit (submitit)")
    unpack.add_argument("folder", help="where `run --chunk` wrote its packs")
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        layout = None if args.channels_last is None else args.channels_last == "on"
        report = reproduce(args.result, args.device, layout)
        print(json.dumps(report, indent=1))
        print("bit for bit" if report["identical"] else
              f"differs: largest late-phase level drift {max(report['level_drift'].values()):.2e} decades")
        return
    profile = args.profile or profiles.current()
    if args.profile:
        os.environ[profiles.ENV_VAR] = args.profile  # recorded in each result's provenance
    if args.command == "unpack":
        files = chunks.unpack(args.folder, results_dir(profile))
        print(f"{len(files)} result files in {results_dir(profile)}")
        return
    if args.command == "plan" or args.chunk is not None:
        the_plan = chunks.make_plan(profile, gpu=args.gpu, minutes=args.minutes, experiments=args.experiments)
        if args.command == "plan":
            print(chunks.format_plan(the_plan))
            return
        if args.experiment is not None or args.out is None:
            parser.error("run --chunk takes --out DIR and no experiment")
        if not 0 <= args.chunk < len(the_plan.chunks):
            parser.error(f"--chunk {args.chunk}: the plan has {len(the_plan.chunks)} chunks")
        chunk = the_plan.chunks[args.chunk]
        print(f"chunk {args.chunk}: {len(chunk.configs)} runs, {chunk.minutes:.1f} min (estimate)", flush=True)
        parts = chunks.run_chunk(the_plan, args.chunk, args.out)
        print(f"chunk {args.chunk} ({profile}): {len(parts)} pack files in {args.out}")
        return
    if args.experiment is None:
        parser.error("run takes an experiment or --chunk N")
    configs = list(grid(args.experiment, profile, args.seeds).values())
    out = args.out or results_dir(profile)
    slurm = {"timeout_min": args.timeout_min}
    if args.slurm_partition:
        slurm["slurm_partition"] = args.slurm_partition
    names = run_sweep(configs, out, executor=args.executor, device=args.device,
                      runs_per_device=args.runs_per_device, slurm=slurm)
    print(f"{len(names)} runs of {args.experiment} ({profile}) in {out}")




if __name__ == "__main__":
    main()
