"""Limits on what one file or one workspace may hold, so that no upload or shared link can take the server's memory
or time, and on what the server keeps for all sessions: the defaults below (those of a latent file are
:mod:`latentcore.latent_files`'s), each overridable by an environment variable read when the server starts (a whole
number; ``LATENT_EXPLORER_MAX_SEEDS=10000``, say).

The byte limits are in bytes, the counts in latents. They are read by the functions that enforce them at call time
(``limits.MAX_SEEDS``), so a test or a server can change them.
"""

from __future__ import annotations

import os

from latentcore import latent_files
from latentcore.latent_files import MiB, mib


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
MAX_FILE_BYTES = _setting("MAX_FILE_BYTES", latent_files.MAX_FILE_BYTES)
MAX_ARRAY_BYTES = _setting("MAX_ARRAY_BYTES", latent_files.MAX_ARRAY_BYTES)
# Entries of a zip archive (.npz, .pt): zipfile builds an object for each when it opens one, before any check.
MAX_ARCHIVE_ENTRIES = _setting("MAX_ARCHIVE_ENTRIES", latent_files.MAX_ARCHIVE_ENTRIES)
# Latents one upload adds, and latents one seed set holds.
MAX_UPLOAD_LATENTS = _setting("MAX_UPLOAD_LATENTS", 1024)
MAX_SEEDS = _setting("MAX_SEEDS", 4096)
# Characters of one seed name (names come from uploaded files and shared workspaces).
MAX_NAME_CHARS = _setting("MAX_NAME_CHARS", latent_files.MAX_NAME_CHARS)
# A workspace file, saved or opened (one limit, so whatever is saved opens again), and its JSON metadata.
MAX_WORKSPACE_BYTES = _setting("MAX_WORKSPACE_BYTES", 256 * MiB)
MAX_WORKSPACE_METADATA_BYTES = _setting("MAX_WORKSPACE_METADATA_BYTES", 8 * MiB)
# Decoded images the server keeps for all sessions together (8-bit arrays; the least recently used go first).
MAX_DECODED_CACHE_BYTES = _setting("MAX_DECODED_CACHE_BYTES", 256 * MiB)


def latent_file_limits() -> dict:
    """This server's limits of one latent file, as :func:`latentcore.latent_files.read_latent_file` takes them."""
    return {"max_bytes": MAX_FILE_BYTES, "max_array_bytes": MAX_ARRAY_BYTES,
            "max_archive_entries": MAX_ARCHIVE_ENTRIES, "max_name_chars": MAX_NAME_CHARS}


__all__ = ["MiB", "mib", "latent_file_limits", "MAX_FILE_BYTES", "MAX_ARRAY_BYTES", "MAX_ARCHIVE_ENTRIES",
           "MAX_UPLOAD_LATENTS", "MAX_SEEDS", "MAX_NAME_CHARS", "MAX_WORKSPACE_BYTES", "MAX_WORKSPACE_METADATA_BYTES",
           "MAX_DECODED_CACHE_BYTES"]
