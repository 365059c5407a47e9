"""What all reads of uploaded files together may inflate at once: one :class:`InflationBudget` per server.

A latent file's headers declare how much memory reading it will take (its arrays, and their float32 copies); a
read reserves that much from the budget before it inflates anything and gives it back when it is done. Limits per
file keep one upload small; the budget keeps many at once (several sessions uploading the same crafted file) from
adding up to gigabytes: a read that does not fit waits for others to finish, for ``wait_s`` at most, and is then
refused with a message that says to try again.
"""

from __future__ import annotations

import contextlib
import threading

from .latent_files import LatentFileError, mib


class InflationBudget:
    """``total_bytes`` that the reads sharing this budget may hold in memory at the same time.

    :meth:`reserve` is a context manager: ``with budget.reserve(n, name): ...`` waits up to ``wait_s`` seconds
    (default 20) for ``n`` bytes to be free, raises :class:`~latentcore.latent_files.LatentFileError` when they do
    not come free in time or when ``n`` is more than the whole budget, and frees them when the block ends.
    Safe to share between threads.

    Parameters
    ----------
    total_bytes
        The bytes all reservations together may hold, at least 1.
    wait_s
        The longest a reservation waits for its bytes to come free, in seconds. Default 20.

    Raises
    ------
    ValueError
        When ``total_bytes`` is less than 1.
    """

    def __init__(self, total_bytes: int, wait_s: float = 20.0):
        if total_bytes < 1:
            raise ValueError(f"total_bytes={total_bytes}: the budget must be a positive number of bytes")
        self.total_bytes, self.wait_s = int(total_bytes), float(wait_s)
        self._free = self.total_bytes
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        """Bytes reserved now."""
        with self._changed:
            return self.total_bytes - self._free

    @contextlib.contextmanager
    def reserve(self, nbytes: int, name: str):
        """Hold ``nbytes`` of the budget for the ``with`` block, waiting up to ``wait_s`` seconds for them.

        Parameters
        ----------
        nbytes
            The bytes the read will inflate (negative counts as 0).
        name
            The file's name, for messages.

        Raises
        ------
        ~latentcore.latent_files.LatentFileError
            When ``nbytes`` is more than the whole budget, or does not come free within ``wait_s`` seconds (the
            message says to try again).
        """
        nbytes = max(int(nbytes), 0)
        if nbytes > self.total_bytes:
            raise LatentFileError(f"{name} would take {mib(nbytes)} of memory to read; this server reads at most "
                                  f"{mib(self.total_bytes)} of uploads at once")
        with self._changed:
            if not self._changed.wait_for(lambda: self._free >= nbytes, timeout=self.wait_s):
                raise LatentFileError(f"{name} cannot be read now: other uploads are using the {mib(self.total_bytes)} "
                                      "of memory this server gives to reading files; try again in a moment")
            self._free -= nbytes
        try:
            yield
        finally:
            with self._changed:
                self._free += nbytes
                self._changed.notify_all()


__all__ = ["InflationBudget"]
