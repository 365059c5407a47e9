"""Evaluation of interpolation and centroid schemes on a model: the LOL paper's table with paper 003's measures.

    python -m latentcore.evaluate --model digits-vae --pairs 16 --out docs/evaluation

The LOL paper (Bodin et al., arXiv 2408.08558, paper 001) compares schemes on two tasks, interpolation between
two latents of one class and the centroid of several, by class preservation (a classifier's accuracy on the
generated images) and FID. Here the seeds are latents of real digits (the held-out split, or ``data``) from the
model's encoder (DDIM inversion for diffusion models), and every scheme of :data:`~latentcore.SCHEMES` and
:data:`~latentcore.CENTROIDS` is measured on the same seeds:

- interpolation: ``pairs`` pairs of distinct digits of one class (classes in a seeded random order, cycling
  through all of them), ``frames`` frames per path, endpoints included; "interior" means the ``frames - 2``
  frames between the endpoints, which are the same for every scheme.
- centroid: ``centroid_sets`` sets of K distinct digits of one class, K drawn from 3 to 5; one centroid per set.

Metrics, per path (set) and then averaged over paths (sets) (:data:`METRICS`):

- ``class_preservation``: the fraction of interior frames (for a centroid: 1 or 0) that ``digits-classifier``
  labels with the seeds' class (the LOL paper's accuracy).
- ``frechet``: ``||m_g - m_r||^2 + tr(C_g + C_r - 2 (C_g C_r)^(1/2))`` between Gaussians fitted to the
  classifier's penultimate features of all decoded interior frames (all centroids) and of all real digits of
  ``data`` (FID with the digits classifier's features; Heusel et al., arXiv 1706.08500). With fewer images
  than the 128 features the estimate is biased upwards; compare schemes only at equal counts.
- ``ri_density_mean`` / ``ri_density_min``: mean / minimum over interior frames of the realisticity index
  ``ri(z) = P(f(X) <= f(z))`` (paper 003, Definition 1; for N(0, I): ``1 - F_chi2_D(||z||^2)``).
  ``ri_typical_mean`` / ``ri_typical_min``: the same for the typical-set index ``2 min(F, 1 - F)`` (see
  :mod:`latentcore.realism`). For a centroid, mean and minimum are its own index.
- ``normality_pass``: the fraction of interior latents (centroids) for which every test of
  :func:`~latentcore.normality_tests` (Kolmogorov-Smirnov, Cramer-von Mises, Anderson-Darling, chi-square of
  the squared norm; LOL paper section 4) gives ``p >= 0.01``.
- ``smoothness`` (interpolation only): ``max_i d_i / mean_i d_i`` with ``d_i = ||G(x_{i+1}) - G(x_i)||_2`` over
  all ``frames - 1`` steps between decoded frames (paper 003, Figure 5); 1 is an evenly paced path. A path
  whose frames all decode to the same image counts 1.
- ``path_length`` (interpolation only): ``sum_i d_i``, the path's length in image space.
- ``seconds``: wall time of the scheme per path (set): one batched ``interpolate`` call over all pairs divided
  by ``pairs`` (centroids: one call per set, averaged). Decoding for the metrics is not included; ri-optimal
  paths decode inside their own optimisation, so theirs is. ``decode_seconds``: decoding a path's interior
  frames (one centroid), per path (set).

Intervals are 95 %: percentile bootstrap over paths (sets) of the per-path (per-set) values,
``BOOTSTRAP_RESAMPLES`` resamples from a generator seeded with ``seed``; for the centroid task's proportions
(``class_preservation``, ``normality_pass``, one 0/1 outcome per set) the Wilson score interval. A bootstrap
interval has zero width when every path scores the same. ``frechet``: the normal bootstrap interval over the
generated images, real digits fixed (:func:`frechet_with_interval`). On digits-vae's linear paths (16 pairs)
its standard error (31 to 44 over seeds) matched the spread of the distance over 12 seeds' draws of pairs (35);
for 8 centroids (8 images, 128 features) it was ~250 against a spread of 69, so those intervals are far too
wide. Timings have no interval.

Everything except the timings is a deterministic function of the model, the data and ``seed``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch

from .combine import CENTROIDS, centroid
from .diagnostics import latent_summary
from .interpolate import SCHEMES, Progress, interpolate
from .realism import realisticity_index

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
FRECHET_RESAMPLES = 200
NORMALITY_LEVEL = 0.01
SEEDS_PER_SET = (3, 5)
TASKS = ("interpolation", "centroid")

METRICS: dict[str, str] = {
    "class_preservation": "fraction of interior frames (centroids) labelled with the seeds' class",
    "frechet": "Frechet distance of classifier features to real digits",
    "ri_density_mean": "mean density realisticity index of interior frames",
    "ri_density_min": "minimum density realisticity index of interior frames",
    "ri_typical_mean": "mean typical-set realisticity index of interior frames",
    "ri_typical_min": "minimum typical-set realisticity index of interior frames",
    "normality_pass": "fraction of latents with every normality test's p >= 0.01",
    "smoothness": "max / mean of consecutive-frame L2 distances (interpolation only)",
    "path_length": "sum of consecutive-frame L2 distances in image space (interpolation only)",
}
INTERPOLATION_ONLY = ("smoothness", "path_length")
PROPORTIONS = ("class_preservation", "normality_pass")
TIMINGS = ("seconds", "decode_seconds")
HEADINGS = {"class_preservation": "class kept", "frechet": "Frechet", "ri_density_mean": "ri density mean",
            "ri_density_min": "ri density min", "ri_typical_mean": "ri typical mean",
            "ri_typical_min": "ri typical min", "normality_pass": "normality pass", "smoothness": "smoothness",
            "path_length": "length"}


@dataclass
class Examples:
    """A few evaluated seeds and results, for filmstrips: the first pairs and sets of the run."""

    paths: dict[str, torch.Tensor]          # interpolation scheme -> [E, frames, *latent_shape]
    path_classes: torch.Tensor              # [E]
    centroids: dict[str, torch.Tensor]      # centroid scheme -> [E', *latent_shape]
    centroid_seeds: list[torch.Tensor]      # E' tensors [K, *latent_shape]
    centroid_classes: torch.Tensor          # [E']


@dataclass
class Evaluation:
    """``table``: one row per task and scheme, each metric's mean with ``_low`` / ``_high`` interval bounds
    (empty where a metric does not apply); ``units``: the per-path (per-set) values behind it; ``settings``: the
    run's arguments, sizes and total time; ``examples``: latents for filmstrips (not written to files)."""

    table: pd.DataFrame
    units: pd.DataFrame
    settings: dict
    examples: Examples | None = field(default=None, repr=False)

    def to_csv(self, path: str | Path | None = None) -> str:
        """The table as CSV (floats written to round-trip exactly); also written to ``path`` when given."""
        text = self.table.to_csv(index=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        """Settings, table and per-unit values as JSON (not-applicable values as null)."""
        doc = {"settings": self.settings, "table": _records(self.table), "units": _records(self.units)}
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text: str) -> "Evaluation":
        """The inverse of :meth:`to_json` (without examples)."""
        doc = json.loads(text)
        return cls(_frame(doc["table"]), _frame(doc["units"]), doc["settings"])

    def to_markdown(self) -> str:
        """One Markdown table per task: each metric as ``mean [low, high]``."""
        out = []
        for task in TASKS:
            rows = self.table[self.table["task"] == task]
            if rows.empty:
                continue
            metrics = [m for m in METRICS if task == "interpolation" or m not in INTERPOLATION_ONLY]
            unit = "path" if task == "interpolation" else "set"
            heads = ["scheme", "n"] + [HEADINGS[m] for m in metrics] + [f"s per {unit}", f"decode s per {unit}"]
            lines = [f"**{task}**", "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
            for _, r in rows.iterrows():
                cells = [f"`{r['scheme']}`", str(r["units"])]
                cells += [f"{_fmt(r[m])} [{_fmt(r[m + '_low'])}, {_fmt(r[m + '_high'])}]" for m in metrics]
                cells += [_fmt(r[t]) for t in TIMINGS]
                lines.append("| " + " | ".join(cells) + " |")
            out.append("\n".join(lines))
        return "\n\n".join(out) + "\n"

    def write(self, folder: str | Path) -> list[Path]:
        """``<model>.csv``, ``<model>.json`` and ``<model>.md`` in ``folder`` (created if missing)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / str(self.settings["model"]).replace("/", "_")
        paths = [stem.with_suffix(".csv"), stem.with_suffix(".json"), stem.with_suffix(".md")]
        self.to_csv(paths[0])
        self.to_json(paths[1])
        paths[2].write_text(self.to_markdown())
        return paths


def _fmt(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def _frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records)
    for name in frame.columns:  # a column of nulls only comes back as objects
        if frame[name].isna().all():
            frame[name] = frame[name].astype(float)
    return frame


def bootstrap_interval(values, generator: torch.Generator, resamples: int = BOOTSTRAP_RESAMPLES,
                       confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values [n]``: the ``(1 -+ confidence) / 2`` quantiles of
    the means of ``resamples`` resamples drawn with replacement (Efron & Tibshirani 1993, ch. 13)."""
    v = torch.as_tensor(np.asarray(values, dtype=np.float64))
    means = v[torch.randint(len(v), (resamples, len(v)), generator=generator)].mean(1)
    q = torch.quantile(means, torch.tensor([(1 - confidence) / 2, (1 + confidence) / 2], dtype=torch.float64))
    return float(q[0]), float(q[1])


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion: ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``,
    ``p = successes / n``, ``z`` the normal quantile (Wilson 1927)."""
    z = float(scipy.stats.norm.ppf((1 + confidence) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _gaussian_fit(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Means ``[..., F]`` and covariances ``[..., F, F]`` (divisor ``n - 1``) of ``features [..., n, F]``."""
    mean = features.mean(-2)
    centred = features - mean[..., None, :]
    return mean, centred.transpose(-1, -2) @ centred / (features.shape[-2] - 1)


def frechet_with_interval(generated, real, generator: torch.Generator, resamples: int = FRECHET_RESAMPLES,
                          confidence: float = CONFIDENCE, chunk: int = 50) -> tuple[float, float, float]:
    """Frechet distance ``d`` between feature sets ``generated [n, F]`` and ``real [m, F]`` (the value of
    :func:`latentcore.models.classifier.frechet_distance`) and the normal bootstrap interval ``d -+ z se``, ``se``
    the standard deviation of ``d`` over ``resamples`` resamples of the generated features (real ones fixed),
    lower end at least 0 (Efron & Tibshirani 1993, section 13.3). The percentile interval is not used: repeated
    images shrink the fitted covariance, so every resampled distance is shifted upwards (by ~45 on digits-vae's
    linear paths, 112 images) and the percentile interval can miss ``d`` altogether.

    ``tr((C_g C_r)^(1/2))`` is the sum of the square roots of the eigenvalues of the symmetric matrix
    ``S C_g S`` with ``S = C_r^(1/2)`` (``C_g C_r = (C_g S) S`` and ``S (C_g S)`` share their eigenvalues), so
    all resamples go through one batched ``eigvalsh`` (Dowson & Landau 1982 for the distance).
    """
    gen, ref = torch.as_tensor(generated).double().cpu(), torch.as_tensor(real).double().cpu()
    if gen.shape[0] < 2 or ref.shape[0] < 2:
        raise ValueError("the Frechet distance needs at least two feature vectors in each set")
    ref_mean, ref_cov = _gaussian_fit(ref)
    lam, vec = torch.linalg.eigh(ref_cov)
    root = (vec * lam.clamp_min(0).sqrt()) @ vec.T
    trace_ref = torch.diagonal(ref_cov).sum()

    def distance(sets: torch.Tensor) -> torch.Tensor:  # [R, n, F] -> [R]
        mean, cov = _gaussian_fit(sets)
        cross = torch.linalg.eigvalsh(root @ cov @ root).clamp_min(0).sqrt().sum(-1)
        value = (mean - ref_mean).pow(2).sum(-1) + torch.diagonal(cov, dim1=-2, dim2=-1).sum(-1) + trace_ref
        return (value - 2 * cross).clamp_min(0)

    point = float(distance(gen[None])[0])
    picks = torch.randint(gen.shape[0], (resamples, gen.shape[0]), generator=generator)
    se = float(torch.cat([distance(gen[idx]) for idx in picks.split(chunk)]).std())
    z = float(scipy.stats.norm.ppf((1 + confidence) / 2))
    return point, max(0.0, point - z * se), point + z * se


def _count(name: str, value, minimum: int, zero_ok: bool = False) -> int:
    if isinstance(value, bool) or int(value) != value or (value < minimum and not (zero_ok and value == 0)):
        allowed = f"0 or an integer >= {minimum}" if zero_ok else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def _names(given, registry: dict, default: list[str], what: str) -> list[str]:
    if given is None:
        return default
    given = [given] if isinstance(given, str) else list(given)
    unknown = [g for g in given if g not in registry]
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(map(repr, unknown))}; choose from {', '.join(registry)}")
    return list(dict.fromkeys(given))


