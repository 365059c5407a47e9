"""An evaluation's chunks (:mod:`.chunks`) measured on a Ray cluster (Moritz, Nishihara et al., "Ray: A Distributed
Framework for Emerging AI Applications", arXiv 1712.05889) instead of in the calling process.

The driver (the process that calls :func:`~.running.evaluate`) does what needs the whole run: it checks the
arguments, chooses and encodes the seeds, and summarises. Each worker is a Ray actor that loads the model once (by
its key, after the plug-in files) and measures whole chunks, one at a time: one actor per GPU of the cluster
(``num_gpus=1`` each), or on CPUs one per ``cpus_per_worker`` CPUs. The driver keeps every worker busy, writes each
finished chunk to the checkpoint folder as it arrives and reports chunks done, throughput and the time left. A
worker whose process dies is restarted by Ray (it loads the model again) and its chunk retried, up to
``max_retries`` times; a driver stopped and started again with the same checkpoint folder skips the chunks already
written. Ray is an optional extra (``pip install latent-explorer[ray]``): nothing imports it until a run asks for a
cluster.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field

import torch

from ..interpolate import Progress
from ..models import Decoding
from ..validation import check_int
from .chunks import Chunk, ChunkInputs, ChunkResult, ChunkStore, evaluation_options, measure_chunk


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs besides its chunks: the model's key (a registered name or a diffusers folder), the run's
    decoding, frames and examples, and the schemes with the caller's options for them (plain values: each worker
    adds the schemes' own evaluation options for its own copy of the model)."""

    model: str
    decoding: Decoding
    frames: int
    examples: int
    schemes: list[str]
    centroid_schemes: list[str]
    scheme_options: dict
    centroid_options: dict


class Worker:
    """One worker's model and options (a Ray actor started by :meth:`RayCluster.start`; usable as it is in a
    process)."""

    def __init__(self, setup: WorkerSetup, plugins: tuple[str, ...] = (), threads: int = 1):
        from ..models import ModelLoadError, load, load_plugins

        if not torch.cuda.is_available():
            torch.set_num_threads(threads)
        refused = load_plugins(plugins).refused
        try:
            self.model = load(setup.model, "cuda" if torch.cuda.is_available() else "cpu")
        except ModelLoadError as err:
            why = f" (plug-ins refused: {'; '.join(map(str, refused))})" if refused else ""
            raise RuntimeError(f"a Ray worker could not load {setup.model}: {err}{why}") from None
        self.setup = setup
        self.options = evaluation_options(self.model, setup.decoding, setup.schemes, setup.centroid_schemes,
                                          setup.scheme_options, setup.centroid_options)

    def measure(self, chunk: Chunk, inputs: ChunkInputs) -> ChunkResult:
        """Measure ``chunk`` on ``inputs`` (see :func:`~.chunks.measure_chunk`)."""
        inputs = inputs.to(self.model.device)
        options = self.options[0 if chunk.task == "interpolation" else 1][chunk.scheme]
        result = measure_chunk(chunk, inputs, model=self.model, judge=self.model.judge, frames=self.setup.frames,
                               decoding=self.setup.decoding, options=options, examples=self.setup.examples,
                               progress=lambda fraction, text: None)
        result.per_unit = {k: v.cpu() for k, v in result.per_unit.items()}
        result.features = None if result.features is None else result.features.cpu()
        return result


