"""Reading and writing latent files, with validation.

Formats: ``.npy``, ``.npz``, ``.safetensors``, ``.pt`` / ``.pth``. Nothing that can execute code is ever
loaded: ``np.load(allow_pickle=False)``, ``torch.load(weights_only=True)``, and safetensors (which holds no
code). A file holds one array of latents ``[N, *shape]`` (or one latent), stored as the only array or under the
key ``latents``; optional names go under ``names`` (an array of strings in ``.npz``, a list in ``.pt``, a JSON
list in the safetensors metadata). Every problem raises :class:`LatentFileError` with a message that says what
is wrong and what is accepted. Files are written atomically (:func:`write_atomically`).

Sizes are bounded before anything is inflated, by limits the caller may pass (defaults below; a server passes
its own): the file's own size; for the zip archives (``.npz``, ``.pt``) the number of entries and each entry's
declared size; and the shape, dtype and count of the latents (and, in an ``.npz``, of their names) as the file's
headers declare them (``numpy.lib.format`` for ``.npy`` data, also inside an ``.npz``; the JSON header of a
safetensors file), so that a small file that would expand to gigabytes (a zip bomb), to latents of another shape
or to more latents than accepted is refused at once. A server also passes an
:class:`~latentcore.inflation.InflationBudget`, which bounds what all reads together inflate at once. PyTorch's
legacy ``.pt`` format is refused: torch allocates the storage sizes it declares before checking them.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
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

logger = logging.getLogger(__name__)

#: The file extensions of latent files, read and written (``.pth`` is read and written as ``.pt``).
LATENT_FORMATS = (".npy", ".npz", ".safetensors", ".pt", ".pth")
#: The key the latents are written under, and read from where a file holds other arrays besides the names.
LATENTS_KEY = "latents"
#: The key of the latents' names (an ``.npz`` array, a ``.pt`` list, a JSON list in the safetensors metadata).
NAMES_KEY = "names"
#: Bytes in a mebibyte.
MiB = 2**20
#: The default limit on a latent file's size, in bytes (256 MiB).
MAX_FILE_BYTES = 256 * MiB
#: The default limit on any one array of a latent file once decompressed, as float32, in bytes (256 MiB).
MAX_ARRAY_BYTES = 256 * MiB
#: The default limit on the entries of a zip archive (``.npz``, ``.pt``); zipfile builds an object for each on
#: opening.
MAX_ARCHIVE_ENTRIES = 16384
#: The default limit on the characters of one latent's name.
MAX_NAME_CHARS = 200
#: The limit on a safetensors header in bytes (its tensors' entries and metadata, the names among them), which is
#: parsed as JSON before any check.
MAX_HEADER_BYTES = 8 * MiB
#: The element sizes in bytes of the safetensors float types.
SAFETENSORS_FLOATS = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
#: The float types latents may have, in words (for messages).
FLOAT_DTYPES = "float16, bfloat16, float32 or float64"
#: The most an archive entry may exceed its array by, an ``.npy`` header (numpy limits it to 10 000 bytes).
NPY_HEADER_BYTES = 10_000 + 16
#: The signature of each entry in a zip's central directory.
ZIP_ENTRY = b"PK\x01\x02"


class LatentFileError(ValueError):
    """A latent file that cannot be used; the message says why and what is accepted.

    Raised by :func:`read_latent_file` and the functions that read with it, and by an
    :class:`~latentcore.inflation.InflationBudget` that cannot give a read its memory. A :class:`ValueError`, so
    callers that handle bad input catch it too.
    """


class TooManyLatents(LatentFileError):
    """A latent file holding more latents than the caller accepts (``max_latents``).

    Raised by :func:`read_latent_file`: from the file's headers, before the latents are read, where the headers
    declare the count; otherwise once they are read. A caller can tell it from other problems, e.g. to say why it
    accepts no more.
    """


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


def header_json(text: bytes | str, name: str, what: str):
    """``text`` parsed as JSON; a :class:`LatentFileError` naming ``what`` when it is not JSON or nested too deeply
    for Python's parser (a crafted header can nest thousands of levels)."""
    try:
        return json.loads(text)
    except RecursionError as err:
        raise LatentFileError(f"{name}: {what} cannot be read, as its JSON is nested too deeply (names and "
                              "settings need only a few levels)") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise LatentFileError(f"{name} is not a valid .safetensors file: {what} is not JSON (the file may be "
                              "truncated or corrupt)") from err


