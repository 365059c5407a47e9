"""NAO (Samuel et al., "Norm-guided latent space exploration for text-to-image generation", arXiv 2306.08687)
against the authors' own code, with the same settings, timed in the same run.

    git clone https://github.com/dvirsamuel/SeedSelect
    python -m bench.micro.nao --seedselect SeedSelect [--device cpu|cuda] [--pairs 4] [--dims 256 16384]

The reference is ``nao/norm_aware_optimization.py`` of that clone, loaded with its hard-coded device string
``"cuda"`` replaced by ``--device`` (nothing else changed); its progress lines are captured, not shown. Its
``norm_aware_interpolation`` takes one pair, so it runs the pairs one after another, as a user of that code
would; latentcore runs them as one batch. Both start on the chord (the reference adds ``U[0, 0.01)`` noise),
use Adam with learning rate 0.01, at most 10 000 iterations, and stop once the loss has changed by less than
1e-3 for 10 consecutive iterations. For centroids, the reference's ``norm_aware_centroid_optimization`` of
``--seeds`` seeds with its defaults (10 nodes per path, the seeds' mean as start, tolerance 0.01, patience 5)
against :func:`latentcore.nao.nao_centroid` with the same settings.

"objective" is NAO's loss ``-L + penalty`` of each result, summed over the pairs (lower is better), computed by
the same function for both, so the ratio compares the time to an objective at least as good: "same objective"
says yes when latentcore's is no worse than the reference's (within 1e-4 relative). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import platform
import re
import time
import types
import warnings
from pathlib import Path

import torch

import latentcore as lc
from latentcore.nao import log_chi_density, nao_centroid, nao_interpolate, nao_path_loss

from bench.report import add_save_option, saved_report
from bench.micro.device_option import add_device_option, chosen_device

NODES = 64
SHAPES = {256: (256,), 16384: (4, 64, 64)}


def load_reference(clone: Path, device: torch.device) -> types.ModuleType:
    """SeedSelect's ``nao/norm_aware_optimization.py`` as a module, its device string replaced by ``device``."""
    path = clone / "nao" / "norm_aware_optimization.py"
    source = path.read_text().replace('"cuda"', repr(str(device)))
    module = types.ModuleType("seedselect_nao")
    exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - the authors' code, from the user's clone
    return module


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(device, fn):
    """``(result, seconds, captured stdout)`` of ``fn()``."""
    out = io.StringIO()
    sync(device)
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference's x.T of 1-D tensors
        result = fn()
    sync(device)
    return result, time.perf_counter() - start, out.getvalue()


def mean_iterations(printed: str) -> float:
    """The mean iterations of the reference's runs, from what they printed: each prints every tenth iteration,
    starting at 0, so each run's count is its last printed iteration + 1 (up to 9 fewer than it ran)."""
    runs = [re.findall(r"Iteration (\d+),", run) for run in printed.split("Iteration 0,")[1:]]
    return sum(int(found[-1]) + 1 if found else 1 for found in runs) / max(len(runs), 1)


def compare_paths(ref, prior, pairs: int, device) -> dict:
    d = prior.dim
    z0, z1 = (prior.sample(pairs, seed=s, device=device).reshape(pairs, d) for s in (1, 2))
    spacing = 2.0 * torch.linalg.vector_norm(z0 - z1, dim=1) / NODES
    log_chi = lambda x: log_chi_density(x, d)  # noqa: E731 - SeedSelect's main.py passes the same density

    def reference():
        return [ref.norm_aware_interpolation(log_chi, z0[i, :, None], z1[i, :, None], NODES,
                                             float(spacing[i])) for i in range(pairs)]

    inner, ref_s, printed = timed(device, reference)
    ref_nodes = torch.stack([torch.cat([z0[i, None], x, z1[i, None]]) for i, x in enumerate(inner)])
    t = torch.linspace(0.0, 1.0, NODES, dtype=torch.float64, device=device)
    ours, our_s, _ = timed(device, lambda: nao_interpolate(z0, z1, t, prior))
    return {"ref_s": ref_s, "ours_s": our_s, "ref_iterations": mean_iterations(printed),
            "ours_iterations": ours.iterations,
            "ref_objective": float(nao_path_loss(ref_nodes, spacing).sum()),
            "ours_objective": float(nao_path_loss(ours.path, spacing).sum())}


