"""The unit of an evaluation's work, a chunk: up to ``chunk_units`` consecutive units (pairs or sets) of one task and
scheme. :func:`measure_chunk` measures one wherever it runs (in the calling process, or on a Ray worker:
:mod:`.distributed`); a :class:`ChunkStore` keeps each finished chunk in a folder as soon as it is done, so that a
run started again with the same settings (:func:`settings_key`) skips it; :func:`merge` joins a scheme's chunks, in
order, into the report's :class:`~.report.Measured`.

Every run, in process or on a cluster, cuts the units into the same chunks and decodes each chunk as one batch, so
the same settings give the same tables wherever the chunks ran (timings aside).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..combine import CENTROIDS, centroid
from ..interpolate import SCHEMES, Progress, interpolate
from ..models import Decoding
from ..optimise import time_left
from .metrics import path_metrics, point_metrics
from .report import Measured

#: Pairs or sets per chunk unless the caller says otherwise (:func:`~latentcore.evaluate.evaluate`'s
#: ``chunk_units``).
CHUNK_UNITS = 8


@dataclass(frozen=True)
class Chunk:
    """Units ``start .. stop - 1`` of the ``task`` of ``scheme``, the ``index``-th chunk of that scheme."""

    task: str
    scheme: str
    index: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        """The chunk's file name in a :class:`ChunkStore`, e.g. ``interpolation-lol-0003``."""
        return f"{self.task}-{self.scheme}-{self.index:04d}"


@dataclass
class ChunkInputs:
    """What a chunk is measured on: its units' ``classes [u]`` and, for the interpolation task, the pairs' endpoints
    ``z0, z1 [u, *latent_shape]`` and their decoded images ``ends [u, 2, C, H, W]``; for the centroid task, each
    set's seeds ``[K, *latent_shape]``."""

    classes: torch.Tensor
    z0: torch.Tensor | None = None
    z1: torch.Tensor | None = None
    ends: torch.Tensor | None = None
    sets: list[torch.Tensor] = field(default_factory=list)

    def to(self, device: torch.device) -> ChunkInputs:
        """The same inputs on ``device``."""
        move = lambda x: None if x is None else x.to(device)  # noqa: E731
        return ChunkInputs(move(self.classes), move(self.z0), move(self.z1), move(self.ends),
                           [s.to(device) for s in self.sets])


@dataclass
class ChunkResult:
    """A measured chunk: ``per_unit`` metric values ``[u]``, the judge's ``features`` of its decoded images (None
    without), the ``latents`` of its units among the run's first ``examples`` (paths ``[e, frames, *latent_shape]``
    or centroids ``[e, *latent_shape]``), the scheme's and the decoding's seconds for all its units, and
    ``stopped_early`` (``"budget"`` or ``"stop"`` for an iterative scheme cut short)."""

    per_unit: dict[str, torch.Tensor]
    features: torch.Tensor | None
    latents: torch.Tensor
    seconds: float
    decode_seconds: float
    stopped_early: str | None = None


def plan_chunks(task: str, scheme: str, units: int, chunk_units: int) -> list[Chunk]:
    """The chunks of ``units`` units of one task and scheme, ``chunk_units`` each (the last may hold fewer)."""
    return [Chunk(task, scheme, k, start, min(start + chunk_units, units))
            for k, start in enumerate(range(0, units, chunk_units))]


def evaluation_options(model, decoding: Decoding, schemes: list[str], centroid_schemes: list[str],
                       scheme_options: dict | None, centroid_options: dict | None) -> tuple[dict, dict]:
    """Per scheme, the options it is evaluated with: its own evaluation options for ``model`` (which may hold the
    model itself, e.g. as the ri-optimal path's decoder), then the caller's."""
    return ({name: {**SCHEMES[name].options(model, context="evaluation", decoding=decoding),
                    **(scheme_options or {}).get(name, {})} for name in schemes},
            {name: {**CENTROIDS[name].options(context="evaluation"), **(centroid_options or {}).get(name, {})}
             for name in centroid_schemes})