def _choose_seeds(labels: torch.Tensor, pairs: int, sets: int, gen: torch.Generator):
    """Indices into the data: ``pairs`` pairs of distinct digits of one class and ``sets`` sets of 3 to 5, the
    classes visited in a seeded random order (cycling), the digits drawn without replacement within a unit."""
    classes, counts = torch.unique(labels, return_counts=True)
    need = SEEDS_PER_SET[0] if sets else 2
    for c, n in zip(classes.tolist(), counts.tolist()):
        if n < need:
            raise ValueError(f"class {c} has {n} digit(s) in the data; pairs need at least 2 digits of every class "
                             f"and centroid sets at least {SEEDS_PER_SET[0]}")
    members = {c: (labels == c).nonzero().squeeze(1) for c in classes.tolist()}

    def unit_classes(n: int) -> list[int]:
        order = classes[torch.randperm(len(classes), generator=gen)].tolist()
        return [order[k % len(order)] for k in range(n)]

    def draw(c: int, k: int) -> torch.Tensor:
        pool = members[c]
        return pool[torch.randperm(len(pool), generator=gen)[:k]]

    pair_classes = unit_classes(pairs)
    pair_idx = torch.stack([draw(c, 2) for c in pair_classes]) if pairs else torch.zeros(0, 2, dtype=torch.long)
    set_classes = unit_classes(sets)
    set_idx = []
    for c in set_classes:
        most = min(SEEDS_PER_SET[1], len(members[c]))
        k = int(torch.randint(SEEDS_PER_SET[0], most + 1, (1,), generator=gen))
        set_idx.append(draw(c, k))
    return pair_idx, torch.tensor(pair_classes, dtype=torch.long), set_idx, torch.tensor(set_classes, dtype=torch.long)


