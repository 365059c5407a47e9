"""ri-optimal paths through a sampler (digits-ddim): the decoder in the optimisation loop with few DDIM steps, against
the full sampler in the loop (the baseline, timed in the same run).

    python -m bench.micro.sampler_geodesic [--pairs 3] [--frames 16] [--budget 60] [--loop-steps 3 10]

For each loop decoder: the seconds per Adam iteration (and the ratio to the full sampler's), the iterations run
within the budget and how they ended, and, measured with the full sampler (25 steps) on the path returned, the
energy of Eq. 3 and the path's realisticity index (Definition 2) against the chord's. The full sampler in the loop
is timed over a few iterations only: its per-iteration time says how long a path would take.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import latentcore.models as models
from latentcore.ri_optimal import ri_optimal_interpolate
from latentcore.realism import path_energy, path_realism

from bench.micro.device_option import add_device_option, chosen_device
from bench.report import add_save_option, saved_report

# Struski et al.'s own index and start, with which the documentation's figures of this script were measured
PAPER = {"kind": "density", "start": "chord"}

BASELINE_ITERATIONS = 5


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.sampler_geodesic",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3,
                        help="pairs of prior samples, one path each, optimised one at a time (default %(default)s)")
    parser.add_argument("--frames", type=int, default=16,
                        help="frames of each path, endpoints included (default %(default)s)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="time budget of each path in seconds (default %(default)g, as the app's)")
    parser.add_argument("--loop-steps", type=int, nargs="+", default=[3, 10],
                        help="DDIM steps of the decoder in the optimisation loop, one run each (default: 3 10)")
    add_device_option(parser)
    add_save_option(parser)
    args = parser.parse_args()
    device = chosen_device(args)
    with saved_report("bench.micro.sampler_geodesic", args.save, device):
        model = models.load("digits-ddim", device=device)
        full = model.decoder()
        steps = model.sampler.default
        z = model.prior.sample(2 * args.pairs, seed=3, device=device).reshape(2 * args.pairs, -1)
        t = torch.linspace(0.0, 1.0, args.frames, dtype=torch.float64, device=device)
        shape = (1, args.frames, *model.prior.shape)
        print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; digits-ddim, "
              f"{args.frames} frames, {args.pairs} pairs one at a time, budget {args.budget:.0f} s, full sampler "
              f"{steps} steps\n")

        def timed(loop_decoder, max_iter, budget_s=None):
            rows = []
            for i in range(args.pairs):
                a, b = z[i:i + 1], z[args.pairs + i:args.pairs + i + 1]
                start = time.perf_counter()
                result = ri_optimal_interpolate(a, b, t, model.prior, decoder=full, loop_decoder=loop_decoder, **PAPER,
                                                max_iter=max_iter, budget_s=budget_s)
                seconds = time.perf_counter() - start
                chord = torch.lerp(a[:, None], b[:, None], t.to(a)[None, :, None]).reshape(shape)
                with torch.no_grad():
                    chord_energy = float(path_energy(chord, prior=model.prior, decoder=full))
                chord_index = float(path_realism(chord, prior=model.prior, decoder=full).index)
                rows.append((seconds, result, chord_energy, chord_index))
            return rows

        baseline = timed(None, BASELINE_ITERATIONS)
        per_iteration_full = statistics.median(s / max(r.iterations, 1) for s, r, _, _ in baseline)
        print("| loop decoder | s per iteration | vs full sampler | iterations (how it ended) | time per path | "
              "energy, full sampler: chord -> path | path index: chord -> path |")
        print("|---|---|---|---|---|---|---|")
        print(f"| full sampler ({steps} steps) | {per_iteration_full:.3f} | 1 | {BASELINE_ITERATIONS} (timing only) "
              "| | | |")
        for loop_steps in args.loop_steps:
            rows = timed(model.decoder(steps=loop_steps), 1000, args.budget)
            per_iteration = statistics.median(s / max(r.iterations, 1) for s, r, _, _ in rows)
            ended = ", ".join(f"{r.iterations} ({r.stopping.reason})" for _, r, _, _ in rows)
            seconds = ", ".join(f"{s:.0f} s" for s, _, _, _ in rows)
            energy = ", ".join(f"{ce:.3g} -> {float(r.energy[0]):.3g}" for _, r, ce, _ in rows)
            index = ", ".join(f"{ci:.2f} -> {float(r.index[0]):.2f}" for _, r, _, ci in rows)
            print(f"| {loop_steps} steps | {per_iteration:.3f} | {per_iteration / per_iteration_full:.2f} | {ended} | "
                  f"{seconds} | {energy} | {index} |")


if __name__ == "__main__":
    main()
