"""The evaluation's metrics (:data:`METRICS`), each computed per unit: a path between two seeds or the centroid of
a set of seeds. A path has ``frames`` frames, endpoints included; its "interior" is the ``frames - 2`` frames
between the endpoints, which are the same for every scheme. A centroid is one latent, its own interior.

Two metrics need a judge of the images (:class:`~latentcore.models.Judge`, e.g. the digits classifier); the others
need only the prior and the decoder.

- ``class_preservation`` (a judge's labels): the fraction of interior frames (for a centroid: 1 or 0) that the
  judge labels with the seeds' class (the accuracy of Bodin et al., "Linear combinations of latents in generative
  models: subspaces and beyond", arXiv 2408.08558).
- ``frechet`` (a judge's features): ``||m_g - m_r||^2 + tr(C_g + C_r - 2 (C_g C_r)^(1/2))`` between Gaussians
  fitted to the judge's features of all decoded interior frames (all centroids) of a scheme and of the reference
  images: the real data when the seeds are their encodings, else the model's own samples (FID with the judge's
  features; Heusel et al., arXiv 1706.08500), with its interval from
  :func:`~latentcore.evaluate.statistics.frechet_with_interval`. It is one value per scheme, not per unit. With
  fewer images than the features the estimate is biased upwards; compare schemes only at equal counts.
- ``ri_density_mean`` / ``ri_density_min``: mean / minimum over interior frames of the realisticity index
  ``ri(z) = P(f(X) <= f(z))`` (Struski, Tabor, Podolak, Nowak, "Interpolation in generative models",
  Definition 1; for N(0, I): ``1 - F_chi2_D(||z||^2)``). ``ri_typical_mean`` / ``ri_typical_min``: the same for
  the typical-set index ``2 min(F, 1 - F)`` (see :mod:`latentcore.realism`). For a centroid, mean and minimum
  are its own index.
- ``typical_band``: the fraction of interior latents (centroids) whose (Mahalanobis) norm lies in the prior's
  central 99 % band (:func:`~latentcore.diagnostics.typical_norm_band`), where its own samples' norms lie.
- ``normality_pass``: the fraction of interior latents (centroids) for which every test of
  :func:`~latentcore.normality_tests` (Kolmogorov-Smirnov, Cramer-von Mises, Anderson-Darling, chi-square of
  the squared norm; Bodin et al., section 4) gives ``p >=``
  :data:`~latentcore.diagnostics.NORMALITY_LEVEL`.
- ``smoothness`` (interpolation only): ``max_i d_i / mean_i d_i`` with ``d_i = ||G(x_{i+1}) - G(x_i)||_2`` over
  all ``frames - 1`` gaps between consecutive decoded frames (Struski et al., "Interpolation in generative
  models", Figure 5); 1 is an evenly paced path. A path whose frames all decode to the same image counts 1.
- ``path_length`` (interpolation only): ``sum_i d_i``, the path's length in image space.
"""

from __future__ import annotations

import torch

from ..diagnostics import NORMALITY_LEVEL, latent_summary, typical_norm_band
from ..priors import Prior
from ..realism import realisticity_index

#: The measures of a path or set, by column name (the keys, in the tables' order), with a description of each.
METRICS: dict[str, str] = {
    "class_preservation": "fraction of interior frames (centroids) the judge labels with the seeds' class",
    "frechet": "Frechet distance of the judge's features to the reference images",
    "ri_density_mean": "mean density realisticity index of interior frames",
    "ri_density_min": "minimum density realisticity index of interior frames",
    "ri_typical_mean": "mean typical-set realisticity index of interior frames",
    "ri_typical_min": "minimum typical-set realisticity index of interior frames",
    "typical_band": "fraction of latents whose norm lies in the prior's central 99 % band",
    "normality_pass": f"fraction of latents with every normality test's p >= {NORMALITY_LEVEL:g}",
    "smoothness": "max / mean of consecutive-frame L2 distances (interpolation only)",
    "path_length": "sum of consecutive-frame L2 distances in image space (interpolation only)",
}
#: The metrics of paths only (a centroid has no frames to compare).
INTERPOLATION_ONLY = ("smoothness", "path_length")
#: The metrics that are fractions of a unit's latents; for the centroid task (one 0/1 outcome per set) their
#: interval is the Wilson score interval.
PROPORTIONS = ("class_preservation", "typical_band", "normality_pass")


def point_metrics(latents: torch.Tensor, images: torch.Tensor, classes: torch.Tensor, *, judge,
                  prior: Prior) -> dict[str, torch.Tensor]:
    """Per unit ``[U]``, over its latents ``[U, F, *shape]`` decoded to ``images [U, F, C, H, W]``, with the
    units' ``classes [U]``: both realisticity indices (mean and minimum), the typical-band share, the normality
    pass rate and, where the ``judge`` labels images and the units have classes, class preservation."""
    units, per = latents.shape[:2]
    flat = latents.reshape(units * per, *prior.shape)
    density = realisticity_index(flat, prior=prior).reshape(units, per).cpu()
    typical = realisticity_index(flat, prior=prior, kind="typical").reshape(units, per).cpu()
    summary = latent_summary(flat, prior=prior, level=NORMALITY_LEVEL)
    low, high = typical_norm_band(prior)
    norms = torch.as_tensor(summary.norm).reshape(units, per)
    out = {
        "ri_density_mean": density.mean(1), "ri_density_min": density.min(1).values,
        "ri_typical_mean": typical.mean(1), "ri_typical_min": typical.min(1).values,
        "typical_band": ((norms >= low) & (norms <= high)).double().mean(1),
        "normality_pass": torch.as_tensor(summary.passes).reshape(units, per).double().mean(1),
    }
    if judge is not None and judge.predict is not None and bool((classes >= 0).all()):
        labels = judge.labels(images.reshape(units * per, *images.shape[2:])).reshape(units, per)
        out["class_preservation"] = (labels == classes[:, None]).double().mean(1)
    return out


def path_metrics(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per path ``[U]`` of decoded frames ``images [U, frames, C, H, W]``: smoothness ``max_i d_i / mean_i d_i``
    and length ``sum_i d_i``, ``d_i`` the L2 distance between consecutive frames."""
    flat = images.reshape(images.shape[0], images.shape[1], -1).double().cpu()
    gaps = torch.linalg.vector_norm(flat[:, 1:] - flat[:, :-1], dim=-1)
    mean = gaps.mean(1)
    smooth = torch.where(mean > 0, gaps.max(1).values / torch.where(mean > 0, mean, 1.0), 1.0)
    return {"smoothness": smooth, "path_length": gaps.sum(1)}
