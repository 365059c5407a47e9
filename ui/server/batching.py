"""Decoding shared by many callers: one batcher per model (so per model and device) joins the decode requests that
arrive within a few milliseconds with the same decoding options into one batch, decodes it on one worker thread
and hands each caller its own rows.

A server with many sessions decodes small batches (one slider position, one filmstrip) from many threads at
once. Decoding them one by one repeats each network's fixed cost per request, and decoding them concurrently
lets the threads fight over the cores and, for sampling decoders, over the sampler's state (a diffusers
scheduler keeps its timesteps on itself). A :class:`DecodeBatcher` runs every decode of its model on its own
worker thread, one batch at a time:

- a request is checked in the caller's thread (options with :meth:`GenerativeModel.resolve_decoding`, latents
  with :func:`~latentcore.validation.check_latents`), so a bad request fails at once, in its caller, and never
  joins a batch; the worker does not check them again;
- the worker takes the oldest request and waits until ``max_wait_s`` after its arrival (default 5 ms) or until
  ``max_batch`` latents with the same options are queued (default the model's ``decode_batch``), whichever comes
  first; it concatenates the requests with the same options in arrival order (a request larger than
  ``max_batch`` alone is a batch of its own), decodes them as one batch without gradients and returns to each
  caller its own rows, shaped as it asked (``[*batch, C, H, W]``);
- if a joint batch fails, each of its requests is decoded again alone, so an error reaches only the request
  that causes it.

Each row of a decode depends on its own latent only (the built-in networks run batch norm in eval mode), so a
batched result equals the unbatched one up to float rounding: the order of floating-point sums in a convolution
may depend on the batch size.

:func:`batcher` gives the one batcher of a model; :func:`decode` decodes through it. A batcher holds its model
weakly: when the model is dropped its batcher closes and its worker thread (a daemon) ends.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import weakref
from concurrent.futures import Future

import torch

from latentcore.models.base import Decoding, GenerativeModel
from latentcore.validation import check_latents

from .threads import DECODE_THREADS, start_thread

MAX_WAIT_S = 0.005  # how long the oldest request waits for others to join it


@dataclasses.dataclass(frozen=True)
class BatchStats:
    """What a batcher has done: ``requests`` decoded (or failed), ``batches`` run, ``latents`` decoded,
    ``joint`` batches of more than one request, the ``largest`` batch in requests, and ``retries``: joint batches
    that failed and were decoded again request by request."""

    requests: int = 0
    batches: int = 0
    latents: int = 0
    joint: int = 0
    largest: int = 0
    retries: int = 0


@dataclasses.dataclass(eq=False)
class _Request:
    latents: torch.Tensor           # [M, *latent_shape] on the model's device
    batch: tuple[int, ...]          # the caller's leading dimensions, M = prod(batch)
    decoding: Decoding              # requests with equal decodings may share a batch
    arrival: float
    future: Future


class DecodeBatcher:
    """Joins concurrent decode requests for one ``model`` (see the module's description).

    ``max_batch``: the most latents one joint batch holds (default ``model.decode_batch``); ``max_wait_s``: how
    long the oldest queued request waits for others (0: decode what is queued at once); ``threads``: the CPU
    threads torch uses in the worker (default :data:`ui.server.threads.DECODE_THREADS`, the half of the cores that
    jobs leave: a torch thread competing for a busy core spins instead of computing). With torch's OpenMP build
    (the CPU wheels) the count is the worker thread's own; other threads keep theirs.
    """

    def __init__(self, model: GenerativeModel, *, max_batch: int | None = None, max_wait_s: float = MAX_WAIT_S,
                 threads: int | None = None):
        if max_batch is not None and max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if not 0 <= max_wait_s <= 1:
            raise ValueError(f"max_wait_s must be between 0 and 1 second, got {max_wait_s}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self._model = weakref.ref(model)
        self.name = model.name
        self.max_batch = max_batch or model.decode_batch
        self.max_wait_s = max_wait_s
        self.threads = threads or DECODE_THREADS
        self._changed = threading.Condition()
        self._queue: collections.deque[_Request] = collections.deque()
        self._closed = False
        self._worker: threading.Thread | None = None
        self._stats = BatchStats()

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> BatchStats:
        """A snapshot of the counters."""
        with self._changed:
            return self._stats

    def submit(self, latents, decoding: Decoding | None = None, *, check_input: bool = True, **options) -> Future:
        """Queue the decoding of ``latents [*batch, *latent_shape]`` with ``decoding`` (or these options, as
        :meth:`GenerativeModel.decode` takes them); the future's result is the images ``[*batch, C, H, W]`` in
        [0, 1] on the model's device. Bad options or latents raise ValueError here; ``check_input=False`` skips
        checking the latents, for a caller that holds only checked ones (a tensor ``[*batch, *latent_shape]``)."""
        model = self._model()
        if model is None:
            raise RuntimeError(f"the model {self.name} was dropped; its batcher is closed")
        decoding = model.resolve_decoding(decoding, **options)
        if check_input:
            latents, batch = check_latents(latents, model.prior, name="latents to decode")
        else:
            batch = tuple(latents.shape[:latents.dim() - len(model.latent_shape)])
        z = latents.reshape(-1, *model.latent_shape).to(model.device, torch.float32)
        request = _Request(z, batch, decoding, time.monotonic(), Future())
        with self._changed:
            if self._closed:
                raise RuntimeError(f"the decode batcher of {self.name} is closed")
            self._queue.append(request)
            if self._worker is None:
                self._start_worker()
            self._changed.notify()
        return request.future

    def decode(self, latents, decoding: Decoding | None = None, *, check_input: bool = True,
               **options) -> torch.Tensor:
        """Images ``[*batch, C, H, W]`` of ``latents [*batch, *latent_shape]``, decoded in a batch with whatever
        other requests with the same decoding arrive meanwhile; blocks until they are ready."""
        return self.submit(latents, decoding, check_input=check_input, **options).result()

    def close(self, timeout: float | None = None) -> None:
        """Refuse new requests, decode those already queued, and end the worker thread (waiting at most
        ``timeout`` seconds for it)."""
        with self._changed:
            self._closed = True
            self._changed.notify()
            worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout)

    def _start_worker(self) -> None:
        self._worker = start_thread(self._work, f"decode-batcher-{self.name}", self.threads)

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if not self._queue:
                    return  # closed and drained
                batch = self._next_batch()
            self._run(batch)

    def _next_batch(self) -> list[_Request]:
        """The oldest request and those with its options queued by its deadline, up to ``max_batch`` latents;
        called with the lock held."""
        first = self._queue[0]
        deadline = first.arrival + self.max_wait_s
        while not self._closed:
            queued = sum(len(r.latents) for r in self._queue if r.decoding == first.decoding)
            left = deadline - time.monotonic()
            if queued >= self.max_batch or left <= 0:
                break
            self._changed.wait(left)
        batch, size = [], 0
        for request in list(self._queue):
            if request.decoding != first.decoding:
                continue
            if batch and size + len(request.latents) > self.max_batch:
                break
            batch.append(request)
            size += len(request.latents)
            self._queue.remove(request)
        return batch

    def _run(self, batch: list[_Request]) -> None:
        model = self._model()
        retried = False
        if model is None:  # unreachable while a caller waits, as callers hold the model; kept for safety
            for request in batch:
                request.future.set_exception(RuntimeError(f"the model {self.name} was dropped"))
        elif len(batch) == 1:
            self._finish(model, batch[0])
        else:
            try:
                images = model.decode(torch.cat([r.latents for r in batch]), batch[0].decoding, check_input=False)
                rows = [part.clone().reshape(*r.batch, *model.image_shape)
                        for r, part in zip(batch, images.split([len(r.latents) for r in batch]), strict=True)]
            except Exception:  # noqa: BLE001 - one request's fault, maybe: each is decoded alone and fails alone
                retried = True
                for request in batch:
                    self._finish(model, request)
            else:
                for request, images in zip(batch, rows):
                    request.future.set_result(images)
        with self._changed:
            s = self._stats
            self._stats = BatchStats(s.requests + len(batch), s.batches + 1,
                                     s.latents + sum(len(r.latents) for r in batch), s.joint + (len(batch) > 1),
                                     max(s.largest, len(batch)), s.retries + retried)

    @staticmethod
    def _finish(model: GenerativeModel, request: _Request) -> None:
        try:
            images = model.decode(request.latents, request.decoding, check_input=False)
            images = images.reshape(*request.batch, *model.image_shape)
        except Exception as err:  # noqa: BLE001 - the caller gets its own error
            request.future.set_exception(err)
        else:
            request.future.set_result(images)


_batchers: weakref.WeakKeyDictionary[GenerativeModel, DecodeBatcher] = weakref.WeakKeyDictionary()
_batchers_lock = threading.Lock()


def batcher(model: GenerativeModel) -> DecodeBatcher:
    """The decode batcher of ``model`` (one per model object, so per model and device; made on first use, with
    the defaults of :class:`DecodeBatcher`); it closes when the model is dropped."""
    with _batchers_lock:
        found = _batchers.get(model)
        if found is None or found.closed:
            found = _batchers[model] = DecodeBatcher(model)
            # not at exit: waking the worker then races the interpreter's teardown (torch aborts); a parked
            # daemon thread simply stops
            weakref.finalize(model, found.close, 0).atexit = False
        return found


def decode(model: GenerativeModel, latents, decoding: Decoding | None = None, *, check_input: bool = True,
           **options) -> torch.Tensor:
    """``model.decode(latents, decoding, check_input=check_input, **options)`` through the model's batcher: images
    ``[*batch, C, H, W]``, decoded together with other threads' requests that arrive within a few
    milliseconds."""
    return batcher(model).decode(latents, decoding, check_input=check_input, **options)
