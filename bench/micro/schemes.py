"""Time of the interpolation schemes for 64 frames between two latents, as ratios to baselines timed in the
same run: LOL against a plain copy of its output (the memory-bound limit), NAO against LOL.

Scheme times are whole ``interpolate`` calls (validation and endpoint pinning included); "LOL kernel" is the
scheme's path function alone on validated, flattened endpoints.

    python -m bench.micro.schemes [--device cpu|cuda] [--nao-max-iter N]

Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
import torch.utils.benchmark as tb

import latentcore as lc

from bench.micro.device_option import add_device_option, chosen_device

FRAMES = 64
SHAPES = {256: (256,), 16384: (4, 64, 64)}


def median_seconds(fn) -> float:
    return tb.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=1.0).median


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.schemes", description=__doc__.split("\n\n")[0])
    add_device_option(parser)
    parser.add_argument("--nao-max-iter", type=int, default=10_000,
                        help="max_iter of NAO's optimiser: iterations at most (default %(default)s)")
    args = parser.parse_args()
    device = chosen_device(args)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}")
    print()
    print("| D | frames | copy of output | linear | SLERP | LOL | LOL kernel | LOL / copy | LOL kernel / copy "
          "| NAO (iterations) | NAO / LOL |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for d, shape in SHAPES.items():
        prior = lc.StandardNormal(shape)
        z0, z1 = prior.sample(2, seed=0, device=device)
        out = lc.interpolate(z0, z1, FRAMES, scheme="linear", prior=prior)
        copy = median_seconds(lambda: out.clone())
        times = {s: median_seconds(lambda s=s: lc.interpolate(z0, z1, FRAMES, scheme=s, prior=prior))
                 for s in ("linear", "slerp", "lol")}
        flat0, flat1 = z0.reshape(1, -1), z1.reshape(1, -1)
        t = torch.linspace(0.0, 1.0, FRAMES, dtype=torch.float64, device=device)
        kernel = median_seconds(lambda: lc.SCHEMES["lol"].path(flat0, flat1, t, prior))
        lc.interpolate(z0, z1, FRAMES, scheme="nao", prior=prior, max_iter=2)  # one-off set-up costs
        reports = []
        sync(device)
        start = time.perf_counter()
        lc.interpolate(z0, z1, FRAMES, scheme="nao", prior=prior, max_iter=args.nao_max_iter,
                       progress=lambda f, text: reports.append(text))
        sync(device)
        nao = time.perf_counter() - start
        iterations = reports[-1].split("after ")[-1].split(" ")[0] if reports else "?"
        ms = lambda s: f"{s * 1e3:.3f} ms"  # noqa: E731
        print(f"| {d} | {FRAMES} | {ms(copy)} | {ms(times['linear'])} | {ms(times['slerp'])} | {ms(times['lol'])} | "
              f"{ms(kernel)} | {times['lol'] / copy:.2f}x | {kernel / copy:.2f}x | {nao:.2f} s ({iterations}) | "
              f"{nao / times['lol']:.0f}x |")


if __name__ == "__main__":
    main()
