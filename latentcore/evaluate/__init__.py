"""Evaluation of interpolation and centroid schemes on a model: the table of Bodin et al., "Linear combinations
of latents in generative models: subspaces and beyond" (LOL, arXiv 2408.08558), with the realisticity measures
of Struski, Tabor, Podolak, Nowak, "Interpolation in generative models".

    python -m latentcore.evaluate --model faces-dcgan --pairs 8 --out results
    python -m latentcore.evaluate --model digits-vae --seeds data --pairs 16 --out docs/evaluation

The LOL paper compares schemes on two tasks, interpolation between two latents of one class and the centroid of
several, by class preservation (a classifier's accuracy on the generated images) and FID. Here any model can be
measured: the seeds are samples of its prior, the caller's latents or encodings of real data (:mod:`.seeds`), and
every scheme of :data:`~latentcore.SCHEMES` and :data:`~latentcore.CENTROIDS` is measured on the same seeds by what
the prior and the decoder give (realisticity indices, normality, the typical band, smoothness and length in image
space) and, where the model has a judge of its images (:class:`~latentcore.models.Judge`: the digits classifier for
the digits models, one declared beside a plug-in), by class preservation and the Frechet distance.

- :mod:`.seeds`: where the seeds come from, and the pairs and sets (of one class where there are classes);
- :mod:`.metrics`: what is measured per path or set (:data:`METRICS`);
- :mod:`.statistics`: the intervals (bootstrap, Wilson, Frechet distance with its interval);
- :mod:`.preferences`: what people prefer, from blind pairwise judgements (win rates, Bradley-Terry ranking);
- :mod:`.running`: :func:`evaluate`, which runs it all; :func:`seed_sources` and :func:`unavailable_metrics`,
  what a model offers;
- :mod:`.report`: :class:`Evaluation`, the table and its CSV, JSON and Markdown files;
- :mod:`.cli`: the command line above.
"""

from ..diagnostics import NORMALITY_LEVEL
from .metrics import INTERPOLATION_ONLY, METRICS, PROPORTIONS
from .report import HEADINGS, TASKS, TIMINGS, Evaluation, Examples
from .running import LEFT_OUT, evaluate, seed_sources, unavailable_metrics
from .seeds import SEEDS_PER_SET, SOURCES
from .statistics import (BOOTSTRAP_RESAMPLES, CONFIDENCE, FRECHET_RESAMPLES, bootstrap_interval,
                         frechet_with_interval, wilson_interval)

__all__ = [
    "INTERPOLATION_ONLY", "METRICS", "NORMALITY_LEVEL", "PROPORTIONS", "HEADINGS", "TASKS", "TIMINGS", "Evaluation",
    "Examples", "LEFT_OUT", "evaluate", "seed_sources", "unavailable_metrics", "SEEDS_PER_SET", "SOURCES",
    "BOOTSTRAP_RESAMPLES", "CONFIDENCE", "FRECHET_RESAMPLES", "bootstrap_interval", "frechet_with_interval",
    "wilson_interval",
]
