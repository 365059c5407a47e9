"""The decoded images a server keeps for all its sessions: a least-recently-used cache bounded in bytes."""

from __future__ import annotations

import collections
import threading

import numpy as np

from . import limits


class DecodedImages:
    """Decoded images shared by all sessions of the server process: a thread-safe least-recently-used cache
    bounded in bytes (``limits.MAX_DECODED_CACHE_BYTES``, read at each insertion; an entry larger than the bound is
    not kept). Entries are read-only arrays backed by immutable bytes, so no caller can change what another gets."""

    def __init__(self):
        self._entries: collections.OrderedDict[tuple, np.ndarray] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple, array: np.ndarray) -> np.ndarray:
        """Keep a read-only copy of ``array`` under ``key`` (dropping the least recently used entries past the
        bound) and return it."""
        kept = np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=array.dtype).reshape(array.shape)
        with self._lock:
            if key in self._entries:
                self.nbytes -= self._entries.pop(key).nbytes
            if kept.nbytes <= limits.MAX_DECODED_CACHE_BYTES:
                self._entries[key] = kept
                self.nbytes += kept.nbytes
            while self.nbytes > limits.MAX_DECODED_CACHE_BYTES:
                self.nbytes -= self._entries.popitem(last=False)[1].nbytes
        return kept

    def keys(self) -> list[tuple]:
        """The keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.nbytes = 0
