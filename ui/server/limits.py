"""Limits on what one file or one workspace may hold, so that no upload or shared link can take the server's memory
or time, and on what the server keeps for all sessions: the defaults below (those of a latent file are
:mod:`latentcore.latent_files`'s), each overridable by an environment variable read when the server starts (a whole
number; ``LATENT_EXPLORER_MAX_SEEDS=10000``, say).

The byte limits are in bytes, the counts in latents. They are read by the functions that enforce them at call time
(``limits.MAX_SEEDS``), so a test or a server can change them.
"""

from __future__ import annotations

import functools
import os

from latentcore import latent_files
from latentcore.inflation import InflationBudget
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
# Memory that reading uploaded files (latent files and workspaces) may take in all sessions together at once: a
# read reserves what its headers declare before inflating anything, waits for others, and is refused after a while.
MAX_INFLATING_BYTES = _setting("MAX_INFLATING_BYTES", 512 * MiB)
# Latents one upload adds, and latents one seed set holds.
MAX_UPLOAD_LATENTS = _setting("MAX_UPLOAD_LATENTS", 1024)
MAX_SEEDS = _setting("MAX_SEEDS", 4096)
# Characters of one seed name (names come from uploaded files and shared workspaces).
MAX_NAME_CHARS = _setting("MAX_NAME_CHARS", latent_files.MAX_NAME_CHARS)
# Characters of one text in a workspace's settings (a prompt, a model's name, a text in a comparison's result).
MAX_SETTING_CHARS = _setting("MAX_SETTING_CHARS", 4096)
# A workspace file, saved or opened (one limit, so whatever is saved opens again), and its JSON metadata.
MAX_WORKSPACE_BYTES = _setting("MAX_WORKSPACE_BYTES", 256 * MiB)
MAX_WORKSPACE_METADATA_BYTES = _setting("MAX_WORKSPACE_METADATA_BYTES", 8 * MiB)
# The workspace store: what all its workspaces may take (a save past it is refused with a message, the last saved
# state kept), and the days after which a workspace not saved (nor, in a local folder, opened) is deleted. A class
# server sets both lower (say 2 GiB and 14 days).
MAX_STORE_BYTES = _setting("MAX_STORE_BYTES", 16 * 1024 * MiB)
WORKSPACE_EXPIRY_DAYS = _setting("WORKSPACE_EXPIRY_DAYS", 365)
# Decoded images the server keeps for all sessions together (8-bit arrays; the least recently used go first).
MAX_DECODED_CACHE_BYTES = _setting("MAX_DECODED_CACHE_BYTES", 256 * MiB)


def _folders(name: str) -> tuple[str, ...]:
    """The folders in ``$LATENT_EXPLORER_<name>``, separated by ``os.pathsep``, each resolved (symlinks, ``..``);
    one that is not a folder is an error at start, not a silently smaller list."""
    folders = []
    for part in os.environ.get(f"LATENT_EXPLORER_{name}", "").split(os.pathsep):
        if part.strip():
            folder = os.path.realpath(os.path.expanduser(part.strip()))
            if not os.path.isdir(folder):
                raise ValueError(f"LATENT_EXPLORER_{name}: {part.strip()!r} is not a folder")
            folders.append(folder)
    return tuple(folders)


# The folders under which a diffusers pipeline folder typed in the sidebar may be loaded, for every browser
# (``LATENT_EXPLORER_MODEL_FOLDERS=/srv/models:/data/pipelines``). Unset (empty): only a browser on the server's own
# machine gets the box, and it loads any folder (ui.server.model_folders).
MODEL_FOLDERS = _folders("MODEL_FOLDERS")


@functools.cache
def _budget(total_bytes: int) -> InflationBudget:
    return InflationBudget(total_bytes)


def inflation_budget() -> InflationBudget:
    """The one budget of memory that all sessions' reads of uploaded files share (:data:`MAX_INFLATING_BYTES`)."""
    return _budget(MAX_INFLATING_BYTES)


def latent_file_limits() -> dict:
    """This server's limits of one latent file, as :func:`latentcore.latent_files.read_latent_file` takes them, and
    the budget that all sessions' reads share."""
    return {"max_bytes": MAX_FILE_BYTES, "max_array_bytes": MAX_ARRAY_BYTES,
            "max_archive_entries": MAX_ARCHIVE_ENTRIES, "max_name_chars": MAX_NAME_CHARS,
            "budget": inflation_budget()}


__all__ = ["MiB", "mib", "latent_file_limits", "inflation_budget", "MAX_FILE_BYTES", "MAX_ARRAY_BYTES",
           "MAX_ARCHIVE_ENTRIES", "MAX_INFLATING_BYTES", "MAX_UPLOAD_LATENTS", "MAX_SEEDS", "MAX_NAME_CHARS",
           "MAX_SETTING_CHARS", "MAX_WORKSPACE_BYTES", "MAX_WORKSPACE_METADATA_BYTES", "MAX_DECODED_CACHE_BYTES"]