def safetensors_header(data: bytes, name: str = "the file", max_header_bytes: int = MAX_HEADER_BYTES) -> dict:
    """The JSON header of a safetensors file (tensor entries and ``__metadata__``), without reading its tensors:
    :class:`LatentFileError` when it is longer than the file, past ``max_header_bytes`` or not a JSON object."""
    if len(data) < 8:
        raise LatentFileError(f"{name} is not a valid .safetensors file: it is shorter than the 8 bytes that give "
                              "its header's length (truncated or corrupt)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        raise LatentFileError(f"{name} is not a valid .safetensors file: its header declares {length} bytes and the "
                              f"file holds {len(data) - 8} after it (truncated or corrupt)")
    if length > max_header_bytes:
        raise LatentFileError(f"{name}: its header (names and metadata) takes {mib(length)}; at most "
                              f"{mib(max_header_bytes)} are read")
    header = header_json(data[8: 8 + length], name, "its header")
    if not isinstance(header, dict):
        raise LatentFileError(f"{name} is not a valid .safetensors file: its header is not a JSON object")
    return header


def safetensors_metadata(data: bytes, name: str = "the file", max_header_bytes: int = MAX_HEADER_BYTES) -> dict:
    """The ``__metadata__`` of a safetensors file's header (strings keyed by strings), without reading its tensors
    (:func:`safetensors_header`)."""
    meta = safetensors_header(data, name, max_header_bytes).get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise LatentFileError(f"{name} is not a valid .safetensors file: its metadata is not a JSON object")
    return meta


def _pickled(name: str) -> LatentFileError:
    return LatentFileError(f"{name} contains pickled Python objects, which could run code when loaded and are "
                           "refused; save plain numeric arrays (numpy.save, safetensors, or torch.save of tensors)")


def _not_float(name: str, dtype) -> LatentFileError:
    return LatentFileError(f"{name} holds {str(dtype).replace('torch.', '')} values; latents must be floating point "
                           f"({FLOAT_DTYPES})")


def _layout(got: tuple[int, ...], shape) -> str | None:
    """How an array of shape ``got`` holds latents of ``shape``: ``'one'`` latent, a ``'batch'``, a ``'flat'`` batch
    ``[N, prod(shape)]``, or ``None`` when it does not fit. Without a ``shape``, a 1-d array is one latent and any
    other a batch."""
    got = tuple(got)
    if shape is None:
        return "one" if len(got) < 2 else "batch"
    shape = tuple(shape)
    if got == shape:
        return "one"
    if got[1:] == shape:
        return "batch"
    if len(got) == 2 and got[1] == math.prod(shape):
        return "flat"
    return None


def _misfit(name: str, got: tuple[int, ...], shape) -> LatentFileError:
    return LatentFileError(f"{name} holds an array of shape {tuple(got)}, which does not fit latents of shape "
                           f"({', '.join(map(str, shape))}); accepted: {accepted_shapes(shape)}")


def _empty(name: str, got: tuple[int, ...]) -> LatentFileError:
    return LatentFileError(f"{name} holds an empty or scalar array of shape {tuple(got)}; it must hold at least one "
                           "latent")


def _check_count(count: int, name: str, max_latents: int | None) -> None:
    if max_latents is not None and count > max_latents:
        raise TooManyLatents(f"{name} holds {count} latents; at most {max_latents} are accepted")


def mib(n: int) -> str:
    """``n`` bytes for a message: ``'256 MiB'``, ``'1.5 MiB'``, ``'3.1 KiB'`` below one MiB."""
    if n < MiB:
        return f"{n / 1024:.1f} KiB"
    value = n / MiB
    return f"{value:.0f} MiB" if value >= 10 or value == int(value) else f"{value:.1f} MiB"


