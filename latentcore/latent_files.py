"""Reading and writing latent files, with validation.

Formats: ``.npy``, ``.npz``, ``.safetensors``, ``.pt`` / ``.pth``. Nothing that can execute code is ever
loaded: ``np.load(allow_pickle=False)``, ``torch.load(weights_only=True)``, and safetensors (which holds no
code). A file holds one array of latents ``[N, *shape]`` (or one latent), stored as the only array or under the
key ``latents``; optional names go under ``names`` (an array of strings in ``.npz``, a list in ``.pt``, a JSON
list in the safetensors metadata). Every problem raises :class:`LatentFileError` with a message that says what
is wrong and what is accepted. Files are written atomically (:func:`write_atomically`).

Sizes are bounded before anything is inflated, by limits the caller may pass (defaults below; a server passes
its own): the file's own size; for the zip archives (``.npz``, ``.pt``) the number of entries and each entry's
declared size; for ``.npy`` data, also inside an ``.npz``, the shape and dtype its header declares, read with
``numpy.lib.format`` before the data, so that a small file that would expand to gigabytes (a zip bomb) or to more
latents than accepted is refused at once.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from .validation import count_nonfinite, some_of

LATENT_FORMATS = (".npy", ".npz", ".safetensors", ".pt", ".pth")
LATENTS_KEY = "latents"
NAMES_KEY = "names"
MiB = 2**20
# Default limits of one latent file: its size, and any one array in it once decompressed (as float32).
MAX_FILE_BYTES = 256 * MiB
MAX_ARRAY_BYTES = 256 * MiB
MAX_ARCHIVE_ENTRIES = 16384  # entries of a zip archive (.npz, .pt): zipfile builds an object for each on opening
MAX_NAME_CHARS = 200  # characters of one latent's name
FLOAT_DTYPES = "float16, bfloat16, float32 or float64"
# An .npy header is at most 10 000 bytes (numpy's own limit); an archive entry may exceed its array by that much.
NPY_HEADER_BYTES = 10_000 + 16
ZIP_ENTRY = b"PK\x01\x02"  # the signature of each entry in a zip's central directory


class LatentFileError(ValueError):
    """A latent file that cannot be used; the message says why and what is accepted."""


class TooManyLatents(LatentFileError):
    """A latent file holding more latents than the caller accepts (``max_latents``)."""


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in LATENT_FORMATS:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise LatentFileError(f"{name}: {shown} is not a latent file format; accepted: "
                              f"{', '.join(LATENT_FORMATS)}")
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


def _pick(keys, name: str, kind: str) -> str:
    """The key of the latents in a multi-array container: ``latents``, or the only key besides ``names``."""
    if LATENTS_KEY in keys:
        return LATENTS_KEY
    candidates = [k for k in keys if k != NAMES_KEY]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise LatentFileError(f"{name}: the {kind} holds no array; store the latents as its only array or under "
                              f"the key '{LATENTS_KEY}'")
    raise LatentFileError(f"{name}: the {kind} holds {len(candidates)} arrays ({some_of(candidates)}); store the "
                          f"latents under the key '{LATENTS_KEY}' or as its only array")


def safetensors_metadata(data: bytes) -> dict:
    """The ``__metadata__`` of a safetensors file's header (strings keyed by strings), without reading its tensors."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8: 8 + length])
    return header.get("__metadata__") or {}


def _pickled(name: str) -> LatentFileError:
    return LatentFileError(f"{name} contains pickled Python objects, which could run code when loaded and are "
                           "refused; save plain numeric arrays (numpy.save, safetensors, or torch.save of tensors)")


def _not_float(name: str, dtype) -> LatentFileError:
    return LatentFileError(f"{name} holds {str(dtype).replace('torch.', '')} values; latents must be floating point "
                           f"({FLOAT_DTYPES})")


def _latent_count(declared: tuple[int, ...], shape) -> int:
    """How many latents an array of shape ``declared`` holds, by the rule of :func:`as_file_latents`."""
    if (shape is not None and tuple(declared) == tuple(shape)) or len(declared) < 2:
        return 1
    return declared[0]


