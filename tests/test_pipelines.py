"""Today's diffusers pipelines from tiny local folders (tests/pipelines.py): each kind decodes as diffusers' own
pipeline does, with every scheduler it offers, inverts, and serves every page of the app; the schedulers solve the
exact ODE of Gaussian data; unusable folders say what they are; out-of-memory chunks are split, then explained."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

import latentcore.models as models
from latentcore.models.base import GenerativeModel
from latentcore.models.ddim import inverse_scheduler
from latentcore.models.schedulers import make_scheduler, sample
from latentcore.priors import StandardNormal
from tests.apptools import finish_jobs, frame_rows

# per pipeline kind: its model class, family, latent shape and the schedulers offered (SDXL's own first)
PIPELINE_KINDS = {"sd": ("StableDiffusionModel", "diffusion", (4, 8, 8), ("ddim", "euler", "dpm++")),
                  "sdxl": ("StableDiffusionXLModel", "diffusion", (4, 8, 8), ("euler", "ddim", "dpm++")),
                  "sd3": ("StableDiffusion3Model", "flow", (16, 8, 8), ("euler", "dpm++")),
                  "sd3-t5": ("StableDiffusion3Model", "flow", (16, 8, 8), ("euler", "dpm++"))}
# diffusers' own pipelines decode with the scheduler saved in the folder (DDIM for SD, Euler for SDXL and SD3)
SAVED = {"sd": "ddim", "sdxl": "euler", "sd3": "euler", "sd3-t5": "euler"}


@pytest.mark.parametrize("kind", PIPELINE_KINDS)
def test_each_kind_loads_and_decodes_exactly_as_its_diffusers_pipeline(tiny_pipelines, kind):
    from diffusers import DiffusionPipeline

    model = models.load_diffusers(tiny_pipelines[kind], device="cpu")
    cls, family, latent, schedulers = PIPELINE_KINDS[kind]
    assert (type(model).__name__, model.kind, model.latent_shape, model.image_shape) == (cls, family, latent,
                                                                                         (3, 16, 16))
    assert model.sampler.schedulers == schedulers and model.can_encode and model.dtype == torch.float32
    z = model.prior.sample(1, seed=1)
    ours = model.decode(z, steps=2, scheduler=SAVED[kind], prompt="a cat", guidance_scale=5.0)
    absent = {"text_encoder_3": None, "tokenizer_3": None} if kind == "sd3" else {}
    pipe = DiffusionPipeline.from_pretrained(tiny_pipelines[kind], local_files_only=True, **absent)
    pipe.set_progress_bar_config(disable=True)
    theirs = pipe(prompt="a cat", num_inference_steps=2, latents=z, guidance_scale=5.0, height=16, width=16,
                  output_type="pt").images
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["sd", "sdxl", "sd3"])
def test_every_scheduler_prompt_and_guidance_reach_the_decoder_and_images_invert(tiny_pipelines, kind):
    model = models.load_diffusers(tiny_pipelines[kind], device="cpu")
    z = model.prior.sample(2, seed=2)
    images = {s: model.decode(z, steps=2, scheduler=s, prompt="a cat") for s in model.sampler.schedulers}
    for image in images.values():
        assert image.dtype == torch.float32 and float(image.min()) >= 0 and float(image.max()) <= 1
    last = model.sampler.schedulers[-1]
    assert torch.equal(images[last], model.decode(z, steps=2, scheduler=last, prompt="a cat"))  # deterministic
    first, *others = images.values()
    assert all(not torch.equal(first, other) for other in others)
    assert not torch.equal(first, model.decode(z, steps=2, prompt="a dog"))
    assert not torch.equal(first, model.decode(z, steps=2, prompt="a cat", guidance_scale=1.0))
    latents = model.encode(first, steps=2, prompt="a cat", scheduler=last)
    assert latents.shape == (2, *model.latent_shape) and latents.dtype == torch.float32
    assert torch.isfinite(latents).all()
    with pytest.raises(ValueError, match="unknown scheduler 'heun'; choose one of " +
                       ", ".join(model.sampler.schedulers).replace("+", r"\+")):
        model.decode(z, scheduler="heun")


def test_one_pass_models_refuse_a_scheduler():
    vae = models.load("digits-vae", device="cpu")
    with pytest.raises(ValueError, match="takes no sampler steps or scheduler"):
        vae.decode(vae.prior.sample(1, seed=0), scheduler="ddim")


def _mean_difference(a, b) -> float:
    return float((a - b).abs().mean())


def test_digits_ddim_decodes_with_dpm_solver_clipping_as_ddim_does_and_offers_no_euler():
    # its cosine schedule leaves sqrt(alpha_T) ~ 5e-5: unclipped predictions of x_0 diverge, so Euler is not offered
    model = models.load("digits-ddim", device="cpu")
    assert model.sampler.schedulers == ("ddim", "dpm++")
    assert model.decoder(scheduler="dpm++").name == "digits-ddim (scheduler='dpm++')"
    z = model.prior.sample(8, seed=0)
    reference = model.decode(z, steps=50)  # DDIM
    assert _mean_difference(model.decode(z, steps=25, scheduler="dpm++"), reference) < 0.03  # measured 0.013


def test_digits_flow_with_dpm_solver_at_10_steps_is_nearer_the_ode_than_euler():
    model = models.load("digits-flow", device="cpu")
    assert model.sampler.schedulers == ("euler", "dpm++")
    z = model.prior.sample(8, seed=0)
    reference = model.decode(z, steps=50)  # Euler
    euler, dpm = (_mean_difference(model.decode(z, steps=10, scheduler=s), reference) for s in ("euler", "dpm++"))
    assert dpm < euler / 2, (euler, dpm)  # measured 0.0215 and 0.0051 on 16 latents


def test_a_unet2d_folder_with_a_flow_matching_scheduler_is_a_pixel_flow_model(tmp_path):
    pytest.importorskip("latentcore.models.pixel_flow")
    from diffusers import DDPMPipeline, FlowMatchEulerDiscreteScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(8, 16),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4)
    DDPMPipeline(unet=unet, scheduler=FlowMatchEulerDiscreteScheduler()).save_pretrained(tmp_path / "pipe")
    model = models.load_diffusers(tmp_path / "pipe", device="cpu")
    assert (type(model).__name__, model.kind, model.latent_shape) == ("PixelFlowModel", "flow", (1, 8, 8))
    images = model.decode(model.prior.sample(2, seed=0), steps=4)
    assert images.shape == (2, 1, 8, 8) and torch.isfinite(model.encode(images, steps=4)).all()


# --- the schedulers against the exact ODE of Gaussian data ------------------------------------------------------

MEAN, STD = 0.7, 1.0  # data N(MEAN, STD^2) per element: the optimal predictions are known in closed form
CONFIG = {"num_train_timesteps": 1000, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
          "timestep_spacing": "trailing", "prediction_type": "epsilon", "clip_sample": False,
          "set_alpha_to_one": True}


def _exact_noise(alphas_cumprod):
    """E[eps | x_t] for data N(MEAN, STD^2): sqrt(1-a) (x - sqrt(a) MEAN) / (a STD^2 + 1 - a), with
    sigma = sqrt((1-a)/a) interpolated linearly between integer timesteps as the Euler and DPM schedulers do."""
    sigmas = ((1 - alphas_cumprod) / alphas_cumprod).sqrt().numpy()

    def eps(x, t):
        a = 1.0 / (1.0 + float(np.interp(float(t), np.arange(len(sigmas)), sigmas)) ** 2)
        return (1 - a) ** 0.5 * (x - a ** 0.5 * MEAN) / (a * STD ** 2 + 1 - a)
    return eps


def _exact_velocity(x, t):
    s = t.float() / 1000
    sd = torch.sqrt((1 - s) ** 2 * STD ** 2 + s ** 2)
    return -MEAN + (x - (1 - s) * MEAN) * (-(1 - s) * STD ** 2 + s) / sd ** 2


def test_diffusion_schedulers_converge_to_the_probability_flow_and_dpm_solver_gets_there_first():
    noise = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    alphas = make_scheduler("ddim", "noise", CONFIG).alphas_cumprod
    # the probability-flow ODE keeps (y - MEAN) / sqrt(STD^2 + sigma^2) of y = x / sqrt(a) constant
    sigma_2 = (1 - alphas[-1]) / alphas[-1]
    exact = MEAN + STD * (noise / alphas[-1].sqrt() - MEAN) / (STD ** 2 + sigma_2).sqrt()
    error = {name: [float((sample(_exact_noise(alphas), make_scheduler(name, "noise", CONFIG), noise, steps) - exact)
                          .abs().max()) for steps in (10, 50)] for name in ("ddim", "euler", "dpm++")}
    for coarse, fine in error.values():  # first order at least: 5x the steps, a third of the error
        assert fine < coarse / 3 and fine < 0.15, error
    assert error["dpm++"][0] < error["euler"][0] / 2 and error["dpm++"][0] < error["ddim"][0] / 2, error
    assert error["dpm++"][1] < 0.05, error


def test_flow_schedulers_converge_to_the_exact_flow_and_dpm_solver_gets_there_first():
    noise = torch.randn(64, 16, generator=torch.Generator().manual_seed(0))
    exact = MEAN + STD * noise
    config = {"num_train_timesteps": 1000, "shift": 3.0}  # SD3's shifted grid
    error = {name: [float((sample(_exact_velocity, make_scheduler(name, "flow", config), noise, steps) - exact)
                          .abs().max()) for steps in (10, 50)] for name in ("euler", "dpm++")}
    for coarse, fine in error.values():  # first order at least
        assert fine < coarse / 3 and fine < 0.2, error
    assert error["dpm++"][0] < error["euler"][0] / 3 and error["dpm++"][1] < 0.05, error


class HostDeviceCrossings(TorchDispatchMode):
    """Counts the copies whose source and destination lie on different devices; a read of a device tensor's value
    on the host (``.item()``) fails on the meta device by itself. (A host scalar in the device's arithmetic is no
    copy: it is passed to the kernel as an argument.)"""

    COPIES = {torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default}

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        devices = [{t.device.type for t in tree_flatten(x)[0] if isinstance(t, torch.Tensor)} for x in (args, out)]
        self.count += func in self.COPIES and devices[0] != devices[1]
        return out


@pytest.mark.parametrize("family, name, clip", [
    ("noise", "ddim", False), ("noise", "euler", False), ("noise", "dpm++", False), ("noise", "ddim", True),
    ("noise", "dpm++", True), ("flow", "euler", False), ("flow", "dpm++", False), ("noise", "inverse", False)])
def test_the_sampling_loop_moves_nothing_between_host_and_device_per_step(family, name, clip):
    # on the meta device (shapes without data) as a stand-in for an accelerator: the scheduler computes on the host,
    # the network's timesteps are copied once before the loop, whatever the number of steps
    config = {**CONFIG, "shift": 3.0, "clip_sample": clip}
    scheduler = inverse_scheduler(config) if name == "inverse" else make_scheduler(name, family, config)
    x = torch.empty(2, 4, 8, 8, device="meta")
    counts = []
    for steps in (4, 12):
        with HostDeviceCrossings() as crossings:
            sample(lambda x, t: x * t.to(x.device).float(), scheduler, x, steps)  # as UNets take t
        counts.append(crossings.count)
    assert counts == [1, 1]


# --- folders that cannot be used -------------------------------------------------------------------------------

def _index(folder: Path, **components) -> Path:
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps(components))
    return folder


def test_unusable_pipelines_say_what_they_are_and_what_is_supported(tmp_path):
    flux = _index(tmp_path / "flux", _class_name="FluxPipeline", transformer=["diffusers", "FluxTransformer2DModel"],
                  scheduler=["diffusers", "FlowMatchEulerDiscreteScheduler"])
    with pytest.raises(models.ModelLoadError, match=r"holds the pipeline FluxPipeline \(transformer "
                       r"FluxTransformer2DModel, scheduler FlowMatchEulerDiscreteScheduler\), which Latent Explorer "
                       r"cannot use .*supported: .*Stable Diffusion XL .*Stable Diffusion 3"):
        models.load_diffusers(flux)
    lcm = _index(tmp_path / "lcm", _class_name="StableDiffusionPipeline", unet=["diffusers", "UNet2DConditionModel"],
                 scheduler=["diffusers", "LCMScheduler"])
    with pytest.raises(models.ModelLoadError, match="its scheduler LCMScheduler is neither DDIM-compatible nor flow"):
        models.load_diffusers(lcm)
    refiner = _index(tmp_path / "refiner", _class_name="StableDiffusionXLImg2ImgPipeline",
                     unet=["diffusers", "UNet2DConditionModel"], text_encoder=[None, None],
                     text_encoder_2=["transformers", "CLIPTextModelWithProjection"],
                     scheduler=["diffusers", "EulerDiscreteScheduler"])
    with pytest.raises(models.ModelLoadError, match="StableDiffusionXLImg2ImgPipeline .*its parts are none"):
        models.load_diffusers(refiner)


def test_a_stable_diffusion_3_folder_missing_a_text_encoder_says_so(tiny_pipelines, tmp_path):
    index = json.loads((tiny_pipelines["sd3"] / "model_index.json").read_text())
    folder = _index(tmp_path / "broken", **index)
    for part in ("transformer", "vae", "scheduler", "text_encoder", "tokenizer", "tokenizer_2"):
        (folder / part).symlink_to(tiny_pipelines["sd3"] / part)
    with pytest.raises(models.ModelLoadError, match="lacks the component folder.*text_encoder_2"):
        models.load_diffusers(folder)


def test_precision_is_float32_on_the_cpu_and_checked(tiny_pipelines):
    model = models.load_diffusers(tiny_pipelines["sd3"], device="cpu", precision="bfloat16")
    assert model.dtype == torch.float32 and model.offload() is False and not model.offloaded
    with pytest.raises(ValueError, match="precision must be one of auto, float32, float16, bfloat16"):
        models.load("digits-vae", device="cpu", precision="half")


# --- out of memory ---------------------------------------------------------------------------------------------

class SmallDevice(GenerativeModel):
    """A decoder whose device holds ``fits`` latents at a time: larger chunks fail as CUDA does."""

    kind, name, description, trained_on = "gan", "small-device", "", ""
    latent_shape, image_shape = (4,), (1, 2, 2)
    prior = StandardNormal(4)
    decode_batch = 8

    def __init__(self, fits: int):
        super().__init__("cpu")
        self.fits, self.chunks = fits, []

    def _decode(self, latents):
        if len(latents) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.chunks.append(len(latents))
        return torch.sigmoid(latents).reshape(-1, 1, 2, 2)


def test_a_chunk_out_of_memory_is_split_and_one_latent_that_does_not_fit_is_explained():
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    model = SmallDevice(fits=3)
    torch.testing.assert_close(model.decode(z), torch.sigmoid(z).reshape(-1, 1, 2, 2))
    assert model.chunks == [2, 2, 2, 2]  # 8 failed, then 4; 2 fits and stays
    with pytest.raises(models.OutOfMemory, match="ran out of memory on cpu decoding even one latent at a time. "
                       "Try fewer frames or seeds at once.*float16 or bfloat16.*free memory on this machine"):
        SmallDevice(fits=0).decode(z)


# --- the app on each kind --------------------------------------------------------------------------------------

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["pages/interpolate.py", "pages/subspace.py", "pages/diagnostics.py", "pages/compare.py",
         "pages/centroids.py", "pages/home.py"]


def _png() -> bytes:
    from PIL import Image

    x, y = np.meshgrid(np.linspace(0, 255, 20), np.linspace(0, 255, 20))
    buffer = io.BytesIO()
    Image.fromarray(np.stack([x, y, np.full_like(x, 80)], axis=-1).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["sd", "sdxl", "sd3"])
def test_every_page_on_each_pipeline_kind(monkeypatch, tiny_pipelines, kind):
    monkeypatch.chdir(Path(APP).parent)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.sidebar.selectbox[0].set_value("Load a diffusers folder ...").run()
    at.sidebar.text_input[0].set_value(str(tiny_pipelines[kind])).run()
    at.sidebar.select_slider[0].set_value(4).run()
    scheduler = [s for s in at.sidebar.selectbox if s.label == "Scheduler"][0]
    assert scheduler.options == [models.SCHEDULERS[n].label for n in PIPELINE_KINDS[kind][3]]
    scheduler.set_value(PIPELINE_KINDS[kind][3][-1]).run()  # DPM-Solver++
    precision = [s for s in at.sidebar.selectbox if s.label == "Precision"][0]
    assert precision.value == "auto" and precision.disabled  # the CPU computes in float32
    assert any("on cpu in float32" in c.value for c in at.sidebar.caption)
    at.switch_page("pages/seeds.py").run()
    at.button[0].click().run()  # 8 samples of the pipeline
    uploader = [u for u in at.get("file_uploader") if u.label == "PNG or JPEG images"][0]
    uploader.set_value(("gradient.png", _png(), "image/png")).run()
    [b for b in at.button if b.label == "Invert the images"][0].click().run()
    finish_jobs(at)
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert at.sidebar.metric[0].value == "9"
    for page in PAGES:
        finish_jobs(at.switch_page(page).run())
        assert not at.exception and not at.error, (page, [e.value for e in (*at.exception, *at.error)])
        if page == "pages/interpolate.py":
            assert len(frame_rows(at)) == 3  # the default schemes' filmstrips
    assert at.session_state["settings"]["scheduler"] == PIPELINE_KINDS[kind][3][-1]  # kept in the workspace
    if kind != "sd":
        return
    at.switch_page("pages/compare.py").run()  # the comparison on a pipeline, its seeds from the seed set
    [s for s in at.slider if s.label == "Pairs"][0].set_value(2).run()
    [s for s in at.select_slider if s.label.startswith("Centroid sets")][0].set_value(0).run()
    [r for r in at.radio if r.label == "Seeds"][0].set_value("seed set").run()
    assert "Your seeds may not be samples of the prior" in at.info[0].value  # one is an inverted image
    [b for b in at.button if b.label == "Run the comparison"][0].click().run()
    finish_jobs(at)
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    assert at.dataframe[0].value["ri_typical_mean"].between(0, 1).all()
    assert any("Class kept and Frechet: not measured, no judge" in c.value.replace("\\", "") for c in at.caption)
