"""Image files in, 8-bit arrays out, and preparing images of any size for a model's encoder."""

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import latentcore.models as models
from latentcore import imaging


def _encoded(array, fmt):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt)
    return buf.getvalue()


def test_png_and_jpeg_load_as_unit_range_tensors():
    grey = (np.arange(48, dtype=np.uint8).reshape(6, 8) * 5)
    t = imaging.load_image(_encoded(grey, "PNG"), "grey.png")
    assert t.shape == (1, 1, 6, 8)
    np.testing.assert_allclose(t[0, 0].numpy(), grey / 255.0, atol=1e-6)
    rgb = np.random.default_rng(0).integers(0, 255, (10, 12, 3), dtype=np.uint8)
    assert imaging.load_image(_encoded(rgb, "JPEG"), "photo.jpg").shape == (1, 3, 10, 12)


def _png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims ``width`` x ``height`` pixels (CRC fixed), for size checks without the pixels."""
    data = bytearray(_encoded(np.zeros((1, 1), dtype=np.uint8), "PNG"))
    start = data.index(b"IHDR")
    data[start + 4:start + 12] = struct.pack(">II", width, height)
    data[start + 17:start + 21] = struct.pack(">I", zlib.crc32(bytes(data[start:start + 17])))
    return bytes(data)


@pytest.mark.parametrize("data, pattern", [
    (b"not an image", "not a PNG or JPEG image: its content is not an image format that can be read$"),
    (_png_claiming(5000, 5000), "has 5000x5000 pixels; at most 4096x4096 are accepted"),
    (_png_claiming(30_000, 30_000), "far larger than 4096x4096 pixels, the most accepted"),
    (_encoded(np.zeros((4, 4), dtype=np.uint8), "GIF"), "GIF image; accepted: PNG or JPEG"),
])
def test_bad_images_are_refused_with_a_reason(data, pattern):
    with pytest.raises(imaging.ImageFileError, match=pattern) as err:
        imaging.load_image(data, "upload")
    assert "object at 0x" not in str(err.value)


def test_sixteen_bit_greyscale_is_scaled_by_its_range_not_clipped():
    levels = np.array([[0, 16384, 32768, 65535]], dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(levels).save(buf, "PNG")
    t = imaging.load_image(buf.getvalue(), "deep.png")
    np.testing.assert_allclose(t[0, 0, 0].numpy(), levels[0] / 65535.0, atol=1e-6)


def _photo(height: int, width: int) -> np.ndarray:
    """A smooth RGB picture with some texture: what resizing has to keep."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    rgb = np.stack([np.sin(7 * x) * np.cos(5 * y), x * y, np.sin(11 * (x + y))], axis=-1)
    return ((rgb - rgb.min()) / np.ptp(rgb) * 255).astype(np.uint8)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_large_image_is_shrunk_before_it_becomes_floats(fmt):
    import tracemalloc

    data = _encoded(_photo(1024, 768), fmt)
    tracemalloc.start()
    try:
        small = imaging.load_image(data, "big", size=(64, 64))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert small.shape[:2] == (1, 3) and 128 <= small.shape[3] <= 256 and 128 <= small.shape[2] <= 256
    assert peak < 3 * 2**20  # the full-size float32 array alone would be 9 MiB
    full = imaging.load_image(data, "big")
    assert full.shape == (1, 3, 1024, 768)

    def resized(x):  # what a model's prepare_images does: antialiased bilinear to its size
        return torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", antialias=True)

    assert float((resized(small) - resized(full)).abs().max()) < 0.03
    sixteen = io.BytesIO()
    Image.fromarray((_photo(512, 512)[..., 0].astype(np.uint16) * 257)).save(sixteen, "PNG")
    deep = imaging.load_image(sixteen.getvalue(), "deep.png", size=(16, 16))
    assert deep.shape == (1, 1, 32, 32) and float(deep.max()) > 0.99  # 16 bits, shrunk and still scaled by 65535


