"""Latent files: round trips, every kind of bad file, and no code execution."""

import io
import os
import pickle

import numpy as np
import pytest
import torch

import latentcore as lc


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("fmt", lc.FORMATS)
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
    ("corrupt-pt", "not a valid .pt"),
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
