"""ri-optimal paths against the closed-form schemes and NAO on every built-in model and a plug-in GAN, by the
Interpolate page's own measures, at time budgets of 10, 30 and 60 s.

Struski, Tabor, Podolak, Nowak, "Interpolation in generative models" (Eq. 3): each path of ``--frames`` frames
between a pair of prior samples is computed as the Interpolate page computes it (the scheme's interactive options
and defaults, one path at a time, the model's default decoding), then measured with the full decoder:

- ``energy``: Eq. 3 with the default index (typical set) and ``alpha``, image distances;
- ``typical``: the share of interior frames whose typical-set index is at least 0.01, and its ``min``;
- ``in band``: the share of interior frames whose norm lies in the prior's central 99 % interval;
- ``normality p``: the smallest p-value of the normality tests (KS, Cramer-von Mises, Anderson-Darling) over the
  interior frames;
- ``length``: the path's length in image space (the sum of the L2 steps between decoded frames, pixels in [0, 1]);
- ``jump``: the largest step over the mean step (1 for evenly spaced frames);
- ``s``: wall seconds per path, iterations and how the optimisation ended (iterative schemes).

Each figure is the mean over the pairs. Iterative schemes run at every budget, except that a run which ended by
its own rule (converged or its iteration limit) before the budget is not repeated at larger budgets: the
optimisation is deterministic, so it would end the same way. Both ri-optimal starts are measured (``start``: the
best closed-form path, the default, and the chord, the paper's).

    python -m bench.figures.ri_optimal [--pairs 3] [--frames 8] [--budgets 10 30 60] [--models ...]

Prints the table in Markdown with the machine's threads and load, and writes it to docs/ri_optimal_models.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

import latentcore as lc
import latentcore.models as models
from latentcore.diagnostics import latent_summary, typical_norm_band
from latentcore.realism import path_energy

DOCS = Path(__file__).resolve().parents[2] / "docs"
PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "conditional_gan.py"
TYPICAL = 0.01   # a frame counts as typical when its typical-set index is at least this


def measure(model, path: torch.Tensor, decoding) -> dict:
    """The page's measures of one path ``[S, *shape]`` (see the module docstring)."""
    prior = model.prior
    inner = path[1:-1]
    with torch.no_grad():
        images = model.decode(path, decoding).reshape(len(path), -1).double()
        energy = float(path_energy(path, prior=prior, decoder=model.decoder(decoding),
                                   kind=lc.ri_optimal.DEFAULT_KIND, alpha=lc.ri_optimal.DEFAULT_ALPHA))
    steps = torch.linalg.vector_norm(images[1:] - images[:-1], dim=1)
    typical = lc.realisticity_index(inner, prior=prior, kind="typical")
    summary = latent_summary(inner, prior=prior)
    low, high = typical_norm_band(prior)
    return {"energy": energy, "typical": float((typical >= TYPICAL).double().mean()), "min": float(typical.min()),
            "in band": float(((summary.norm >= low) & (summary.norm <= high)).mean()),
            "normality p": float(summary.normality.min()), "length": float(steps.sum()),
            "jump": float(steps.max() / steps.mean().clamp_min(1e-12))}


def run_scheme(model, scheme: str, pairs, frames: int, budget_s: float | None, settings: dict) -> dict:
    spec = lc.SCHEMES[scheme]
    decoding = model.decoding()
    options = spec.options(model, context="interactive", decoding=decoding, **settings)
    rows, seconds, ended = [], [], []
    for a, b in pairs:
        start = time.perf_counter()
        path, stopping = lc.interpolate(a, b, frames, scheme=scheme, prior=model.prior, return_stopping=True,
                                        budget_s=budget_s if spec.iterative else None, **options)
        seconds.append(time.perf_counter() - start)
        rows.append(measure(model, path, decoding))
        if stopping is not None:
            ended.append(f"{stopping.iterations} {stopping.reason}")
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    out["s"] = float(np.mean(seconds))
    out["max s"] = float(np.max(seconds))
    out["ended"] = ", ".join(ended)
    out["early"] = any(e.endswith(("budget", "stop")) for e in ended)
    return out


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.figures.ri_optimal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="pairs of prior samples per model (default %(default)s)")
    parser.add_argument("--frames", type=int, default=8, help="frames per path, endpoints included (default "
                        "%(default)s, the Interpolate page's)")
    parser.add_argument("--budgets", type=float, nargs="+", default=[10, 30, 60],
                        help="time budgets of the iterative schemes in seconds (default: 10 30 60)")
    parser.add_argument("--models", nargs="+", default=None,
                        help="models to measure (default: every built-in model and the example plug-in GAN)")
    parser.add_argument("--output", type=Path, default=DOCS / "ri_optimal_models.md",
                        help="where the Markdown table goes (default docs/ri_optimal_models.md)")
    args = parser.parse_args()
    models.load_plugins([str(PLUGIN)])  # registered beside the built-in models
    names = args.models or models.available()
    header = (f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.2f} at the start; {args.pairs} pairs of prior samples (seed 0) per model, "
              f"{args.frames} frames, each path computed alone as the Interpolate page does")
    print(header, flush=True)
    lines = ["| model | scheme | budget | energy | typical | min | in band | normality p | length | jump | s | "
             "iterations (how it ended) |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    began = time.perf_counter()
    for name in names:
        model = models.load(name, device="cpu")
        z = model.prior.sample(2 * args.pairs, seed=0)
        pairs = [(z[i], z[args.pairs + i]) for i in range(args.pairs)]
        variants = [(s, {}) for s in lc.SCHEMES if s != "ri-optimal"]
        variants += [("ri-optimal", {"start": start}) for start in lc.ri_optimal.START.choices]
        for scheme, settings in variants:
            if lc.SCHEMES[scheme].unsuited_reason(model):
                continue
            budgets = args.budgets if lc.SCHEMES[scheme].iterative else [None]
            for budget in budgets:
                row = run_scheme(model, scheme, pairs, args.frames, budget, settings)
                label = scheme + "".join(f", {v}" for v in settings.values())
                shown = "" if budget is None else f"{budget:.0f} s"
                line = (f"| {name} | {label} | {shown} | {row['energy']:.3g} | {row['typical']:.0%} | "
                        f"{row['min']:.2g} | {row['in band']:.0%} | {row['normality p']:.2g} | {row['length']:.3g} | "
                        f"{row['jump']:.2f} | {row['s']:.1f} (max {row['max s']:.1f}) | {row['ended']} |")
                lines.append(line)
                print(line, flush=True)
                if budget is not None and not row["early"]:
                    break  # ended by its own rule: a larger budget ends the same way
    footer = f"Measured in {time.perf_counter() - began:.0f} s; load average {os.getloadavg()[0]:.2f} at the end."
    print(footer)
    args.output.write_text(f"<!-- written by python -m bench.figures.ri_optimal; do not edit -->\n{header}.\n\n"
                           + "\n".join(lines) + f"\n\n{footer}\n")


if __name__ == "__main__":
    main()
