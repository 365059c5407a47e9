"""Memory that the server takes for one large upload is given back to the operating system when freed.

glibc's malloc serves a block from its own mapping only above a threshold, and raises that threshold to the size
of each mapped block freed (up to 32 MiB); from then on blocks of that size come from the heap of the thread that
asks, and stay with the process when freed. Streamlit runs each page run in a new thread, and Pillow decodes an
image in blocks of 16 MiB, so every large image upload left tens of megabytes behind in some thread's heap (a
4096x4096 image inverted in three sessions took the server from 70 MB to 1.45 GB, and it stayed there).
Fixing the threshold at 1 MiB (``mallopt(M_MMAP_THRESHOLD)``) gives every block of 1 MiB or more its own mapping,
unmapped when freed. Elsewhere (macOS, Windows, other C libraries) nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
THRESHOLD_BYTES = 2**20


@functools.cache
def return_large_blocks() -> bool:
    """Once per process: glibc serves blocks of :data:`THRESHOLD_BYTES` or more from their own mappings. Whether
    the C library took the setting."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
