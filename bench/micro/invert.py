"""Inverting images into a model: how well (PSNR), how fast, how typical the inverted latents are, and how the
out-of-domain verdict sorts images the model can and cannot make.

    python -m bench.micro.invert [--model digits-vae] [--samples 32] [--max-iter 300] [--restarts 4] [--device cpu]
                                 [--save SUFFIX]

1. Held-out decoded samples (prior latents the inversion never saw, seed 1000, decoded): PSNR of each inversion
   method the model offers, its time and iterations, and the time as a multiple of one forward and backward pass
   of the same batch through the decoder (the baseline, timed in the same run; models that can be optimised).
   Optimisation is also run with fewer iterations, for the time to a given PSNR.
2. Normality tests (:func:`latentcore.diagnostics.normality_tests`) of the inverted latents against as many fresh
   prior samples: the fraction of latents each test rejects at the app's test level
   (:data:`latentcore.diagnostics.NORMALITY_LEVEL`, 0.01).
3. Image sets the model was not trained on, next to its own domain: held-out real digits (digits models), real
   faces and non-faces of scikit-image's bundled LFW subset, the bundled astronaut photograph (whole and its face),
   smooth colour noise, gradients and constant images: median PSNR and the verdicts of
   :mod:`latentcore.reach` (typical / unusual / far).

scikit-image is an optional dependency (``pip install -e .[bench]``); its images ship with the package.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import latentcore as lc
import latentcore.models as models
from latentcore.diagnostics import NORMALITY_LEVEL, normality_tests
from latentcore.reach import typical_error
from latentcore.invert import inversion_methods, invert

from bench.micro.device_option import add_device_option, chosen_device
from bench.report import add_save_option, saved_report


def image_sets(model, count: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Named image batches ``[N, C, H, W]`` in [0, 1] (any size; the inversion resizes them)."""
    from skimage import data

    g = torch.Generator().manual_seed(seed)
    lfw = torch.from_numpy(data.lfw_subset()).float()[:, None]  # 100 faces, then 100 non-faces, 25x25
    astronaut = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float()[None] / 255.0
    ramp = torch.linspace(0.0, 1.0, 256)
    gradients = torch.stack([torch.stack([ramp[None, :].expand(256, 256), ramp[:, None].expand(256, 256),
                                          (1 - ramp)[None, :].expand(256, 256)])[torch.randperm(3, generator=g)]
                             for _ in range(4)])
    sets = {}
    if model.name.startswith(("digits", "semicircle")):
        from latentcore.models.data import digits

        sets["held-out real digits"] = digits("heldout")[0][:count]
    sets["LFW faces (grey, 25x25)"] = lfw[:count]
    sets["LFW non-faces"] = lfw[100:100 + count]
    sets["astronaut photo, whole"] = astronaut
    sets["astronaut photo, face"] = astronaut[:, :, 20:220, 150:350]  # the face, as a square crop
    sets["smooth colour noise"] = torch.nn.functional.interpolate(
        torch.rand(count, 3, 4, 4, generator=g), size=(64, 64), mode="bicubic", align_corners=False).clamp(0, 1)
    sets["gradients"] = gradients
    sets["constant black, grey, white"] = torch.tensor([0.0, 0.5, 1.0]).reshape(3, 1, 1, 1).expand(3, 3, 32, 32)
    return sets


def gradient_step_seconds(model, batch: int, device) -> float:
    """One forward and backward pass of ``batch`` latents through the decoder (median of 5, after a warm-up)."""
    z = model.prior.sample(batch, seed=7, device=device).requires_grad_(True)
    times = []
    for _ in range(6):
        start = time.perf_counter()
        model.decode(z, grad=True).square().mean().backward()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def rejected(latents, prior) -> str:
    tests = normality_tests(latents.cpu(), prior=prior)
    return " | ".join(f"{float(np.mean(p < NORMALITY_LEVEL)):.0%}" for p in tests.values())


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.invert", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="digits-vae",
                        help="a registered model or a diffusers pipeline folder (default %(default)s)")
    parser.add_argument("--samples", type=int, default=32,
                        help="held-out decoded samples to invert; also the fresh prior samples, the images per "
                             "image set at most and the own samples of each typical error (default %(default)s)")
    parser.add_argument("--max-iter", type=int, default=300,
                        help="max_iter of each inversion's optimiser: iterations at most (default %(default)s); "
                             "runs capped at 25, 50, 100 and 200, where below it, give the time to a given PSNR")
    parser.add_argument("--restarts", type=int, default=4,
                        help="starts per optimised image, all optimised as one batch (default %(default)s)")
    add_device_option(parser)
    add_save_option(parser)
    args = parser.parse_args()
    device = chosen_device(args)
    with saved_report("bench.micro.invert", args.save, device):
        _report(args, device)


