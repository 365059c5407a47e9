"""Interpolation on the pretrained face GAN ``faces-dcgan`` (latent R^100, prior N(0, I)): figures and tables
for the documentation (docs/faces.md).

(a) Struski, Tabor, Podolak, Nowak, "Interpolation in generative models", Figures 3 and 8 (the Gaussian-prior
DCGAN): linear against ri-optimal paths (Adam on Eq. 3 with the decoder in the loop, started on the chord), for
random pairs of prior samples, ``FRAMES`` frames each. Three ri-optimal variants: the paper's density index as it
is (``alpha = 1``), scaled by ``alpha = 0.9`` (the project's default), and the typical-set index (``alpha = 0.9``).
Per path: the index of Definition 2 (density index, unscaled), the Eq. 3 energy (density index, ``alpha = 0.9``),
the image-space length and largest step, and the mean of both point indices and of the latent norm over the
interior frames, and of the contrast and detail ratios of (b); means over the pairs with 95% bootstrap
intervals.

(b) Bodin et al., "Linear combinations of latents in generative models: subspaces and beyond" (arXiv 2408.08558),
the point of its Figure 1: the midpoints of linear paths have atypically small norms and decode to images with
less contrast and detail; SLERP and LOL keep the norm. Per frame: latent norm, contrast (standard deviation of the
pixels) and detail (mean gradient magnitude of the luminance), each image measure ``m`` divided by the endpoints'
interpolated, ``(1 - t) m(z0) + t m(z1)`` (1 at both ends, their mean at ``t = 0.5``). Centroids of K = 3..8
seeds by the non-iterative entries of ``lc.CENTROIDS``, their image measures divided by the seeds' mean.

    pip install -r requirements-docs.txt && python -m bench.figures.faces [--pairs 16] [--max-iter 200] [--save]

Writes docs/faces_ri_frames_1.png (to ``_3``), docs/faces_ri_paths.png, docs/faces_lol_midpoints.png,
docs/faces_lol_curves.png, docs/faces_centroids.png and docs/faces_centroid_frames.png (each quantised to 256
colours when larger than ``PNG_LIMIT``); prints the tables in Markdown and the time each part took.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

import latentcore as lc
import latentcore.models as models
from latentcore.evaluate.statistics import bootstrap_interval
from latentcore.imaging import image_grid

from bench.report import saved_report

DOCS = Path(__file__).resolve().parents[2] / "docs"
PNG_LIMIT = 280_000
FRAMES = 16            # of every ri-optimal path, endpoints included (14 midpoints)
SHOWN = 3              # pairs drawn in the ri figures
LATE = 20              # iterations over which the energy's late decrease is reported
ENERGY_ALPHA = 0.9     # the Eq. 3 energy of the table is always this one, so that rows compare
VARIANTS = {           # label -> options of lc.ri_optimal_interpolate
    "ri-optimal, alpha 1": {"kind": "density", "alpha": 1.0, "start": "chord"},
    "ri-optimal, alpha 0.9": {"kind": "density", "alpha": 0.9, "start": "chord"},
    "ri-optimal, typical, alpha 0.9": {"kind": "typical", "alpha": 0.9, "start": "chord"},
}
COLOURS = {"linear": "#2ca02c", "ri-optimal, alpha 1": "#ff7f0e", "ri-optimal, alpha 0.9": "#d62728",
           "ri-optimal, typical, alpha 0.9": "#9467bd", "slerp": "#1f77b4", "lol": "#d62728", "mean": "#2ca02c",
           "rescaled": "#1f77b4"}
LOL_PAIRS, LOL_FRAMES, MIDPOINTS_SHOWN = 64, 9, 8
LOL_SCHEMES = ("linear", "slerp", "lol")
CENTROID_K, CENTROID_SETS = range(3, 9), 16
LUMA = torch.tensor([0.299, 0.587, 0.114])
SHORT = {"lol": "LOL centroid", "mean": "arithmetic mean", "rescaled": "mean rescaled to the seeds' norm"}


def save(fig, name: str):
    """Save ``fig`` as docs/NAME; quantised to 256 colours when the full-colour PNG exceeds ``PNG_LIMIT``."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    picture = Image.open(buffer).convert("RGB")
    if len(buffer.getvalue()) > PNG_LIMIT:
        picture = picture.quantize(256, method=Image.Quantize.MEDIANCUT)
    picture.save(DOCS / name, optimize=True)
    print(f"wrote docs/{name} ({(DOCS / name).stat().st_size / 1000:.0f} kB)")


