"""Decoding speed of the built-in models, and the cost of a path's energy with its gradient through each decoder.

    python -m bench.micro.decode [--device cpu|cuda]

Frames per second at batch 1 and 32 (DDIM and the flow ODE's Euler steps at 10, 25 and 50 steps); the time of
``path_energy`` plus its backward pass for one 32-point path decoded by the model (Eq. 3 of Struski et al.,
"Interpolation in generative models"; what ri-optimal paths optimise), and that time as a multiple of decoding the
same 32 frames without gradients. Prints Markdown tables.
"""

from __future__ import annotations

import argparse

import torch
import torch.utils.benchmark as tb

import latentcore as lc
import latentcore.models as models

from bench.micro.device_option import add_device_option, chosen_device

SETTINGS = {"faces-dcgan": [{}], "digits-vae": [{}], "semicircle-gen": [{}],
            "digits-ddim": [{"steps": 10}, {"steps": 25}, {"steps": 50}],
            "digits-flow": [{"steps": 10}, {"steps": 25}, {"steps": 50}]}
SOLVERS = {"diffusion": "DDIM", "flow": "Euler"}


def seconds(fn, min_run_time=1.0) -> float:
    return tb.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time).median


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.decode", description=__doc__.splitlines()[0])
    add_device_option(parser)
    args = parser.parse_args()
    device = chosen_device(args)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| model | setting | frames/s at batch 1 | frames/s at batch 32 |")
    print("|---|---|---|---|")
    for name, options in SETTINGS.items():
        model = models.load(name, device=device)
        for opts in options:
            z1, z32 = model.prior.sample(1, seed=0, device=device), model.prior.sample(32, seed=1, device=device)
            one = seconds(lambda: model.decode(z1, **opts))
            many = seconds(lambda: model.decode(z32, **opts))
            label = f"{opts['steps']} {SOLVERS[model.kind]} steps" if opts else "-"
            print(f"| {name} | {label} | {1 / one:.1f} | {32 / many:.1f} |")
    print("\n| model | setting | energy + gradient, 32-point path | decoding 32 frames | ratio |")
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
        print(f"| {name} | {label} | {with_grad * 1e3:.1f} ms | {plain * 1e3:.1f} ms | {with_grad / plain:.1f}x |")


if __name__ == "__main__":
    main()