def measure_chunk(chunk: Chunk, inputs: ChunkInputs, *, model, judge, frames: int, decoding, options: dict,
                  examples: int, progress: Progress, budget_s: float | None = None, should_stop=None) -> ChunkResult:
    """Measure one chunk (``options``: the scheme's, for :func:`~latentcore.interpolate` or
    :func:`~latentcore.centroid`): the interpolation task is one batched call over the chunk's pairs, the centroid
    task one call per set; then the results are decoded as one batch and measured (:mod:`.metrics`). A stop before
    the scheme has any result raises :class:`~latentcore.optimise.Stopped`."""
    measure = _interpolation if chunk.task == "interpolation" else _centroids
    result = measure(chunk, inputs, model=model, judge=judge, frames=frames, decoding=decoding, options=options,
                     progress=progress, budget_s=budget_s, should_stop=should_stop)
    result.latents = result.latents[:max(0, examples - chunk.start)].detach().cpu()
    return result


def _interpolation(chunk, inputs, *, model, judge, frames, decoding, options, progress, budget_s, should_stop):
    progress(0.0, "")
    tic = time.perf_counter()
    path, stopping = interpolate(inputs.z0, inputs.z1, frames, scheme=chunk.scheme, prior=model.prior,
                                 progress=progress, budget_s=budget_s, should_stop=should_stop, return_stopping=True,
                                 **options)
    seconds = time.perf_counter() - tic
    if not bool(torch.isfinite(path).all()):
        raise RuntimeError(f"interpolation scheme {chunk.scheme!r} produced NaN or Inf latents")
    interior = path[:, 1:-1]
    tic = time.perf_counter()
    images = model.decode(interior, decoding, should_stop=should_stop)            # [u, frames - 2, C, H, W]
    decode_seconds = time.perf_counter() - tic
    per_unit = point_metrics(interior, images, inputs.classes, judge=judge, prior=model.prior)
    per_unit.update(path_metrics(torch.cat([inputs.ends[:, :1], images, inputs.ends[:, 1:]], 1)))
    features = _features(judge, images.reshape(-1, *model.image_shape))
    return ChunkResult(per_unit, features, path, seconds, decode_seconds, _early(stopping))


def _centroids(chunk, inputs, *, model, judge, frames, decoding, options, progress, budget_s, should_stop):
    progress(0.0, "")
    sets, results, seconds, early = len(inputs.sets), [], 0.0, None
    start = time.monotonic()
    for j, latents in enumerate(inputs.sets):
        def within(fraction: float, text: str, j: int = j) -> None:  # set j's share of the chunk
            progress((j + fraction) / sets, f"set {j + 1} of {sets}: {text}")

        tic = time.perf_counter()
        centre, stopping = centroid(latents, scheme=chunk.scheme, prior=model.prior, progress=within,
                                    budget_s=time_left(budget_s, start), should_stop=should_stop,
                                    return_stopping=True, **options)
        results.append(centre)
        early = early or _early(stopping)
        seconds += time.perf_counter() - tic
    centres = torch.stack(results)[:, None]                 # [u, 1, *latent_shape]: a unit of one latent
    if not bool(torch.isfinite(centres).all()):
        raise RuntimeError(f"centroid scheme {chunk.scheme!r} produced NaN or Inf latents")
    tic = time.perf_counter()
    images = model.decode(centres, decoding, should_stop=should_stop)
    decode_seconds = time.perf_counter() - tic
    per_unit = point_metrics(centres, images, inputs.classes, judge=judge, prior=model.prior)
    features = _features(judge, images[:, 0])
    return ChunkResult(per_unit, features, centres[:, 0], seconds, decode_seconds, early)


def _features(judge, images: torch.Tensor) -> torch.Tensor | None:
    """The judge's features of ``images``, None without."""
    return judge.describe(images) if judge is not None and judge.features is not None else None


def _early(stopping) -> str | None:
    """``"budget"`` or ``"stop"`` when an iterative scheme was cut short, else None."""
    return stopping.reason if stopping is not None and stopping.early else None


def merge(chunks: list[Chunk], results: list[ChunkResult], classes: torch.Tensor,
          seed_sets: list[torch.Tensor]) -> Measured:
    """One scheme's chunks (in order, the first ``len(results)`` of ``chunks``: a stopped run keeps the units it
    finished) as the report's :class:`~.report.Measured`; ``classes [U]`` and ``seed_sets`` are the task's units'."""
    first, done = chunks[0], chunks[len(results) - 1].stop
    task, scheme = first.task, first.scheme
    registry = SCHEMES if task == "interpolation" else CENTROIDS
    per_unit = {name: torch.cat([r.per_unit[name] for r in results]) for name in results[0].per_unit}
    features = None if results[0].features is None else torch.cat([r.features for r in results])
    early = next((r.stopped_early for r in results if r.stopped_early), None)
    if len(results) < len(chunks):
        early = early or "stop"
    return Measured(task, scheme, registry[scheme].label, per_unit, classes[:done], list(seed_sets[:done]), features,
                    torch.cat([r.latents for r in results]), sum(r.seconds for r in results),
                    sum(r.decode_seconds for r in results), early)


