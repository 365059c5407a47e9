"""Time of the closed-form interpolation schemes for 64 frames between two latents: whole ``interpolate`` calls
against each scheme's path function alone on validated, flattened endpoints (the kernel) and against a plain copy
of the output (the memory-bound limit), all timed in the same run. NAO has its own bench (``bench.micro.nao``).

    python -m bench.micro.schemes [--device cpu|cuda] [--save]

Prints a Markdown table: median (and minimum) milliseconds per call over ``torch.utils.benchmark`` blocks; ratios
of medians.
"""

from __future__ import annotations

import argparse

import torch
import torch.utils.benchmark as tb

import latentcore as lc
from latentcore.interpolate import SCHEMES

from bench.micro.device_option import add_device_option, chosen_device
from bench.report import add_save_option, saved_report

FRAMES = 64
SHAPES = {256: (256,), 16384: (4, 64, 64)}
CLOSED_FORM = ("linear", "slerp", "lol")


def timed(fn) -> tuple[float, float]:
    """Median and minimum seconds per call over ``torch.utils.benchmark`` blocks (at least 1 s in all)."""
    m = tb.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=1.0)
    return m.median, min(m.times)


def ms(t: tuple[float, float]) -> str:
    return f"{t[0] * 1e3:.3f} ({t[1] * 1e3:.3f}) ms"


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.schemes", description=__doc__.split("\n\n")[0])
    add_device_option(parser)
    add_save_option(parser)
    args = parser.parse_args()
    device = chosen_device(args)
    with saved_report("bench.micro.schemes", args.save, device):
        print("| D | scheme | copy of output | interpolate | kernel | interpolate / kernel | kernel / copy "
              "| interpolate / copy |")
        print("|---|---|---|---|---|---|---|---|")
        for d, shape in SHAPES.items():
            prior = lc.StandardNormal(shape)
            z0, z1 = prior.sample(2, seed=0, device=device)
            flat0, flat1 = z0.reshape(1, -1), z1.reshape(1, -1)
            t = torch.linspace(0.0, 1.0, FRAMES, dtype=torch.float64, device=device)
            out = lc.interpolate(z0, z1, FRAMES, scheme="linear", prior=prior)
            copy = timed(lambda: out.clone())
            for name in CLOSED_FORM:
                call = timed(lambda: lc.interpolate(z0, z1, FRAMES, scheme=name, prior=prior))
                kernel = timed(lambda: SCHEMES[name].path(flat0, flat1, t, prior))
                print(f"| {d} | {SCHEMES[name].label} | {ms(copy)} | {ms(call)} | {ms(kernel)} | "
                      f"{call[0] / kernel[0]:.2f}x | {kernel[0] / copy[0]:.2f}x | {call[0] / copy[0]:.2f}x |",
                      flush=True)


if __name__ == "__main__":
    main()
