"""Decoding speed of the built-in models, and the cost of a path's energy with its gradient through each decoder.

    python -m bench.micro.decode [--device cpu|cuda] [--save]

Frames per second at batch 1 and 32 (DDIM and the flow ODE's Euler steps at 10, 25 and 50 steps); the time of
``path_energy`` plus its backward pass for one 32-point path decoded by the model (Eq. 3 of Struski et al.,
"Interpolation in generative models"; what ri-optimal paths optimise), and that time as a multiple of decoding the
same 32 frames without gradients. Prints Markdown tables: frames per second from the median time per call (and
from the fastest call), over ``torch.utils.benchmark`` blocks of at least a second.
"""

from __future__ import annotations

import argparse

import torch.utils.benchmark as tb

import latentcore as lc
import latentcore.models as models

from bench.micro.device_option import add_device_option, chosen_device
from bench.report import add_save_option, saved_report

SETTINGS = {"faces-dcgan": [{}], "digits-vae": [{}], "semicircle-gen": [{}],
            "digits-ddim": [{"steps": 10}, {"steps": 25}, {"steps": 50}],
            "digits-flow": [{"steps": 10}, {"steps": 25}, {"steps": 50}]}
SOLVERS = {"diffusion": "DDIM", "flow": "Euler"}


def seconds(fn, min_run_time=1.0) -> tuple[float, float]:
    """Median and minimum seconds per call."""
    m = tb.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time)
    return m.median, min(m.times)


def rate(frames: int, t: tuple[float, float]) -> str:
    return f"{frames / t[0]:.1f} ({frames / t[1]:.1f})"


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.decode", description=__doc__.splitlines()[0])
    add_device_option(parser)
    add_save_option(parser)
    args = parser.parse_args()
    device = chosen_device(args)
    with saved_report("bench.micro.decode", args.save, device):
        print("| model | setting | frames/s at batch 1: median (best) | frames/s at batch 32: median (best) |")
        print("|---|---|---|---|")
        for name, options in SETTINGS.items():
            model = models.load(name, device=device)
            for opts in options:
                z1, z32 = model.prior.sample(1, seed=0, device=device), model.prior.sample(32, seed=1, device=device)
                one = seconds(lambda: model.decode(z1, **opts))
                many = seconds(lambda: model.decode(z32, **opts))
                label = f"{opts['steps']} {SOLVERS[model.kind]} steps" if opts else "-"
                print(f"| {name} | {label} | {rate(1, one)} | {rate(32, many)} |", flush=True)
        print("\n| model | setting | energy + gradient, 32-point path | decoding 32 frames | ratio of medians |")
        print("|---|---|---|---|---|")
        for name, options in SETTINGS.items():
            model = models.load(name, device=device)
            opts = options[0]
            a, b = model.prior.sample(2, seed=2, device=device)
            path = lc.interpolate(a, b, 32, scheme="linear", prior=model.prior).requires_grad_(True)
            decoder = model.decoder(**opts)

            def energy_and_gradient():
                path.grad = None
                lc.path_energy(path, prior=model.prior, decoder=decoder).backward()

            with_grad = seconds(energy_and_gradient)
            plain = seconds(lambda: model.decode(path.detach(), **opts))
            label = f"{opts['steps']} {SOLVERS[model.kind]} steps" if opts else "-"
            print(f"| {name} | {label} | {with_grad[0] * 1e3:.1f} ms | {plain[0] * 1e3:.1f} ms | "
                  f"{with_grad[0] / plain[0]:.1f}x |", flush=True)

if __name__ == "__main__":
    main()
