"""Evaluation of interpolation and centroid schemes on a model: the table of Bodin et al., "Linear combinations
of latents in generative models: subspaces and beyond" (LOL, arXiv 2408.08558), with the realisticity measures
of Struski, Tabor, Podolak, Nowak, "Interpolation in generative models".

    python -m latentcore.evaluate --model digits-vae --pairs 16 --out docs/evaluation

The LOL paper compares schemes on two tasks, interpolation between two latents of one class and the centroid of
several, by class preservation (a classifier's accuracy on the generated images) and FID. Here the seeds are
latents of real digits from the model's encoder (DDIM inversion for diffusion models, ODE inversion for flow
matching), and every scheme of :data:`~latentcore.SCHEMES` and :data:`~latentcore.CENTROIDS` is measured on the
same seeds.

- :mod:`.seeds`: which digits (pairs and sets of one class);
- :mod:`.metrics`: what is measured per path or set (:data:`METRICS`);
- :mod:`.statistics`: the intervals (bootstrap, Wilson, Frechet distance with its interval);
- :mod:`.running`: :func:`evaluate`, which runs it all, and :func:`evaluable_models`, the models it can run on;
- :mod:`.report`: :class:`Evaluation`, the table and its CSV, JSON and Markdown files;
- :mod:`.cli`: the command line above.
"""

from ..diagnostics import NORMALITY_LEVEL
from .metrics import INTERPOLATION_ONLY, METRICS, PROPORTIONS
from .report import HEADINGS, TASKS, TIMINGS, Evaluation, Examples
from .running import evaluable_models, evaluate, why_not_evaluable
from .seeds import SEEDS_PER_SET
from .statistics import (BOOTSTRAP_RESAMPLES, CONFIDENCE, FRECHET_RESAMPLES, bootstrap_interval,
                         frechet_with_interval, wilson_interval)

__all__ = [
    "INTERPOLATION_ONLY", "METRICS", "NORMALITY_LEVEL", "PROPORTIONS", "HEADINGS", "TASKS", "TIMINGS", "Evaluation",
    "Examples", "evaluate", "evaluable_models", "why_not_evaluable", "SEEDS_PER_SET", "BOOTSTRAP_RESAMPLES",
    "CONFIDENCE", "FRECHET_RESAMPLES", "bootstrap_interval", "frechet_with_interval", "wilson_interval",
]