def interval(values, generator) -> tuple[float, float, float]:
    values = np.asarray(values, dtype=np.float64)
    lo, hi = bootstrap_interval(values, generator)
    return float(values.mean()), lo, hi


def cell(stat: tuple[float, float, float]) -> str:
    mean, lo, hi = stat
    return f"{mean:.3g} [{lo:.3g}, {hi:.3g}]"


def table(header: list[str], rows: dict[str, list[str]]):
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, cells in rows.items():
        print(f"| {label} | " + " | ".join(cells) + " |")


def image_measures(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Contrast (standard deviation of all pixel values) and detail (mean magnitude of the forward-difference
    gradient of the luminance) of images ``[..., 3, H, W]`` in [0, 1]; each ``[...]``."""
    flat = images.reshape(-1, *images.shape[-3:]).double()
    grey = (flat * LUMA.double()[:, None, None]).sum(1)
    dx, dy = grey[:, :-1, 1:] - grey[:, :-1, :-1], grey[:, 1:, :-1] - grey[:, :-1, :-1]
    batch = images.shape[:-3]
    return {"contrast": flat.flatten(1).std(1).reshape(batch),
            "detail": (dx**2 + dy**2).sqrt().mean((1, 2)).reshape(batch)}


def relative_to_ends(values: torch.Tensor) -> torch.Tensor:
    """``values [B, S]`` of the frames of paths divided by the endpoints' interpolated,
    ``(1 - t) v_0 + t v_{S-1}`` at ``t = i / (S - 1)``."""
    t = torch.linspace(0, 1, values.shape[1], dtype=values.dtype)
    return values / torch.lerp(values[:, :1], values[:, -1:], t)


def image_rows(rows: list[torch.Tensor], labels: list[str], title: str, name: str, scale: int = 1):
    """Rows of images ``[n, 3, H, W]`` drawn at ``scale`` screen pixels per image pixel, each row labelled on the
    left, saved as docs/NAME."""
    grid = image_grid(torch.cat(rows), columns=len(rows[0]), scale=scale)
    left, top, bottom, dpi = 250, 28, 4, 100
    width, height = grid.width + left + 6, grid.height + top + bottom
    fig = plt.figure(figsize=(width / dpi, height / dpi))
    ax = fig.add_axes((left / width, bottom / height, grid.width / width, grid.height / height))
    ax.imshow(np.asarray(grid), interpolation="nearest")
    h = grid.height / len(rows)
    ax.set_yticks([h * (k + 0.5) for k in range(len(rows))], labels, fontsize=9)
    ax.set_xticks([])
    ax.set_title(title, fontsize=10)
    save(fig, name)


# ---- (a) linear against ri-optimal paths (Struski et al.) ------------------------------------------------------

def ri_paths(model, pairs: int, max_iter: int) -> dict[str, torch.Tensor]:
    """Flat paths ``[pairs, FRAMES, D]`` by label: the linear one and every ri-optimal variant, pair by pair."""
    prior = model.prior
    ends = prior.sample(2 * pairs, seed=0)
    paths = {"linear": lc.interpolate(ends[:pairs], ends[pairs:], FRAMES, scheme="linear", prior=prior).flatten(2)}
    z0, z1 = ends[:pairs].flatten(1), ends[pairs:].flatten(1)
    t = torch.linspace(0, 1, FRAMES, dtype=torch.float64)
    for label, options in VARIANTS.items():
        start, found, iterations, late = time.perf_counter(), [], [], []
        for k in range(pairs):
            result = lc.ri_optimal_interpolate(z0[k:k + 1], z1[k:k + 1], t, prior, decoder=model,
                                               max_iter=max_iter, **options)
            found.append(result.path)
            iterations.append(result.iterations)
            energies = result.energies[:, 0]
            late.append(float(1 - energies[-1] / energies[max(0, len(energies) - 1 - LATE)]))
        paths[label] = torch.cat(found)
        print(f"{label}: {pairs} paths in {time.perf_counter() - start:.0f} s, Adam iterations {min(iterations)} "
              f"to {max(iterations)} (cap {max_iter}); its own energy fell by a median {np.median(late):.1%} "
              f"in the last {LATE} iterations")
    return paths


def path_measures(model, path: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-frame and per-path measures of flat paths ``[B, S, D]``."""
    prior = model.prior
    latents = path.reshape(*path.shape[:2], *prior.shape)
    with torch.no_grad():
        images = model.decode(latents.flatten(0, 1)).reshape(*path.shape[:2], *model.image_shape)
        realism = lc.path_realism(latents, prior=prior, decoder=model)
        energy = lc.path_energy(latents, prior=prior, decoder=model, alpha=ENERGY_ALPHA)
    typical = lc.realisticity_index(latents, prior=prior, kind="typical")
    relative = {name: relative_to_ends(v) for name, v in image_measures(images).items()}
    return {**relative, "images": images, "steps": realism.lengths, "density": realism.point_index, "typical": typical,
            "norm": path.norm(dim=-1), "index": realism.index, "energy": energy,
            "plane": torch.stack([lc.endpoint_plane(p, p[0], p[-1]) for p in path])}


def ri_table(measured: dict[str, dict], generator):
    columns = {
        "path index (Def. 2)": lambda m: m["index"],
        "Eq. 3 energy (alpha 0.9)": lambda m: m["energy"],
        "image-space length": lambda m: m["steps"].sum(1),
        "largest step": lambda m: m["steps"].max(1).values,
        "mean density ri, interior": lambda m: m["density"][:, 1:-1].mean(1),
        "mean typical ri, interior": lambda m: m["typical"][:, 1:-1].mean(1),
        "mean latent norm, interior": lambda m: m["norm"][:, 1:-1].mean(1),
        "mean contrast ratio, interior": lambda m: m["contrast"][:, 1:-1].mean(1),
        "mean detail ratio, interior": lambda m: m["detail"][:, 1:-1].mean(1),
    }
    rows = {name: [cell(interval(f(m).double().numpy(), generator)) for m in measured.values()]
            for name, f in columns.items()}
    table(["measure (per path)", *measured], rows)


def ri_frames_figures(measured: dict[str, dict]):
    """One PNG per drawn pair (all frames of four paths at full size would exceed ``PNG_LIMIT`` in one)."""
    for k in range(SHOWN):
        image_rows([m["images"][k] for m in measured.values()], list(measured),
                   f"pair {k + 1}: all {FRAMES} frames, endpoints included", f"faces_ri_frames_{k + 1}.png")


def ri_paths_figure(measured: dict[str, dict], prior):
    panels = ("plane", "steps", "density", "typical", "norm")
    fig, axes = plt.subplots(SHOWN, len(panels), figsize=(17, 3.1 * SHOWN), squeeze=False)
    lo, hi = lc.typical_norm_band(prior)
    for k in range(SHOWN):
        for label, m in measured.items():
            style = {"color": COLOURS[label], "label": label, "markersize": 3}
            plane = m["plane"][k].numpy()
            axes[k, 0].plot(plane[:, 0], plane[:, 1], "o-", **style)
            axes[k, 1].plot(np.arange(1, FRAMES), m["steps"][k].numpy(), "o-", **style)
            axes[k, 2].plot(m["density"][k].numpy(), "o-", **style)
            axes[k, 3].plot(m["typical"][k].numpy(), "o-", **style)
            axes[k, 4].plot(m["norm"][k].numpy(), "o-", **style)
        axes[k, 4].axhspan(lo, hi, color="grey", alpha=0.15, label="99% of prior samples")
        axes[k, 0].set(xlabel="coefficient of z0", ylabel=f"pair {k + 1}\ncoefficient of z1")
        axes[k, 1].set(xlabel="step (frame i-1 to i)", ylabel="L2 distance of decoded frames")
        axes[k, 2].set(xlabel="frame", ylabel="density ri (paper)", ylim=(-0.03, 1.03))
        axes[k, 3].set(xlabel="frame", ylabel="typical-set ri", ylim=(-0.03, 1.03))
        axes[k, 4].set(xlabel="frame", ylabel="latent norm")
    titles = ("endpoint plane (Eq. 4)", "L2 distance between consecutive frames", "realisticity index (density)",
              "realisticity index (typical set)", "latent norm")
    for ax, title in zip(axes[0], titles):
        ax.set_title(title, fontsize=10)
    handles, labels = axes[0, 4].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    save(fig, "faces_ri_paths.png")


def part_a(model, pairs: int, max_iter: int, generator):
    paths = ri_paths(model, pairs, max_iter)
    measured = {label: path_measures(model, path) for label, path in paths.items()}
    print(f"\n{pairs} pairs of prior samples, {FRAMES} frames, means and 95% bootstrap intervals over the pairs:\n")
    ri_table(measured, generator)
    ri_frames_figures(measured)
    ri_paths_figure(measured, model.prior)


# ---- (b) linear, SLERP and LOL midpoints; centroids (Bodin et al.) -----------------------------------------------

def lol_paths(model) -> dict[str, dict[str, torch.Tensor]]:
    prior = model.prior
    ends = prior.sample(2 * LOL_PAIRS, seed=1)
    out = {}
    for scheme in LOL_SCHEMES:
        path = lc.interpolate(ends[:LOL_PAIRS], ends[LOL_PAIRS:], LOL_FRAMES, scheme=scheme, prior=prior)
        images = model.decode(path.flatten(0, 1)).reshape(LOL_PAIRS, LOL_FRAMES, *model.image_shape)
        measures = {name: relative_to_ends(v) for name, v in image_measures(images).items()}
        out[scheme] = {"images": images, "norm": path.flatten(2).norm(dim=-1).double(),
                       "typical": lc.realisticity_index(path, prior=prior, kind="typical"), **measures}
    return out


def lol_midpoint_figure(measured):
    mid = LOL_FRAMES // 2
    first = measured["linear"]["images"]
    rows = [first[:MIDPOINTS_SHOWN, 0]]
    rows += [measured[s]["images"][:MIDPOINTS_SHOWN, mid] for s in LOL_SCHEMES]
    rows.append(first[:MIDPOINTS_SHOWN, -1])
    image_rows(rows, ["endpoint z0", "linear midpoint", "SLERP midpoint", "LOL midpoint", "endpoint z1"],
               f"midpoints (t = 0.5) of {MIDPOINTS_SHOWN} pairs of prior samples", "faces_lol_midpoints.png", 2)


def lol_curves_figure(measured, prior, generator):
    t = np.linspace(0, 1, LOL_FRAMES)
    panels = (("norm", "latent norm"), ("contrast", "contrast / endpoints' (interpolated)"),
              ("detail", "detail / endpoints' (interpolated)"))
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, (key, ylabel) in zip(axes, panels):
        for scheme in LOL_SCHEMES:
            stats = np.array([interval(measured[scheme][key][:, i].numpy(), generator) for i in range(LOL_FRAMES)])
            ax.plot(t, stats[:, 0], "o-", color=COLOURS[scheme], label=scheme, markersize=3)
            ax.fill_between(t, stats[:, 1], stats[:, 2], color=COLOURS[scheme], alpha=0.2)
        ax.set(xlabel="t", ylabel=ylabel)
    lo, hi = lc.typical_norm_band(prior)
    axes[0].axhspan(lo, hi, color="grey", alpha=0.15, label="99% of prior samples")
    axes[0].set_title("latent norm along the path")
    axes[1].set_title("contrast: pixel standard deviation")
    axes[2].set_title("detail: mean gradient magnitude")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"faces-dcgan, {LOL_PAIRS} pairs of prior samples: means and 95% bootstrap intervals", fontsize=10)
    fig.tight_layout()
    save(fig, "faces_lol_curves.png")