def settings_key(settings: dict, *tensors: torch.Tensor | None) -> str:
    """A short hash of what decides a run's chunks: its ``settings`` (JSON-friendly) and the caller's ``tensors``
    (given seeds, data), so that stored chunks are reused only by a run that would compute them the same way."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for t in tensors:
        if t is not None:
            digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class ChunkStore:
    """Finished chunks of one run's settings in ``folder / key`` (safetensors; each written whole to a temporary
    name, then renamed, so a run killed mid-write leaves no half chunk). Chunks cut short by a budget or a stop are
    not kept: a run started again computes them in full.

    The folder ``folder / key`` is created if missing, with the ``settings`` in its ``settings.json`` (written
    once, when the file does not exist yet). Each chunk is the file ``<chunk name>.safetensors``
    (:attr:`Chunk.name`) holding its per-unit metric values, latents and features, with its timings in the
    metadata.

    Parameters
    ----------
    folder
        The checkpoint folder of a model's runs (the command line's ``<model>.chunks/``).
    key
        The run's :func:`settings_key`: the sub-folder of ``folder`` that holds its chunks, so that runs with other
        settings never reuse them.
    settings
        The JSON-friendly settings the key was made of, written to ``settings.json`` for people to read.

    Attributes
    ----------
    folder : pathlib.Path
        The folder of this run's chunks, ``folder / key``.
    """

    def __init__(self, folder: str | os.PathLike, key: str, settings: dict):
        self.folder = Path(folder) / key
        self.folder.mkdir(parents=True, exist_ok=True)
        about = self.folder / "settings.json"
        if not about.exists():
            about.write_text(json.dumps(settings, indent=1, sort_keys=True, default=str) + "\n")

    def load(self, chunk: Chunk) -> ChunkResult | None:
        """The stored result of ``chunk``, None when it is not stored (or unreadable: it is computed again).

        Parameters
        ----------
        chunk
            The chunk to look up, by its :attr:`~Chunk.name`.

        Returns
        -------
        ChunkResult or None
            Its per-unit values, features, latents and timings, without ``stopped_early`` (only complete chunks are
            stored); None when the file is missing or cannot be read.
        """
        path = self.folder / f"{chunk.name}.safetensors"
        if not path.exists():
            return None
        try:
            with safe_open(path, framework="pt") as f:
                about = json.loads(f.metadata()["about"])
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except (OSError, ValueError, KeyError, TypeError, SafetensorError):
            return None
        per_unit = {k.split("/", 1)[1]: v for k, v in tensors.items() if k.startswith("metric/")}
        return ChunkResult(per_unit, tensors.get("features"), tensors["latents"], about["seconds"],
                           about["decode_seconds"])

    def save(self, chunk: Chunk, result: ChunkResult) -> None:
        """Keep ``result`` unless its scheme was cut short.

        The file is written whole under a temporary name, then renamed over ``<chunk name>.safetensors``.

        Parameters
        ----------
        chunk
            The chunk ``result`` measured; its name and units are stored with it.
        result
            The chunk's measurements (moved to the CPU to be written); not kept when ``result.stopped_early`` is
            set.
        """
        if result.stopped_early:
            return
        tensors = {f"metric/{k}": v.detach().cpu().contiguous() for k, v in result.per_unit.items()}
        tensors["latents"] = result.latents.detach().cpu().contiguous()
        if result.features is not None:
            tensors["features"] = result.features.detach().cpu().contiguous()
        about = json.dumps({"seconds": result.seconds, "decode_seconds": result.decode_seconds,
                            "units": [chunk.start, chunk.stop]})
        path = self.folder / f"{chunk.name}.safetensors"
        partial = path.with_suffix(f".{os.getpid()}.partial")
        save_file(tensors, str(partial), metadata={"about": about})
        os.replace(partial, path)