def _check_count(count: int, name: str, max_latents: int | None) -> None:
    if max_latents is not None and count > max_latents:
        raise TooManyLatents(f"{name} holds {count} latents; at most {max_latents} are accepted")


def mib(n: int) -> str:
    """``n`` bytes for a message: ``'256 MiB'``, ``'1.5 MiB'``, ``'3.1 KiB'`` below one MiB."""
    if n < MiB:
        return f"{n / 1024:.1f} KiB"
    value = n / MiB
    return f"{value:.0f} MiB" if value >= 10 or value == int(value) else f"{value:.1f} MiB"


@dataclass(frozen=True)
class _Bounds:
    """What one read may inflate: ``array_bytes`` per array (as float32), ``archive_entries`` per zip archive."""

    array_bytes: int
    archive_entries: int


def _open_zip(data: bytes, name: str, suffix: str, bounds: _Bounds) -> zipfile.ZipFile:
    """The zip archive of an ``.npz`` or ``.pt`` once its directory is known to be small and each entry's declared
    size, and their total, within ``bounds.array_bytes``: nothing is inflated yet."""
    most = bounds.archive_entries
    if data.count(ZIP_ENTRY) > most:  # an upper bound on the entries zipfile would parse, found without parsing
        raise LatentFileError(f"{name} is an archive of more than {most} entries; a latent file holds the latents "
                              "and their names")
    archive = zipfile.ZipFile(io.BytesIO(data))
    limit = bounds.array_bytes + NPY_HEADER_BYTES
    total = 0
    for info in archive.infolist():
        entry = info.filename.removesuffix(".npy")[:40]
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise LatentFileError(f"{name}: the entry '{entry}' is compressed with method {info.compress_type}; "
                                  f"{suffix} files are stored or deflated (numpy.savez, numpy.savez_compressed, "
                                  "torch.save)")
        if info.file_size > limit:
            raise LatentFileError(f"{name}: the entry '{entry}' would expand to {mib(info.file_size)}; an "
                                  f"array in a latent file may take at most {mib(bounds.array_bytes)}")
        total += info.file_size
    if suffix != ".npz" and total > limit:  # torch.load reads every entry; numpy only the ones asked for
        raise LatentFileError(f"{name} would expand to {mib(total)}; a latent file may hold at most "
                              f"{mib(bounds.array_bytes)}")
    return archive


def _read_npy(stream, name: str, shape, max_latents: int | None, bounds: _Bounds, names: bool = False) -> np.ndarray:
    """The array of an ``.npy`` stream (a file's bytes, or an entry of an ``.npz``), read only after the shape and
    dtype in its header pass: floating point (strings for ``names``), at most ``bounds.array_bytes`` as float32, at
    most ``max_latents`` latents."""
    version = np.lib.format.read_magic(stream)
    reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if reader is None:
        raise LatentFileError(f"{name} is not a valid .npy file for latents: its header says format version "
                              f"{version[0]}.{version[1]}; numpy.save writes arrays of numbers as 1.0 or 2.0")
    declared, _, dtype = reader(stream)
    declared = tuple(declared)
    if dtype.hasobject:
        raise _pickled(name)
    if names != (dtype.kind in "US"):
        if names:
            raise LatentFileError(f"{name}: '{NAMES_KEY}' must be an array of strings")
        raise _not_float(name, dtype)
    if any(d < 0 for d in declared):
        raise LatentFileError(f"{name} is not a valid .npy file: its header declares the shape {declared}")
    size = math.prod(declared) * max(dtype.itemsize, 1 if names else 4)
    if size > bounds.array_bytes:
        raise LatentFileError(f"{name} declares an array of shape {declared} ({mib(size)}); an array in a "
                              f"latent file may take at most {mib(bounds.array_bytes)}")
    if not names:
        _check_count(_latent_count(declared, shape), name, max_latents)
    stream.seek(0)
    return np.lib.format.read_array(stream, allow_pickle=False)


