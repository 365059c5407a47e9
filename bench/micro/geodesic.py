"""ri-optimal interpolation through the digits-vae decoder: time, iterations, energy, and the speed-up of
optimising a batch of paths at once over optimising them one by one (the baseline, timed in the same run).

    python -m bench.micro.geodesic [--paths 8] [--frames 32] [--device cpu|cuda]

"Time to 1%" is the run's time scaled by the fraction of its iterations after which the energy stays within 1%
of its final value (iterations cost the same).
"""

from __future__ import annotations

import argparse
import time

import torch

import latentcore as lc
import latentcore.models as models

from bench.micro.device_option import add_device_option, chosen_device
from bench.report import add_save_option, saved_report

# Struski et al.'s own index and start, with which the documentation's figures of this script were measured
PAPER = {"kind": "density", "start": "chord"}


def run(a, b, t, model):
    start = time.perf_counter()
    result = lc.ri_optimal_interpolate(a, b, t, model.prior, decoder=model, **PAPER)
    return result, time.perf_counter() - start


def within_one_percent(energies: torch.Tensor) -> int:
    """First iteration after which every later energy is within 1% of the final one (per path, the latest)."""
    final = energies[-1]
    outside = ((energies - final).abs() > 0.01 * final.abs()).any(dim=1).nonzero()
    return int(outside.max()) + 1 if len(outside) else 0


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.geodesic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=8,
                        help="paths between pairs of prior samples, optimised as one batch and one by one "
                             "(default %(default)s)")
    parser.add_argument("--frames", type=int, default=32,
                        help="frames of each path, endpoints included (default %(default)s)")
    add_device_option(parser)
    add_save_option(parser)
    args = parser.parse_args()
    device = chosen_device(args)
    with saved_report("bench.micro.geodesic", args.save, device):
        model = models.load("digits-vae", device=device)
        z = model.prior.sample(2 * args.paths, seed=0, device=device)
        a, b = z[: args.paths], z[args.paths:]
        t = torch.linspace(0.0, 1.0, args.frames, dtype=torch.float64, device=device)
        run(a[:1], b[:1], t, model)  # warm-up (reference samples, allocations)
        print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; digits-vae decoder, "
              f"{args.frames} frames, alpha {lc.ri_optimal.DEFAULT_ALPHA}\n")
        print("| paths | how | time | iterations | time to 1% of final energy | final / initial energy "
              "| index: linear -> optimised |")
        print("|---|---|---|---|---|---|---|")
        single, single_time = run(a[:1], b[:1], t, model)
        k = within_one_percent(single.energies)
        linear = lc.path_realism(lc.interpolate(a[:1], b[:1], args.frames, scheme="linear", prior=model.prior),
                                 prior=model.prior, decoder=model).index
        print(f"| 1 | single | {single_time:.2f} s | {single.iterations} "
              f"| {single_time * k / max(single.iterations, 1):.2f} s "
              f"| {float(single.energies[-1, 0] / single.energies[0, 0]):.3f} "
              f"| {float(linear[0]):.3g} -> {float(single.index[0]):.3g} |")
        batch, batch_time = run(a, b, t, model)
        one_by_one = sum(run(a[i:i + 1], b[i:i + 1], t, model)[1] for i in range(args.paths))
        ratio = (batch.energies[-1] / batch.energies[0]).mean()
        kb = within_one_percent(batch.energies)
        print(f"| {args.paths} | one batch | {batch_time:.2f} s | {batch.iterations} | "
              f"{batch_time * kb / max(batch.iterations, 1):.2f} s | {float(ratio):.3f} (mean) | |")
        print(f"| {args.paths} | one by one | {one_by_one:.2f} s | | | | |")
        print(f"\nbatched speed-up over one by one: {one_by_one / batch_time:.2f}x")


if __name__ == "__main__":
    main()