@dataclass
class _Read:
    """One read's bounds and what it holds: ``array_bytes`` per array (as float32), ``archive_entries`` per zip
    archive, ``name_chars`` per name, at most ``max_latents`` latents of ``shape``; and the memory it reserved from a
    shared :class:`~latentcore.inflation.InflationBudget` (``budget``, or none), held until ``held`` is closed."""

    name: str
    shape: tuple[int, ...] | None
    max_latents: int | None
    array_bytes: int
    archive_entries: int
    name_chars: int
    budget: object | None
    held: contextlib.ExitStack

    def reserve(self, nbytes: int) -> None:
        """Reserve ``nbytes`` before inflating them (waiting for, or refused by, the shared budget)."""
        if self.budget is not None:
            self.held.enter_context(self.budget.reserve(nbytes, self.name))

    def check_latents(self, declared: tuple[int, ...], itemsize: int, label: str | None = None) -> int:
        """Refuse an array of latents from its declared shape and element size, before it is read: past
        ``array_bytes`` as float32, empty, not of ``shape``, or more than ``max_latents``. Returns the bytes reading
        it takes (the array, and its float32 copy when it is of another precision)."""
        label = label or self.name
        if any(d < 0 for d in declared):
            raise LatentFileError(f"{label} is not a valid file: its header declares the shape {declared}")
        count = math.prod(declared)
        size = count * max(itemsize, 4)
        if size > self.array_bytes:
            raise LatentFileError(f"{label} declares an array of shape {declared} ({mib(size)}); an array in a "
                                  f"latent file may take at most {mib(self.array_bytes)}")
        if not declared or count == 0:
            raise _empty(label, declared)
        layout = _layout(declared, self.shape)
        if layout is None:
            raise _misfit(label, declared, self.shape)
        _check_count(1 if layout == "one" else declared[0], label, self.max_latents)
        return count * (itemsize + (0 if itemsize == 4 else 4))

    def latent_count(self, declared: tuple[int, ...]) -> int:
        return 1 if _layout(declared, self.shape) == "one" else declared[0]

    def check_names(self, declared: tuple[int, ...], dtype: np.dtype, count: int, label: str) -> int:
        """Refuse an array of names from its header, before it is read: not strings, not one per latent, or wider
        than ``name_chars``. Returns the bytes reading it takes (the array and the Python strings made of it)."""
        if dtype.kind not in "US":
            raise LatentFileError(f"{label} must be an array of strings")
        given = math.prod(declared)
        if given != count:
            raise LatentFileError(f"{self.name}: {given} names for {count} latents; give one name per latent or none")
        chars = dtype.itemsize // (4 if dtype.kind == "U" else 1)
        if chars > self.name_chars:
            raise LatentFileError(f"{self.name}: its names are up to {chars} characters long; a seed name may have at "
                                  f"most {self.name_chars}")
        return given * (2 * dtype.itemsize + 64)


def _open_zip(data: bytes, suffix: str, read: _Read) -> tuple[zipfile.ZipFile, int]:
    """The zip archive of an ``.npz`` or ``.pt`` and the total its entries declare, once its directory is known to
    be small and each entry's declared size (and, for ``.pt``, their total) within ``read.array_bytes``: nothing is
    inflated yet."""
    name, most = read.name, read.archive_entries
    if data.count(ZIP_ENTRY) > most:  # an upper bound on the entries zipfile would parse, found without parsing
        raise LatentFileError(f"{name} is an archive of more than {most} entries; a latent file holds the latents "
                              "and their names")
    archive = zipfile.ZipFile(io.BytesIO(data))
    limit = read.array_bytes + NPY_HEADER_BYTES
    total = 0
    for info in archive.infolist():
        entry = info.filename.removesuffix(".npy")[:40]
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise LatentFileError(f"{name}: the entry '{entry}' is compressed with method {info.compress_type}; "
                                  f"{suffix} files are stored or deflated (numpy.savez, numpy.savez_compressed, "
                                  "torch.save)")
        if info.file_size > limit:
            raise LatentFileError(f"{name}: the entry '{entry}' would expand to {mib(info.file_size)}; an "
                                  f"array in a latent file may take at most {mib(read.array_bytes)}")
        total += info.file_size
    if suffix != ".npz" and total > limit:  # torch.load reads every entry; numpy only the ones asked for
        raise LatentFileError(f"{name} would expand to {mib(total)}; a latent file may hold at most "
                              f"{mib(read.array_bytes)}")
    return archive, total