def _read_npz(data: bytes, name: str, shape, max_latents: int | None, bounds: _Bounds):
    """(latents array, names or None) of an ``.npz``: only the entries of the latents and their names are
    inflated, each after its header passes (:func:`_read_npy`)."""
    archive = _open_zip(data, name, ".npz", bounds)
    entries = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    key = _pick(list(entries), name, ".npz archive")
    with archive.open(entries[key]) as stream:
        latents = _read_npy(stream, name, shape, max_latents, bounds)
    if NAMES_KEY not in entries:
        return latents, None
    with archive.open(entries[NAMES_KEY]) as stream:
        names = _read_npy(stream, f"{name}: '{NAMES_KEY}'", None, None, bounds, names=True)
    return latents, [str(s) for s in names.reshape(-1)]


def _parse(data: bytes, suffix: str, name: str, shape, max_latents: int | None, bounds: _Bounds):
    """(array or tensor, names or None) from the file's bytes."""
    # numpy reads anything without its own header as a pickle; tell corrupt files from pickled ones first
    magic = {".npy": b"\x93NUMPY", ".npz": b"PK"}.get(suffix)
    if magic is not None and not data.startswith(magic):
        raise LatentFileError(f"{name} is not a valid {suffix} file: it does not start with the {suffix} header "
                              "(it may be another format renamed, truncated or corrupt)")
    try:
        if suffix == ".npy":
            return _read_npy(io.BytesIO(data), name, shape, max_latents, bounds), None
        if suffix == ".npz":
            return _read_npz(data, name, shape, max_latents, bounds)
        if suffix == ".safetensors":
            tensors = safetensors.torch.load(data)  # not compressed: no larger than the file
            meta = safetensors_metadata(data).get(NAMES_KEY)
            names = json.loads(meta) if meta else None
            return tensors[_pick(list(tensors), name, "safetensors file")], names
        if data.startswith(b"PK"):  # torch.save's zip format; entries may be deflated
            _open_zip(data, name, suffix, bounds)
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        names = None
        if isinstance(obj, dict):
            names = obj.get(NAMES_KEY)
            obj = obj[_pick(list(obj), name, ".pt dictionary")]
        if not isinstance(obj, torch.Tensor):
            raise LatentFileError(f"{name} holds a {type(obj).__name__}, not a tensor; save a tensor [N, *shape] "
                                  f"or a dict with the tensor under '{LATENTS_KEY}'")
        return obj, names
    except LatentFileError:
        raise
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err) or "Unsupported class" in str(err):
            raise _pickled(name) from err
        raise LatentFileError(f"{name} is not a valid {suffix} file: it may be truncated or corrupt") from err
    except ValueError as err:
        if "allow_pickle" in str(err) or "pickle" in str(err).lower():
            raise _pickled(name) from err
        raise LatentFileError(f"{name} is not a valid {suffix} file ({err})") from err
    except Exception as err:  # corrupt or truncated files raise many kinds of errors
        raise LatentFileError(f"{name} is not a valid {suffix} file: it may be truncated or corrupt "
                              f"({type(err).__name__}: {err})") from err


def as_file_latents(array, name: str, shape: tuple[int, ...] | None) -> torch.Tensor:
    """``array`` (numpy or torch) as float32 latents ``[N, *shape]``, or :class:`LatentFileError` when it is not
    floating point, empty or not finite, or does not fit ``shape`` (one latent, a batch, or a flat batch)."""
    if isinstance(array, np.ndarray):
        if array.dtype.kind != "f":
            raise _not_float(name, array.dtype)
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    else:
        tensor = array
        if not tensor.is_floating_point():
            raise _not_float(name, tensor.dtype)
    tensor = tensor.detach().to(torch.float32)
    if tensor.dim() == 0 or tensor.numel() == 0:
        raise LatentFileError(f"{name} holds an empty or scalar array of shape {tuple(tensor.shape)}; it must hold "
                              "at least one latent")
    bad = count_nonfinite(tensor)
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
    raise LatentFileError(f"{name} holds an array of shape {got}, which does not fit latents of shape "
                          f"({', '.join(map(str, shape))}); accepted: {accepted_shapes(shape)}")


