"""Workspaces: what a session keeps on the server, one ``.safetensors`` file each.

A workspace holds a :class:`~latentcore.seed_set.SeedSet` per model and the settings (the chosen model, each
page's last choices). Its file has one tensor per non-empty seed set and the rest as JSON in the file's metadata;
it is written atomically after every change and read back with the same checks as latent files
(:class:`WorkspaceError`). A workspace id is random (128 bits, URL-safe) and validated before it names a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import safetensors.torch

from .latent_files import (MAX_BYTES, LatentFileError, check_latents, read_limited, safetensors_metadata,
                           write_atomically)
from .seed_set import SeedSet


class WorkspaceError(ValueError):
    """A workspace id or file that cannot be used; the message says why."""


WORKSPACE_VERSION = 1
WORKSPACE_SUFFIX = ".safetensors"
WORKSPACE_KEY = "latent_explorer_workspace"
WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
WORKSPACES_ENV = "LATENT_EXPLORER_WORKSPACES"


@dataclass
class Workspace:
    """What a session keeps: a seed set per model name, and settings (JSON values keyed by setting name: the model
    chosen, each page's last choices)."""

    seed_sets: dict[str, SeedSet] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def new_workspace_id() -> str:
    """A fresh, unguessable workspace id: 128 random bits, URL-safe base64 (22 characters)."""
    return secrets.token_urlsafe(16)


def check_workspace_id(workspace_id) -> str:
    """``workspace_id`` if it is 16 to 64 characters of ``A-Z a-z 0-9 _ -`` (so it can never name a path outside
    the workspace folder), else :class:`WorkspaceError`."""
    if not isinstance(workspace_id, str) or not WORKSPACE_ID.fullmatch(workspace_id):
        shown = repr(workspace_id)[:80]
        raise WorkspaceError(f"{shown} is not a workspace id; ids are 16 to 64 letters, digits, '_' or '-'")
    return workspace_id


def workspace_folder() -> Path:
    """Where workspaces live: ``$LATENT_EXPLORER_WORKSPACES``, else the user's data directory
    (``%LOCALAPPDATA%`` on Windows, ``~/Library/Application Support`` on macOS, ``$XDG_DATA_HOME`` or
    ``~/.local/share`` elsewhere) under ``latent-explorer/workspaces``."""
    if os.environ.get(WORKSPACES_ENV):
        return Path(os.environ[WORKSPACES_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "latent-explorer" / "workspaces"


def remove_stale_temporaries(folder=None, older_than_s: float = 600.0) -> int:
    """Delete temporary files that an interrupted save left in ``folder`` (default :func:`workspace_folder`):
    ``.<id>.safetensors.*.tmp`` older than ``older_than_s`` seconds, so a save still being written by another
    server process is left alone. Workspaces themselves are never touched. Returns how many were removed."""
    folder = Path(folder) if folder is not None else workspace_folder()
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for tmp in folder.glob(".*.safetensors.*.tmp"):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if tmp.is_file() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
    return removed


def workspace_to_bytes(workspace: Workspace) -> bytes:
    """The workspace as one ``.safetensors`` file (also the format of a downloaded workspace)."""
    tensors, sets = {}, []
    for model, seeds in workspace.seed_sets.items():
        key = None
        if seeds.latents is not None:
            key = f"seed_set.{len(tensors)}"
            tensors[key] = seeds.latents.contiguous()
        sets.append({"model": model, "names": list(seeds.names), "tensor": key})
    state = {"version": WORKSPACE_VERSION, "seed_sets": sets, "settings": workspace.settings}
    return safetensors.torch.save(tensors, metadata={WORKSPACE_KEY: json.dumps(state)})


def workspace_from_bytes(data: bytes, name: str = "workspace") -> Workspace:
    """A :class:`Workspace` from the bytes of a workspace file, checked entry by entry."""
    def bad(why: str) -> WorkspaceError:
        return WorkspaceError(f"{name} is not a usable Latent Explorer workspace: {why}")

    try:
        tensors = safetensors.torch.load(data)
        state = json.loads(safetensors_metadata(data)[WORKSPACE_KEY])
    except KeyError as err:
        raise bad("it is a safetensors file without workspace metadata (a latent file? upload it on Seeds)") from err
    except Exception as err:  # truncated or corrupt files raise many kinds of errors
        raise bad(f"it is truncated or corrupt ({type(err).__name__})") from err
    if not isinstance(state, dict) or state.get("version") != WORKSPACE_VERSION:
        raise bad(f"unknown version {state.get('version') if isinstance(state, dict) else None!r}; this app reads "
                  f"version {WORKSPACE_VERSION}")
    settings, sets = state.get("settings"), state.get("seed_sets")
    if not isinstance(settings, dict) or not isinstance(sets, list):
        raise bad("its settings or seed sets have the wrong type")
    seed_sets = {}
    for entry in sets:
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            raise bad("a seed set has no model name")
        model, names, key = entry["model"], entry.get("names"), entry.get("tensor")
        if not isinstance(names, list):
            raise bad(f"the seed names of {model} are not a list")
        latents = None
        if key is not None:
            if key not in tensors:
                raise bad(f"the seeds of {model} are missing")
            try:
                latents = check_latents(tensors[key], name, None)
            except LatentFileError as err:
                raise bad(str(err).removeprefix(f"{name} ")) from err
        try:
            seed_sets[model] = SeedSet(latents, names)
        except ValueError as err:
            raise bad(f"the seed set of {model}: {err}") from err
    return Workspace(seed_sets=seed_sets, settings=settings)


def _workspace_path(workspace_id: str, folder) -> Path:
    return Path(folder or workspace_folder()) / f"{check_workspace_id(workspace_id)}{WORKSPACE_SUFFIX}"


def save_workspace(workspace: Workspace, workspace_id: str, folder=None) -> Path:
    """Write the workspace atomically: a crash mid-write leaves the previous state readable."""
    return save_workspace_bytes(workspace_to_bytes(workspace), workspace_id, folder)


def save_workspace_bytes(data: bytes, workspace_id: str, folder=None) -> Path:
    """:func:`save_workspace` for a workspace already turned into bytes by :func:`workspace_to_bytes`."""
    return write_atomically(_workspace_path(workspace_id, folder), data)


def load_workspace(workspace_id: str, folder=None) -> Workspace | None:
    """The saved workspace, or ``None`` when there is none under this id; :class:`WorkspaceError` if unreadable."""
    path = _workspace_path(workspace_id, folder)
    try:
        data = read_limited(path, path.name, MAX_BYTES)
    except LatentFileError as err:
        if not path.exists():
            return None
        raise WorkspaceError(f"workspace {workspace_id} cannot be read: {err}") from err
    return workspace_from_bytes(data, f"workspace {workspace_id}")


__all__ = ["Workspace", "WorkspaceError", "new_workspace_id", "check_workspace_id", "workspace_folder",
           "workspace_to_bytes", "workspace_from_bytes", "save_workspace", "save_workspace_bytes", "load_workspace"]