def _point_metrics(latents: torch.Tensor, images: torch.Tensor, classes: torch.Tensor, classifier, prior):
    """Per unit, over its latents ``[U, F, *shape]`` decoded to ``images [U, F, C, H, W]``: class preservation,
    both realisticity indices (mean and minimum) and the normality pass rate."""
    units, per = latents.shape[:2]
    flat = latents.reshape(units * per, *prior.shape)
    density = realisticity_index(flat, prior=prior).reshape(units, per).cpu()
    typical = realisticity_index(flat, prior=prior, kind="typical").reshape(units, per).cpu()
    passes = torch.as_tensor(latent_summary(flat, prior=prior, level=NORMALITY_LEVEL).passes).reshape(units, per)
    labels = classifier.predict(images.reshape(units * per, *images.shape[2:])).reshape(units, per).cpu()
    return {
        "class_preservation": (labels == classes[:, None]).double().mean(1),
        "ri_density_mean": density.mean(1), "ri_density_min": density.min(1).values,
        "ri_typical_mean": typical.mean(1), "ri_typical_min": typical.min(1).values,
        "normality_pass": passes.double().mean(1),
    }


def _step_metrics(frames: torch.Tensor) -> dict[str, torch.Tensor]:
    """Smoothness ``max_i d_i / mean_i d_i`` and length ``sum_i d_i`` of decoded paths ``[U, S, C, H, W]``."""
    flat = frames.reshape(frames.shape[0], frames.shape[1], -1).double().cpu()
    steps = torch.linalg.vector_norm(flat[:, 1:] - flat[:, :-1], dim=-1)
    mean = steps.mean(1)
    smooth = torch.where(mean > 0, steps.max(1).values / torch.where(mean > 0, mean, 1.0), 1.0)
    return {"smoothness": smooth, "path_length": steps.sum(1)}


