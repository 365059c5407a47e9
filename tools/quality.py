"""Measure the built-in generative models and write their sample grids.

    python -m tools.quality [NAME ...]

For each model: the fraction of 256 prior samples that ``digits-classifier`` labels with probability above 0.8
and their class histogram; the encode-then-decode error on the 297 held-out digits (MSE, PSNR); for models that
decode with a sampler (diffusion, flow matching), how Gaussian the inverted latents look (mean, std, KS p-value
against N(0, 1)). Prints a Markdown table, writes ``docs/model_quality.json`` and a PNG grid of 64 samples per
model under ``docs/samples/``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import scipy.stats
import torch

from latentcore.models import available, load, load_classifier
from latentcore.imaging import image_grid
from latentcore.models.data import digits

DOCS = Path(__file__).resolve().parents[2] / "docs"
SAMPLES = 256
CONFIDENT = 0.8


def measure(name: str) -> dict:
    model = load(name, device="cpu")
    classifier = load_classifier(device="cpu")
    start = time.perf_counter()
    samples = model.decode(model.prior.sample(SAMPLES, seed=0))
    probs = classifier.predict_proba(samples)
    confidence, label = probs.max(1)
    images, _ = digits("heldout")
    latents = model.encode(images)
    mse = float((model.decode(latents) - images).pow(2).mean())
    report = {
        "confident_fraction": round(float((confidence > CONFIDENT).float().mean()), 4),
        "class_histogram": torch.bincount(label, minlength=10).tolist(),
        "reconstruction_mse": round(mse, 5),
        "reconstruction_psnr_db": round(10 * math.log10(1.0 / mse), 2),
        "seconds": round(time.perf_counter() - start, 1),
    }
    if model.sampler is not None:
        flat = latents.flatten().numpy()
        report["inverted_latents"] = {"mean": round(float(flat.mean()), 4), "std": round(float(flat.std()), 4),
                                      "ks_pvalue": float(scipy.stats.kstest(flat, "norm").pvalue)}
    (DOCS / "samples").mkdir(parents=True, exist_ok=True)
    image_grid(samples[:64]).save(DOCS / "samples" / f"{name}.png")
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.quality",
                                     description="Measure the built-in models and write sample grids.")
    parser.add_argument("names", nargs="*", default=None,
                        help=f"models to measure, of {', '.join(available())} (default: all of them)")
    args = parser.parse_args(argv)
    names = args.names or available()
    path = DOCS / "model_quality.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    for name in names:
        print(f"measuring {name} ...", flush=True)
        results[name] = measure(name)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print("| model | samples labelled with p > 0.8 | class histogram (0-9) | held-out reconstruction MSE | PSNR |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['confident_fraction']:.1%} | {' '.join(map(str, r['class_histogram']))} | "
              f"{r['reconstruction_mse']:.4f} | {r['reconstruction_psnr_db']:.1f} dB |")
    for name, r in results.items():
        if "inverted_latents" in r:
            s = r["inverted_latents"]
            print(f"\n{name} inverted held-out digits: mean {s['mean']:.3f}, std {s['std']:.3f}, "
                  f"KS p-value against N(0, 1) {s['ks_pvalue']:.2e}")


if __name__ == "__main__":
    main()
