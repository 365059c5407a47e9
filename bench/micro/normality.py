"""Time of the normality tests (:func:`latentcore.normality_tests`: Kolmogorov-Smirnov, Cramer-von Mises,
Anderson-Darling against N(0, 1) and the chi-square test of the squared norm) against scipy's own
``kstest`` and ``cramervonmises`` on the same latents, timed in the same run (scipy has no Anderson-Darling test
with known parameters and a p-value, so the baseline holds two of the four tests).

    python -m bench.micro.normality [--latents 1000] [--dims 256 16384] [--repeats 3]

Prints a Markdown table: minimum and median seconds of ``--repeats`` runs, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import scipy
import scipy.stats
import torch

import latentcore as lc

from bench.report import add_save_option, saved_report


def times(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.normality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--latents", type=int, default=1000, help="latents tested at once (default %(default)s)")
    parser.add_argument("--dims", type=int, nargs="+", default=[256, 16384], help="latent dimensions D")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (default %(default)s)")
    add_save_option(parser)
    args = parser.parse_args()
    with saved_report("bench.micro.normality", args.save, None):
        print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), scipy {scipy.__version__}, "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {args.latents} latents\n")
        print("| D | latentcore, 4 tests: min / median | scipy kstest + cramervonmises: min / median "
              "| ratio of medians |")
        print("|---|---|---|---|")
        for d in args.dims:
            latents = lc.StandardNormal(d).sample(args.latents, seed=0, device="cpu")
            x = latents.double().numpy()
            ours = times(lambda: lc.normality_tests(latents), args.repeats)
            scipys = times(lambda: (scipy.stats.kstest(x, "norm", axis=1),
                                    scipy.stats.cramervonmises(x, "norm", axis=1)), args.repeats)
            o, s = statistics.median(ours), statistics.median(scipys)
            print(f"| {d} | {min(ours):.3f} / {o:.3f} s | {min(scipys):.3f} / {s:.3f} s | {o / s:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
