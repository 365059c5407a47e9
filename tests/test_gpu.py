"""On CUDA (marked ``gpu``: skipped without a CUDA device): every built-in model and each tiny pipeline kind in
float32 and half precision gives the CPU's images to a stated tolerance; nothing is copied between host and device
inside the decode and inversion loops (the profiler's memory-copy events do not grow with the steps); offloading,
memory-sized chunks; the app's pages on CUDA.

Tolerances: the mean absolute difference of images in [0, 1] from the CPU's float32 images, 2e-3 in float32
(TF32 off, so only the order of float sums differs), 0.03 in float16 and 0.06 in bfloat16 (8 bits of mantissa),
each at 10 decoding steps for sampling models."""

from pathlib import Path

import pytest
import torch

import latentcore.models as models
from latentcore.device import default_device

pytestmark = pytest.mark.gpu

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
TOLERANCE = {"float32": 2e-3, "float16": 0.03, "bfloat16": 0.06}
STEPS = 10
MEMCPY = ("Memcpy HtoD", "Memcpy DtoH")


@pytest.fixture
def exact_float32():
    """TF32 off for the block, so float32 on the GPU rounds like the CPU."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def _options(model) -> dict:
    return {"steps": STEPS} if model.sampler is not None else {}


def _compare(cpu, gpu, precision: str, **options):
    assert gpu.device.type == "cuda" and gpu.dtype == DTYPES[precision]
    z = cpu.prior.sample(8, seed=0, device="cpu")
    expected = cpu.decode(z, **_options(cpu), **options)
    images = gpu.decode(z.cuda(), **_options(gpu), **options)
    assert images.device.type == "cuda" and images.dtype == torch.float32 and torch.isfinite(images).all()
    difference = float((images.cpu() - expected).abs().mean())
    assert difference < TOLERANCE[precision], f"{cpu.name} in {precision}: mean |GPU - CPU| = {difference:.4f}"
    if gpu.can_encode and cpu.kind != "gan":  # GANs invert by optimisation, elsewhere
        latents = gpu.encode(images[:2], **_options(gpu), **options)
        assert latents.device.type == "cuda" and latents.dtype == torch.float32 and torch.isfinite(latents).all()


@pytest.mark.parametrize("precision", list(DTYPES))
@pytest.mark.parametrize("name", models.available())
def test_builtin_models_on_cuda_give_the_cpus_images(name, precision, exact_float32):
    _compare(models.load(name, "cpu"), models.load(name, "cuda", precision), precision)


@pytest.mark.parametrize("precision", list(DTYPES))
@pytest.mark.parametrize("kind", ["sd", "sdxl", "sd3", "sd3-t5"])
def test_pipelines_on_cuda_give_the_cpus_images(tiny_pipelines, kind, precision, exact_float32):
    if precision == "bfloat16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    cpu = models.load_diffusers(tiny_pipelines[kind], "cpu")
    gpu = models.load_diffusers(tiny_pipelines[kind], "cuda", precision)
    for scheduler in gpu.sampler.schedulers:
        _compare(cpu, gpu, precision, scheduler=scheduler, prompt="a cat")
    if kind == "sdxl" and precision == "float16":  # its VAE overflows in float16: kept in float32
        assert gpu.vae.dtype == torch.float32 and gpu.unet.dtype == torch.float16


def test_auto_precision_is_half_for_pipelines_and_float32_for_the_builtins(tiny_pipelines):
    assert models.load_diffusers(tiny_pipelines["sd"], "cuda").dtype == torch.float16
    half = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert models.load_diffusers(tiny_pipelines["sd3"], "cuda").dtype == half
    assert all(models.load(name, "cuda").dtype == torch.float32 for name in models.available())


def _copies(fn) -> int:
    """The host<->device memory copies the profiler records while ``fn()`` runs."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if e.name.startswith(MEMCPY))


def _sampling_models(tiny_pipelines):
    builtins = [models.load(name, "cuda") for name in models.available()]
    pipelines = [models.load_diffusers(folder, "cuda") for folder in tiny_pipelines.values()]
    return [m for m in builtins + pipelines if m.sampler is not None]