def centroids(model, generator):
    """Measures of the centroids of ``CENTROID_SETS`` sets of K prior samples for each K, by scheme."""
    prior = model.prior
    names = [name for name, spec in lc.CENTROIDS.items() if not spec.iterative]
    out = {name: {"norm": [], "contrast": [], "detail": [], "images": []} for name in names}
    for k in CENTROID_K:
        seeds = prior.sample(k * CENTROID_SETS, seed=100 + k).reshape(CENTROID_SETS, k, *prior.shape)
        seed_measures = image_measures(model.decode(seeds.flatten(0, 1)).reshape(CENTROID_SETS, k, *model.image_shape))
        for name in names:
            centres = torch.stack([lc.centroid(s, scheme=name, prior=prior) for s in seeds])
            images = model.decode(centres)
            measures = image_measures(images)
            out[name]["norm"].append(interval(centres.flatten(1).norm(dim=1).numpy(), generator))
            for key in ("contrast", "detail"):
                ratio = measures[key] / seed_measures[key].mean(1)
                out[name][key].append(interval(ratio.numpy(), generator))
            out[name]["images"].append(images[0])
    return out


def centroid_figures(out, prior):
    ks = list(CENTROID_K)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, key, ylabel in zip(axes, ("norm", "contrast", "detail"),
                               ("latent norm", "contrast / seeds' mean contrast", "detail / seeds' mean detail")):
        for name, m in out.items():
            stats = np.array(m[key])
            ax.errorbar(ks, stats[:, 0], yerr=[stats[:, 0] - stats[:, 1], stats[:, 2] - stats[:, 0]], fmt="o-",
                        color=COLOURS[name], label=SHORT.get(name, name), capsize=3, markersize=4)
        ax.set(xlabel="K (seeds per centroid)", ylabel=ylabel)
    lo, hi = lc.typical_norm_band(prior)
    axes[0].axhspan(lo, hi, color="grey", alpha=0.15, label="99% of prior samples")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"faces-dcgan: centroids of K prior samples, {CENTROID_SETS} sets per K, means and 95% "
                 "bootstrap intervals", fontsize=10)
    fig.tight_layout()
    save(fig, "faces_centroids.png")
    image_rows([torch.stack(m["images"]) for m in out.values()], [SHORT.get(n, n) for n in out],
               "centroid of one set of K seeds, K = " + ", ".join(map(str, ks)), "faces_centroid_frames.png", 2)


