"""Figures of ri-optimal interpolation for the documentation (docs/ri-optimal.md): Struski, Tabor, Podolak, Nowak,
"Interpolation in generative models", Figures 1, 5 and 6.

    pip install -r requirements-docs.txt && python -m bench.figures.geodesic

Writes docs/geodesic_semicircle.png (the planar semicircle: density with the linear and the ri-optimal path, and
the realisticity index along each) and docs/geodesic_semicircle_gen.png plus docs/geodesic_semicircle_gen_frames.png
(semicircle-gen, R^20, decoder in the loop: endpoint-plane projection, index and image-space distances between frames
along each path, and the decoded frames, linear above ri-optimal). Prints the path indices.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

import latentcore as lc
import latentcore.models as models
from latentcore.imaging import image_grid

# Struski et al.'s own index and start, with which the documentation's figures of this script were measured
PAPER = {"kind": "density", "start": "chord"}

DOCS = Path(__file__).resolve().parents[2] / "docs"
FRAMES = 16
LINEAR, OPTIMAL = "#2ca02c", "#d62728"


def ends(dim: int):
    """The horseshoe's ends (2, 6) and (2, -6), with typical N(0, 0.5) values in any other coordinates."""
    a, b = torch.zeros(1, dim), torch.zeros(1, dim)
    a[0, :2], b[0, :2] = torch.tensor([2.0, 6.0]), torch.tensor([2.0, -6.0])
    g = torch.Generator().manual_seed(0)
    a[0, 2:], b[0, 2:] = 0.5**0.5 * torch.randn(dim - 2, generator=g), 0.5**0.5 * torch.randn(dim - 2, generator=g)
    return a, b


def both_paths(prior, decoder=None):
    a, b = ends(prior.dim)
    t = torch.linspace(0, 1, FRAMES, dtype=torch.float64)
    linear = lc.interpolate(a, b, FRAMES, scheme="linear", prior=prior)
    optimal = lc.ri_optimal_interpolate(a, b, t, prior, decoder=decoder, max_iter=1000, **PAPER).path
    return linear[0], optimal[0]


def index_axis(ax, prior, paths, decoder=None):
    for path, colour, label in zip(paths, (LINEAR, OPTIMAL), ("linear", "ri-optimal")):
        report = lc.path_realism(path, prior=prior, decoder=decoder)
        ax.plot(report.point_index.numpy(), "o-", color=colour, label=f"{label} (path index {float(report.index):.2g})")
        print(f"{label}: path index {float(report.index):.4g}, lowest index of an interior frame "
              f"{float(report.point_index[1:-1].min()):.3g}")
    ax.set_xlabel("frame")
    ax.set_ylabel("realisticity index")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)


def semicircle_plane():
    prior = lc.GaussianMixture.semicircle(2)
    linear, optimal = both_paths(prior)
    xs, ys, density = lc.density_grid(prior, (-6, 10), (-10, 10), n=200)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    left.contourf(xs.numpy(), ys.numpy(), density.numpy(), levels=30, cmap="Blues")
    for path, colour in ((linear, LINEAR), (optimal, OPTIMAL)):
        left.plot(path[:, 0].numpy(), path[:, 1].numpy(), "o-", color=colour, markersize=3)
    left.set_title("semicircle prior (planar): linear and ri-optimal paths")
    left.set_aspect("equal")
    index_axis(right, prior, (linear, optimal))
    right.set_title("realisticity index along the paths")
    fig.tight_layout()
    fig.savefig(DOCS / "geodesic_semicircle.png", dpi=110)


def semicircle_generator():
    model = models.load("semicircle-gen", device="cpu")
    linear, optimal = both_paths(model.prior, decoder=model)
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4.2))
    for path, colour in ((linear, LINEAR), (optimal, OPTIMAL)):
        plane = lc.endpoint_plane(path, path[0], path[-1]).numpy()
        left.plot(plane[:, 0], plane[:, 1], "o-", color=colour, markersize=3)
        distances = (model.decode(path[1:]) - model.decode(path[:-1])).flatten(1).norm(dim=1).numpy()
        right.plot(distances, "o-", color=colour)
    left.set_title("endpoint plane (Eq. 4)")
    index_axis(middle, model.prior, (linear, optimal), decoder=model)
    middle.set_title("realisticity index along the paths")
    right.set_title("L2 distance between consecutive frames")
    fig.tight_layout()
    fig.savefig(DOCS / "geodesic_semicircle_gen.png", dpi=110)
    frames = image_grid(model.decode(torch.cat([linear, optimal])), columns=FRAMES)
    frames.save(DOCS / "geodesic_semicircle_gen_frames.png")


def main():
    argparse.ArgumentParser(prog="python -m bench.figures.geodesic",
                            description=__doc__.split("\n\n")[0]).parse_args()
    DOCS.mkdir(exist_ok=True)
    print("planar semicircle")
    semicircle_plane()
    print("semicircle-gen")
    semicircle_generator()


if __name__ == "__main__":
    main()
