"""``python -m latentcore.evaluate``: evaluate the schemes on one model and write ``<model>.csv``, ``.json`` and
``.md`` (see :class:`~latentcore.evaluate.report.Evaluation`), printing the Markdown tables and progress."""

from __future__ import annotations

import argparse
import sys

from ..combine import CENTROIDS
from ..interpolate import SCHEMES
from ..models import available, load
from .report import Evaluation
from .running import evaluate


def main(argv: list[str] | None = None) -> Evaluation:
    """Parse ``argv`` (default the command line), run :func:`~latentcore.evaluate.evaluate` and write its files."""
    parser = argparse.ArgumentParser(prog="python -m latentcore.evaluate",
                                     description="Evaluate interpolation and centroid schemes on a model: the "
                                                 "table of the LOL paper (arXiv 2408.08558) with realisticity "
                                                 "indices, normality tests and image-space smoothness.")
    parser.add_argument("--model", default="digits-vae", help=f"a registered model ({', '.join(available())}) or "
                                                               "a diffusers pipeline folder; it needs an encoder "
                                                               "and 1x16x16 images (default %(default)s)")
    parser.add_argument("--pairs", type=int, default=16,
                        help="pairs of held-out digits of one class, one path each (at least 2; default %(default)s)")
    parser.add_argument("--frames", type=int, default=9,
                        help="frames of each path, endpoints included (at least 3; default %(default)s)")
    parser.add_argument("--centroid-sets", type=int, default=8,
                        help="sets of 3 to 5 digits of one class, one centroid each (0 skips the centroids, else "
                             "at least 2; default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the choice of digits and of the bootstrap intervals (default %(default)s)")
    parser.add_argument("--steps", type=int, default=None,
                        help="sampler steps for decoding and inversion, diffusion and flow models only (default: "
                             "the model's own)")
    parser.add_argument("--schemes", nargs="*", default=None,
                        help=f"interpolation schemes, of {', '.join(SCHEMES)} (default: those suited to the model; "
                             "none given skips the paths)")
    parser.add_argument("--centroid-schemes", nargs="*", default=None,
                        help=f"centroid schemes, of {', '.join(CENTROIDS)} (default: all; none given skips the "
                             "centroids)")
    parser.add_argument("--out", default="docs/evaluation",
                        help="folder for <model>.csv, .json and .md, created if missing (default %(default)s)")
    args = parser.parse_args(argv)

    last = {"stage": None, "fraction": -1.0}

    def show(fraction: float, text: str):  # a line per stage ("task: scheme") and per 5 % within one
        stage = ":".join(text.split(":")[:2])
        if stage != last["stage"] or fraction - last["fraction"] >= 0.05:
            print(f"[{fraction:6.1%}] {text}", file=sys.stderr, flush=True)
            last.update(stage=stage, fraction=fraction)

    try:
        model = load(args.model)
        result = evaluate(model, schemes=args.schemes, centroid_schemes=args.centroid_schemes, pairs=args.pairs,
                          frames=args.frames, centroid_sets=args.centroid_sets, seed=args.seed, steps=args.steps,
                          progress=show)
    except ValueError as err:
        parser.error(str(err))
    for path in result.write(args.out):
        print(f"wrote {path}", file=sys.stderr)
    print(result.to_markdown())
    print(f"run time {result.settings['total_seconds']:.1f} s on {result.settings['device']} with "
          f"{result.settings['torch_threads']} torch threads")
    return result
