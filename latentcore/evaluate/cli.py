"""``python -m latentcore.evaluate``: evaluate the schemes on one model and write ``<model>.csv``, ``.json`` and
``.md`` (see :class:`~latentcore.evaluate.report.Evaluation`), printing the Markdown tables and progress."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..combine import CENTROIDS
from ..interpolate import SCHEMES
from ..models import ModelLoadError, available, load, load_plugins
from .chunks import CHUNK_UNITS
from .distributed import RayCluster
from .report import Evaluation
from .running import evaluate
from .seeds import SOURCES


def main(argv: list[str] | None = None) -> Evaluation:
    """Parse ``argv`` (default the command line), run :func:`~latentcore.evaluate.evaluate` and write its files."""
    parser = argparse.ArgumentParser(prog="python -m latentcore.evaluate",
                                     description="Evaluate interpolation and centroid schemes on a model: the "
                                                 "table of the LOL paper (arXiv 2408.08558) with realisticity "
                                                 "indices, normality tests and image-space smoothness.")
    parser.add_argument("--model", default="digits-vae",
                        help=f"a registered model ({', '.join(available())}), a plug-in model of --models, or a "
                             "diffusers pipeline folder (default %(default)s)")
    parser.add_argument("--models", nargs="+", default=[], metavar="FILE",
                        help="plug-in model files to load first, as the app's --models does (installed entry points "
                             "load too)")
    parser.add_argument("--seeds", choices=SOURCES, default="prior",
                        help="where the seeds come from: samples of the model's prior, or encodings of real data "
                             "(the held-out digits; models with an encoder or inversion) (default %(default)s)")
    parser.add_argument("--condition", action="append", default=[], metavar="NAME=VALUE",
                        help="a condition of the model's decoder for every decode, e.g. label=3 (repeat for several; "
                             "default each condition's default)")
    parser.add_argument("--pairs", type=int, default=16,
                        help="pairs of seeds (of one class where there are classes), one path each (at least 2; "
                             "default %(default)s)")
    parser.add_argument("--frames", type=int, default=9,
                        help="frames of each path, endpoints included (at least 3; default %(default)s)")
    parser.add_argument("--centroid-sets", type=int, default=8,
                        help="sets of 3 to 5 seeds (of one class where there are classes), one centroid each (0 skips "
                             "the centroids, else at least 2; default %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the prior samples, of the choice of seeds and of the bootstrap intervals "
                             "(default %(default)s)")
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
                        help="folder for <model>.csv, .json and .md, created if missing, and for <model>.chunks/, "
                             "where each finished chunk of work is kept so that the same command run again resumes "
                             "(default %(default)s)")
    parser.add_argument("--no-checkpoint", action="store_true",
                        help="neither reuse nor keep finished chunks in <model>.chunks/")
    parser.add_argument("--chunk-units", type=int, default=CHUNK_UNITS,
                        help="pairs or sets per chunk of work, decoded as one batch (at least 1; default "
                             "%(default)s); part of the settings, so a run resumes only with the same value")
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="measure the chunks on Ray workers (pip install 'latent-explorer[ray]'): 'local' "
                             "starts Ray on this machine, 'auto' joins the cluster this machine belongs to, "
                             "'ray://host:port' connects to a remote one (default: in this process)")
    parser.add_argument("--workers", type=int, default=None,
                        help="Ray workers, each loading the model once (default: one per GPU of the cluster, else "
                             "one per --cpus-per-worker of its CPUs)")
    parser.add_argument("--cpus-per-worker", type=int, default=1,
                        help="CPUs (torch threads) each Ray worker reserves (default %(default)s)")
    args = parser.parse_args(argv)

    last = {"stage": None, "fraction": -1.0}
    started = time.monotonic()

    def show(fraction: float, text: str):  # a line per stage ("task: scheme") and per 5 % within one
        stage = ":".join(text.split(":")[:2])
        if stage != last["stage"] or fraction - last["fraction"] >= 0.05:
            spent = time.monotonic() - started
            left = f", about {spent * (1 - fraction) / fraction:.0f} s left" if 0 < fraction < 1 else ""
            print(f"[{fraction:6.1%}] {text} ({spent:.0f} s{left})", file=sys.stderr, flush=True)
            last.update(stage=stage, fraction=fraction)

    report = load_plugins(args.models)
    for refusal in report.refused:
        print(f"plug-in refused: {refusal}", file=sys.stderr)
    try:
        checkpoint = None
        model = load(args.model)
        conditions = _conditions(model, args.condition)
        cluster = None if args.ray is None else RayCluster(args.ray, workers=args.workers,
                                                            cpus_per_worker=args.cpus_per_worker,
                                                            plugins=tuple(args.models))
        checkpoint = None if args.no_checkpoint else Path(args.out) / (model.name.replace("/", "_") + ".chunks")
        result = evaluate(model, seeds=args.seeds, schemes=args.schemes, centroid_schemes=args.centroid_schemes,
                          pairs=args.pairs, frames=args.frames, centroid_sets=args.centroid_sets, seed=args.seed,
                          steps=args.steps, conditions=conditions, chunk_units=args.chunk_units,
                          checkpoint=checkpoint, cluster=cluster, progress=show)
    except (ValueError, ModelLoadError) as err:
        parser.error(str(err))
    except RuntimeError as err:  # e.g. Ray missing, or a worker that could not load the model
        parser.exit(1, f"{parser.prog}: {err}\n")
    except KeyboardInterrupt:
        kept = f"; the finished chunks are kept in {checkpoint}: the same command resumes" if checkpoint else ""
        parser.exit(130, f"{parser.prog}: stopped{kept}\n")
    if result.settings["chunks_reused"]:
        print(f"reused {result.settings['chunks_reused']} chunks of an earlier run with the same settings from "
              f"{checkpoint}", file=sys.stderr)
    for metric, why in result.settings["unavailable"].items():
        print(f"not measured: {metric}: {why}", file=sys.stderr)
    for path in result.write(args.out):
        print(f"wrote {path}", file=sys.stderr)
    print(result.to_markdown())
    print(f"run time {result.settings['total_seconds']:.1f} s on {result.settings['device']} with "
          f"{result.settings['torch_threads']} torch threads")
    return result


def _conditions(model, given: list[str]) -> dict:
    """``NAME=VALUE`` texts as the model's conditions, each value read as its condition's type."""
    out = {}
    for text in given:
        name, sep, value = text.partition("=")
        if not sep or name not in model.conditions:
            accepted = ", ".join(model.conditions) or "none"
            raise ValueError(f"--condition {text!r}: give NAME=VALUE with a condition of {model.name} ({accepted})")
        kind = model.conditions[name].type
        try:
            out[name] = kind(value)
        except ValueError:
            raise ValueError(f"--condition {text!r}: {name} takes a {kind.__name__}") from None
    return out
