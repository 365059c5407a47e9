"""Limits on what one file or one workspace may hold, so that no upload or shared link can take the server's memory
or time, and on what the server keeps for all sessions: the defaults below, each overridable by an environment
variable read when the server starts (a whole number; ``LATENT_EXPLORER_MAX_SEEDS=10000``, say).

The byte limits are in bytes, the counts in latents. They are read by the functions that enforce them at call time
(``limits.MAX_SEEDS``), so a test or a server can change them.
"""

from __future__ import annotations

import os

MiB = 2**20


def _setting(name: str, default: int) -> int:
    """The whole number in ``$LATENT_EXPLORER_<name>``, else ``default``; a value that is not a positive whole
    number is an error at start, not a silently different limit."""
    raw = os.environ.get(f"LATENT_EXPLORER_{name}", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"LATENT_EXPLORER_{name}={raw!r}: the limit must be a positive whole number")
    return int(raw)


# A latent file: its size, and the size of any one array in it once decompressed (the .npy header in an .npz
# declares it, so a zip bomb is refused before it is inflated).
MAX_FILE_BYTES = _setting("MAX_FILE_BYTES", 256 * MiB)
MAX_ARRAY_BYTES = _setting("MAX_ARRAY_BYTES", 256 * MiB)
# Entries of a zip archive (.npz, .pt): zipfile builds an object for each when it opens one, before any check.
MAX_ARCHIVE_ENTRIES = _setting("MAX_ARCHIVE_ENTRIES", 16384)
# Latents one upload adds, and latents one seed set holds.
MAX_UPLOAD_LATENTS = _setting("MAX_UPLOAD_LATENTS", 1024)
MAX_SEEDS = _setting("MAX_SEEDS", 4096)
# Characters of one seed name (names come from uploaded files and shared workspaces).
MAX_NAME_CHARS = _setting("MAX_NAME_CHARS", 200)
# A workspace file, saved or opened (one limit, so whatever is saved opens again), and its JSON metadata.
MAX_WORKSPACE_BYTES = _setting("MAX_WORKSPACE_BYTES", 256 * MiB)
MAX_WORKSPACE_METADATA_BYTES = _setting("MAX_WORKSPACE_METADATA_BYTES", 8 * MiB)
# Decoded images the server keeps for all sessions together (8-bit arrays; the least recently used go first).
MAX_DECODED_CACHE_BYTES = _setting("MAX_DECODED_CACHE_BYTES", 256 * MiB)


def mib(n: int) -> str:
    """``n`` bytes for a message: ``'256 MiB'``, ``'1.5 MiB'``, ``'3.1 KiB'`` below one MiB."""
    if n < MiB:
        return f"{n / 1024:.1f} KiB"
    value = n / MiB
    return f"{value:.0f} MiB" if value >= 10 or value == int(value) else f"{value:.1f} MiB"
