"""Throughput of an evaluation on local Ray workers against the same evaluation in process, timed in one run: the
same model, seeds and chunks each time (a local Ray with this machine's CPUs, started once before the runs; each
Ray run includes starting its workers and their loading the model).

    python -m bench.cluster.evaluate [--model digits-ddim] [--steps 10] [--rounds 2] [--save]

Prints a Markdown table: seconds per run (median and minimum over rounds, the settings in alternating order),
units (pairs and sets, all schemes) per second, and the ratio of throughputs to the in-process run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from latentcore.evaluate import evaluate
from latentcore.evaluate.distributed import RayCluster
from latentcore.models import load

from bench.report import add_save_option, saved_report

WORK = dict(frames=9, schemes=["linear", "slerp", "lol"], centroid_schemes=["mean", "lol"], chunk_units=4)


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.cluster.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="digits-ddim", help="the model evaluated (default %(default)s)")
    parser.add_argument("--steps", type=int, default=10,
                        help="sampler steps, for models with a sampler (default %(default)s)")
    parser.add_argument("--pairs", type=int, default=48, help="pairs of seeds (default %(default)s)")
    parser.add_argument("--sets", type=int, default=16, help="sets of seeds for centroids (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setting (default %(default)s)")
    add_save_option(parser)
    args = parser.parse_args()
    import ray

    cpus = os.cpu_count() or 1
    model = load(args.model)
    work = dict(WORK, pairs=args.pairs, centroid_sets=args.sets, **({"steps": args.steps} if model.sampler else {}))
    units = args.pairs * len(WORK["schemes"]) + args.sets * len(WORK["centroid_schemes"])
    tic = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, logging_level="warning", log_to_driver=False)
    start_s = time.perf_counter() - tic
    settings = {f"in process ({torch.get_num_threads()} torch threads)": None,
                "Ray, 1 worker of 1 CPU": RayCluster(workers=1),
                f"Ray, 1 worker of {cpus} CPUs": RayCluster(workers=1, cpus_per_worker=cpus),
                f"Ray, {cpus} workers of 1 CPU": RayCluster(workers=cpus)}
    times = {name: [] for name in settings}
    try:
        for r in range(args.rounds):
            for name in (list(settings) if r % 2 == 0 else list(settings)[::-1]):
                tic = time.perf_counter()
                evaluate(model, cluster=settings[name], **work)
                times[name].append(time.perf_counter() - tic)
    finally:
        ray.shutdown()
    with saved_report("bench.cluster.evaluate", args.save):
        print(f"{args.model}{f' ({args.steps} steps)' if model.sampler else ''}: {args.pairs} pairs of "
              f"{WORK['frames']} frames x {len(WORK['schemes'])} schemes and {args.sets} sets x "
              f"{len(WORK['centroid_schemes'])} centroid schemes = {units} units in chunks of "
              f"{WORK['chunk_units']}; a local Ray of {cpus} CPUs started in {start_s:.1f} s (not in the times).\n")
        print("| run on | seconds per run | units per second | throughput / in process |")
        print("|---|---|---|---|")
        base = statistics.median(times[next(iter(settings))])
        for name, ts in times.items():
            median = statistics.median(ts)
            print(f"| {name} | {median:.1f} ({min(ts):.1f}) | {units / median:.2f} | {base / median:.2f}x |")


if __name__ == "__main__":
    main()
