"""Latent files: round trips, every kind of bad file, and no code execution."""

import io
import os
import pickle

import numpy as np
import pytest
import torch

import latentcore as lc
from tools import crafted


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("fmt", lc.LATENT_FORMATS)
def test_round_trip(tmp_path, fmt):
    latents = torch.randn(3, 1, 4, 4)
    names = ["a", "b", "ç"]
    path = lc.save_latents(tmp_path / f"seeds{fmt}", latents, names=None if fmt == ".npy" else names)
    loaded = lc.read_latent_file(path, shape=(1, 4, 4))
    assert torch.equal(loaded.latents, latents)
    assert loaded.names == (None if fmt == ".npy" else names)
    assert torch.equal(lc.load_latents(path), latents)  # the tensor alone
    from_bytes = lc.load_latents(path.read_bytes(), name=f"upload{fmt}")
    assert torch.equal(from_bytes, latents)
    with open(path, "rb") as handle:
        assert torch.equal(lc.load_latents(handle), latents)


def test_accepted_shapes(tmp_path):
    one = tmp_path / "one.npy"
    np.save(one, np.zeros((1, 4, 4), dtype=np.float64))
    assert lc.load_latents(one, shape=(1, 4, 4)).shape == (1, 1, 4, 4)
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((5, 16), dtype=np.float16))
    out = lc.load_latents(flat, shape=(1, 4, 4))
    assert out.shape == (5, 1, 4, 4) and out.dtype == torch.float32