@dataclass(frozen=True)
class RayCluster:
    """Where and how an evaluation runs on Ray.

    Pass one as :func:`~latentcore.evaluate.evaluate`'s ``cluster``; the fields are its constructor's arguments.
    A Ray already initialised in the calling process is used as it is, whatever the address.

    Attributes
    ----------
    address
        ``"local"`` starts a Ray instance on this machine for the run (and stops it after); ``"auto"`` (the
        default) joins the cluster this machine belongs to (``ray start`` ran here); ``"ray://host:port"``
        connects to a remote cluster's client server.
    workers
        How many actors, at least 1 (default None: one per GPU of the cluster, else one per ``cpus_per_worker`` of
        its CPUs); never more than there are chunks.
    cpus_per_worker
        CPUs each worker reserves and, on a machine without CUDA, the torch threads it uses; at least 1, default 1.
    plugins
        Plug-in model files each worker loads before the model (installed entry points load too; the files must
        exist at the same paths on every node). Default none.
    max_retries
        How often a worker is restarted and its chunk retried after its process died; at least 0, default 3.
    init_options
        More ``ray.init`` arguments, e.g. ``num_cpus``, used only when Ray is not yet initialised in this
        process. Default none.

    Raises
    ------
    ValueError
        When ``workers``, ``cpus_per_worker`` or ``max_retries`` is not an integer within its bounds.
    """

    address: str = "auto"
    workers: int | None = None
    cpus_per_worker: int = 1
    plugins: tuple[str, ...] = ()
    max_retries: int = 3
    init_options: dict = field(default_factory=dict, hash=False)  # more ray.init arguments, e.g. num_cpus

    def __post_init__(self):
        if self.workers is not None:
            check_int("workers", self.workers, 1)
        check_int("cpus_per_worker", self.cpus_per_worker, 1)
        check_int("max_retries", self.max_retries, 0)

    def describe(self) -> dict:
        """The cluster's settings for reports."""
        return {"ray": self.address, "workers": self.workers, "cpus_per_worker": self.cpus_per_worker}

    def start(self, setup: WorkerSetup, chunks: int) -> RayWorkers:
        """Connect (or start Ray, as :attr:`address` says) and start the workers for ``chunks`` chunks; they load
        the model while the caller goes on. :meth:`RayWorkers.close` stops them.

        Parameters
        ----------
        setup
            What each worker needs to measure the run's chunks: the model's key, the decoding, frames, examples and
            schemes with their options.
        chunks
            The number of chunks to measure: no more workers than this are started.

        Returns
        -------
        :class:`RayWorkers`
            The started workers; :meth:`RayWorkers.run` gives them chunks.

        Raises
        ------
        RuntimeError
            When Ray is not installed (``pip install 'latent-explorer[ray]'``).
        """
        ray = _import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=None if self.address == "local" else self.address, include_dashboard=False,
                     logging_level="warning", log_to_driver=False, **self.init_options)
        try:
            resources = ray.cluster_resources()
            gpus = int(resources.get("GPU", 0))
            count = min(chunks, self.workers or gpus or max(1, int(resources.get("CPU", 1)) // self.cpus_per_worker))
            actor = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=1 if gpus else 0,
                               max_restarts=self.max_retries, max_task_retries=self.max_retries)(Worker)
            plugins = tuple(map(os.path.abspath, self.plugins))
            actors = [actor.remote(setup, plugins, self.cpus_per_worker) for _ in range(count)]
        except BaseException:
            if started_here:
                ray.shutdown()
            raise
        return RayWorkers(ray, actors, started_here, self)


class RayWorkers:
    """Started workers (:meth:`RayCluster.start`): :meth:`run` gives them chunks, :meth:`close` stops them."""

    def __init__(self, ray, actors: list, started_here: bool, cluster: RayCluster):
        self.ray, self.actors, self.started_here, self.cluster = ray, actors, started_here, cluster

    def describe(self) -> dict:
        """The cluster's settings and the number of workers started, for reports."""
        return {**self.cluster.describe(), "workers": len(self.actors)}

    def run(self, todo: list[Chunk], inputs: dict[Chunk, ChunkInputs], done: dict[Chunk, ChunkResult],
            store: ChunkStore | None, *, progress: Progress | None = None, should_stop=None) -> None:
        """Measure the chunks ``todo`` into ``done`` (and ``store``, each as it arrives), keeping every worker busy
        with one chunk; returns when all are done or ``should_stop()`` returned True (polled twice a second). A
        chunk that fails for a reason other than its worker dying raises here, with the worker's error."""
        queue, running = deque(todo), {}
        units = sum(c.stop - c.start for c in todo)
        finished, units_done, start = 0, 0, time.monotonic()

        def submit(actor):
            if queue:
                chunk = queue.popleft()
                running[actor.measure.remote(chunk, inputs[chunk])] = (chunk, actor)

        for actor in self.actors:
            submit(actor)
        if progress is not None:
            progress(0.0, f"on Ray: {len(todo)} chunks on {len(self.actors)} workers")
        while running:
            ready, _ = self.ray.wait(list(running), num_returns=1, timeout=0.5)
            if should_stop is not None and should_stop():
                return
            for ref in ready:
                chunk, actor = running.pop(ref)
                done[chunk] = result = self.ray.get(ref)
                if store is not None:
                    store.save(chunk, result)
                finished, units_done = finished + 1, units_done + chunk.stop - chunk.start
                submit(actor)
                if progress is not None:
                    rate = units_done / (time.monotonic() - start)
                    progress(finished / len(todo), f"on Ray: {finished} of {len(todo)} chunks done ({chunk.name}), "
                             f"{rate:.2f} units/s, about {(units - units_done) / rate:.0f} s left")

    def close(self) -> None:
        """Stop the workers (and the Ray this run started)."""
        for actor in self.actors:
            self.ray.kill(actor)
        if self.started_here:
            self.ray.shutdown()


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RuntimeError("running an evaluation on Ray needs Ray: pip install 'latent-explorer[ray]' (or "
                           "pip install ray)") from None
    return ray