def _report(args, device):
    model = models.load(args.model, device=device)
    settings = {"max_iter": args.max_iter, "restarts": args.restarts}
    methods = inversion_methods(model)
    latents = model.prior.sample(args.samples, seed=1000, device=device)
    images = model.decode(latents)
    optimising = "optimise" in methods
    step = gradient_step_seconds(model, args.samples * args.restarts, device) if optimising else None
    baseline = (f"; one forward + backward pass of {args.samples * args.restarts} latents: {step * 1e3:.1f} ms"
                if optimising else "")
    print(f"{model.name} on {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.samples} held-out decoded samples, {args.restarts} restarts, at most {args.max_iter} "
          f"iterations{baseline}\n")

    print("| method | median PSNR | 5th percentile PSNR | iterations | stopped by | time | time / gradient step |")
    print("|---|---|---|---|---|---|---|")
    results = {}
    for key, label in methods.items():
        result = invert(model, images, method=key, **settings)
        results[key] = result
        ratio = f"{result.seconds / step:.0f}x" if optimising else "-"
        print(f"| {label} | {np.median(result.psnr):.1f} dB | {np.quantile(result.psnr, 0.05):.1f} dB | "
              f"{result.iterations} | {result.stopped_by} | {result.seconds:.2f} s | {ratio} |")
    if optimising:
        print("\nOptimisation with fewer iterations (time to a given PSNR):\n")
        print("| at most iterations | median PSNR | 5th percentile PSNR | time |")
        print("|---|---|---|---|")
        for max_iter in (25, 50, 100, 200):
            if max_iter < args.max_iter:
                r = invert(model, images, method="optimise", max_iter=max_iter, restarts=args.restarts)
                print(f"| {max_iter} | {np.median(r.psnr):.1f} dB | {np.quantile(r.psnr, 0.05):.1f} dB | "
                      f"{r.seconds:.2f} s |")

    print(f"\nNormality tests at level {NORMALITY_LEVEL}: the fraction of latents each test rejects "
          f"({', '.join(lc.TESTS.values())}):\n")
    print("| latents | " + " | ".join(lc.TESTS.values()) + " |")
    print("|---|" + "---|" * len(lc.TESTS))
    fresh = model.prior.sample(args.samples, seed=2000)
    print(f"| {args.samples} fresh prior samples | {rejected(fresh, model.prior)} |")
    for key, result in results.items():
        print(f"| decoded samples inverted by {methods[key].lower()} | {rejected(result.latents, model.prior)} |")

    references = {}
    for key in methods:
        references[key] = typical_error(model, method=key, samples=args.samples, **settings)
        ref = references[key]
        print(f"\nTypical error of {methods[key].lower()} ({len(ref.errors)} own samples, {ref.seconds:.1f} s): "
              f"median {ref.median:.2g}, 95th percentile {ref.p95:.2g}; 'far' above {ref.threshold:.2g}")
    print("\n| images | method | median PSNR | typical / unusual / far | rejected by the chi-square norm test "
          "| rejected by any normality test |")
    print("|---|---|---|---|---|---|")
    sets = image_sets(model, args.samples)
    for name, batch in sets.items():
        for key in methods:
            row(name, batch, methods[key], invert(model, batch, method=key, **settings), references[key], model.prior)
    if optimising:  # what the typical-set penalty does, on the first real image set
        name, batch = next(iter(sets.items()))
        row(name, batch, "optimisation without the penalty (prior_weight 0)",
            invert(model, batch, method="optimise", prior_weight=0.0, **settings), references["optimise"], model.prior)


def row(name, batch, label, result, reference, prior):
    verdicts = reference.verdicts(result)
    counts = " / ".join(str(int((verdicts == v).sum())) for v in ("typical", "unusual", "far"))
    tests = normality_tests(result.latents.cpu(), prior=prior)
    any_test = np.minimum.reduce(list(tests.values())) < NORMALITY_LEVEL
    print(f"| {name} ({len(batch)}) | {label} | {np.median(result.psnr):.1f} dB | {counts} | "
          f"{float(np.mean(tests['chi2_norm'] < NORMALITY_LEVEL)):.0%} | {float(np.mean(any_test)):.0%} |")


if __name__ == "__main__":
    main()
