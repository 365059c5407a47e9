"""Hostile files, generated in memory: zip bombs, arrays whose headers declare more (or another shape) than a
model takes, names that outweigh their latents, ``.pt`` files whose pickle lies about its storage, and JSON nested
past Python's parser. Used by the tests and by ``bench.server.hostile``; each stays small on disk (kilobytes to a
few megabytes) however much it declares."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
import safetensors.torch
import torch


def npy_header(shape, dtype: str = "<f4") -> bytes:
    """The header of an ``.npy`` file declaring ``shape`` and ``dtype``: what numpy.save writes before the data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buffer.getvalue()


def deflated_zeros(header: bytes, mib: int) -> bytes:
    """A raw deflate stream of ``header`` and ``mib`` MiB of zeros, built from one compressed MiB repeated: a few
    KiB that inflate to ``mib`` MiB, the way a zip bomb is made."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(header) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(b"\0" * 2**20) + packer.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every MiB
    return head + block * mib + packer.flush()


def archive(*entries: tuple) -> bytes:
    """A zip archive of entries ``(name, raw deflate stream, declared size[, checksum])``; the checksum is zero
    unless given, so a reader that inflated a bomb to the end would fail only after the damage."""
    local, central = b"", b""
    for entry, deflated, size, *crc in entries:
        crc = crc[0] if crc else 0
        name = entry.encode()
        offset = len(local)
        local += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(deflated), size, len(name), 0)
        local += name + deflated
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(deflated), size,
                               len(name), 0, 0, 0, 0, 0, offset) + name
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(local), 0)
    return local + central + end


def npz_bomb(shape, mib: int | None = None) -> bytes:
    """An ``.npz`` whose one entry ``latents`` declares a float32 array of ``shape`` and inflates to ``mib`` MiB of
    zeros (default: all of it), declared at its full size."""
    header = npy_header(shape)
    size = int(np.prod(shape)) * 4
    mib = size // 2**20 if mib is None else mib
    return archive(("latents.npy", deflated_zeros(header, mib), len(header) + size))


def wrong_shape_npz() -> bytes:
    """The reported case: a 250 KB ``.npz`` holding one (1, 64 000 000) float32 latent (256 MB, inside the
    per-array limit), which fits no built-in model."""
    return npz_bomb((1, 64_000_000), 244)


def names_bomb_npz() -> bytes:
    """The reported combined case: the wrong-shape latent of :func:`wrong_shape_npz` beside 320 000 names 200
    characters wide (256 MB), 500 KB on disk."""
    latent, names = npy_header((1, 64_000_000)), npy_header((320_000,), "<U200")
    return archive(("latents.npy", deflated_zeros(latent, 244), len(latent) + 256_000_000),
                   ("names.npy", deflated_zeros(names, 244), len(names) + 256_000_000))


def legacy_pt(latents: torch.Tensor) -> bytes:
    """``latents`` saved by torch.save in PyTorch's legacy (pre-1.6, non-zip) format."""
    buffer = io.BytesIO()
    torch.save({"latents": latents}, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def lying_pt(declared_bytes: int = 100 * 10**9) -> bytes:
    """A ``.pt`` in torch's zip format holding two 16-element latents, whose pickle declares a storage of
    ``declared_bytes`` float32 bytes for the 128 bytes it holds."""
    buffer = io.BytesIO()
    torch.save({"latents": torch.zeros(2, 16)}, buffer)
    source, crafted = zipfile.ZipFile(buffer), io.BytesIO()
    with zipfile.ZipFile(crafted, "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("data.pkl"):  # BININT1 32 (elements) -> LONG1 of 8 bytes
                data = data.replace(b"K\x20t", b"\x8a\x08" + (declared_bytes // 4).to_bytes(8, "little") + b"t")
                assert data != source.read(info.filename), "torch.save wrote an unexpected pickle"
            out.writestr(info, data)
    return crafted.getvalue()


def nested_names_safetensors(depth: int = 100_000) -> bytes:
    """A latent file whose names metadata is a JSON list nested ``depth`` levels deep."""
    return safetensors.torch.save({"latents": torch.zeros(2, 16)}, metadata={"names": "[" * depth + "]" * depth})


__all__ = ["npy_header", "deflated_zeros", "archive", "npz_bomb", "wrong_shape_npz", "names_bomb_npz", "legacy_pt",
           "lying_pt", "nested_names_safetensors"]
