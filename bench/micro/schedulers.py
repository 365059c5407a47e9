"""How near each decoding scheduler gets to the model's ODE in few steps, on the built-in sampling models.

    python -m bench.micro.schedulers [--latents 16] [--device cpu|cuda]

For ``digits-ddim`` and ``digits-flow``: the mean absolute difference of images in [0, 1] from the images of 50
steps of the model's default scheduler (DDIM; Euler), for every scheduler the model offers at 10 and 25 steps, and
the time of a decode of the same latents as a multiple of the default scheduler's at the same steps (measured in
this run). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time

import torch

import latentcore.models as models

from bench.micro.device_option import add_device_option
from bench.report import add_save_option, saved_report

MODELS = ("digits-ddim", "digits-flow")
STEPS = (10, 25)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.micro.schedulers", description=__doc__.splitlines()[0])
    parser.add_argument("--latents", type=int, default=16,
                        help=f"prior samples decoded by every scheduler at {' and '.join(map(str, STEPS))} steps "
                             "(default %(default)s)")
    add_device_option(parser)
    add_save_option(parser)
    args = parser.parse_args()
    with saved_report("bench.micro.schedulers", args.save, None):
        print(f"device {args.device or 'default'}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{args.latents} latents\n")
        print("| model | scheduler | steps | mean abs. difference from 50 default steps | time / default's |")
        print("|---|---|---|---|---|")
        for name in MODELS:
            model = models.load(name, args.device)
            z = model.prior.sample(args.latents, seed=0, device=model.device)
            default = model.sampler.schedulers[0]
            reference = model.decode(z, steps=50, scheduler=default)
            for steps in STEPS:
                times = {}
                for scheduler in model.sampler.schedulers:
                    tic = time.perf_counter()
                    images = model.decode(z, steps=steps, scheduler=scheduler)
                    times[scheduler] = time.perf_counter() - tic
                    difference = float((images - reference).abs().mean())
                    print(f"| {name} | {models.SCHEDULERS[scheduler].label} | {steps} | {difference:.4f} | "
                          f"{times[scheduler] / times[default]:.2f} |")


if __name__ == "__main__":
    main()