def _plain(value):
    """A JSON-friendly stand-in for an option value (a model by its name)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return getattr(value, "name", type(value).__name__)


@dataclass
class _Measured:
    """One task and scheme before averaging: per-unit values ``[U]`` and the decoded images' features."""

    task: str
    scheme: str
    label: str
    per_unit: dict[str, torch.Tensor]
    classes: torch.Tensor
    digit_sets: list[torch.Tensor]
    features: torch.Tensor
    seconds: float
    decode_seconds: float


def _summarise(measured: list[_Measured], real_features: torch.Tensor, gen: torch.Generator):
    """The table (means and intervals, module docstring) and the per-unit frame."""
    rows, units = [], []
    for m in measured:
        n = len(m.classes)
        for name, values in m.per_unit.items():
            if not bool(torch.isfinite(values).all()):
                raise RuntimeError(f"{m.task} scheme {m.scheme!r} gave non-finite {name} values")
        row = {"task": m.task, "scheme": m.scheme, "label": m.label, "units": n}
        for name in METRICS:
            if name == "frechet":
                interval = frechet_with_interval(m.features, real_features, gen)
            elif name not in m.per_unit:
                interval = (math.nan, math.nan, math.nan)
            else:
                values = m.per_unit[name]
                if m.task == "centroid" and name in PROPORTIONS:
                    bounds = wilson_interval(int(values.sum().round()), n)
                else:
                    bounds = bootstrap_interval(values, gen)
                interval = (float(values.mean()), *bounds)
            row[name], row[name + "_low"], row[name + "_high"] = interval
        row["seconds"], row["decode_seconds"] = m.seconds / n, m.decode_seconds / n
        rows.append(row)
        for k in range(n):
            unit = {"task": m.task, "scheme": m.scheme, "unit": k, "class": int(m.classes[k]),
                    "digits": "-".join(map(str, m.digit_sets[k].tolist()))}
            unit.update({name: float(values[k]) for name, values in m.per_unit.items()})
            units.append(unit)
    return pd.DataFrame(rows), pd.DataFrame(units)


