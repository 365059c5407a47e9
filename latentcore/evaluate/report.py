"""The report of an evaluation: one table row per task and scheme with each metric's mean over units and its 95 %
interval (:func:`summarise`), the per-unit values behind it, and their files (:class:`Evaluation`: CSV, JSON,
Markdown).

Intervals (see :mod:`.statistics`): the percentile bootstrap over units (paths or sets) of the per-unit values,
``BOOTSTRAP_RESAMPLES`` resamples from the run's generator; for the centroid task's proportions
(``class_preservation`` and ``normality_pass``, one 0/1 outcome per set) the Wilson score interval; for
``frechet`` the normal bootstrap interval over the generated images, real digits fixed. Timings (:data:`TIMINGS`,
seconds per unit) have no interval. Not-applicable values are NaN in the tables and null in JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from .metrics import INTERPOLATION_ONLY, METRICS, PROPORTIONS
from .statistics import bootstrap_interval, frechet_with_interval, wilson_interval

#: The two tasks of an evaluation in the tables' order, paths between two seeds and centroids of sets of seeds.
TASKS = ("interpolation", "centroid")
#: The timing columns of the table in seconds per path (set), the scheme's and the decoding's for the metrics.
TIMINGS = ("seconds", "decode_seconds")
#: The Markdown tables' column heading of each metric of :data:`~latentcore.evaluate.metrics.METRICS`.
HEADINGS = {"class_preservation": "class kept", "frechet": "Frechet", "ri_density_mean": "ri density mean",
            "ri_density_min": "ri density min", "ri_typical_mean": "ri typical mean",
            "ri_typical_min": "ri typical min", "typical_band": "in typical band",
            "normality_pass": "normality pass", "smoothness": "smoothness",
            "path_length": "length"}


@dataclass
class Measured:
    """One task and scheme before averaging: per-unit values ``[U]``, the decoded images' features and the
    scheme's own latents."""

    task: str
    scheme: str
    label: str
    per_unit: dict[str, torch.Tensor]   # metric -> [U]
    classes: torch.Tensor               # [U]
    seed_sets: list[torch.Tensor]       # U tensors of indices into the pool of seeds
    features: torch.Tensor | None       # [images, F], the judge's; None without
    latents: torch.Tensor               # paths [U, frames, *latent_shape] or centroids [U, *latent_shape]
    seconds: float                      # the scheme, all units
    decode_seconds: float               # decoding for the metrics, all units
    stopped_early: str | None = None    # an iterative scheme cut short: "budget" or "stop" (best results so far)