def compare_centroids(ref, prior, seeds: int, device) -> dict:
    d = prior.dim
    latents = prior.sample(seeds, seed=3, device=device).reshape(seeds, d)
    nodes = 10
    eps = float(2.0 * torch.pdist(latents).mean() / nodes)
    log_chi = lambda x: log_chi_density(x, d)  # noqa: E731

    def objective(paths, centre):
        full = torch.cat([paths, centre.expand(seeds, 1, d)], dim=1) if paths.shape[1] < nodes else paths
        return float(nao_path_loss(full, torch.full((seeds,), eps, device=device)).sum()
                     - log_chi_density(centre.norm(), d))

    (centre, paths), ref_s, printed = timed(
        device, lambda: ref.norm_aware_centroid_optimization(log_chi, list(latents[:, :, None]), nodes, eps))
    centre = centre.reshape(d)  # the reference's points are columns [D, 1]
    ref_paths = torch.stack([torch.cat([latents[i, None], p, centre[None]]) for i, p in enumerate(paths)])
    ours, our_s, _ = timed(device, lambda: nao_centroid(latents, prior, nodes=nodes))
    return {"ref_s": ref_s, "ours_s": our_s, "ref_iterations": mean_iterations(printed),
            "ours_iterations": ours.iterations, "ref_objective": objective(ref_paths, centre),
            "ours_objective": objective(ours.path, ours.centroid.reshape(d))}


def row(what: str, d: int, count: int, r: dict) -> str:
    same = r["ours_objective"] <= r["ref_objective"] + 1e-4 * abs(r["ref_objective"])
    return (f"| {what} | {d} | {count} | {r['ref_s']:.2f} s ({r['ref_iterations']:.0f}) | "
            f"{r['ours_s']:.2f} s ({r['ours_iterations']}) | {r['ref_objective']:.4f} | {r['ours_objective']:.4f} | "
            f"{'yes' if same else 'no'} | {r['ref_s'] / r['ours_s']:.1f}x |")


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.nao", description=__doc__.split("\n\n")[0])
    add_device_option(parser)
    parser.add_argument("--seedselect", type=Path, default=os.environ.get("SEEDSELECT_DIR"),
                        help="a clone of github.com/dvirsamuel/SeedSelect (default: $SEEDSELECT_DIR)")
    parser.add_argument("--pairs", type=int, default=4, help="endpoint pairs per D (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds of each centroid (default %(default)s)")
    parser.add_argument("--dims", type=int, nargs="+", default=list(SHAPES), choices=list(SHAPES),
                        help="latent dimensions D (default: %(default)s)")
    add_save_option(parser)
    args = parser.parse_args()
    if args.seedselect is None or not (args.seedselect / "nao" / "norm_aware_optimization.py").is_file():
        parser.error("--seedselect must name a clone of github.com/dvirsamuel/SeedSelect")
    device = chosen_device(args)
    ref = load_reference(args.seedselect, device)
    warm = lc.StandardNormal(8).sample(2, seed=0, device=device)  # first calls' one-off costs, for both
    for optimiser in ("adam", "lbfgs"):
        nao_interpolate(warm[:1], warm[1:], torch.linspace(0, 1, 4, device=device), lc.StandardNormal(8),
                        optimiser=optimiser, max_iter=3)
    torch.manual_seed(0)  # the reference's starting noise
    with saved_report("bench.micro.nao", args.save, device):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
        print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{platform.processor() or platform.machine()}, load average {load:.1f}")
        print()
        print("| NAO | D | pairs / seeds | reference (iterations) | latentcore (iterations) | reference objective "
              "| latentcore objective | same objective | speed-up |")
        print("|---|---|---|---|---|---|---|---|---|")
        for d in args.dims:
            prior = lc.StandardNormal(SHAPES[d])
            print(row("paths", d, args.pairs, compare_paths(ref, prior, args.pairs, device)), flush=True)
            print(row("centroid", d, args.seeds, compare_centroids(ref, prior, args.seeds, device)), flush=True)


if __name__ == "__main__":
    main()