def test_no_copies_between_host_and_device_inside_the_decode_and_inversion_loops(tiny_pipelines):
    for model in _sampling_models(tiny_pipelines):
        z = model.prior.sample(2, seed=0, device="cuda")
        for scheduler in model.sampler.schedulers or (None,):
            options = {"scheduler": scheduler} if scheduler else {}
            model.decode(z, steps=4, **options)  # once first: prompt embeddings, chunk sizes
            counts = [_copies(lambda: model.decode(z, steps=steps, **options)) for steps in (4, 12)]
            assert counts[0] == counts[1], f"{model.name} ({scheduler}): {counts} copies for 4 and 12 steps"
        if model.can_encode:
            images = model.decode(z, steps=4)
            model.encode(images, steps=4)
            counts = [_copies(lambda: model.encode(images, steps=steps)) for steps in (4, 12)]
            assert counts[0] == counts[1], f"{model.name} inversion: {counts} copies for 4 and 12 steps"


def test_offloading_frees_the_gpu_and_the_next_decode_brings_the_model_back(tiny_pipelines):
    keep = models.load_diffusers(tiny_pipelines["sd"], "cuda")
    other = models.load_diffusers(tiny_pipelines["sdxl"], "cuda")
    other.decode(other.prior.sample(1, seed=0, device="cuda"), steps=4)
    before = torch.cuda.memory_allocated()
    assert other.name in models.offload_others(keep)
    assert other.offloaded and not keep.offloaded and torch.cuda.memory_allocated() < before
    assert all(p.device.type == "cpu" for p in other.unet.parameters())
    images = other.decode(other.prior.sample(1, seed=0, device="cuda"), steps=4)
    assert images.device.type == "cuda" and not other.offloaded
    assert all(p.device.type == "cuda" for p in other.unet.parameters())


def test_pipeline_chunks_are_sized_from_free_memory_and_give_the_same_images(tiny_pipelines, exact_float32):
    model = models.load_diffusers(tiny_pipelines["sd3"], "cuda", "float32")
    z = model.prior.sample(12, seed=3, device="cuda")
    together = model.decode(z, steps=4)
    assert model._bytes_per_latent is not None and 1 <= model._memory_chunk() <= 64
    alone = torch.cat([model.decode(z[i:i + 1], steps=4) for i in range(len(z))])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=0)


APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["pages/seeds.py", "pages/interpolate.py", "pages/subspace.py", "pages/diagnostics.py",
         "pages/compare.py", "pages/centroids.py", "pages/home.py"]


@pytest.fixture
def on_cuda(monkeypatch):
    """The app's default device is CUDA for the test (latentcore chooses it once per process: chosen again before
    and after), with a fresh model cache."""
    from ui.models import _loaded

    monkeypatch.setenv("LATENTCORE_DEVICE", "cuda")
    default_device.cache_clear()
    _loaded.clear()
    yield
    monkeypatch.undo()
    default_device.cache_clear()
    _loaded.clear()


@pytest.mark.parametrize("model", ["digits-ddim", "pipeline"])
def test_the_apps_pages_on_cuda(monkeypatch, on_cuda, tiny_pipelines, model):
    from streamlit.testing.v1 import AppTest

    from tests.apptools import finish_jobs

    monkeypatch.chdir(Path(APP).parent)
    at = AppTest.from_file(APP, default_timeout=300).run()
    if model == "pipeline":
        at.sidebar.selectbox[0].set_value("Load a diffusers folder ...").run()
        at.sidebar.text_input[0].set_value(str(tiny_pipelines["sdxl"])).run()
    else:
        at.sidebar.selectbox[0].set_value(model).run()
    precision = [s for s in at.sidebar.selectbox if s.label == "Precision"][0]
    assert not precision.disabled
    precision.set_value("float16").run()
    assert any("on cuda in float16" in c.value for c in at.sidebar.caption)
    at.sidebar.select_slider[0].set_value(10).run()
    at.switch_page("pages/seeds.py").run()
    at.button[0].click().run()
    for page in PAGES:
        finish_jobs(at.switch_page(page).run())
        assert not at.exception and not at.error, (page, [e.value for e in (*at.exception, *at.error)])
