"""Reading and writing latent files, with validation.

Formats: ``.npy``, ``.npz``, ``.safetensors``, ``.pt`` / ``.pth``. Nothing that can execute code is ever
loaded: ``np.load(allow_pickle=False)``, ``torch.load(weights_only=True)``, and safetensors (which holds no
code). A file holds one array of latents ``[N, *shape]`` (or one latent), stored as the only array or under the
key ``latents``; optional names go under ``names`` (an array of strings in ``.npz``, a list in ``.pt``, a JSON
list in the safetensors metadata). Every problem raises :class:`LatentFileError` with a message that says what
is wrong and what is accepted.

Workspaces (a session's seed sets, their names, the chosen model and each page's settings) are one
``.safetensors`` file each: one tensor per seed set, and the rest as JSON in the file's metadata. They are
written atomically after every change and read back with the same checks as latent files
(:class:`WorkspaceError`). A workspace id is random (128 bits, URL-safe) and validated before it names a file.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import secrets
import struct
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

FORMATS = (".npy", ".npz", ".safetensors", ".pt", ".pth")
LATENTS_KEY = "latents"
NAMES_KEY = "names"
MAX_BYTES = 256 * 2**20
FLOAT_DTYPES = "float16, bfloat16, float32 or float64"


class LatentFileError(ValueError):
    """A latent file that cannot be used; the message says why and what is accepted."""


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise LatentFileError(f"{name}: {shown} is not a latent file format; accepted: {', '.join(FORMATS)}")
    return suffix


def _read_bytes(source, name: str, max_bytes: int) -> bytes:
    limit = f"{max_bytes / 2**20:.0f} MiB"
    if isinstance(source, (str, os.PathLike)):
        try:
            size = os.path.getsize(source)
        except OSError as err:
            raise LatentFileError(f"{name}: cannot read the file ({err.strerror or err})") from err
        if size > max_bytes:
            raise LatentFileError(f"{name} is {size / 2**20:.1f} MiB; latent files may be at most {limit}")
        return Path(source).read_bytes()
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
    else:
        raise TypeError("source must be a path, bytes, or a binary file object")
    if len(data) > max_bytes:
        raise LatentFileError(f"{name} is larger than {limit}, the limit for latent files")
    return data


def _pick(arrays: dict, name: str, kind: str):
    """The latents array of a multi-array container: key ``latents``, or the only array besides ``names``."""
    if LATENTS_KEY in arrays:
        return arrays[LATENTS_KEY]
    candidates = [k for k in arrays if k != NAMES_KEY]
    if len(candidates) == 1:
        return arrays[candidates[0]]
    if not candidates:
        raise LatentFileError(f"{name}: the {kind} holds no array; store the latents as its only array or under "
                              f"the key '{LATENTS_KEY}'")
    raise LatentFileError(f"{name}: the {kind} holds several arrays ({', '.join(map(str, candidates))}); store the "
                          f"latents under the key '{LATENTS_KEY}' or as its only array")


def _safetensors_metadata(data: bytes) -> dict:
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8: 8 + length])
    return header.get("__metadata__") or {}


def _parse(data: bytes, suffix: str, name: str):
    """(array or tensor, names or None) from the file's bytes."""
    refused = (f"{name} contains pickled Python objects, which could run code when loaded and are refused; "
               "save plain numeric arrays (numpy.save, safetensors, or torch.save of tensors)")
    # numpy reads anything without its own header as a pickle; tell corrupt files from pickled ones first
    magic = {".npy": b"\x93NUMPY", ".npz": b"PK"}.get(suffix)
    if magic is not None and not data.startswith(magic):
        raise LatentFileError(f"{name} is not a valid {suffix} file: it does not start with the {suffix} header "
                              "(it may be another format renamed, truncated or corrupt)")
    try:
        if suffix == ".npy":
            return np.load(io.BytesIO(data), allow_pickle=False), None
        if suffix == ".npz":
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
            names = arrays.get(NAMES_KEY)
            if names is not None and names.dtype.kind not in "US":
                raise LatentFileError(f"{name}: '{NAMES_KEY}' must be an array of strings")
            return _pick(arrays, name, ".npz archive"), None if names is None else [str(s) for s in names]
        if suffix == ".safetensors":
            tensors = safetensors.torch.load(data)
            meta = _safetensors_metadata(data).get(NAMES_KEY)
            names = json.loads(meta) if meta else None
            return _pick(tensors, name, "safetensors file"), names
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        names = None
        if isinstance(obj, dict):
            names = obj.get(NAMES_KEY)
            obj = _pick(obj, name, ".pt dictionary")
        if not isinstance(obj, torch.Tensor):
            raise LatentFileError(f"{name} holds a {type(obj).__name__}, not a tensor; save a tensor [N, *shape] "
                                  f"or a dict with the tensor under '{LATENTS_KEY}'")
        return obj, names
    except LatentFileError:
        raise
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err) or "Unsupported class" in str(err):
            raise LatentFileError(refused) from err
        raise LatentFileError(f"{name} is not a valid {suffix} file: it may be truncated or corrupt") from err
    except ValueError as err:
        if "allow_pickle" in str(err) or "pickle" in str(err).lower():
            raise LatentFileError(refused) from err
        raise LatentFileError(f"{name} is not a valid {suffix} file ({err})") from err
    except Exception as err:  # corrupt or truncated files raise many kinds of errors
        raise LatentFileError(f"{name} is not a valid {suffix} file: it may be truncated or corrupt "
                              f"({type(err).__name__}: {err})") from err