def _npy_header(stream, label: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an ``.npy`` stream's header declares, read without its data."""
    version = np.lib.format.read_magic(stream)
    reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
    if reader is None:
        raise LatentFileError(f"{label} is not a valid .npy file for latents: its header says format version "
                              f"{version[0]}.{version[1]}; numpy.save writes arrays of numbers as 1.0 or 2.0")
    declared, _, dtype = reader(stream)
    if dtype.hasobject:
        raise _pickled(label)
    return tuple(declared), dtype


def _check_held(declared: tuple[int, ...], dtype: np.dtype, held: int, label: str) -> None:
    """Refuse an ``.npy`` stream that holds fewer than the ``held`` bytes of data its header declares."""
    missing = math.prod(declared) * dtype.itemsize - held
    if missing > 0:
        raise LatentFileError(f"{label} is not a valid .npy file: it is truncated ({missing} bytes of the array of "
                              f"shape {declared} its header declares are missing)")


def _read_npy(data: bytes, read: _Read):
    """(array, None) of an ``.npy`` file, read only after its header passes :meth:`_Read.check_latents`."""
    stream = io.BytesIO(data)
    declared, dtype = _npy_header(stream, read.name)
    if dtype.kind != "f":
        raise _not_float(read.name, dtype)
    need = read.check_latents(declared, dtype.itemsize)
    _check_held(declared, dtype, len(data) - stream.tell(), read.name)
    read.reserve(need)
    stream.seek(0)
    return np.lib.format.read_array(stream, allow_pickle=False), None


def _read_npz(data: bytes, read: _Read):
    """(latents array, names or None) of an ``.npz``: only the entries of the latents and their names are
    inflated, once both headers pass (:meth:`_Read.check_latents`, :meth:`_Read.check_names`) and their memory is
    reserved."""
    archive, _ = _open_zip(data, ".npz", read)
    entries = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
    key = _pick(list(entries), read.name, ".npz archive")
    with archive.open(entries[key]) as stream:
        declared, dtype = _npy_header(stream, read.name)
        start = stream.tell()
    if dtype.kind != "f":
        raise _not_float(read.name, dtype)
    need = read.check_latents(declared, dtype.itemsize)
    _check_held(declared, dtype, entries[key].file_size - start, read.name)
    named = entries.get(NAMES_KEY)
    if named is not None:
        label = f"{read.name}: '{NAMES_KEY}'"
        with archive.open(named) as stream:
            names_declared, names_dtype = _npy_header(stream, label)
            start = stream.tell()
        need += read.check_names(names_declared, names_dtype, read.latent_count(declared), label)
        _check_held(names_declared, names_dtype, named.file_size - start, label)
    read.reserve(need)
    with archive.open(entries[key]) as stream:
        latents = np.lib.format.read_array(stream, allow_pickle=False)
    if named is None:
        return latents, None
    with archive.open(named) as stream:
        names = np.lib.format.read_array(stream, allow_pickle=False)
    return latents, [str(s) for s in names.reshape(-1)]


def _read_safetensors(data: bytes, read: _Read):
    """(latents tensor, names or None) of a ``.safetensors`` file, loaded after its header passes: the tensors are
    not compressed, so they take no more than the file, but their shape and count are checked first all the same."""
    header = safetensors_header(data, read.name)
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    key = _pick(list(tensors), read.name, "safetensors file")
    entry = tensors[key]
    itemsize = SAFETENSORS_FLOATS.get(entry.get("dtype")) if isinstance(entry, dict) else None
    need = len(data)
    if itemsize is not None and isinstance(entry.get("shape"), list):  # other types are refused once loaded
        need += read.check_latents(tuple(int(d) for d in entry["shape"]), itemsize)
    meta = header.get("__metadata__") or {}
    names = meta.get(NAMES_KEY) if isinstance(meta, dict) else None
    names = header_json(names, read.name, "its names") if names else None
    read.reserve(need)
    return safetensors.torch.load(data)[key], names


def _read_pt(data: bytes, read: _Read):
    """(latents tensor, names or None) of a ``.pt`` file in torch's zip format, loaded with ``weights_only`` once
    its entries' sizes pass. The legacy format (before PyTorch 1.6) is refused: its pickle declares storage sizes
    that torch allocates before it finds the file does not hold them."""
    if not data.startswith(b"PK"):
        raise LatentFileError(f"{read.name} is not a .pt file that can be read safely: it is in PyTorch's legacy "
                              "format (PyTorch before 1.6, or _use_new_zipfile_serialization=False), or not a .pt "
                              "file at all; save it again with torch.save in PyTorch 1.6 or later, or as .safetensors")
    _, total = _open_zip(data, read.name.rsplit(".", 1)[-1], read)
    read.reserve(2 * total)  # the entries, and the float32 copy of a tensor of lower precision
    obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    names = None
    if isinstance(obj, dict):
        names = obj.get(NAMES_KEY)
        obj = obj[_pick(list(obj), read.name, ".pt dictionary")]
    if not isinstance(obj, torch.Tensor):
        raise LatentFileError(f"{read.name} holds a {type(obj).__name__}, not a tensor; save a tensor [N, *shape] "
                              f"or a dict with the tensor under '{LATENTS_KEY}'")
    return obj, names


_READERS = {".npy": _read_npy, ".npz": _read_npz, ".safetensors": _read_safetensors, ".pt": _read_pt,
            ".pth": _read_pt}


def _parse(data: bytes, suffix: str, read: _Read):
    """(array or tensor, names or None) from the file's bytes. What the file's maker wrote in an error (a library's
    message, a size the file declares) goes to the log, not into the message, which says what is wrong in words."""
    name = read.name
    if not data:
        raise LatentFileError(f"{name} is empty (0 bytes); a latent file holds at least one latent")
    # numpy reads anything without its own header as a pickle; tell corrupt files from pickled ones first
    magic = {".npy": b"\x93NUMPY", ".npz": b"PK"}.get(suffix)
    if magic is not None and not data.startswith(magic):
        raise LatentFileError(f"{name} is not a valid {suffix} file: it does not start with the {suffix} header "
                              "(it may be another format renamed, truncated or corrupt)")
    try:
        return _READERS[suffix](data, read)
    except LatentFileError:
        raise
    except Exception as err:  # corrupt or truncated files raise many kinds of errors
        text = str(err)
        if isinstance(err, pickle.UnpicklingError) and ("Unsupported global" in text or "Unsupported class" in text):
            raise _pickled(name) from err
        if isinstance(err, ValueError) and "pickle" in text.lower():
            raise _pickled(name) from err
        logger.warning("latent file %s refused: %s: %s", name[:200], type(err).__name__, text[:1000])
        why = ("it declares more data than it holds (truncated or crafted)"
               if isinstance(err, RuntimeError) and "size" in text else "it may be truncated or corrupt")
        raise LatentFileError(f"{name} is not a valid {suffix} file: {why}") from err


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
    got = tuple(tensor.shape)
    if tensor.dim() == 0 or tensor.numel() == 0:
        raise _empty(name, got)
    bad = count_nonfinite(tensor)
    if bad:
        raise LatentFileError(f"{name} contains {bad} NaN or infinite value{'s' if bad > 1 else ''}; every element "
                              "of a latent must be finite")
    layout = _layout(got, shape)
    if layout is None:
        raise _misfit(name, got, shape)
    if layout == "one":
        return tensor[None]
    return tensor.reshape(got[0], *shape) if layout == "flat" else tensor


def accepted_shapes(shape) -> str:
    """The array shapes a latent file may hold for latents of ``shape``, in words: one latent, a batch and, for
    latents of more than one dimension, a flat batch."""
    dims = ", ".join(map(str, shape))
    if len(shape) == 1:  # a batch of 1-d latents is already flat
        return f"one latent ({dims}) or a batch (N, {dims})"
    return f"one latent ({dims}), a batch (N, {dims}), or a flat batch (N, {math.prod(shape)})"


@dataclass
class LatentFile:
    """What a latent file holds: ``latents [N, *shape]`` (float32, CPU) and one name per latent, or ``None``.

    Attributes
    ----------
    latents : Tensor ``[N, *shape]``
        The latents, float32 on the CPU (one latent in the file comes as ``N = 1``).
    names : list of str or None
        One name per latent, in order; None when the file holds none.
    """

    latents: torch.Tensor
    names: list[str] | None = None


def read_latent_file(source, *, shape=None, name: str | None = None, max_bytes: int = MAX_FILE_BYTES,
                     max_latents: int | None = None, max_array_bytes: int = MAX_ARRAY_BYTES,
                     max_archive_entries: int = MAX_ARCHIVE_ENTRIES, max_name_chars: int = MAX_NAME_CHARS,
                     budget=None) -> LatentFile:
    """The latents and names of a latent file, from a path, bytes or a binary file object.

    The shape, count and size of the latents (and of their names in an ``.npz``) are checked from the file's
    headers before anything is inflated, and what reading takes is reserved from ``budget`` until the latents are
    returned.

    Parameters
    ----------
    source
        The file: a path (``str`` or ``os.PathLike``), its bytes, or a binary file object (read with ``read``, up
        to ``max_bytes + 1`` bytes).
    shape
        The latent shape (a sequence of ints), checked; a file may then hold one latent ``shape``, a batch
        ``[N, *shape]`` or a flat batch ``[N, D]`` (``D`` the product of ``shape``). Default None: any shape, a 1-d
        array being one latent and any other a batch.
    name
        Sets the format by its extension and appears in messages; default the path or the file object's ``name``
        (required for bytes).
    max_bytes
        The most bytes the file may have. Default :data:`MAX_FILE_BYTES`.
    max_latents
        The most latents the file may hold; default None: no bound.
    max_array_bytes
        The most bytes any one array may take as float32 once inflated. Default :data:`MAX_ARRAY_BYTES`.
    max_archive_entries
        The most entries of a zip archive (``.npz``, ``.pt``). Default :data:`MAX_ARCHIVE_ENTRIES`.
    max_name_chars
        The most characters of each name. Default :data:`MAX_NAME_CHARS`.
    budget : ~latentcore.inflation.InflationBudget or None
        Shared by every read of a server; default None: nothing is reserved.

    Returns
    -------
    :class:`LatentFile`
        The latents ``[N, *shape]`` as float32 on the CPU and their names, if any.

    Raises
    ------
    LatentFileError
        When the file cannot be used (the message says why and what is accepted): an unknown extension or no name,
        too large, corrupt or truncated, pickled objects or PyTorch's legacy ``.pt`` format, not floating point,
        empty, not finite, not of ``shape``, names that are not one string per latent or too long, or
        ``budget`` memory that does not come free in time.
    TooManyLatents
        When the file holds more than ``max_latents`` latents.
    TypeError
        When ``source`` is not a path, bytes or a binary file object.
    """
    name = name or (os.fspath(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None))
    if not name:
        raise LatentFileError("cannot tell the file format without a file name; accepted: "
                              f"{', '.join(LATENT_FORMATS)}")
    name = os.path.basename(str(name))
    suffix = _suffix(name)
    data = read_limited(source, name, max_bytes)
    with contextlib.ExitStack() as held:
        read = _Read(name, None if shape is None else tuple(shape), max_latents, max_array_bytes,
                     max_archive_entries, max_name_chars, budget, held)
        array, names = _parse(data, suffix, read)
        del data  # the bytes of a large file need not outlive its parse
        latents = as_file_latents(array, name, shape)
        del array
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
    options) without the names.

    Parameters
    ----------
    source
        The file (a path, bytes or a binary file object), as :func:`read_latent_file` takes it.
    **options
        ``shape``, ``name`` and the limits of :func:`read_latent_file`.

    Returns
    -------
    latents : Tensor ``[N, *shape]``
        The latents, float32 on the CPU.

    Raises
    ------
    LatentFileError
        As :func:`read_latent_file` raises it (:class:`TooManyLatents` included).
    """
    return read_latent_file(source, **options).latents


def latents_to_bytes(latents: torch.Tensor, names: list[str] | None = None, *, fmt: str = ".safetensors") -> bytes:
    """The bytes of a latent file of format ``fmt`` (one of :data:`LATENT_FORMATS`) holding ``latents [N, *shape]``
    and, except in ``.npy``, their ``names``.

    The latents are written as float32 under :data:`LATENTS_KEY` (an ``.npy`` holds them alone), the names under
    :data:`NAMES_KEY`; :func:`read_latent_file` reads them back.

    Parameters
    ----------
    latents : Tensor ``[N, *shape]``
        The latents, of any float dtype and device (written as float32).
    names
        One name per latent; default None: no names. Not written to an ``.npy``.
    fmt
        The format, one of :data:`LATENT_FORMATS`, with or without its dot. Default ``.safetensors``.

    Returns
    -------
    bytes
        The file's contents.

    Raises
    ------
    LatentFileError
        When ``fmt`` is not a latent file format.
    ValueError
        When ``names`` does not give one name per latent.
    """
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
    """Write latents to ``path`` (format from its extension) atomically: a crash leaves any old file intact.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write, its extension one of :data:`LATENT_FORMATS`; its folder is created if missing, and an
        existing file is replaced.
    latents : Tensor ``[N, *shape]``
        The latents, written as float32.
    names
        One name per latent (not written to an ``.npy``); default None: no names.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    LatentFileError
        When the extension is not a latent file format.
    ValueError
        When ``names`` does not give one name per latent.
    """
    path = Path(path)
    return write_atomically(path, latents_to_bytes(latents, names, fmt=path.suffix.lower()))


__all__ = ["LATENT_FORMATS", "MAX_FILE_BYTES", "MAX_ARRAY_BYTES", "MAX_ARCHIVE_ENTRIES", "MAX_NAME_CHARS", "mib",
           "LatentFileError", "TooManyLatents", "LatentFile", "read_latent_file",
           "load_latents", "latents_to_bytes", "save_latents", "paths_to_npz", "read_limited", "as_file_latents",
           "safetensors_metadata", "write_atomically"]