def _bad(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.mark.parametrize("case, pattern", [
    ("shape", "does not fit latents of shape"),
    ("nan", "NaN or infinite"),
    ("inf", "NaN or infinite"),
    ("int", "floating point"),
    ("bool-pt", "floating point"),
    ("extension", "not a latent file format"),
    ("corrupt-npy", "not a valid .npy"),
    ("garbage-npy", "not a valid .npy"),
    ("garbage-npz", "not a valid .npz"),
    ("corrupt-npz", "not a valid .npz"),
    ("corrupt-safetensors", "not a valid .safetensors"),
    ("corrupt-pt", "legacy format"),
    ("truncated-npy", "not a valid .npy"),
    ("empty", "at least one latent"),
    ("several-arrays", "holds 2 arrays"),
    ("not-a-tensor", "not a tensor"),
])
def test_bad_files_raise_latent_file_error(tmp_path, case, pattern):
    good = _npy(np.zeros((2, 16), dtype=np.float32))
    path = {
        "shape": lambda: _bad(tmp_path, "x.npy", _npy(np.zeros((2, 15), dtype=np.float32))),
        "nan": lambda: _bad(tmp_path, "x.npy", _npy(np.array([[np.nan] * 16], dtype=np.float32))),
        "inf": lambda: _bad(tmp_path, "x.npy", _npy(np.array([[np.inf] * 16]))),
        "int": lambda: _bad(tmp_path, "x.npy", _npy(np.zeros((2, 16), dtype=np.int64))),
        "bool-pt": lambda: (torch.save(torch.zeros(2, 16, dtype=torch.bool), tmp_path / "x.pt"), tmp_path / "x.pt")[1],
        "extension": lambda: _bad(tmp_path, "x.png", good),
        "corrupt-npy": lambda: _bad(tmp_path, "x.npy", b"\x93NUMPY garbage"),
        "garbage-npy": lambda: _bad(tmp_path, "x.npy", b"not numpy at all"),
        "garbage-npz": lambda: _bad(tmp_path, "x.npz", b"not a zip archive"),
        "corrupt-npz": lambda: _bad(tmp_path, "x.npz", b"PK\x03\x04 garbage"),
        "corrupt-safetensors": lambda: _bad(tmp_path, "x.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json"),
        "corrupt-pt": lambda: _bad(tmp_path, "x.pt", b"not a zip file at all"),
        "truncated-npy": lambda: _bad(tmp_path, "x.npy", good[:-7]),
        "empty": lambda: _bad(tmp_path, "x.npy", _npy(np.zeros((0, 16), dtype=np.float32))),
        "several-arrays": lambda: (np.savez(tmp_path / "x.npz", a=np.zeros((1, 16)), b=np.ones((1, 16))),
                                   tmp_path / "x.npz")[1],
        "not-a-tensor": lambda: (torch.save([1.0, 2.0], tmp_path / "x.pt"), tmp_path / "x.pt")[1],
    }[case]()
    with pytest.raises(lc.LatentFileError, match=pattern):
        lc.load_latents(path, shape=(16,))


def test_size_limit(tmp_path):
    path = lc.save_latents(tmp_path / "big.npy", torch.zeros(100, 16))
    with pytest.raises(lc.LatentFileError, match="at most"):
        lc.load_latents(path, max_bytes=1024)
    with pytest.raises(lc.LatentFileError, match="larger than"):
        lc.load_latents(path.read_bytes(), name="big.npy", max_bytes=1024)


@pytest.mark.parametrize("fmt", [".npy", ".pt", ".npz"])
def test_pickled_payloads_are_refused_without_running(tmp_path, fmt):
    marker = tmp_path / "code-ran"
    payload = _Payload(str(marker))
    path = tmp_path / f"evil{fmt}"
    if fmt == ".npy":
        np.save(path, np.array([payload, 1.0], dtype=object), allow_pickle=True)
    elif fmt == ".npz":
        np.savez(path, latents=np.array([payload], dtype=object))
    else:
        with open(path, "wb") as handle:
            torch.save({"latents": payload}, handle, pickle_module=pickle)
    assert not marker.exists()
    with pytest.raises(lc.LatentFileError, match="pickled"):
        lc.load_latents(path)
    assert not marker.exists()


def test_save_is_atomic(tmp_path, monkeypatch):
    path = lc.save_latents(tmp_path / "seeds.safetensors", torch.ones(2, 4))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        lc.save_latents(path, torch.zeros(2, 4))
    assert torch.equal(lc.load_latents(path), torch.ones(2, 4))
    assert [p.name for p in tmp_path.iterdir()] == ["seeds.safetensors"]


def test_a_file_with_thousands_of_entries_gets_a_short_message(tmp_path):
    np.savez(tmp_path / "many.npz", **{f"entry{i}": np.zeros(1, dtype=np.float32) for i in range(10_000)})
    with pytest.raises(lc.LatentFileError, match=r"holds 10000 arrays \(entry0, entry1, entry2, entry3, entry4 and "
                                                 r"9995 more\)") as err:
        lc.load_latents(tmp_path / "many.npz", shape=(16,))
    assert len(str(err.value)) < 300


def test_a_zip_bomb_is_refused_from_its_header_before_it_is_inflated(tmp_path):
    import tracemalloc

    shape = (2**25, 16)  # 2 GiB of float32 from a 2 MB file: the reported bomb
    bomb = _one_entry("latents.npy", crafted.deflated_zeros(crafted.npy_header(shape), 2048), 2 * 2**30 + 128)
    assert len(bomb) < 3 * 2**20
    tracemalloc.start()
    try:
        with pytest.raises(lc.LatentFileError, match=r"would expand to 2048 MiB; an array in a latent file may take at "
                                                     r"most 256 MiB"):
            lc.load_latents(bomb, name="bomb.npz", shape=(16,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(bomb) + 2**20  # the file's bytes and their copy, never the inflated array
    import zlib

    header = crafted.npy_header(shape)  # the entry's size understated, its checksum that of what it declares
    liar = _one_entry("latents.npy", crafted.deflated_zeros(header, 2048), 1000, zlib.crc32(header.ljust(1000, b"\0")))
    with pytest.raises(lc.LatentFileError, match=r"declares an array of shape \(33554432, 16\) \(2048 MiB\)"):
        lc.load_latents(liar, name="bomb.npz", shape=(16,))


def test_a_header_that_declares_too_much_is_refused_before_the_data_is_read(tmp_path):
    with pytest.raises(lc.LatentFileError, match=r"declares an array of shape \(1000000000, 16\) \(61035 MiB\)"):
        lc.load_latents(crafted.npy_header((10**9, 16)), name="huge.npy", shape=(16,))
    honest = _one_entry("latents.npy", crafted.deflated_zeros(crafted.npy_header((2**16, 16)), 4), 4 * 2**20 + 128)
    with pytest.raises(lc.LatentFileError, match="would expand to 4.0 MiB; an array in a latent file may take at most "
                                                 "1 MiB"):
        lc.load_latents(honest, name="bomb.npz", shape=(16,), max_array_bytes=2**20)  # a real bomb, scaled down
    path = lc.save_latents(tmp_path / "big.pt", torch.zeros(2**15, 16))  # 2 MiB in torch's zip
    with pytest.raises(lc.LatentFileError, match="would expand to"):
        lc.load_latents(path, shape=(16,), max_array_bytes=2**20)


def test_the_latent_count_is_checked_from_the_header(tmp_path):
    flood = io.BytesIO()
    np.savez_compressed(flood, latents=np.zeros((20_000, 16), dtype=np.float32))  # the reported 1.5 KB flood
    assert len(flood.getvalue()) < 2**13
    with pytest.raises(lc.TooManyLatents, match="flood.npz holds 20000 latents; at most 1024 are accepted"):
        lc.load_latents(flood.getvalue(), name="flood.npz", shape=(16,), max_latents=1024)
    with pytest.raises(lc.LatentFileError, match="holds 20000 latents; at most 1024"):
        lc.load_latents(crafted.npy_header((20_000, 16)), name="flood.npy", shape=(16,), max_latents=1024)
    path = lc.save_latents(tmp_path / "many.safetensors", torch.zeros(30, 16))  # other formats: after parsing
    with pytest.raises(lc.LatentFileError, match="holds 30 latents; at most 20"):
        lc.load_latents(path, shape=(16,), max_latents=20)
    assert lc.load_latents(path, shape=(16,), max_latents=30).shape == (30, 16)
    one = lc.save_latents(tmp_path / "one.npy", torch.zeros(4, 4))  # one latent of shape (4, 4), not four
    assert lc.load_latents(one, shape=(4, 4), max_latents=1).shape == (1, 4, 4)


def test_archives_of_too_many_entries_and_odd_compression_are_refused(tmp_path):
    import zipfile

    np.savez(tmp_path / "many.npz", **{f"e{i}": np.zeros(1, dtype=np.float32) for i in range(101)})
    with pytest.raises(lc.LatentFileError, match="an archive of more than 100 entries"):
        lc.load_latents(tmp_path / "many.npz", max_archive_entries=100)
    with zipfile.ZipFile(tmp_path / "bz.npz", "w", compression=zipfile.ZIP_BZIP2) as archive:
        archive.writestr("latents.npy", _npy(np.zeros((2, 16), dtype=np.float32)))
    with pytest.raises(lc.LatentFileError, match="compressed with method 12"):
        lc.load_latents(tmp_path / "bz.npz")


def test_names_in_a_file_are_bounded(tmp_path):
    path = lc.save_latents(tmp_path / "long.npz", torch.zeros(2, 16), ["x" * (lc.latent_files.MAX_NAME_CHARS + 1), "y"])
    with pytest.raises(lc.LatentFileError, match="up to 201 characters long; a seed name may have at most 200"):
        lc.read_latent_file(path)
    np.savez(tmp_path / "ints.npz", latents=np.zeros((2, 16), dtype=np.float32), names=np.arange(2))
    with pytest.raises(lc.LatentFileError, match="'names' must be an array of strings"):
        lc.read_latent_file(tmp_path / "ints.npz")


def test_non_finite_values_are_counted_in_chunks():
    from latentcore.validation import FINITE_CHUNK, count_nonfinite

    x = torch.zeros(2 * FINITE_CHUNK + 3)
    x[-2], x[0], x[FINITE_CHUNK] = float("nan"), float("inf"), -float("inf")  # the last one at an odd index
    assert count_nonfinite(x) == 3 and count_nonfinite(x.reshape(-1, 1)[::2]) == 2


def test_limits_are_settings_of_the_server_and_reach_a_read(tmp_path, monkeypatch):
    from ui.server import limits

    assert limits._setting("MAX_SEEDS", 4096) == 4096
    monkeypatch.setenv("LATENT_EXPLORER_MAX_SEEDS", "10000")
    assert limits._setting("MAX_SEEDS", 4096) == 10000
    for bad in ("-1", "0", "lots", "1e4"):
        monkeypatch.setenv("LATENT_EXPLORER_MAX_SEEDS", bad)
        with pytest.raises(ValueError, match="LATENT_EXPLORER_MAX_SEEDS=.*must be a positive whole number"):
            limits._setting("MAX_SEEDS", 4096)
    assert limits.mib(3 * 2**20 // 2) == "1.5 MiB" and limits.mib(256 * 2**20) == "256 MiB"
    assert limits.mib(3200) == "3.1 KiB"
    monkeypatch.setattr(limits, "MAX_NAME_CHARS", 3)  # what the Seeds page passes on
    path = lc.save_latents(tmp_path / "named.npz", torch.zeros(1, 16), ["four"])
    with pytest.raises(lc.LatentFileError, match="a seed name may have at most 3"):
        lc.read_latent_file(path, **limits.latent_file_limits())


@pytest.mark.parametrize("shape, accepted", [
    ((16,), r"accepted: one latent \(16\) or a batch \(N, 16\)$"),
    ((1, 4, 4), r"accepted: one latent \(1, 4, 4\), a batch \(N, 1, 4, 4\), or a flat batch \(N, 16\)$"),
])
def test_a_shape_error_lists_each_accepted_shape_once(tmp_path, shape, accepted):
    path = _bad(tmp_path, "x.npy", _npy(np.zeros((2, 15), dtype=np.float32)))
    with pytest.raises(lc.LatentFileError, match=accepted):
        lc.load_latents(path, shape=shape)


def _one_entry(entry: str, deflated: bytes, size: int, crc: int = 0) -> bytes:
    return crafted.archive((entry, deflated, size, crc))


def _peak_bytes(read) -> tuple[int, str]:
    """The most memory Python allocated while ``read()`` ran, and the message of the LatentFileError it raised."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(lc.LatentFileError) as err:
            read()
        return tracemalloc.get_traced_memory()[1], str(err.value)
    finally:
        tracemalloc.stop()


def test_an_npz_of_the_wrong_shape_or_with_a_names_bomb_is_refused_before_anything_is_inflated():
    wrong = crafted.wrong_shape_npz()  # 256 MB of float32, inside the per-array limit, not the model's shape
    peak, said = _peak_bytes(lambda: lc.read_latent_file(wrong, name="wide.npz", shape=(16,)))
    assert said.startswith("wide.npz holds an array of shape (1, 64000000), which does not fit latents of shape (16)")
    assert len(wrong) < 2**20 and peak < 3 * len(wrong) + 2**20  # the reported +256 MiB
    bomb = crafted.names_bomb_npz()  # 256 MB of names beside it: the reported +570 MiB
    peak, said = _peak_bytes(lambda: lc.read_latent_file(bomb, name="both.npz"))  # no shape: the names decide
    assert said == "both.npz: 320000 names for 1 latents; give one name per latent or none"
    assert peak < 3 * len(bomb) + 2**20
    import zlib

    one = _npy(np.zeros((1, 16), dtype=np.float32))  # the right shape, names of the wrong count or width
    for header, why in [(crafted.npy_header((320_000,), "<U200"), "320000 names for 1 latents"),
                        (crafted.npy_header((1,), "<U100000"), "its names are up to 100000 characters long")]:
        names = crafted.archive(("latents.npy", crafted.deflated_zeros(one, 0), len(one), zlib.crc32(one)),
                                ("names.npy", crafted.deflated_zeros(header, 245), len(header) + 256_000_000))
        peak, said = _peak_bytes(lambda: lc.read_latent_file(names, name="x.npz", shape=(16,)))
        assert why in said and peak < 3 * len(names) + 2**20


def test_legacy_and_lying_pt_files_are_refused_without_allocating_what_they_declare():
    with pytest.raises(lc.LatentFileError, match="legacy format .* save it again with torch.save in PyTorch 1.6"):
        lc.read_latent_file(crafted.legacy_pt(torch.zeros(2, 16)), name="old.pt", shape=(16,))
    lying = crafted.lying_pt(100 * 10**9)
    peak, said = _peak_bytes(lambda: lc.read_latent_file(lying, name="liar.pt", shape=(16,)))
    assert said == "liar.pt is not a valid .pt file: it declares more data than it holds (truncated or crafted)"
    assert peak < 2**22


def test_messages_about_crafted_safetensors_say_what_is_wrong_without_the_library_s_words():
    import json
    import struct

    tensors = {"latents": torch.zeros(2, 16)}
    with pytest.raises(lc.LatentFileError, match="^deep.safetensors: its names cannot be read, as its JSON is nested"):
        lc.read_latent_file(crafted.nested_names_safetensors(), name="deep.safetensors", shape=(16,))
    good = safetensors_bytes(tensors, None)
    (length,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8: 8 + length])
    header["latents"]["data_offsets"] = [0, 10**6]  # offsets past the data: the library's "incomplete metadata"
    text = json.dumps(header).encode()
    lying = struct.pack("<Q", len(text)) + text + good[8 + length:]
    with pytest.raises(lc.LatentFileError) as err:
        lc.read_latent_file(lying, name="short.safetensors", shape=(16,))
    assert str(err.value) == "short.safetensors is not a valid .safetensors file: it may be truncated or corrupt"
    wide = safetensors_bytes({"latents": torch.zeros(1, 64_000)}, None)  # the shape is checked from the header
    with pytest.raises(lc.LatentFileError, match=r"holds an array of shape \(1, 64000\), which does not fit"):
        lc.read_latent_file(wide, name="wide.safetensors", shape=(16,))
    with pytest.raises(lc.LatentFileError, match="^empty.npy is empty"):
        lc.read_latent_file(b"", name="empty.npy")
    with pytest.raises(lc.LatentFileError, match=r"^scalar.npy holds an empty or scalar array of shape \(\)"):
        lc.read_latent_file(_npy(np.float32(3.0)), name="scalar.npy", shape=(16,))


def safetensors_bytes(tensors, metadata) -> bytes:
    import safetensors.torch

    return safetensors.torch.save(tensors, metadata=metadata)


def test_reads_share_one_budget_of_memory_wait_for_it_and_are_refused_when_it_does_not_come_free():
    import threading

    from latentcore.inflation import InflationBudget

    data = _npy(np.zeros((64, 16), dtype=np.float32))  # 4 KiB to read
    budget = InflationBudget(6 * 1024, wait_s=0.2)
    with budget.reserve(4 * 1024, "another upload"):
        assert budget.in_use == 4096
        with pytest.raises(lc.LatentFileError, match="other uploads are using the 6.0 KiB .* try again in a moment"):
            lc.read_latent_file(data, name="x.npy", shape=(16,), budget=budget)
    assert budget.in_use == 0  # given back, also after a refusal
    with pytest.raises(lc.LatentFileError, match="would take 8.0 KiB of memory to read; this server reads at most"):
        lc.read_latent_file(_npy(np.zeros((128, 16), dtype=np.float32)), name="y.npy", budget=budget)
    results, waiting = [], InflationBudget(6 * 1024, wait_s=60)
    readers = [threading.Thread(target=lambda: results.append(
        lc.read_latent_file(data, name="x.npy", shape=(16,), budget=waiting).latents.shape)) for _ in range(8)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    assert results == [(64, 16)] * 8 and waiting.in_use == 0  # each waited for the one before