def _validate(array, name: str, shape: tuple[int, ...] | None) -> torch.Tensor:
    if isinstance(array, np.ndarray):
        if array.dtype.kind != "f":
            raise LatentFileError(f"{name} holds {array.dtype} values; latents must be floating point "
                                  f"({FLOAT_DTYPES})")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    else:
        tensor = array
        if not tensor.is_floating_point():
            raise LatentFileError(f"{name} holds {str(tensor.dtype).replace('torch.', '')} values; latents must be "
                                  f"floating point ({FLOAT_DTYPES})")
    tensor = tensor.detach().to(torch.float32)
    if tensor.dim() == 0 or tensor.numel() == 0:
        raise LatentFileError(f"{name} holds an empty or scalar array of shape {tuple(tensor.shape)}; it must hold "
                              "at least one latent")
    bad = int((~torch.isfinite(tensor)).sum())
    if bad:
        raise LatentFileError(f"{name} contains {bad} NaN or infinite value{'s' if bad > 1 else ''}; every element "
                              "of a latent must be finite")
    if shape is None:
        return tensor if tensor.dim() > 1 else tensor[None]
    shape = tuple(shape)
    got = tuple(tensor.shape)
    if got == shape:
        return tensor[None]
    if got[1:] == shape:
        return tensor
    if tensor.dim() == 2 and got[1] == math.prod(shape):
        return tensor.reshape(got[0], *shape)
    dims = ", ".join(map(str, shape))
    raise LatentFileError(f"{name} holds an array of shape {got}, which does not fit latents of shape ({dims}); "
                          f"accepted: one latent ({dims}), a batch (N, {dims}), or a flat batch "
                          f"(N, {math.prod(shape)})")


def load_latents(source, *, shape=None, name: str | None = None, max_bytes: int = MAX_BYTES,
                 return_names: bool = False):
    """Latents ``[N, *shape]`` (float32, CPU) from a file path, bytes or a binary file object.

    ``name`` (default: the path or the file object's ``name``) sets the format by its extension and appears in
    messages. ``shape`` checks the latent shape and accepts one latent, a batch, or a flat batch ``[N, D]``.
    With ``return_names=True`` returns ``(latents, names or None)``.
    """
    name = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None))
    if not name:
        raise LatentFileError(f"cannot tell the file format without a file name; accepted: {', '.join(FORMATS)}")
    name = os.path.basename(str(name))
    suffix = _suffix(name)
    array, names = _parse(_read_bytes(source, name, max_bytes), suffix, name)
    latents = _validate(array, name, shape)
    if names is not None:
        if not isinstance(names, (list, tuple)) or not all(isinstance(s, str) for s in names):
            raise LatentFileError(f"{name}: '{NAMES_KEY}' must be a list of strings")
        if len(names) != latents.shape[0]:
            raise LatentFileError(f"{name}: {len(names)} names for {latents.shape[0]} latents; give one name per "
                                  "latent or none")
        names = list(names)
    return (latents, names) if return_names else latents


def latents_to_bytes(latents: torch.Tensor, fmt: str = ".safetensors", names: list[str] | None = None) -> bytes:
    """The bytes of a latent file of format ``fmt`` (one of :data:`FORMATS`) holding ``latents [N, *shape]``."""
    fmt = fmt if fmt.startswith(".") else f".{fmt}"
    _suffix(f"latents{fmt}")
    latents = latents.detach().to("cpu", torch.float32).contiguous()
    if names is not None and len(names) != latents.shape[0]:
        raise ValueError(f"{len(names)} names for {latents.shape[0]} latents")
    buffer = io.BytesIO()
    if fmt == ".npy":
        np.save(buffer, latents.numpy(), allow_pickle=False)
    elif fmt == ".npz":
        arrays = {LATENTS_KEY: latents.numpy()}
        if names is not None:
            arrays[NAMES_KEY] = np.asarray(names, dtype=str)
        np.savez(buffer, **arrays)
    elif fmt == ".safetensors":
        meta = {NAMES_KEY: json.dumps(list(names))} if names is not None else None
        return safetensors.torch.save({LATENTS_KEY: latents}, metadata=meta)
    else:
        torch.save({LATENTS_KEY: latents, **({NAMES_KEY: list(names)} if names is not None else {})}, buffer)
    return buffer.getvalue()