def accepted_shapes(shape) -> str:
    """The array shapes a latent file may hold for latents of ``shape``, in words: one latent, a batch and, for
    latents of more than one dimension, a flat batch."""
    dims = ", ".join(map(str, shape))
    if len(shape) == 1:  # a batch of 1-d latents is already flat
        return f"one latent ({dims}) or a batch (N, {dims})"
    return f"one latent ({dims}), a batch (N, {dims}), or a flat batch (N, {math.prod(shape)})"


@dataclass
class LatentFile:
    """What a latent file holds: ``latents [N, *shape]`` (float32, CPU) and one name per latent, or ``None``."""

    latents: torch.Tensor
    names: list[str] | None = None


def read_latent_file(source, *, shape=None, name: str | None = None, max_bytes: int = MAX_FILE_BYTES,
                     max_latents: int | None = None, max_array_bytes: int = MAX_ARRAY_BYTES,
                     max_archive_entries: int = MAX_ARCHIVE_ENTRIES, max_name_chars: int = MAX_NAME_CHARS
                     ) -> LatentFile:
    """The latents and names of a latent file, from a path, bytes or a binary file object.

    ``name`` (default: the path or the file object's ``name``) sets the format by its extension and appears in
    messages. ``shape`` checks the latent shape and accepts one latent, a batch, or a flat batch ``[N, D]``.
    ``max_bytes`` (default :data:`MAX_FILE_BYTES`) bounds the file, ``max_latents`` (default: no bound) the
    latents it may hold, ``max_array_bytes`` (default :data:`MAX_ARRAY_BYTES`) any one array as float32 once
    inflated, ``max_archive_entries`` (default :data:`MAX_ARCHIVE_ENTRIES`) the entries of a zip archive; ``.npy``
    data, also in an ``.npz``, is checked from its header, before it is read. Names are at most
    ``max_name_chars`` (default :data:`MAX_NAME_CHARS`) characters each.
    """
    name = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None))
    if not name:
        raise LatentFileError("cannot tell the file format without a file name; accepted: "
                              f"{', '.join(LATENT_FORMATS)}")
    name = os.path.basename(str(name))
    suffix = _suffix(name)
    data = read_limited(source, name, max_bytes)
    array, names = _parse(data, suffix, name, shape, max_latents, _Bounds(max_array_bytes, max_archive_entries))
    del data  # the bytes of a large file need not outlive its parse
    latents = as_file_latents(array, name, shape)
    _check_count(len(latents), name, max_latents)
    if names is not None:
        if not isinstance(names, (list, tuple)) or not all(isinstance(s, str) for s in names):
            raise LatentFileError(f"{name}: '{NAMES_KEY}' must be a list of strings")
        if len(names) != latents.shape[0]:
            raise LatentFileError(f"{name}: {len(names)} names for {latents.shape[0]} latents; give one name per "
                                  "latent or none")
        long = [s for s in names if len(s) > max_name_chars]
        if long:
            raise LatentFileError(f"{name}: {len(long)} name{'s are' if len(long) > 1 else ' is'} longer than "
                                  f"{max_name_chars} characters, the most a seed name may have")
        names = list(names)
    return LatentFile(latents, names)


def load_latents(source, **options) -> torch.Tensor:
    """Latents ``[N, *shape]`` (float32, CPU) of a latent file: :func:`read_latent_file` (the same keyword
    options) without the names."""
    return read_latent_file(source, **options).latents


def latents_to_bytes(latents: torch.Tensor, names: list[str] | None = None, *, fmt: str = ".safetensors") -> bytes:
    """The bytes of a latent file of format ``fmt`` (one of :data:`LATENT_FORMATS`) holding ``latents [N, *shape]``
    and, except in ``.npy``, their ``names``."""
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


__all__ = ["LATENT_FORMATS", "MAX_FILE_BYTES", "MAX_ARRAY_BYTES", "MAX_ARCHIVE_ENTRIES", "MAX_NAME_CHARS", "mib",
           "LatentFileError", "TooManyLatents", "LatentFile", "read_latent_file",
           "load_latents", "latents_to_bytes", "save_latents", "paths_to_npz", "read_limited", "as_file_latents",
           "safetensors_metadata", "write_atomically"]
