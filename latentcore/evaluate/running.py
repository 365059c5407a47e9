"""Running an evaluation (:func:`evaluate`): check the arguments, choose the seeds (:mod:`.seeds`), encode them,
cut the work into chunks (:mod:`.chunks`), measure each interpolation scheme and each centroid scheme on them
(:mod:`.metrics`) in this process or on Ray workers (:mod:`.distributed`), summarise (:mod:`.report`).

Timings (:data:`~.report.TIMINGS`): ``seconds`` is the wall time of the scheme per path (set): one batched
:func:`~latentcore.interpolate` call per chunk of pairs, summed and divided by ``pairs`` (centroids: one call per
set, averaged). Decoding for the metrics is not included; ri-optimal paths decode inside their own optimisation, so
theirs is. ``decode_seconds``: decoding a path's interior frames (one centroid), per path (set).

Everything except the timings is a deterministic function of the model, the data and ``seed``: one generator
seeded with it chooses the seeds, then draws the intervals' resamples.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass

import torch

from ..combine import CENTROIDS
from ..interpolate import SCHEMES, Progress, schemes_for
from ..models import Decoding, Judge
from ..optimise import Stopped, check_budget, time_left
from ..validation import check_choice, check_int, check_latents
from ..diagnostics import NORMALITY_LEVEL
from .chunks import (CHUNK_UNITS, Chunk, ChunkInputs, ChunkStore, evaluation_options, measure_chunk, merge,
                     plan_chunks, settings_key)
from .distributed import RayCluster, WorkerSetup
from .report import TASKS, Evaluation, Examples, Measured, summarise
from .seeds import SEEDS_PER_SET, SOURCES, Seeds, check_digits, choose_seeds
from .statistics import BOOTSTRAP_RESAMPLES, CONFIDENCE, FRECHET_RESAMPLES

# Seeds of prior samples, when a judge's labels sort them into classes: a pool of 4 seeds per seed a unit needs, at
# least REFERENCE_SAMPLES (the model's own samples the Frechet distance compares with) and at most MAX_POOL.
#: The fewest of the model's own samples (decoded prior samples) the Frechet distance compares with.
REFERENCE_SAMPLES = 128
#: The most prior samples drawn as seeds when a judge's labels sort them into classes.
MAX_POOL = 512


#: The reason in ``settings["stopped_early"]`` of a scheme stopped before it had any result (left out of the
#: tables).
LEFT_OUT = "left out"


def seed_sources(model, data=None) -> tuple[list[str], dict[str, str]]:
    """The seed sources of :data:`~.seeds.SOURCES` that :func:`evaluate` can draw ``model``'s seeds from, and for
    each of the others why not (as :func:`~latentcore.schemes_for` does for schemes): prior samples always; data
    where the model can encode images and the data (default the held-out 16x16 digits) are images of its size.

    Parameters
    ----------
    model : ~latentcore.models.GenerativeModel
        The model whose seeds are wanted.
    data : tuple of Tensors ``(images [N, C, H, W], labels [N])``, optional
        The caller's data, as :func:`evaluate` takes it; given data are offered whenever the model can encode
        (their images are resized to the model's). Default None: the held-out 16x16 digits, offered only to
        models of ``(1, 16, 16)`` images.

    Returns
    -------
    offered : list of str
        The sources offered, ``"prior"`` first.
    refused : dict[str, str]
        Each source not offered, with why, in a sentence.
    """
    offered, refused = ["prior"], {}
    shape = tuple(model.image_shape)
    if not model.can_encode:
        refused["data"] = f"{model.name} has no encoder or inversion, so real images cannot become its latents"
    elif data is None and shape != (1, 16, 16):
        refused["data"] = (f"the data at hand are 16x16 digits and {model.name} makes "
                           f"{'x'.join(map(str, shape))} images")
    else:
        offered.append("data")
    return offered, refused


def unavailable_metrics(model, judge: Judge | None) -> dict[str, str]:
    """The metrics :func:`evaluate` cannot compute for ``model`` judged by ``judge`` (default the model's own),
    each with why; the others need only the prior and the decoder.

    Parameters
    ----------
    model : ~latentcore.models.GenerativeModel
        The model to evaluate.
    judge
        What labels and describes the decoded images; default (None) the model's own,
        :attr:`~latentcore.models.base.GenerativeModel.judge`.

    Returns
    -------
    dict[str, str]
        By metric name (``class_preservation``, ``frechet``), why it cannot be computed: no judge, a judge without
        labels (``predict``) or without ``features``. Empty when every metric can be computed.
    """
    judge = model.judge if judge is None else judge
    if judge is None:
        why = (f"no judge of {model.name}'s images: the digits models have the digits classifier, and a plug-in "
               "can declare a Judge beside its model")
        return {"class_preservation": why, "frechet": why}
    out = {}
    if judge.predict is None:
        out["class_preservation"] = f"the judge {judge.name} gives no labels"
    if judge.features is None:
        out["frechet"] = f"the judge {judge.name} gives no features"
    return out


def evaluate(model, judge: Judge | None = None, *, seeds="prior", schemes=None, centroid_schemes=None,
             pairs: int = 16, frames: int = 9, centroid_sets: int = 8, seed: int = 0, decoding: Decoding | None = None,
             steps: int | None = None, conditions: dict | None = None, data=None, scheme_options: dict | None = None,
             centroid_options: dict | None = None, examples: int = 3, chunk_units: int = CHUNK_UNITS,
             checkpoint: str | os.PathLike | None = None, cluster: RayCluster | None = None,
             budget_s: float | None = None, should_stop=None, progress: Progress | None = None) -> Evaluation:
    """Measure interpolation schemes and centroid schemes on the same seeds, by the metrics of :mod:`.metrics`, on
    any model.

    The work is cut into chunks of ``chunk_units`` pairs or sets of one scheme (see :mod:`.chunks`), measured in
    this process or, with a ``cluster``, on Ray workers instead (the tables are the same; see :mod:`.distributed`).
    With a ``checkpoint`` folder each chunk is kept as soon as it is done; a run started again with the same
    settings and folder reuses them (``settings["chunks_reused"]``).

    ``budget_s`` (seconds, in-process runs) bounds the whole run: closed-form schemes run first, then each
    iterative scheme gets an equal share of what is left, less the time its measuring will take (as long as the
    longest closed-form scheme's), shared equally by its chunks, and stops with its best results when it is spent;
    ``should_stop()`` returning True stops the run with the chunks done so far. ``settings["stopped_early"]`` names
    the schemes cut short, and those stopped before they had any result (left out of the tables, reason
    :data:`LEFT_OUT`).

    Parameters
    ----------
    model : ~latentcore.models.GenerativeModel
        The model to evaluate: its prior gives the seeds and the realisticity measures, its decoder the images.
    judge
        What labels and describes the decoded images (:class:`~latentcore.models.Judge`); default (None) the
        model's own, :attr:`~latentcore.models.base.GenerativeModel.judge`. Without one, class preservation and the
        Frechet distance are not computed and ``settings["unavailable"]`` says why (:func:`unavailable_metrics`).
        A Ray run judges with the model's own: leave it unset.
    seeds : ``"prior"``, ``"data"`` or Tensor ``[N, *latent_shape]``
        ``"prior"`` (fresh prior samples drawn with ``seed``, the default), ``"data"`` (encodings of ``data``, see
        :func:`seed_sources`) or the caller's latents, at least 2 (see :mod:`.seeds`).
    schemes : str or list[str] or None
        Interpolation schemes, names in :data:`~latentcore.SCHEMES`; default (None) those suited to the model
        (:func:`~latentcore.schemes_for`), e.g. without ``ri-optimal`` for samplers over large images on a CPU.
        ``schemes=[]`` skips the interpolation task.
    centroid_schemes : str or list[str] or None
        Centroid schemes, names in :data:`~latentcore.CENTROIDS`; default (None) all. ``centroid_schemes=[]``
        skips the centroid task.
    pairs
        How many pairs of seeds (of one class where there are classes), one path each; at least 2. Default 16.
    frames
        Frames of each path, endpoints included; at least 3. Default 9.
    centroid_sets
        How many sets of seeds, one centroid each: 0 skips the centroid task, else at least 2. Default 8.
    seed
        Seeds the one generator that draws the prior samples, chooses the seeds, then draws the intervals'
        resamples; at least 0. Default 0.
    decoding : ~latentcore.models.Decoding or None
        The model's decoding for every decode and encode; or, instead of it, ``steps`` (sampler steps, models with a
        sampler only) and ``conditions`` (the model's named conditions, by name), each default the model's.
    steps
        Sampler steps for decoding and encoding (diffusion and flow models only); default the model's.
    conditions
        The model's conditions by name, for every decode; default each condition's default.
    data : tuple of Tensors ``(images [N, C, H, W], labels [N])``, optional
        Real images in [0, 1] with their classes (whole numbers from 0), for ``seeds="data"``; default the
        held-out digits. Every class present needs 2 images (3 when centroids are evaluated).
    scheme_options
        Per interpolation scheme name, options for :func:`~latentcore.interpolate`, over each scheme's own
        evaluation options (:meth:`~latentcore.Scheme.options`; e.g. the model as the ri-optimal path's decoder,
        capped iterations).
    centroid_options
        Per centroid scheme name, options for :func:`~latentcore.centroid`, over each scheme's own evaluation
        options.
    examples
        How many paths and centroids (the first) to keep as latents in :attr:`.Evaluation.examples`; at least 0.
        Default 3.
    chunk_units
        Pairs or sets per chunk of work, decoded as one batch; at least 1. Default
        :data:`~latentcore.evaluate.chunks.CHUNK_UNITS`. Part of the settings: a run resumes only with the same
        value.
    checkpoint
        A folder (created if missing) where each finished chunk is kept (:class:`~.chunks.ChunkStore`); default
        None keeps nothing.
    cluster
        A :class:`~.distributed.RayCluster` to measure the chunks on Ray workers instead of in this process; not
        with ``budget_s`` or ``judge``.
    budget_s
        Seconds for the whole run (in-process runs only), a positive number; default None: no bound.
    should_stop
        A function of no arguments, polled as the run advances; returning True stops the run with the chunks done
        so far. Default None: never.
    progress
        Called as ``progress(fraction, text)`` as the run advances, ``fraction`` from 0 to 1.

    Returns
    -------
    :class:`~.report.Evaluation`
        The table, the per-unit values, the settings (with the times, the device, ``unavailable``,
        ``chunks_reused``, ``ran_on`` and ``stopped_early``) and the examples.

    Raises
    ------
    ValueError
        When an argument is not accepted (the message says what is): an unknown scheme or seed source, a source the
        model cannot give (:func:`seed_sources`), too few pairs, frames or seeds, a class with too few images,
        ``steps`` for a model without a sampler, both ``decoding`` and ``steps`` or ``conditions``, a ``cluster``
        with ``budget_s`` or ``judge``, or nothing to evaluate.
    ~latentcore.optimise.Stopped
        When the run was stopped before any scheme had a result.
    RuntimeError
        When a scheme gives NaN or infinite latents or metric values, or on Ray: Ray missing, or a worker that
        could not load the model.
    """
    budget_s = check_budget(budget_s)
    if cluster is not None and budget_s is not None:
        raise ValueError("budget_s bounds an in-process run; a Ray run is bounded by stopping it (should_stop), "
                         "and a checkpoint folder lets it resume")
    if cluster is not None and judge is not None:
        raise ValueError("a Ray run judges with the model's own judge (each worker loads the model by its name): "
                         "leave judge unset")
    judge = model.judge if judge is None else judge
    plan = _plan(model, seeds=seeds, data=data, schemes=schemes, centroid_schemes=centroid_schemes, pairs=pairs,
                 frames=frames, centroid_sets=centroid_sets, seed=seed, decoding=decoding, steps=steps,
                 conditions=conditions, scheme_options=scheme_options, centroid_options=centroid_options,
                 examples=examples, chunk_units=chunk_units)
    start, began = time.perf_counter(), time.monotonic()
    # Closed-form stages run first; their measuring time tells what each iterative stage must keep of its share of
    # the budget for its own measuring afterwards, so that the whole evaluation ends within the budget.
    stages = [("interpolation", n, SCHEMES[n].iterative) for n in plan.schemes]
    stages += [("centroid", n, CENTROIDS[n].iterative) for n in plan.centroid_schemes]
    stages.sort(key=lambda stage: stage[2])  # stable: closed-form first
    chunks = {(task, name): plan_chunks(task, name, plan.pairs if task == "interpolation" else plan.centroid_sets,
                                        plan.chunk_units) for task, name, _ in stages}
    key_settings = _key_settings(model, judge, plan)
    store = None if checkpoint is None else ChunkStore(
        checkpoint, settings_key(key_settings, *_given_tensors(plan, seeds, data)), key_settings)
    done = {c: r for cs in chunks.values() for c in cs if store is not None and (r := store.load(c)) is not None}
    reused = len(done)
    todo = [c for cs in chunks.values() for c in cs if c not in done]
    # Ray workers start (and load the model) while this process chooses and encodes the seeds.
    workers = None if cluster is None or not todo else cluster.start(
        _worker_setup(model, plan, scheme_options, centroid_options), len(todo))
    try:
        generator = torch.Generator().manual_seed(plan.seed)
        if progress is not None:
            progress(0.0, "choosing the seeds")
        pool = _pool(model, judge, plan, seeds, data, generator)
        units = choose_seeds(pool.labels, pool.count, pairs=plan.pairs, sets=plan.centroid_sets,
                             generator=generator, strict=plan.source == "data")
        encoded = _seed_latents(model, pool, units, decoding=plan.decoding, should_stop=should_stop)
        inputs = {c: _inputs(c, units, encoded) for c in todo}
        if workers is None:
            _run_in_process(stages, chunks, inputs, done, store, model=model, judge=judge, plan=plan,
                            progress=progress, budget_s=budget_s, began=began, should_stop=should_stop)
        else:
            workers.run(todo, inputs, done, store, progress=progress, should_stop=should_stop)
    finally:
        if workers is not None:
            workers.close()

    measured, left_out = [], {}
    for task, name in _stage_order(plan):  # the tables' order, not the order of measuring
        results = list(itertools.takewhile(lambda r: r is not None, (done.get(c) for c in chunks[task, name])))
        if not results:  # stopped before the scheme had any result: the others' results stand without it
            left_out[f"{task}: {(SCHEMES if task == 'interpolation' else CENTROIDS)[name].label}"] = LEFT_OUT
            continue
        if task == "interpolation":
            measured.append(merge(chunks[task, name], results, units.pair_classes, list(units.pairs)))
        else:
            measured.append(merge(chunks[task, name], results, units.set_classes, units.sets))
    if not measured:
        raise Stopped("the comparison was stopped before any scheme had a result")
    table, unit_values = summarise(measured, pool.reference_features, generator=generator)
    if progress is not None:
        progress(1.0, "done")

    settings = _settings(model, judge, plan, pool, encode_seconds=encoded.seconds,
                         total_seconds=time.perf_counter() - start)
    settings["chunks_reused"] = reused
    settings["ran_on"] = ("this process" if cluster is None else
                          cluster.describe() if workers is None else workers.describe())
    settings["stopped_early"] = {f"{m.task}: {m.label}": m.stopped_early for m in measured if m.stopped_early}
    settings["stopped_early"].update(left_out)
    return Evaluation(table, unit_values, settings, _examples(measured, units, encoded, count=plan.examples))


def _stage_order(plan: _Plan) -> list[tuple[str, str]]:
    """The tables' order: interpolation schemes, then centroid schemes, each as the caller listed them."""
    return [("interpolation", n) for n in plan.schemes] + [("centroid", n) for n in plan.centroid_schemes]


def _run_in_process(stages, chunks, inputs, done, store, *, model, judge, plan, progress, budget_s, began,
                    should_stop) -> None:
    """Measure the chunks not ``done`` here, stage by stage (closed-form first), into ``done`` and ``store``; the
    budget shared as :func:`evaluate` says. A stage stopped before a chunk had any result ends there."""
    measuring = {"interpolation": 0.0, "centroid": 0.0}  # the longest closed-form stage of each task, seconds
    for k, (task, name, iterative) in enumerate(stages):
        share = None
        if budget_s is not None and iterative:
            keep = sum(measuring[t] for t, _, _ in stages[k:])
            share = time_left(time_left(budget_s, began) - keep, time.monotonic()) / len(stages[k:])
        stage = _stage(progress, k + 1, len(stages) + 1, f"{task}: {name}")
        todo = [c for c in chunks[task, name] if c not in done]
        tic = time.monotonic()
        for j, chunk in enumerate(todo):
            report = stage if len(todo) == 1 else _stage(stage, j, len(todo), f"chunk {j + 1} of {len(todo)}")
            options = (plan.scheme_options if task == "interpolation" else plan.centroid_options)[name]
            chunk_budget = None if share is None else time_left(share, tic) / (len(todo) - j)
            try:
                result = measure_chunk(chunk, inputs[chunk], model=model, judge=judge, frames=plan.frames,
                                       decoding=plan.decoding, options=options, examples=plan.examples,
                                       progress=report, budget_s=chunk_budget, should_stop=should_stop)
            except Stopped:
                break
            done[chunk] = result
            if store is not None:
                store.save(chunk, result)
        if not iterative:
            measuring[task] = max(measuring[task], time.monotonic() - tic)


def _inputs(chunk: Chunk, units: Seeds, encoded: _Encoded) -> ChunkInputs:
    """The seeds of ``chunk``'s units."""
    part = slice(chunk.start, chunk.stop)
    if chunk.task == "interpolation":
        return ChunkInputs(units.pair_classes[part], encoded.z0[part], encoded.z1[part], encoded.ends[part])
    return ChunkInputs(units.set_classes[part], sets=encoded.sets[part])


@dataclass(frozen=True)
class _Plan:
    """The checked arguments of :func:`evaluate`, defaults resolved. Without interpolation schemes ``pairs`` is
    0; without centroid schemes ``centroid_sets`` is 0, and the other way round."""

    source: str                            # "prior", "data" or "given" (the caller's latents)
    pairs: int
    frames: int
    centroid_sets: int
    seed: int
    decoding: Decoding                     # the model's options: sampler steps, scheduler, conditions
    examples: int
    chunk_units: int
    schemes: list[str]
    centroid_schemes: list[str]
    scheme_options: dict[str, dict]       # per scheme: its evaluation options, then the caller's
    centroid_options: dict[str, dict]


def _plan(model, *, seeds, data, schemes, centroid_schemes, pairs, frames, centroid_sets, seed, decoding, steps,
          conditions, scheme_options, centroid_options, examples, chunk_units) -> _Plan:
    """The arguments of :func:`evaluate` checked (ValueErrors that say what is accepted), defaults resolved."""
    pairs = check_int("pairs", pairs, 2)
    frames = check_int("frames", frames, 3)
    centroid_sets = _check_centroid_sets(centroid_sets)
    examples = check_int("examples", examples, 0)
    chunk_units = check_int("chunk_units", chunk_units, 1)
    seed = check_int("seed", seed, 0)
    if model.sampler is None and steps is not None:
        raise ValueError(f"steps sets the sampler steps of diffusion and flow models; {model.name} has none")
    decoding = model.resolve_decoding(decoding, **({} if steps is None else {"steps": steps}), **(conditions or {}))
    if isinstance(seeds, str):
        source = check_choice("seed source", seeds, SOURCES)
        offered, refused = seed_sources(model, data)
        if source not in offered:
            raise ValueError(f"seeds from {source}: {refused[source]}; choose seeds='prior' (samples of the prior)")
    else:
        source = "given"
        check_latents(seeds, model.prior, name="seeds", batch_dims=(1,), min_count=2)
    schemes = _check_names("interpolation scheme", schemes, SCHEMES, default=schemes_for(model)[0])
    centroid_schemes = _check_names("centroid scheme", centroid_schemes, CENTROIDS, default=list(CENTROIDS))
    if not centroid_schemes:
        centroid_sets = 0
    if not centroid_sets:
        centroid_schemes = []
    if not schemes and not centroid_schemes:
        raise ValueError("nothing to evaluate: give at least one interpolation scheme or centroid scheme")
    scheme_options, centroid_options = evaluation_options(model, decoding, schemes, centroid_schemes,
                                                          scheme_options, centroid_options)
    return _Plan(source, pairs if schemes else 0, frames, centroid_sets, seed, decoding, examples, chunk_units,
                 schemes, centroid_schemes, scheme_options, centroid_options)


def _key_settings(model, judge: Judge | None, plan: _Plan) -> dict:
    """What decides the chunks of a run besides the caller's tensors (:func:`~.chunks.settings_key`)."""
    return {"model": model.key, "judge": judge.name if judge is not None else None, "seeds": plan.source,
            "pairs": plan.pairs, "frames": plan.frames, "centroid_sets": plan.centroid_sets, "seed": plan.seed,
            **plan.decoding.describe(), "examples": plan.examples, "chunk_units": plan.chunk_units,
            **_plain_options(plan)}


def _given_tensors(plan: _Plan, seeds, data) -> list[torch.Tensor | None]:
    """The caller's seeds or data, which decide the chunks as much as the settings do."""
    if plan.source == "given":
        return [torch.as_tensor(seeds)]
    if plan.source == "data" and data is not None:
        return [torch.as_tensor(data[0]), torch.as_tensor(data[1])]
    return []


def _worker_setup(model, plan: _Plan, scheme_options: dict | None, centroid_options: dict | None) -> WorkerSetup:
    """What a worker needs to measure this run's chunks with a model of its own."""
    return WorkerSetup(model.key, plan.decoding, plan.frames, plan.examples, plan.schemes, plan.centroid_schemes,
                       scheme_options or {}, centroid_options or {})


def _check_centroid_sets(value) -> int:
    """0 (no centroid task) or an integer >= 2 (one set has no interval)."""
    try:
        return check_int("centroid_sets", value, 0 if value == 0 else 2)
    except ValueError:
        raise ValueError(f"centroid_sets must be 0 or an integer >= 2, got {value!r}") from None


def _check_names(what: str, given, registry: dict, *, default: list[str]) -> list[str]:
    """``given`` (one name or several; None for ``default``) checked against ``registry``, duplicates dropped."""
    if given is None:
        return default
    given = [given] if isinstance(given, str) else list(given)
    return list(dict.fromkeys(check_choice(what, name, registry) for name in given))


def _stage(progress: Progress | None, index: int, stages: int, prefix: str) -> Progress:
    """The progress of stage ``index`` of ``stages`` equal stages: ``report(within, text)`` reports
    ``(index + within) / stages`` and ``prefix: text``."""
    def report(within: float, text: str = "") -> None:
        if progress is not None:
            progress(min(1.0, (index + within) / stages), f"{prefix}: {text}" if text else prefix)
    return report


@dataclass
class _Pool:
    """The seeds units are drawn from: ``count`` of them, their ``labels [count]`` (None without classes), and
    either their ``latents [count, *latent_shape]`` or the ``images`` to encode into latents (source ``data``);
    ``reference_features``: the judge's features of the images frames are compared with by the Frechet distance
    (the real data, else the model's own samples; None without features)."""

    count: int
    labels: torch.Tensor | None
    latents: torch.Tensor | None = None
    images: torch.Tensor | None = None
    reference_features: torch.Tensor | None = None
    reference: str = ""                   # what the reference images are, for the report
    label_source: str = ""                # where the classes come from, for the report


def _pool(model, judge: Judge | None, plan: _Plan, seeds, data, generator: torch.Generator) -> _Pool:
    """The seeds' pool of ``plan.source`` with their classes: the data's labels, the class condition's value, or
    the judge's labels of the decoded seeds (module docstring of :mod:`.seeds`)."""
    describe = judge is not None and judge.features is not None
    if plan.source == "data":
        images, labels = check_digits(data)
        features = judge.describe(model.prepare_images(images)) if describe else None
        return _Pool(len(labels), labels, images=images, reference_features=features, reference="the real images",
                     label_source="the data's labels")
    condition = judge.class_condition if judge is not None else None
    label_by_judge = judge is not None and judge.predict is not None and condition is None
    needed = 2 * plan.pairs + SEEDS_PER_SET[1] * plan.centroid_sets
    if plan.source == "prior":
        count = min(MAX_POOL, max(REFERENCE_SAMPLES, 4 * needed)) if label_by_judge else \
            max(needed, REFERENCE_SAMPLES if describe else 0)
        latents = model.prior.sample(count, seed=int(torch.randint(2**62, (1,), generator=generator)),
                                     device=model.device)
    else:
        latents = torch.as_tensor(seeds).to(model.device, torch.float32)
        count = len(latents)
    images = model.decode(latents, plan.decoding) if label_by_judge or (describe and plan.source == "prior") \
        else None
    labels, label_source = None, ""
    if condition is not None:
        value = dict(plan.decoding.conditions)[condition]
        labels, label_source = torch.full((count,), int(value), dtype=torch.long), f"the condition {condition}"
    elif label_by_judge:
        labels, label_source = judge.labels(images), f"the judge {judge.name}'s labels of the decoded seeds"
    features, reference = None, ""
    if describe:
        if plan.source != "prior":  # the model's own samples, as for prior seeds
            own = model.prior.sample(REFERENCE_SAMPLES, seed=int(torch.randint(2**62, (1,), generator=generator)),
                                     device=model.device)
            images = model.decode(own, plan.decoding)
        features, reference = judge.describe(images), f"{len(images)} of the model's own samples"
    return _Pool(count, labels, latents=latents, reference_features=features, reference=reference,
                 label_source=label_source)


@dataclass
class _Encoded:
    """The seeds as latents: the pairs' endpoints ``z0, z1 [P, *latent_shape]`` with their images ``ends
    [P, 2, C, H, W]`` (None without pairs), and each set ``[K, *latent_shape]``."""

    z0: torch.Tensor
    z1: torch.Tensor
    ends: torch.Tensor | None
    sets: list[torch.Tensor]
    seconds: float                        # encoding only (source "data")


def _seed_latents(model, pool: _Pool, seeds: Seeds, *, decoding: Decoding, should_stop=None) -> _Encoded:
    """The units' seeds as latents: taken from the pool, or every image they need encoded once, in one batch; a
    stop between sampler steps raises :class:`~latentcore.optimise.Stopped` (there is nothing to show yet)."""
    needed = seeds.indices()
    tic = time.perf_counter()
    latents = (model.encode(pool.images[needed], decoding, should_stop=should_stop) if pool.latents is None else
               pool.latents[needed])
    seconds = time.perf_counter() - tic if pool.latents is None else 0.0
    row = torch.full((pool.count,), -1, dtype=torch.long)  # pool index -> row of `latents`
    row[needed] = torch.arange(len(needed))
    z0, z1 = latents[row[seeds.pairs[:, 0]]], latents[row[seeds.pairs[:, 1]]]
    ends = model.decode(torch.stack([z0, z1], 1), decoding, should_stop=should_stop) if len(seeds.pairs) else None
    return _Encoded(z0, z1, ends, [latents[row[s]] for s in seeds.sets], seconds)


def _settings(model, judge: Judge | None, plan: _Plan, pool: _Pool, *, encode_seconds: float,
              total_seconds: float) -> dict:
    """The run's arguments, sizes and times as JSON-friendly values."""
    return {
        "model": model.name, "seeds": plan.source, "seed_pool": pool.count, "classes": pool.label_source or None,
        "judge": judge.name if judge is not None else None, "frechet_reference": pool.reference or None,
        "unavailable": unavailable_metrics(model, judge),
        "pairs": plan.pairs, "frames": plan.frames, "centroid_sets": plan.centroid_sets,
        "seed": plan.seed, **plan.decoding.describe(),
        "schemes": plan.schemes,
        "centroid_schemes": plan.centroid_schemes,
        **_plain_options(plan), "chunk_units": plan.chunk_units,
        "confidence": CONFIDENCE, "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
        "frechet_resamples": FRECHET_RESAMPLES, "normality_level": NORMALITY_LEVEL,
        "device": str(model.device), "torch_threads": torch.get_num_threads(),
        "encode_seconds": round(encode_seconds, 3), "total_seconds": round(total_seconds, 2),
    }


def _plain_options(plan: _Plan) -> dict:
    """The schemes' options as JSON-friendly values."""
    return {"scheme_options": {s: {k: _plain(v) for k, v in o.items()} for s, o in plan.scheme_options.items()},
            "centroid_options": {s: {k: _plain(v) for k, v in o.items()} for s, o in plan.centroid_options.items()}}


def _plain(value):
    """A JSON-friendly stand-in for an option value (a model by its name)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return getattr(value, "name", type(value).__name__)


def _examples(measured: list[Measured], seeds: Seeds, encoded: _Encoded, *, count: int) -> Examples:
    """The first ``count`` paths and centroids of every scheme, with their seeds' classes and the sets' seeds."""
    kept = {task: {} for task in TASKS}
    for m in measured:
        kept[m.task][m.scheme] = m.latents[:count].detach().cpu()
    return Examples(kept["interpolation"], seeds.pair_classes[:count].clone(), kept["centroid"],
                    [s.cpu() for s in encoded.sets[:count]], seeds.set_classes[:count].clone())