def test_to_uint8_and_model_preparation():
    images = torch.rand(2, 1, 5, 5)
    assert imaging.to_uint8(images).shape == (2, 5, 5) and imaging.to_uint8(images).dtype == np.uint8
    assert imaging.to_uint8(torch.rand(2, 3, 5, 5)).shape == (2, 5, 5, 3)
    for c in (1, 3):
        back = imaging.from_uint8(imaging.to_uint8(torch.rand(2, c, 5, 5)))
        assert back.shape == (2, c, 5, 5) and float(back.max()) <= 1.0
    model = models.load("digits-vae", device="cpu")
    pictures = [torch.rand(1, 3, 40, 30), torch.rand(1, 1, 8, 8)]
    prepared = model.prepare_images(pictures)
    assert prepared.shape == (2, 1, 16, 16)


def test_png_and_gif_exports():
    frames = torch.rand(4, 1, 6, 6)
    png = Image.open(io.BytesIO(imaging.png_bytes(frames, scale=2)))
    assert png.format == "PNG" and png.size == (2 * (4 * 7 + 1), 2 * (7 + 1))  # one-pixel separators
    gif = Image.open(io.BytesIO(imaging.gif_bytes(frames)))
    assert gif.format == "GIF" and gif.n_frames == 6  # forth and back
    assert gif.size[1] >= imaging.EXPORT_MIN_PX  # a 6x6 frame exported large enough to see, pixels kept sharp
    levels = {round(float(v) * 255) for v in frames.flatten()} | {255}  # the frames' own grey levels, separators
    assert set(np.asarray(gif.convert("L")).ravel().tolist()) <= levels
    assert Image.open(io.BytesIO(imaging.png_bytes(frames))).size[1] >= imaging.EXPORT_MIN_PX


def test_path_profile_and_figures():
    import latentcore as lc
    from ui import plots
    from latentcore.diagnostics import path_profile, typical_norm_band

    prior = lc.StandardNormal(64)
    a, b = prior.sample(2, seed=0)
    path = lc.interpolate(a, b, 7, scheme="linear", prior=prior)
    profile = path_profile(path, prior=prior, images=path)
    assert profile.step.shape == (6,) and profile.norm.shape == (7,) and profile.density_index.shape == (7,)
    assert profile.typical_index[3] < profile.typical_index[0]  # the linear midpoint is atypical
    fig = plots.along_path_figure({"linear": profile.norm}, "Norm", "norm", band=typical_norm_band(prior))
    assert len(fig.data) == 1 and fig.layout.title.text == "Norm"
    plane = plots.endpoint_plane_figure({"linear": lc.endpoint_plane(path, a, b).numpy()})
    assert len(plane.data) == 2
    p_values = plots.along_path_figure({"linear": profile.normality}, "p", "p-value", log_y=True, level=0.01)
    axis = p_values.layout.yaxis  # ticks at powers of ten, written as powers, and the test level drawn
    assert axis.type == "log" and axis.dtick == 1 and axis.exponentformat == "power"
    assert [shape.y0 for shape in p_values.layout.shapes] == [0.01]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_server_gives_back_the_memory_of_large_images():
    """Four large PNGs decoded in four threads (a page run each), as the app does: with ui.memory's setting the
    process keeps under 8 MiB of them (without it, glibc kept 32 MiB here)."""
    script = """
import importlib.util, io, threading
from PIL import Image
spec = importlib.util.spec_from_file_location("memory", "ui/memory.py")  # without the ui package's streamlit
memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(memory)
assert memory.return_large_blocks()
buf = io.BytesIO(); Image.new("RGB", (2048, 2048), (10, 200, 30)).save(buf, "PNG"); data = buf.getvalue()
def rss():
    return int([l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1]) * 1024
def decode():
    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
start = rss()
for _ in range(4):
    run = threading.Thread(target=decode); run.start(); run.join()
print(rss() - start)
"""
    kept = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[1]).stdout)
    assert kept < 8 * 2**20


def test_an_image_with_a_side_under_half_the_models_is_said_to_be_much_smaller():
    from latentcore import imaging

    def png(height, width):
        buffer = io.BytesIO()
        Image.new("L", (width, height), 128).save(buffer, "PNG")
        return buffer.getvalue()

    assert imaging.image_size(png(1, 3)) == (1, 3) and imaging.image_size(b"not an image") is None
    assert imaging.upscale_note("a.png", (1, 1), (16, 16)).startswith(
        "a.png is 1x1 pixels, much smaller than the 16x16 images the model makes")
    assert imaging.upscale_note("wide.png", (7, 64), (16, 16)) is not None  # one side is enough
    assert imaging.upscale_note("half.png", (8, 8), (16, 16)) is None