def _check_data(data):
    from .models.data import digits

    images, labels = digits("heldout") if data is None else data
    images, labels = torch.as_tensor(images, dtype=torch.float32), torch.as_tensor(labels).long().cpu()
    if images.dim() != 4 or labels.dim() != 1 or len(images) != len(labels) or len(labels) < 2:
        raise ValueError(f"data must be at least 2 images [N, C, H, W] and their labels [N], got shapes "
                         f"{tuple(images.shape)} and {tuple(labels.shape)}")
    if int(labels.min()) < 0 or int(labels.max()) > 9:
        raise ValueError("labels must be digit classes 0 to 9 (the classifier's classes)")
    return images, labels


def evaluate(model, classifier=None, *, schemes=None, centroid_schemes=None, pairs: int = 16, frames: int = 9,
             centroid_sets: int = 8, seed: int = 0, steps: int | None = None, data=None,
             scheme_options: dict | None = None, centroid_options: dict | None = None, examples: int = 3,
             progress: Progress | None = None) -> Evaluation:
    """Measure interpolation schemes (``schemes``, names in :data:`~latentcore.SCHEMES`; default all, without
    ``geodesic`` for diffusion models) and centroid schemes (``centroid_schemes``, names in
    :data:`~latentcore.CENTROIDS`; default all) on seeds encoded from real digits (module docstring).

    ``model``: a generative model with an encoder and 1x16x16 images (the classifier's input). ``classifier``:
    default ``digits-classifier``. ``steps``: DDIM steps for decoding and inversion (diffusion models only;
    default the model's). ``data``: ``(images [N, 1, 16, 16], labels [N])``, default the held-out digits; every
    class present needs 2 digits (3 when centroids are evaluated). ``scheme_options`` / ``centroid_options``:
    per scheme name, options for :func:`~latentcore.interpolate` / :func:`~latentcore.centroid`, over each
    scheme's own evaluation options (:meth:`~latentcore.Scheme.options`; e.g. the model as the ri-optimal path's
    decoder, capped iterations). ``centroid_sets=0`` or
    ``centroid_schemes=[]`` skips the centroid task, ``schemes=[]`` the interpolation task. ``examples``: how
    many paths and centroids (the first) to keep as latents. ``progress(fraction, text)`` is called as the run
    advances.
    """
    from .models import load_classifier

    pairs = _count("pairs", pairs, 2)
    frames = _count("frames", frames, 3)
    centroid_sets = _count("centroid_sets", centroid_sets, 2, zero_ok=True)
    examples = _count("examples", examples, 0)
    seed = _count("seed", seed, 0)
    if steps is not None:
        if model.sampler is None:
            raise ValueError(f"steps sets the sampler steps of diffusion and flow models; {model.name} has none")
        steps = _count("steps", steps, 1)
    if not model.can_encode:
        raise ValueError(f"{model.name} has no encoder, and the seeds are encodings of real digits")
    if tuple(model.image_shape) != (1, 16, 16):
        raise ValueError(f"the digits classifier measures 1x16x16 images; {model.name} makes "
                         f"{'x'.join(map(str, model.image_shape))} images")
    default = [s for s, spec in SCHEMES.items() if spec.unsuited_reason(model) is None]
    schemes = _names(schemes, SCHEMES, default, "interpolation scheme")
    centroid_schemes = _names(centroid_schemes, CENTROIDS, list(CENTROIDS), "centroid scheme")
    if not centroid_schemes:
        centroid_sets = 0
    if not centroid_sets:
        centroid_schemes = []
    if not schemes and not centroid_schemes:
        raise ValueError("nothing to evaluate: give at least one interpolation scheme or centroid scheme")
    images, labels = _check_data(data)
    classifier = load_classifier(device=model.device) if classifier is None else classifier
    prior = model.prior
    if model.sampler is not None:
        steps = steps or model.sampler.default
    options = {name: {**SCHEMES[name].options(model, context="evaluation", steps=steps),
                      **(scheme_options or {}).get(name, {})} for name in schemes}
    centroid_options = {name: {**CENTROIDS[name].options(context="evaluation"),
                               **(centroid_options or {}).get(name, {})} for name in centroid_schemes}

    stages = 1 + len(schemes) + len(centroid_schemes)
    done = [0]

    def report(text: str, within: float = 0.0):
        if progress is not None:
            progress(min(1.0, (done[0] + within) / stages), text)

    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    pair_idx, pair_classes, set_idx, set_classes = _choose_seeds(labels, pairs if schemes else 0, centroid_sets,
                                                                 gen)
    report("encoding the seeds")
    needed = torch.unique(torch.cat([pair_idx.reshape(-1), *set_idx]))
    tic = time.perf_counter()
    encoded = model.encode(images[needed], steps=steps)
    encode_seconds = time.perf_counter() - tic
    position = torch.full((len(labels),), -1, dtype=torch.long)
    position[needed] = torch.arange(len(needed))
    seed_latents = lambda idx: encoded[position[idx]]  # noqa: E731
    done[0] += 1

    measured, kept_paths, kept_centroids = [], {}, {}
    if schemes:
        z0, z1 = seed_latents(pair_idx[:, 0]), seed_latents(pair_idx[:, 1])
        ends = model.decode(torch.stack([z0, z1], 1), steps=steps)                       # [P, 2, C, H, W]
    for name in schemes:
        report(f"interpolation: {name}")
        sub = lambda f, text, name=name: report(f"interpolation: {name}: {text}", f)  # noqa: E731
        tic = time.perf_counter()
        path = interpolate(z0, z1, frames, scheme=name, prior=prior, progress=sub, **options.get(name, {}))
        seconds = time.perf_counter() - tic
        if not bool(torch.isfinite(path).all()):
            raise RuntimeError(f"interpolation scheme {name!r} produced NaN or Inf latents")
        interior = path[:, 1:-1]
        tic = time.perf_counter()
        inner_images = model.decode(interior, steps=steps)                                # [P, S-2, C, H, W]
        decode_seconds = time.perf_counter() - tic
        per_unit = _point_metrics(interior, inner_images, pair_classes, classifier, prior)
        per_unit.update(_step_metrics(torch.cat([ends[:, :1], inner_images, ends[:, 1:]], 1)))
        features = classifier.features(inner_images.reshape(-1, *model.image_shape))
        measured.append(_Measured("interpolation", name, SCHEMES[name].label, per_unit, pair_classes, list(pair_idx),
                                  features, seconds, decode_seconds))
        kept_paths[name] = path[:examples].detach().cpu()
        done[0] += 1

    for name in centroid_schemes:
        report(f"centroid: {name}")
        results, seconds = [], 0.0
        for j, idx in enumerate(set_idx):
            sub = lambda f, text, j=j, name=name: report(  # noqa: E731
                f"centroid: {name}: set {j + 1} of {centroid_sets}: {text}", (j + f) / centroid_sets)
            tic = time.perf_counter()
            results.append(centroid(seed_latents(idx), scheme=name, prior=prior, progress=sub,
                                    **centroid_options[name]))
            seconds += time.perf_counter() - tic
        centres = torch.stack(results)[:, None]                                       # [sets, 1, *shape]
        if not bool(torch.isfinite(centres).all()):
            raise RuntimeError(f"centroid scheme {name!r} produced NaN or Inf latents")
        tic = time.perf_counter()
        centre_images = model.decode(centres, steps=steps)
        decode_seconds = time.perf_counter() - tic
        per_unit = _point_metrics(centres, centre_images, set_classes, classifier, prior)
        features = classifier.features(centre_images[:, 0])
        measured.append(_Measured("centroid", name, CENTROIDS[name].label, per_unit, set_classes, set_idx, features,
                                  seconds, decode_seconds))
        kept_centroids[name] = centres[:examples, 0].detach().cpu()
        done[0] += 1

    table, units = _summarise(measured, classifier.features(images), gen)
    if progress is not None:
        progress(1.0, "done")
    plain = lambda opts: {k: _plain(v) for k, v in opts.items()}  # noqa: E731
    settings = {
        "model": model.name, "pairs": pairs if schemes else 0, "frames": frames, "centroid_sets": centroid_sets,
        "seed": seed, "steps": steps, "schemes": schemes, "centroid_schemes": centroid_schemes,
        "scheme_options": {s: plain(o) for s, o in options.items() if s in schemes},
        "centroid_options": {s: plain(o) for s, o in centroid_options.items() if s in centroid_schemes},
        "data_digits": len(labels), "confidence": CONFIDENCE, "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
        "frechet_resamples": FRECHET_RESAMPLES, "normality_level": NORMALITY_LEVEL,
        "device": str(model.device), "torch_threads": torch.get_num_threads(),
        "encode_seconds": round(encode_seconds, 3), "total_seconds": round(time.perf_counter() - start, 2),
    }
    kept = Examples(kept_paths, pair_classes[:examples].clone(), kept_centroids,
                    [seed_latents(idx).cpu() for idx in set_idx[:examples]], set_classes[:examples].clone())
    return Evaluation(table, units, settings, kept)


def main(argv=None) -> Evaluation:
    from .models import available, load

    parser = argparse.ArgumentParser(description="Evaluate interpolation and centroid schemes on a built-in model "
                                                 "(the LOL paper's table with paper 003's measures).")
    parser.add_argument("--model", default="digits-vae", help=f"a registered model ({', '.join(available())}) or "
                                                               "a diffusers pipeline folder")
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--centroid-sets", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="DDIM steps (diffusion models)")
    parser.add_argument("--schemes", nargs="*", default=None, help=f"of {', '.join(SCHEMES)}")
    parser.add_argument("--centroid-schemes", nargs="*", default=None, help=f"of {', '.join(CENTROIDS)}")
    parser.add_argument("--out", default="docs/evaluation", help="folder for <model>.csv, .json and .md")
    args = parser.parse_args(argv)

    last = {"stage": None, "fraction": -1.0}

    def show(fraction: float, text: str):
        stage = text.split(":")[0] + ":" + text.split(":")[1] if ":" in text else text
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


if __name__ == "__main__":
    main()
