"""The ri-optimal optimiser, measured: its cost per iteration on every built-in model (one pair and a batch of
pairs), and Adam's learning rate and schedule, from the best closed-form start, on a GAN and a sampler.

Struski, Tabor, Podolak, Nowak, "Interpolation in generative models", Eq. 3 with the typical-set index and
``alpha = 0.9``, paths of ``--frames`` frames between prior samples.

(a) Cost: ``lc.measure_cost`` of one path (after an untimed call: five iterations, then one) and of ``--pairs``
    paths optimised as one batch; the ratio says what batching pairs saves per pair.
(b) Learning rate: the mean Eq. 3 energy (in the loop; the sampler's loop decoder for digits-ddim) after a fixed
    number of iterations for each learning rate, in units of the prior's mean element scale, constant or with a
    cosine decay to 0 over those iterations.

    python -m bench.micro.ri_optimal_optimiser [--frames 8] [--pairs 4]
"""

from __future__ import annotations

import argparse
import math
import os

import torch

import latentcore as lc
import latentcore.models as models
from latentcore.realism import path_energy
from latentcore.ri_optimal import DEFAULT_ALPHA, DEFAULT_KIND

from bench.report import add_save_option, saved_report

RATES = (0.005, 0.01, 0.02, 0.04)
SWEEP = {"faces-dcgan": 150, "digits-ddim": 40}   # model -> iterations of the learning-rate sweep


def cost_of(model, pairs: int, frames: int) -> lc.Cost:
    spec = lc.SCHEMES["ri-optimal"]
    options = spec.options(model, context="interactive")
    z = model.prior.sample(2 * pairs, seed=0)
    run = lambda max_iter, budget_s: lc.interpolate(  # noqa: E731
        z[:pairs], z[pairs:], frames, scheme="ri-optimal", prior=model.prior, **{**options, "max_iter": max_iter})
    run(1, None)  # steady state: the model's first call allocates and warms up
    return lc.measure_cost(run)


def sweep(model, pairs: int, frames: int, iterations: int, rate: float, schedule: str) -> float:
    """The mean loop energy after ``iterations`` Adam steps at ``rate`` times the prior's scale."""
    prior, options = model.prior, lc.SCHEMES["ri-optimal"].options(model, context="interactive")
    loop = options.get("loop_decoder", options["decoder"])
    z = model.prior.sample(2 * pairs, seed=0).reshape(2 * pairs, -1)
    z0, z1 = z[:pairs], z[pairs:]
    t = torch.linspace(0, 1, frames, dtype=torch.float64)
    start = lc.ri_optimal_interpolate(z0, z1, t, prior, decoder=options["decoder"], max_iter=0)
    inner = start.path[:, 1:-1].clone().requires_grad_(True)
    lr = rate * float(prior.std.mean())
    opt = torch.optim.Adam([inner], lr=lr)
    for i in range(iterations + 1):
        if schedule == "cosine":
            for group in opt.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * i / iterations))
        path = torch.cat([z0[:, None], inner, z1[:, None]], 1).reshape(pairs, frames, *prior.shape)
        energy = path_energy(path, prior=prior, decoder=loop, kind=DEFAULT_KIND, alpha=DEFAULT_ALPHA)
        if i == iterations:
            return float(energy.detach().mean())
        opt.zero_grad()
        energy.sum().backward()
        opt.step()


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.ri_optimal_optimiser",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=8, help="frames per path (default %(default)s)")
    parser.add_argument("--pairs", type=int, default=4, help="pairs in the batched measurements (default %(default)s)")
    add_save_option(parser)
    args = parser.parse_args()
    with saved_report("bench.micro.ri_optimal_optimiser", args.save, None):
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}; "
              f"{args.frames} frames\n")
        print(f"| model | setup, 1 path (s) | s per iteration, 1 path | s per iteration, {args.pairs} paths | "
              "per path, batched / alone |")
        print("|---|---|---|---|---|")
        for name in models.available():
            model = models.load(name, device="cpu")
            alone, batched = cost_of(model, 1, args.frames), cost_of(model, args.pairs, args.frames)
            print(f"| {name} | {alone.setup_s:.3f} | {alone.iteration_s:.4f} | {batched.iteration_s:.4f} | "
                  f"{batched.iteration_s / args.pairs / max(alone.iteration_s, 1e-9):.2f} |", flush=True)
        print(f"\nmean energy in the loop after the iterations shown, {args.pairs} pairs, from the closed-form start "
              "(learning rate in units of the prior's scale)\n")
        print("| model (iterations) | start | " + " | ".join(f"{r} constant | {r} cosine" for r in RATES) + " |")
        print("|---|---|" + "---|---|" * len(RATES))
        for name, iterations in SWEEP.items():
            model = models.load(name, device="cpu")
            cells = [f"{sweep(model, args.pairs, args.frames, iterations, r, s):.3g}" for r in RATES
                     for s in ("constant", "cosine")]
            first = sweep(model, args.pairs, args.frames, 0, RATES[0], "constant")
            print(f"| {name} ({iterations}) | {first:.3g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
