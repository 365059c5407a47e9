"""Reading and writing latent files, with validation.

Formats: ``.npy``, ``.npz``, ``.safetensors``, ``.pt`` / ``.pth``. Nothing that can execute code is ever
loaded: ``np.load(allow_pickle=False)``, ``torch.load(weights_only=True)``, and safetensors (which holds no
code). A file holds one array of latents ``[N, *shape]`` (or one latent), stored as the only array or under the
key ``latents``; optional names go under ``names`` (an array of strings in ``.npz``, a list in ``.pt``, a JSON
list in the safetensors metadata). Every problem raises :class:`LatentFileError` with a message that says what
is wrong and what is accepted. Files are written atomically (:func:`write_atomically`).
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import struct
import tempfile
from dataclasses import dataclass
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


def read_limited(source, name: str, max_bytes: int) -> bytes:
    """The bytes of a path, bytes or binary file object; :class:`LatentFileError` past ``max_bytes`` or when a path
    cannot be read (``name`` appears in the message)."""
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
    raise LatentFileError(f"{name}: the {kind} holds {len(candidates)} arrays ({_some(candidates)}); store the "
                          f"latents under the key '{LATENTS_KEY}' or as its only array")


def _some(names, shown: int = 5) -> str:
    """The first ``shown`` names and how many more: messages stay short for files with thousands of entries."""
    names = [str(n)[:40] for n in names]
    rest = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {rest} more" if rest > 0 else "")


def safetensors_metadata(data: bytes) -> dict:
    """The ``__metadata__`` of a safetensors file's header (strings keyed by strings), without reading its tensors."""
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
            meta = safetensors_metadata(data).get(NAMES_KEY)
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


def check_latents(array, name: str, shape: tuple[int, ...] | None) -> torch.Tensor:
    """``array`` (numpy or torch) as float32 latents ``[N, *shape]``, or :class:`LatentFileError` when it is not
    floating point, empty or not finite, or does not fit ``shape`` (one latent, a batch, or a flat batch)."""
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


@dataclass
class LatentFile:
    """What a latent file holds: ``latents [N, *shape]`` (float32, CPU) and one name per latent, or ``None``."""

    latents: torch.Tensor
    names: list[str] | None = None


def read_latent_file(source, *, shape=None, name: str | None = None, max_bytes: int = MAX_BYTES) -> LatentFile:
    """The latents and names of a latent file, from a path, bytes or a binary file object.

    ``name`` (default: the path or the file object's ``name``) sets the format by its extension and appears in
    messages. ``shape`` checks the latent shape and accepts one latent, a batch, or a flat batch ``[N, D]``.
    """
    name = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None))
    if not name:
        raise LatentFileError(f"cannot tell the file format without a file name; accepted: {', '.join(FORMATS)}")
    name = os.path.basename(str(name))
    suffix = _suffix(name)
    array, names = _parse(read_limited(source, name, max_bytes), suffix, name)
    latents = check_latents(array, name, shape)
    if names is not None:
        if not isinstance(names, (list, tuple)) or not all(isinstance(s, str) for s in names):
            raise LatentFileError(f"{name}: '{NAMES_KEY}' must be a list of strings")
        if len(names) != latents.shape[0]:
            raise LatentFileError(f"{name}: {len(names)} names for {latents.shape[0]} latents; give one name per "
                                  "latent or none")
        names = list(names)
    return LatentFile(latents, names)


def load_latents(source, *, shape=None, name: str | None = None, max_bytes: int = MAX_BYTES) -> torch.Tensor:
    """Latents ``[N, *shape]`` (float32, CPU) of a latent file: :func:`read_latent_file` without the names."""
    return read_latent_file(source, shape=shape, name=name, max_bytes=max_bytes).latents


def latents_to_bytes(latents: torch.Tensor, names: list[str] | None = None, *, fmt: str = ".safetensors") -> bytes:
    """The bytes of a latent file of format ``fmt`` (one of :data:`FORMATS`) holding ``latents [N, *shape]`` and,
    except in ``.npy``, their ``names``."""
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


def write_atomically(path: Path, data: bytes) -> Path:
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
    return write_atomically(path, latents_to_bytes(latents, names, fmt=path.suffix.lower()))


__all__ = ["FORMATS", "MAX_BYTES", "LatentFileError", "LatentFile", "read_latent_file", "load_latents",
           "latents_to_bytes", "save_latents", "paths_to_npz", "read_limited", "check_latents", "safetensors_metadata",
           "write_atomically"]
