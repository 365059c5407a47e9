"""Workspaces: what a session keeps on the server, one ``.safetensors`` file each.

A workspace holds a :class:`~ui.server.seed_set.SeedSet` per model and the settings (the chosen model, each
page's last choices). Its file has one tensor per non-empty seed set and the rest as JSON in the file's metadata;
it is written atomically after every change (a burst of changes at most once a second, :class:`CoalescedSaves`) and
read back with the same checks as latent files (:class:`WorkspaceError`). A workspace id is random (128 bits,
URL-safe) and validated before it names a file.

Workspaces live in a store (:func:`workspace_store`): a local folder, or any filesystem fsspec opens from a URL
(``file://``, ``memory://``, ``s3://`` with s3fs installed, ...), so that several server processes can share them.

One size limit holds for saving and opening (:data:`ui.server.limits.MAX_WORKSPACE_BYTES` for the file,
:data:`~ui.server.limits.MAX_WORKSPACE_METADATA_BYTES` for its JSON header), so whatever is saved opens again: a
workspace past it is not written (:class:`WorkspaceTooLarge`, saying what to delete). Opening a file drops what
does not fit, and says what (:attr:`Workspace.dropped`, :func:`describe_dropped`): settings that are not finite,
seeds past the seed set limit and, with :meth:`Workspace.fit`, seed sets of a shape their model does not take.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import os
import re
import secrets
import struct
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import safetensors.torch
import torch

from latentcore.latent_files import (LatentFileError, as_file_latents, header_json, read_limited,
                                     safetensors_metadata, write_atomically)
from latentcore.validation import some_of

from . import limits

from .seed_set import SeedSet


class WorkspaceError(ValueError):
    """A workspace id or file that cannot be used; the message says why."""


class WorkspaceTooLarge(WorkspaceError):
    """A workspace past the size limits; it was not written, and the message says what takes the most room."""


class WorkspaceStoreFull(WorkspaceError):
    """A save that would take the store past :data:`ui.server.limits.MAX_STORE_BYTES`; nothing was written."""


# Opening a workspace reads its seeds as views of the file's bytes (_tensor_views), which are read-only: torch says so
# once per process. Nothing writes to seeds in place (SeedSet replaces them).
warnings.filterwarnings("ignore", message="The given buffer is not writable", category=UserWarning)

WORKSPACE_VERSION = 1
WORKSPACE_SUFFIX = ".safetensors"
WORKSPACE_KEY = "latent_explorer_workspace"
WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
WORKSPACES_ENV = "LATENT_EXPLORER_WORKSPACES"
logger = logging.getLogger(__name__)


@dataclass
class Workspace:
    """What a session keeps: a seed set per model name, and settings (JSON values keyed by setting name: the model
    chosen, each page's last choices). ``dropped``: what opening the file left out, and why (never saved)."""

    seed_sets: dict[str, SeedSet] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def fit(self, shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
        """Drop each seed set whose latents are not of its model's shape (``shapes``: model name -> latent shape;
        the sets of models not named there are kept as they are) and return what was dropped, which is also added
        to :attr:`dropped`."""
        gone = []
        for model, seeds in list(self.seed_sets.items()):
            shape = shapes.get(model)
            if shape is not None and seeds.latents is not None and tuple(seeds.latents.shape[1:]) != tuple(shape):
                del self.seed_sets[model]
                gone.append(f"{len(seeds)} seeds of {model[:40]} (shape {tuple(seeds.latents.shape[1:])}, the model "
                            f"takes {tuple(shape)})")
        self.dropped += gone
        return gone


def describe_dropped(dropped: list[str]) -> str:
    """One short sentence naming the first few things dropped (:attr:`Workspace.dropped`) and how many more, or
    ``''`` when nothing was."""
    if not dropped:
        return ""
    return f"Left out of the workspace, as they do not fit: {some_of(dropped, shown=3, width=200)}."


def new_workspace_id() -> str:
    """A fresh, unguessable workspace id: 128 random bits, URL-safe base64 (22 characters)."""
    return secrets.token_urlsafe(16)


def check_workspace_id(workspace_id) -> str:
    """``workspace_id`` if it is 16 to 64 characters of ``A-Z a-z 0-9 _ -`` (so it can never name a path outside
    the workspace store), else :class:`WorkspaceError`."""
    if not isinstance(workspace_id, str) or not WORKSPACE_ID.fullmatch(workspace_id):
        shown = repr(workspace_id)[:80]
        raise WorkspaceError(f"{shown} is not a workspace id; ids are 16 to 64 letters, digits, '_' or '-'")
    return workspace_id


def workspace_store() -> str | Path:
    """Where workspaces live: ``$LATENT_EXPLORER_WORKSPACES`` (a folder, or an fsspec URL such as
    ``file:///srv/workspaces`` or ``s3://bucket/workspaces``), else the user's data directory (``%LOCALAPPDATA%``
    on Windows, ``~/Library/Application Support`` on macOS, ``$XDG_DATA_HOME`` or ``~/.local/share`` elsewhere)
    under ``latent-explorer/workspaces``."""
    if os.environ.get(WORKSPACES_ENV):
        store = os.environ[WORKSPACES_ENV]
        return store if "://" in store else Path(store).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "latent-explorer" / "workspaces"


class Store:
    """A store opened: a local folder (``fs`` is ``None``; written by atomic rename) or an fsspec filesystem and the
    root path in it."""

    def __init__(self, store=None):
        store = workspace_store() if store is None else store
        text = os.fspath(store)
        self.fs, self.root = None, Path(text).expanduser()
        if "://" not in text:
            return
        import fsspec  # only a store given as a URL needs it
        from fsspec.implementations.local import LocalFileSystem

        try:
            fs, root = fsspec.core.url_to_fs(text)
        except (ImportError, ValueError) as err:  # an unknown protocol, or its package is not installed
            raise WorkspaceError(f"the workspace store {text[:200]!r} cannot be opened ({err}); "
                                 f"{WORKSPACES_ENV} takes a folder or an fsspec URL") from err
        if isinstance(fs, LocalFileSystem):  # file://: a local folder after all
            self.root = Path(root)
        else:
            self.fs, self.root = fs, root.rstrip("/")

    def path(self, workspace_id: str):
        name = f"{check_workspace_id(workspace_id)}{WORKSPACE_SUFFIX}"
        return self.root / name if self.fs is None else f"{self.root}/{name}"

    def read(self, workspace_id: str) -> bytes | None:
        """The file's bytes (at most the size limit), or ``None`` when there is none."""
        path = self.path(workspace_id)
        name = f"workspace {workspace_id}"
        if self.fs is None:
            try:
                data = read_limited(path, name, limits.MAX_WORKSPACE_BYTES)
            except LatentFileError as err:
                if not path.exists():
                    return None
                raise WorkspaceError(f"{name} cannot be read: {err}") from err
            self.touch(workspace_id)
            return data
        try:
            with self.fs.open(path, "rb") as handle:
                data = handle.read(limits.MAX_WORKSPACE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise WorkspaceError(f"{name} cannot be read ({err})") from err
        if len(data) > limits.MAX_WORKSPACE_BYTES:
            raise WorkspaceError(f"{name} cannot be read: it is larger than {limits.mib(limits.MAX_WORKSPACE_BYTES)}, "
                                 "the most a workspace may take")
        return data

    def write(self, workspace_id: str, data: bytes):
        """Write a temporary file beside the workspace, then move it over the workspace: atomic on a local folder
        (a rename) and on object stores (a whole object replaced); elsewhere as atomic as the filesystem's move."""
        path = self.path(workspace_id)
        if self.fs is None:
            return write_atomically(path, data)
        tmp = f"{self.root}/.{path.rsplit('/', 1)[1]}.{secrets.token_hex(4)}.tmp"
        self.fs.makedirs(self.root, exist_ok=True)
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                self.fs.rm(tmp)
            raise
        return path

    def exists(self, workspace_id: str) -> bool:
        path = self.path(workspace_id)
        return path.is_file() if self.fs is None else self.fs.isfile(path)

    def workspaces(self) -> dict[str, tuple[int, float]]:
        """Every workspace in the store: its id -> (bytes, last saved or opened, Unix seconds)."""
        found = {}
        if self.fs is None:
            if not self.root.is_dir():
                return {}
            with os.scandir(self.root) as entries:
                for entry in entries:
                    workspace_id = entry.name.removesuffix(WORKSPACE_SUFFIX)
                    if entry.name.endswith(WORKSPACE_SUFFIX) and WORKSPACE_ID.fullmatch(workspace_id):
                        with contextlib.suppress(OSError):  # gone since it was listed
                            stat = entry.stat()
                            found[workspace_id] = (stat.st_size, stat.st_mtime)
            return found
        try:
            listed = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            return {}
        for info in listed:
            workspace_id = str(info["name"]).rsplit("/", 1)[-1].removesuffix(WORKSPACE_SUFFIX)
            if str(info["name"]).endswith(WORKSPACE_SUFFIX) and WORKSPACE_ID.fullmatch(workspace_id):
                with contextlib.suppress(OSError, NotImplementedError, ValueError):  # a filesystem without times
                    found[workspace_id] = (int(info.get("size") or 0), self.fs.modified(info["name"]).timestamp())
        return found

    def touch(self, workspace_id: str) -> None:
        """Mark a workspace as used now, so that expiry counts from its last opening (a local folder only)."""
        if self.fs is None:
            with contextlib.suppress(OSError):
                os.utime(self.path(workspace_id))

    def temporaries(self) -> list[tuple[object, float]]:
        """The temporary files of unfinished saves and their modification times (Unix seconds)."""
        pattern = f".*{WORKSPACE_SUFFIX}.*.tmp"
        if self.fs is None:
            if not self.root.is_dir():
                return []
            found = []
            for tmp in self.root.glob(pattern):
                with contextlib.suppress(OSError):  # gone already
                    if tmp.is_file():
                        found.append((tmp, tmp.stat().st_mtime))
            return found
        found = []
        for tmp in self.fs.glob(f"{self.root}/{pattern}"):
            with contextlib.suppress(OSError, NotImplementedError):  # gone, or a filesystem without times
                found.append((tmp, self.fs.modified(tmp).timestamp()))
        return found

    def remove(self, path) -> None:
        if self.fs is None:
            path.unlink()
        else:
            self.fs.rm(path)


def remove_stale_temporaries(store=None, older_than_s: float = 600.0) -> int:
    """Delete temporary files that an interrupted save left in ``store`` (default :func:`workspace_store`):
    ``.<id>.safetensors.*.tmp`` older than ``older_than_s`` seconds, so a save still being written by another
    server process is left alone. Workspaces themselves are never touched. Returns how many were removed."""
    opened = Store(store)
    cutoff = time.time() - older_than_s
    removed = 0
    for tmp, modified in opened.temporaries():
        if modified < cutoff:
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                opened.remove(tmp)
                removed += 1
    return removed


def _finite(value) -> bool:
    """Whether a JSON value holds no NaN or infinity at any depth (Python's json reads ``NaN`` and ``Infinity``)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return True


def _too_large(workspace: Workspace, size: int, header: int) -> WorkspaceTooLarge:
    """What to delete so that the workspace fits: the largest seed sets, or the longest names and settings."""
    kept = "so it was not saved (the last saved state is kept)"
    if header > limits.MAX_WORKSPACE_METADATA_BYTES:
        parts = {f"the names of the {m[:40]} seeds": len(json.dumps(s.names)) for m, s in workspace.seed_sets.items()}
        parts |= {f"the setting {k[:40]}": len(json.dumps(v)) for k, v in workspace.settings.items()}
        largest = sorted(parts, key=parts.get, reverse=True)[:3]
        return WorkspaceTooLarge(f"The workspace's names and settings would take {limits.mib(header)}, more than the "
                                 f"{limits.mib(limits.MAX_WORKSPACE_METADATA_BYTES)} allowed, {kept}. The largest: "
                                 f"{'; '.join(f'{p} ({limits.mib(parts[p])})' for p in largest)}. Shorten or delete "
                                 "them to save again.")
    sets = sorted(((m, s) for m, s in workspace.seed_sets.items() if s.latents is not None),
                  key=lambda item: -item[1].latents.numel())
    listed = [f"{m[:40]}: {len(s)} seeds, {limits.mib(s.latents.numel() * 4)}" for m, s in sets]
    return WorkspaceTooLarge(f"The workspace would take {limits.mib(size)}, more than the "
                             f"{limits.mib(limits.MAX_WORKSPACE_BYTES)} a workspace may take, {kept}. Delete seeds "
                             "(or download them first) to save again; the seed sets: "
                             f"{some_of(listed, shown=3, width=80)}.")


def _safetensors_bytes(tensors: dict, metadata: dict) -> bytes:
    """``safetensors.torch.save(tensors, metadata=metadata)``, byte for byte, copying each tensor once where
    safetensors copies it twice (to bytes, then into the file): a workspace's seeds take up to 256 MiB. For float32
    tensors on a little-endian machine, as a workspace holds; anything else is left to safetensors."""
    if sys.byteorder != "little" or any(t.dtype != torch.float32 or t.device.type != "cpu" for t in tensors.values()):
        return safetensors.torch.save(tensors, metadata=metadata)
    header, end, names = {"__metadata__": metadata}, 0, sorted(tensors)  # safetensors' order, for one dtype
    for key in names:
        size = tensors[key].numel() * 4
        header[key] = {"dtype": "F32", "shape": list(tensors[key].shape), "data_offsets": [end, end + size]}
        end += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return b"".join([struct.pack("<Q", len(text)), text,
                     *(memoryview(tensors[k].contiguous().numpy()).cast("B") for k in names)])


def _tensor_views(data: bytes, name: str) -> dict:
    """The tensors of a workspace file as ``safetensors.torch.load(data)`` reads them, but as read-only views of
    ``data`` when they are float32 and take most of the file, so that opening a workspace holds its seeds once, not
    twice (the views keep ``data``; nothing edits seeds in place, :class:`SeedSet`). Any other file, and any entry
    that does not fill its place exactly, is left to safetensors to read and check. The header was checked."""
    start = 8 + struct.unpack("<Q", data[:8])[0]
    header, spans = header_json(data[8:start], name, "its header"), []
    if not isinstance(header, dict):
        return safetensors.torch.load(data)
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict):
            return safetensors.torch.load(data)
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if entry.get("dtype") != "F32" or not isinstance(shape, list) or not isinstance(offsets, list) or \
                len(offsets) != 2 or not all(type(n) is int and n >= 0 for n in [*shape, *offsets]) or \
                offsets[1] - offsets[0] != 4 * math.prod(shape):
            return safetensors.torch.load(data)
        spans.append((offsets[0], offsets[1], key, shape))
    spans.sort()
    if [begin for begin, *_ in spans] != [0, *(end for _, end, *_ in spans[:-1])] or sys.byteorder != "little" or \
            start % 4 or start + (spans[-1][1] if spans else 0) != len(data) or 2 * (len(data) - start) < len(data):
        return safetensors.torch.load(data)
    return {key: torch.frombuffer(data, dtype=torch.float32, count=math.prod(shape), offset=start + begin).reshape(
        shape) if math.prod(shape) else torch.empty(shape) for begin, _, key, shape in spans}


def workspace_to_bytes(workspace: Workspace) -> bytes:
    """The workspace as one ``.safetensors`` file (also the format of a downloaded workspace), or
    :class:`WorkspaceTooLarge` when the file would be past :data:`ui.server.limits.MAX_WORKSPACE_BYTES` or its
    header past :data:`~ui.server.limits.MAX_WORKSPACE_METADATA_BYTES`: checked from the seed counts before the
    file is built, and on the built file, against the very sizes :func:`workspace_from_bytes` checks."""
    tensors, sets = {}, []
    for model, seeds in workspace.seed_sets.items():
        key = None
        if seeds.latents is not None:
            key = f"seed_set.{len(tensors)}"
            tensors[key] = seeds.latents.contiguous()
        sets.append({"model": model, "names": list(seeds.names), "tensor": key})
    state = json.dumps({"version": WORKSPACE_VERSION, "seed_sets": sets, "settings": workspace.settings})
    least = sum(t.numel() * t.element_size() for t in tensors.values()) + len(state)  # the file is larger still
    if least > limits.MAX_WORKSPACE_BYTES or len(state) > limits.MAX_WORKSPACE_METADATA_BYTES:
        raise _too_large(workspace, least, len(state))
    data = _safetensors_bytes(tensors, {WORKSPACE_KEY: state})
    header = struct.unpack("<Q", data[:8])[0]
    if len(data) > limits.MAX_WORKSPACE_BYTES or header > limits.MAX_WORKSPACE_METADATA_BYTES:
        raise _too_large(workspace, len(data), header)
    return data


def _bounded_names(names: list) -> tuple[list, int]:
    """``names`` with each text longer than :data:`ui.server.limits.MAX_NAME_CHARS` cut to that length (ending in
    ``…``, and ``… (2)``, ``… (3)``, ... where a cut name would be another's), and how many were cut: a seed name
    is shown on every page, and one of megabytes would freeze the browser. Other values are left for
    :class:`SeedSet` to refuse."""
    most = limits.MAX_NAME_CHARS
    long = [i for i, n in enumerate(names) if isinstance(n, str) and len(n) > most]
    if not long:
        return names, 0
    names = list(names)
    taken = {n for n in names if isinstance(n, str) and len(n) <= most}
    for i in long:
        cut, k = names[i][:most - 1] + "…", 2
        while cut in taken:
            suffix = f"… ({k})"
            cut, k = names[i][:most - len(suffix)] + suffix, k + 1
        taken.add(cut)
        names[i] = cut
    return names, len(long)


def workspace_from_bytes(data: bytes, name: str = "workspace") -> Workspace:
    """A :class:`Workspace` from the bytes of a workspace file, checked entry by entry: a file past the size limits,
    corrupt, of another version or with a damaged seed set is refused (:class:`WorkspaceError`); settings that are
    not finite and seeds past :data:`ui.server.limits.MAX_SEEDS` are dropped, and seed names past
    :data:`~ui.server.limits.MAX_NAME_CHARS` shortened, each listed in ``dropped``."""
    def bad(why: str) -> WorkspaceError:
        return WorkspaceError(f"{name} is not a usable Latent Explorer workspace: {why}")

    if len(data) > limits.MAX_WORKSPACE_BYTES:
        raise bad(f"it is {limits.mib(len(data))}; a workspace may take at most "
                  f"{limits.mib(limits.MAX_WORKSPACE_BYTES)}")
    header = struct.unpack("<Q", data[:8])[0] if len(data) >= 8 else 0
    if limits.MAX_WORKSPACE_METADATA_BYTES < header <= len(data) - 8:  # a longer one is corrupt, said below
        raise bad(f"its names and settings take {limits.mib(header)}; at most "
                  f"{limits.mib(limits.MAX_WORKSPACE_METADATA_BYTES)} are read")
    try:
        meta = safetensors_metadata(data, name, max(limits.MAX_WORKSPACE_METADATA_BYTES, 8))
        if WORKSPACE_KEY not in meta:
            raise bad("it is a safetensors file without workspace metadata (a latent file? upload it on Seeds)")
        state = header_json(meta[WORKSPACE_KEY], name, "its names and settings")
        with limits.inflation_budget().reserve(len(data), name):  # a copy of the seeds at most (none in place)
            tensors = _tensor_views(data, name)
    except WorkspaceError:
        raise
    except LatentFileError as err:
        why = str(err).removeprefix(f"{name} is not a valid .safetensors file: ").removeprefix(f"{name}: ")
        raise bad(why.removeprefix(f"{name} ")) from err
    except Exception as err:  # truncated or corrupt files raise many kinds of errors
        logger.warning("workspace %s refused: %s: %s", name[:200], type(err).__name__, str(err)[:1000])
        raise bad("it is truncated or corrupt") from err
    if not isinstance(state, dict) or state.get("version") != WORKSPACE_VERSION:
        raise bad(f"unknown version {state.get('version') if isinstance(state, dict) else None!r}; this app reads "
                  f"version {WORKSPACE_VERSION}")
    settings, sets = state.get("settings"), state.get("seed_sets")
    if not isinstance(settings, dict) or not isinstance(sets, list):
        raise bad("its settings or seed sets have the wrong type")
    seed_sets, dropped = {}, []
    for entry in sets:
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            raise bad("a seed set has no model name")
        model, names, key = entry["model"], entry.get("names"), entry.get("tensor")
        if len(model) > limits.MAX_SETTING_CHARS:  # a model's name or a folder's path: never this long
            dropped.append(f"a seed set of a model named by {len(model)} characters (at most "
                           f"{limits.MAX_SETTING_CHARS})")
            continue
        if not isinstance(names, list):
            raise bad(f"the seed names of {model[:40]} are not a list")
        names, shortened = _bounded_names(names)
        if shortened:
            dropped.append(f"the ends of {shortened} seed name{'s' * (shortened > 1)} of {model[:40]} (a name holds "
                           f"at most {limits.MAX_NAME_CHARS} characters)")
        latents = None
        if key is not None:
            if key not in tensors:
                raise bad(f"the seeds of {model[:40]} are missing")
            try:
                latents = as_file_latents(tensors[key], name, None)
            except LatentFileError as err:
                raise bad(str(err).removeprefix(f"{name} ")) from err
        try:
            seed_sets[model] = SeedSet(latents, names)
        except ValueError as err:
            raise bad(f"the seed set of {model[:40]}: {err}") from err
        extra = len(names) - limits.MAX_SEEDS
        if extra > 0:
            seed_sets[model].keep(range(limits.MAX_SEEDS))
            dropped.append(f"the last {extra} seeds of {model[:40]} (a set holds at most {limits.MAX_SEEDS})")
    for key in [k for k, v in settings.items() if not _finite(v)]:
        dropped.append(f"the setting {key[:40]} (not a finite number)")
        del settings[key]
    return Workspace(seed_sets=seed_sets, settings=settings, dropped=dropped)


def save_workspace(workspace: Workspace, workspace_id: str, store=None):
    """Write the workspace atomically to ``store`` (a folder or fsspec URL, default :func:`workspace_store`): a
    crash mid-write leaves the previous state readable. Returns the file's path in the store."""
    return save_workspace_bytes(workspace_to_bytes(workspace), workspace_id, store)


def save_workspace_bytes(data: bytes, workspace_id: str, store=None):
    """:func:`save_workspace` for a workspace already turned into bytes by :func:`workspace_to_bytes`; refused
    (:class:`WorkspaceStoreFull`) when it would take the store past :data:`ui.server.limits.MAX_STORE_BYTES` even
    after the expired workspaces are deleted (:func:`expire_workspaces`, also run once an hour by the saves)."""
    opened = Store(store)
    check_workspace_id(workspace_id)
    usage = _usage(opened)
    if usage.after(workspace_id, len(data)) > limits.MAX_STORE_BYTES or usage.expired_at + 3600 < time.monotonic():
        expire_workspaces(opened)
        usage = _usage(opened)
    with usage.lock:  # the size is counted before the write, so that saves of other sessions see it
        total = usage.after(workspace_id, len(data))
        if total > limits.MAX_STORE_BYTES:
            raise WorkspaceStoreFull(
                f"this server's workspace store is full: with this workspace ({limits.mib(len(data))}) its workspaces "
                f"would take {limits.mib(total)} of the {limits.mib(limits.MAX_STORE_BYTES)} it may hold, so it was "
                "not saved and the last saved state is kept. Delete seeds you no longer need, or download the "
                "workspace; the server's operator can raise LATENT_EXPLORER_MAX_STORE_BYTES or shorten "
                "LATENT_EXPLORER_WORKSPACE_EXPIRY_DAYS")
        before = usage.sizes.get(workspace_id)
        usage.sizes[workspace_id] = len(data)
    try:
        return opened.write(workspace_id, data)
    except BaseException:
        with usage.lock:
            if before is None:
                usage.sizes.pop(workspace_id, None)
            else:
                usage.sizes[workspace_id] = before
        raise


@dataclass
class _StoreUsage:
    """What a store's workspaces take (id -> bytes) as this process last listed them, plus its own writes since;
    listed again after :data:`USAGE_TTL_S`, so that saves do not list a remote store every time."""

    listed_at: float = -math.inf
    expired_at: float = -math.inf
    sizes: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def after(self, workspace_id: str, size: int) -> int:
        """Bytes of the store once ``workspace_id`` takes ``size``."""
        with self.lock:
            return sum(self.sizes.values()) - self.sizes.get(workspace_id, 0) + size


USAGE_TTL_S = 30.0
_USAGES: dict[str, _StoreUsage] = {}
_USAGES_LOCK = threading.Lock()


def _usage(opened: Store) -> _StoreUsage:
    with _USAGES_LOCK:
        usage = _USAGES.setdefault(str(opened.root), _StoreUsage())
    with usage.lock:
        if time.monotonic() - usage.listed_at > USAGE_TTL_S:
            usage.sizes = {k: size for k, (size, _) in opened.workspaces().items()}
            usage.listed_at = time.monotonic()
    return usage


def expire_workspaces(store=None, older_than_days: float | None = None) -> int:
    """Delete the workspaces of ``store`` (default :func:`workspace_store`) not saved (nor, in a local folder,
    opened) for ``older_than_days`` (default :data:`ui.server.limits.WORKSPACE_EXPIRY_DAYS`). Returns how many."""
    opened = store if isinstance(store, Store) else Store(store)
    days = limits.WORKSPACE_EXPIRY_DAYS if older_than_days is None else older_than_days
    cutoff = time.time() - days * 86400
    removed = 0
    for workspace_id, (_, used) in opened.workspaces().items():
        if used < cutoff:
            with contextlib.suppress(OSError, FileNotFoundError):  # gone already, or not ours to remove
                opened.remove(opened.path(workspace_id))
                removed += 1
    with _USAGES_LOCK:
        usage = _USAGES.setdefault(str(opened.root), _StoreUsage())
    with usage.lock:
        usage.listed_at, usage.expired_at = -math.inf, time.monotonic()  # listed again at the next save
    return removed


SAVE_INTERVAL_S = 1.0  # the most often a workspace is written while a burst of changes lasts (CoalescedSaves)


class CoalescedSaves:
    """Workspace writes, at most one per workspace every ``interval_s`` seconds while its changes come in a burst
    (a Subspace slider's steps: each a fragment rerun that changes a setting, each write an ``fsync``).

    :meth:`save` writes at once, in the caller's thread (raising as :func:`save_workspace_bytes` does), unless
    asked to ``defer`` while the workspace was written less than ``interval_s`` ago or is being written: then it
    keeps the bytes as the workspace's pending state (a newer state replaces an older one) and returns, and a writer
    thread writes the pending state when the interval is up. The last state is never dropped: it is written within
    ``interval_s`` of the change, at once when this process reads the workspace (:meth:`flush`, called by
    :func:`load_workspace` and :func:`workspace_exists`: a reload or a copied link finds the latest state), and at
    the interpreter's exit. A crash of the server (SIGKILL, power loss) loses at most the last ``interval_s`` of
    changes. Writes of one workspace never overlap, and run in the order of the states given.

    A deferred write that fails is kept for the workspace's next save to say (:meth:`failure`), and the workspace is
    due at once, so that this save writes in its caller's thread again."""

    def __init__(self, interval_s: float = SAVE_INTERVAL_S):
        self.interval_s = interval_s
        self._changed = threading.Condition()
        self._pending: dict[tuple[str, str], tuple[object, bytes]] = {}  # (store, id) -> (store, bytes to write)
        self._written_at: dict[tuple[str, str], float] = {}  # when the last write began (time.monotonic)
        self._writing: set[tuple[str, str]] = set()
        self._failed: dict[str, BaseException] = {}  # workspace id -> the error of a deferred write
        self._worker: threading.Thread | None = None
        self.writes = 0  # files written

    def save(self, data: bytes, workspace_id: str, store=None, *, defer: bool = False) -> bool:
        """Write ``data`` (from :func:`workspace_to_bytes`) as ``workspace_id`` in ``store`` (default
        :func:`workspace_store`): now, or with ``defer`` once the workspace's interval is up. True if written now."""
        check_workspace_id(workspace_id)
        store = workspace_store() if store is None else store
        key = (os.fspath(store), workspace_id)
        with self._changed:
            if defer and (key in self._writing
                          or time.monotonic() - self._written_at.get(key, -math.inf) < self.interval_s):
                self._pending[key] = (store, data)
                if self._worker is None:
                    self._worker = threading.Thread(target=self._work, name="workspace-saves", daemon=True)
                    self._worker.start()
                self._changed.notify_all()
                return False
            self._pending.pop(key, None)  # this newer state replaces it
            while key in self._writing:
                self._changed.wait()
            self._begin(key)
        self._write(key, store, data, raise_error=True)
        return True

    def flush(self, workspace_id: str | None = None) -> None:
        """Write the pending state of ``workspace_id`` (default: of every workspace) now, in this thread, and wait
        for its writes under way; a failure is kept for :meth:`failure`."""
        while True:
            with self._changed:
                keys = [k for k in (*self._pending, *self._writing) if workspace_id in (None, k[1])]
                if not keys:
                    return
                ready = [k for k in keys if k in self._pending and k not in self._writing]
                if not ready:
                    self._changed.wait()
                    continue
                key = ready[0]
                store, data = self._pending.pop(key)
                self._begin(key)
            self._write(key, store, data)

    def failure(self, workspace_id: str) -> BaseException | None:
        """The error of a deferred write of ``workspace_id`` that failed since this was last asked, if any."""
        with self._changed:
            return self._failed.pop(workspace_id, None)

    def pending(self) -> int:
        """Workspaces with a state not yet written."""
        with self._changed:
            return len(self._pending)

    def _begin(self, key) -> None:  # with the lock held
        self._writing.add(key)
        self._written_at[key] = time.monotonic()

    def _write(self, key, store, data: bytes, raise_error: bool = False) -> None:
        try:
            save_workspace_bytes(data, key[1], store)
        except Exception as err:
            with self._changed:
                self._written_at.pop(key, None)  # due at once: the next save writes in its caller's thread
                if not raise_error:
                    self._failed[key[1]] = err
            if raise_error:
                raise
            logging.getLogger(__name__).warning("workspace %s: a deferred save failed: %s", key[1], err)
        else:
            with self._changed:
                self.writes += 1
        finally:
            with self._changed:
                self._writing.discard(key)
                self._changed.notify_all()

    def _work(self) -> None:
        while True:
            with self._changed:
                while True:
                    now = time.monotonic()
                    due = {k: self._written_at.get(k, -math.inf) + self.interval_s
                           for k in self._pending if k not in self._writing}
                    ready = [k for k, at in due.items() if at <= now]
                    if ready:
                        break
                    self._changed.wait(min(due.values()) - now if due else None)
                key = ready[0]
                store, data = self._pending.pop(key)
                self._begin(key)
            self._write(key, store, data)


SAVES = CoalescedSaves()  # the server's, for the sessions' saves (ui.workspace.save_workspace)
atexit.register(SAVES.flush)  # the pending states, at a normal exit (also Streamlit's on SIGTERM or Ctrl-C)


def load_workspace(workspace_id: str, store=None) -> Workspace | None:
    """The saved workspace, or ``None`` when there is none under this id; :class:`WorkspaceError` if unreadable.
    A state of it still pending in :data:`SAVES` is written first."""
    SAVES.flush(workspace_id)
    data = Store(store).read(workspace_id)
    return None if data is None else workspace_from_bytes(data, f"workspace {workspace_id}")


def workspace_exists(workspace_id: str, store=None) -> bool:
    """Whether a workspace is saved under this id (without reading it), its pending state in :data:`SAVES`
    written first."""
    SAVES.flush(workspace_id)
    return Store(store).exists(workspace_id)


__all__ = ["Workspace", "WorkspaceError", "WorkspaceTooLarge", "new_workspace_id", "check_workspace_id",
           "workspace_store", "describe_dropped", "workspace_to_bytes", "workspace_from_bytes", "save_workspace",
           "save_workspace_bytes", "load_workspace", "workspace_exists", "remove_stale_temporaries",
           "expire_workspaces", "WorkspaceStoreFull", "CoalescedSaves", "SAVES", "SAVE_INTERVAL_S"]