def part_b(model, generator):
    measured = lol_paths(model)
    mid = LOL_FRAMES // 2
    print(f"\n{LOL_PAIRS} pairs of prior samples, midpoint (t = 0.5); contrast and detail relative to the mean of "
          "the endpoints'; means and 95% bootstrap intervals:\n")
    columns = ("norm", "typical", "contrast", "detail")
    rows = {s: [cell(interval(measured[s][c][:, mid].numpy(), generator)) for c in columns] for s in LOL_SCHEMES}
    table(["scheme", "latent norm (typical ~10)", "typical-set ri", "contrast ratio", "detail ratio"], rows)
    lol_midpoint_figure(measured)
    lol_curves_figure(measured, model.prior, generator)
    out = centroids(model, generator)
    print(f"\ncentroids of K prior samples, {CENTROID_SETS} sets per K; contrast and detail relative to the mean of "
          "the seeds':\n")
    rows = {f"{SHORT.get(n, n)}, K = {k}": [cell(m[c][i]) for c in ("norm", "contrast", "detail")]
            for n, m in out.items() for i, k in enumerate(CENTROID_K) if k in (3, 5, 8)}
    table(["centroid", "latent norm", "contrast ratio", "detail ratio"], rows)
    centroid_figures(out, model.prior)


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.figures.faces", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=16,
                        help=f"pairs of prior samples of the ri-optimal table, one path each per variant (at least "
                             f"{SHOWN}, the pairs drawn in the figures; default %(default)s)")
    parser.add_argument("--max-iter", type=int, default=200,
                        help="max_iter of each ri-optimal path: Adam iterations at most (default %(default)s)")
    parser.add_argument("--save", action="store_true",
                        help="also write the tables to docs/benchmarks/figures.faces-lol.md (part b) and "
                             "figures.faces-ri.md (part a), which the documentation includes")
    args = parser.parse_args()
    if args.pairs < SHOWN:
        parser.error(f"--pairs must be at least {SHOWN} (the pairs drawn in the figures)")
    DOCS.mkdir(exist_ok=True)
    model = models.load("faces-dcgan", device="cpu")
    generator = torch.Generator().manual_seed(0)
    with saved_report("bench.figures.faces", "lol" if args.save else None):
        start = time.perf_counter()
        part_b(model, generator)
        print(f"\n(b) took {time.perf_counter() - start:.0f} s")
    with saved_report("bench.figures.faces", "ri" if args.save else None):
        start = time.perf_counter()
        part_a(model, args.pairs, args.max_iter, generator)
        print(f"\n(a) took {time.perf_counter() - start:.0f} s on {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