def paths_to_npz(paths: dict[str, torch.Tensor]) -> bytes:
    """An ``.npz`` holding one array per named path (e.g. per interpolation scheme)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{name: p.detach().to("cpu", torch.float32).numpy() for name, p in paths.items()})
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> Path:
    """Write to a temporary file beside ``path``, flush it to disk, then rename it over ``path``: a crash at any
    point leaves either the old file or the new one, never a mixture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_latents(path, latents: torch.Tensor, names: list[str] | None = None) -> Path:
    """Write latents to ``path`` (format from its extension) atomically: a crash leaves any old file intact."""
    path = Path(path)
    return _write_atomically(path, latents_to_bytes(latents, path.suffix.lower(), names))


class WorkspaceError(ValueError):
    """A workspace id or file that cannot be used; the message says why."""


WORKSPACE_VERSION = 1
WORKSPACE_SUFFIX = ".safetensors"
WORKSPACE_KEY = "latent_explorer_workspace"
WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
WORKSPACES_ENV = "LATENT_EXPLORER_WORKSPACES"


@dataclass
class Workspace:
    """What a session keeps: seed sets per model ``{model: {"latents": tensor [N, *shape] or None, "names": [...]}}``
    and settings (JSON values keyed by setting name: the model chosen, each page's last choices)."""

    seed_sets: dict = field(default_factory=dict)
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


def workspace_to_bytes(workspace: Workspace) -> bytes:
    """The workspace as one ``.safetensors`` file (also the format of a downloaded workspace)."""
    tensors, sets = {}, []
    for model, seeds in workspace.seed_sets.items():
        key = None
        if seeds["latents"] is not None:
            key = f"seed_set.{len(tensors)}"
            tensors[key] = seeds["latents"].detach().to("cpu", torch.float32).contiguous()
        sets.append({"model": model, "names": list(seeds["names"]), "tensor": key})
    state = {"version": WORKSPACE_VERSION, "seed_sets": sets, "settings": workspace.settings}
    return safetensors.torch.save(tensors, metadata={WORKSPACE_KEY: json.dumps(state)})


def workspace_from_bytes(data: bytes, name: str = "workspace") -> Workspace:
    """A :class:`Workspace` from the bytes of a workspace file, checked entry by entry."""
    def bad(why: str) -> WorkspaceError:
        return WorkspaceError(f"{name} is not a usable Latent Explorer workspace: {why}")

    try:
        tensors = safetensors.torch.load(data)
        state = json.loads(_safetensors_metadata(data)[WORKSPACE_KEY])
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
        names, key = entry.get("names"), entry.get("tensor")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(set(names)) < len(names):
            raise bad(f"the seed names of {entry['model']} are not a list of distinct strings")
        latents = None
        if key is not None:
            if key not in tensors:
                raise bad(f"the seeds of {entry['model']} are missing")
            try:
                latents = _validate(tensors[key], name, None)
            except LatentFileError as err:
                raise bad(str(err).removeprefix(f"{name} ")) from err
        if len(names) != (0 if latents is None else len(latents)):
            raise bad(f"{entry['model']} has {len(names)} names for {0 if latents is None else len(latents)} seeds")
        seed_sets[entry["model"]] = {"latents": latents, "names": names}
    return Workspace(seed_sets=seed_sets, settings=settings)


def _workspace_path(workspace_id: str, folder) -> Path:
    return Path(folder or workspace_folder()) / f"{check_workspace_id(workspace_id)}{WORKSPACE_SUFFIX}"


def save_workspace(workspace: Workspace, workspace_id: str, folder=None) -> Path:
    """Write the workspace atomically: a crash mid-write leaves the previous state readable."""
    return save_workspace_bytes(workspace_to_bytes(workspace), workspace_id, folder)


def save_workspace_bytes(data: bytes, workspace_id: str, folder=None) -> Path:
    """:func:`save_workspace` for a workspace already turned into bytes by :func:`workspace_to_bytes`."""
    return _write_atomically(_workspace_path(workspace_id, folder), data)


def load_workspace(workspace_id: str, folder=None) -> Workspace | None:
    """The saved workspace, or ``None`` when there is none under this id; :class:`WorkspaceError` if unreadable."""
    path = _workspace_path(workspace_id, folder)
    try:
        data = _read_bytes(path, path.name, MAX_BYTES)
    except LatentFileError as err:
        if not path.exists():
            return None
        raise WorkspaceError(f"workspace {workspace_id} cannot be read: {err}") from err
    return workspace_from_bytes(data, f"workspace {workspace_id}")


__all__ = ["FORMATS", "MAX_BYTES", "LatentFileError", "load_latents", "save_latents", "latents_to_bytes",
           "paths_to_npz", "Workspace", "WorkspaceError", "new_workspace_id", "check_workspace_id",
           "workspace_folder", "workspace_to_bytes", "workspace_from_bytes", "save_workspace", "save_workspace_bytes",
           "load_workspace"]