def summarise(measured: list[Measured], reference_features: torch.Tensor | None, *,
              generator: torch.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table (means, intervals as in the module docstring, timings per unit; NaN for a metric not computed)
    and the per-unit frame."""
    rows, units = [], []
    for m in measured:
        n = len(m.classes)
        for name, values in m.per_unit.items():
            if not bool(torch.isfinite(values).all()):
                raise RuntimeError(f"{m.task} scheme {m.scheme!r} gave non-finite {name} values")
        row = {"task": m.task, "scheme": m.scheme, "label": m.label, "units": n}
        for name in METRICS:
            if name == "frechet" and m.features is not None and reference_features is not None:
                interval = frechet_with_interval(m.features, reference_features, generator)
            elif name not in m.per_unit:
                interval = (math.nan, math.nan, math.nan)
            else:
                values = m.per_unit[name]
                if m.task == "centroid" and name in PROPORTIONS:
                    bounds = wilson_interval(int(values.sum().round()), n)
                else:
                    bounds = bootstrap_interval(values, generator)
                interval = (float(values.mean()), *bounds)
            row[name], row[name + "_low"], row[name + "_high"] = interval
        row["seconds"], row["decode_seconds"] = m.seconds / n, m.decode_seconds / n
        rows.append(row)
        for k in range(n):
            unit = {"task": m.task, "scheme": m.scheme, "unit": k, "class": int(m.classes[k]),
                    "seeds": "-".join(map(str, m.seed_sets[k].tolist()))}
            unit.update({name: float(values[k]) for name, values in m.per_unit.items()})
            units.append(unit)
    return pd.DataFrame(rows), pd.DataFrame(units)


@dataclass
class Examples:
    """A few evaluated seeds and results, for filmstrips: the first pairs and sets of the run.

    ``E`` is the number of paths kept and ``E'`` the number of centroids kept (at most
    :func:`~latentcore.evaluate.evaluate`'s ``examples`` each).

    Attributes
    ----------
    paths : dict[str, Tensor ``[E, frames, *latent_shape]``]
        Per interpolation scheme, its paths between the first pairs of seeds, endpoints included.
    path_classes : Tensor ``[E]``
        The class of each kept pair (-1 without classes).
    centroids : dict[str, Tensor ``[E', *latent_shape]``]
        Per centroid scheme, its centroids of the first sets of seeds.
    centroid_seeds : list of ``E'`` Tensors ``[K, *latent_shape]``
        The seeds of each kept set (``K`` varies from set to set).
    centroid_classes : Tensor ``[E']``
        The class of each kept set (-1 without classes).
    """

    paths: dict[str, torch.Tensor]          # interpolation scheme -> [E, frames, *latent_shape]
    path_classes: torch.Tensor              # [E]
    centroids: dict[str, torch.Tensor]      # centroid scheme -> [E', *latent_shape]
    centroid_seeds: list[torch.Tensor]      # E' tensors [K, *latent_shape]
    centroid_classes: torch.Tensor          # [E']


@dataclass
class Evaluation:
    """The result of :func:`~latentcore.evaluate.evaluate`: the table, the per-unit values behind it and the run's
    settings, with their CSV, JSON and Markdown forms.

    Attributes
    ----------
    table
        One row per task and scheme: ``task``, ``scheme``, ``label``, ``units``, each metric of
        :data:`~latentcore.evaluate.metrics.METRICS` as its mean with ``_low`` / ``_high`` interval bounds (empty
        where a metric does not apply) and the :data:`TIMINGS`.
    units
        The per-path (per-set) values behind it: one row per task, scheme and unit, with the unit's ``class``, its
        ``seeds`` (indices into the pool of seeds, joined by ``-``) and its value of each metric.
    settings
        The run's arguments, sizes and total time (JSON-friendly values; ``settings["unavailable"]``: the metrics
        not computed and why; ``settings["stopped_early"]``: the schemes cut short).
    examples
        Latents for filmstrips (not written to files); None when not kept, e.g. read back by :meth:`from_json`.
    """

    table: pd.DataFrame
    units: pd.DataFrame
    settings: dict
    examples: Examples | None = field(default=None, repr=False)

    def to_csv(self, path: str | Path | None = None) -> str:
        """The table as CSV (floats written to round-trip exactly); also written to ``path`` when given.

        Parameters
        ----------
        path
            A file to write the CSV to (replaced if it exists); None only returns it.

        Returns
        -------
        str
            The CSV text.
        """
        text = self.table.to_csv(index=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_json(self, path: str | Path | None = None) -> str:
        """Settings, table and per-unit values as JSON (not-applicable values as null).

        Parameters
        ----------
        path
            A file to write the JSON to (replaced if it exists); None only returns it.

        Returns
        -------
        str
            The JSON text: an object with ``settings``, ``table`` and ``units`` (lists of row objects).
        """
        doc = {"settings": self.settings, "table": _records(self.table), "units": _records(self.units)}
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    def decoding(self, model):
        """The :class:`~latentcore.models.Decoding` the run decoded with, made again by ``model`` (the run's).

        Parameters
        ----------
        model : ~latentcore.models.GenerativeModel
            The model the run evaluated; it checks the sampler steps, scheduler and conditions in
            :attr:`settings`.

        Returns
        -------
        :class:`~latentcore.models.Decoding`
            What :meth:`~latentcore.models.GenerativeModel.decoding_described` makes of :attr:`settings`.
        """
        return model.decoding_described(self.settings)

    @classmethod
    def from_json(cls, text: str) -> Evaluation:
        """The inverse of :meth:`to_json` (without examples).

        Parameters
        ----------
        text
            JSON written by :meth:`to_json`.

        Returns
        -------
        :class:`Evaluation`
            The table, per-unit values and settings; :attr:`examples` is None.
        """
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
        """``<model>.csv``, ``<model>.json`` and ``<model>.md`` in ``folder`` (created if missing).

        ``<model>`` is ``settings["model"]`` with ``/`` replaced by ``_``; existing files of those names are
        replaced.

        Parameters
        ----------
        folder
            The folder to write to.

        Returns
        -------
        list of pathlib.Path
            The three files written: CSV (:meth:`to_csv`), JSON (:meth:`to_json`) and Markdown
            (:meth:`to_markdown`).
        """
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
