"""How many CPU threads torch uses for each kind of the server's work, so that together they never ask for more
cores than the machine has.

torch's CPU wheels run an operation on a team of OpenMP threads that spin while they wait for each other. When
another busy thread (a job, the decoder, a neighbour process) holds one of the team's cores, the team waits for the
scheduler instead of computing: on this project's 2-core machine a digits-ddim decode of one latent took 5x as
long beside one busy core with torch's default 2 threads, and 1.15x with one thread (``python -m
bench.micro.threads``). So each kind of work gets its own count:

- a session's job (a long computation, one per session at a time): :data:`JOB_THREADS`, half the cores;
- the decode batcher's worker (every slider's images): the other half, :data:`DECODE_THREADS`;
- everything else, the pages' script runs among them (short work on small tensors, where a second thread gains
  little and contends most): one thread.

``LATENT_EXPLORER_JOB_THREADS`` and ``LATENT_EXPLORER_DECODE_THREADS`` override the first two (e.g. a server for
one researcher, who rarely moves a slider while a job runs, may give jobs every core). torch's thread count belongs
to each thread: :func:`start_thread` starts a thread with its own count without changing anyone else's.
"""

from __future__ import annotations

import os
import threading
from typing import Callable

import torch


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of threads (1 or more), got {value!r}")
    return int(value)


JOB_THREADS = _setting("LATENT_EXPLORER_JOB_THREADS", max(1, cores() // 2))
DECODE_THREADS = _setting("LATENT_EXPLORER_DECODE_THREADS", max(1, cores() - cores() // 2))
OTHER_THREADS = 1

_configured = False
_lock = threading.Lock()


def configure() -> None:
    """Give the process's threads :data:`OTHER_THREADS` from now on (once per process; threads that have already
    computed keep their count). The app calls it before its first page runs."""
    global _configured
    with _lock:
        if not _configured:
            torch.set_num_threads(OTHER_THREADS)
            _configured = True


def start_thread(target: Callable[[], None], name: str, threads: int) -> threading.Thread:
    """Start a daemon thread running ``target`` with ``threads`` torch threads of its own. torch.set_num_threads
    sets the calling thread's count and the count that threads take up when they first compute, so the new thread
    sets its own and takes it up at once, and then this thread sets the previous count back for threads started
    later."""
    before = torch.get_num_threads()
    counted = threading.Event()

    def run() -> None:
        torch.set_num_threads(threads)
        torch.get_num_threads()  # taken up now, before the count is set back
        counted.set()
        target()

    with _lock:  # two threads starting at once would each set the other's count back
        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        counted.wait()
        torch.set_num_threads(before)
    return thread
