"""Models: UNet2D diffusers folders built from configs (the other pipeline kinds: test_pipelines.py), the
inversion oracle, errors, and the built-in models (shapes, determinism, batching, reconstruction bounds,
classifier accuracy)."""

import dataclasses
import json
import types

import numpy as np
import pytest
import scipy.stats
import torch

import latentcore as lc
import latentcore.models as models
from latentcore.models.data import digits
from tools.train import DIGITS_SCHEDULER
from latentcore.models.diffusion import PixelDiffusionModel

# Encode-then-decode mean squared error on 64 held-out digits: about twice the values measured on all 297
# held-out digits (docs/models.md: digits-ddim 0.0025, digits-vae 0.0058, semicircle-gen 0.0149).
RECONSTRUCTION_MSE_BOUND = {"digits-vae": 0.012, "digits-ddim": 0.006, "semicircle-gen": 0.03}


def test_a_unet2d_pipeline_folder_loads_decodes_and_inverts(tiny_unet2d_folder):
    model = models.load_diffusers(tiny_unet2d_folder, device="cpu")
    assert model.latent_shape == (1, 8, 8) and model.image_shape == (1, 8, 8) and model.can_encode
    z = model.prior.sample(3, seed=0)
    images = model.decode(z, steps=4)
    assert images.shape == (3, 1, 8, 8) and float(images.min()) >= 0 and float(images.max()) <= 1
    assert torch.equal(images, model.decode(z, steps=4))
    latents = model.encode(images, steps=4)
    assert latents.shape == (3, 1, 8, 8) and torch.isfinite(latents).all()
    assert models.load_diffusers(tiny_unet2d_folder, device="cpu") is model  # cached


class ZeroNoiseUNet(torch.nn.Module):
    """Predicts zero noise: DDIM then only rescales, so decoding after inversion must return the input exactly
    when the two loops visit mirrored noise levels."""

    def __init__(self, size):
        super().__init__()
        self.config = types.SimpleNamespace(sample_size=size, in_channels=1, out_channels=1)

    def forward(self, x, t):
        return types.SimpleNamespace(sample=torch.zeros_like(x))


@pytest.mark.parametrize("config", [
    DIGITS_SCHEDULER,
    {**DIGITS_SCHEDULER, "timestep_spacing": "leading", "steps_offset": 1, "set_alpha_to_one": False,
     "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012},
])
def test_zero_noise_oracle_makes_inversion_an_exact_round_trip(config):
    model = PixelDiffusionModel(ZeroNoiseUNet(8), config, "oracle", "", "", device="cpu")
    images = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    for steps in (5, 25, 40):  # divisors of the 1000 training steps: mirrored noise levels
        latents = model.encode(images, steps=steps)
        # with no predicted noise each step only rescales by sqrt(alpha_{t+1} / alpha_t) < 1
        assert float(latents.abs().max()) < 0.5 * float((images * 2 - 1).abs().max())
        torch.testing.assert_close(model.decode(latents, steps=steps), images, atol=1e-5, rtol=1e-5)


def test_bad_folders_and_hub_ids_fail_with_clear_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(models.ModelLoadError, match="Hugging Face Hub id"):
        models.load_diffusers("google/ddpm-cifar10-32")
    with pytest.raises(models.ModelLoadError, match="does not exist"):
        models.load_diffusers(tmp_path / "nowhere")
    with pytest.raises(models.ModelLoadError, match="no folder given"):
        models.load_diffusers("  ")
    (tmp_path / "bare").mkdir()
    (tmp_path / "bare" / "config.json").write_text("{}")
    with pytest.raises(models.ModelLoadError, match="model_index.json.*parent pipeline folder"):
        models.load_diffusers(tmp_path / "bare")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "model_index.json").write_text(json.dumps({"_class_name": "AudioLDMPipeline"}))
    with pytest.raises(models.ModelLoadError, match="AudioLDMPipeline.*supported"):
        models.load_diffusers(tmp_path / "other")
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"],
         "scheduler": ["diffusers", "DDPMScheduler"]}))
    with pytest.raises(models.ModelLoadError, match="lacks the component"):
        models.load_diffusers(tmp_path / "half")


# --- built-in models -------------------------------------------------------------------------------------------

# What float32 can promise of one network evaluation: its 2**-24 rounding, grown by sums over fan-ins of hundreds
# through tens of layers (2**9), so 2**-15 per evaluation; a sampler's result carries the rounding of each of its
# `steps` evaluations. A batch may run other kernels (other blocking, another summation order) than one latent,
# so batched and one-at-a-time decodes may each sit anywhere within this bound of the exact result (measured on
# digits-ddim at 10 steps: 1.2e-5 to 4.7e-5 apart depending on the CPU's kernels; one-pass models 4e-7).
# Cross-talk between the latents of a batch (a batch norm in training mode, noise shared across the batch) moves
# pixels by 1e-2 or more.
FLOAT32_ROUNDING_PER_EVALUATION = 2.0 ** -15


@pytest.mark.parametrize("name", ["faces-dcgan", "digits-ddim", "digits-flow", "digits-vae", "semicircle-gen"])
def test_builtin_decodes_deterministically_and_batches_within_float32_rounding(name):
    assert name in models.available()
    model = models.load(name, device="cpu")
    assert models.load(name, device="cpu") is model
    assert model.description and model.trained_on
    opts = {"steps": 10} if model.sampler is not None else {}
    z = model.prior.sample(5, seed=3)
    images = model.decode(z, **opts)
    assert images.shape == (5, *model.image_shape) == (5, *((3, 64, 64) if name == "faces-dcgan" else (1, 16, 16)))
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert torch.equal(images, model.decode(z, **opts))
    one_by_one = torch.cat([model.decode(z[i:i + 1], **opts) for i in range(5)])
    exact = models.MODELS[name].build(torch.device("cpu"))  # a fresh copy whose networks compute in float64
    exact._cast(torch.float64)
    exact.dtype = torch.float64
    reference = exact.decode(z, **opts)
    bound = FLOAT32_ROUNDING_PER_EVALUATION * opts.get("steps", 1)
    for decoded in (images, one_by_one):
        torch.testing.assert_close(decoded, reference, atol=bound, rtol=0)


def test_faces_dcgan_decodes_like_the_original_generator():
    """The reference: 4 latents and the images of gan-face-generate 1.1.1's own Generator class (float32 weights,
    eval mode), written once by ``python -m tools.import_weights faces-dcgan WHEEL --reference``.
    The shipped weights are float16; every pixel stays within one 8-bit level of the original."""
    from pathlib import Path

    import safetensors.torch

    from latentcore.imaging import to_uint8

    reference = safetensors.torch.load_file(Path(__file__).parent / "data" / "faces-dcgan-reference.safetensors")
    model = models.load("faces-dcgan", device="cpu")
    assert (model.kind, model.latent_shape, model.image_shape, model.sampler) == ("gan", (100, 1, 1), (3, 64, 64), None)
    assert not model.can_encode and "DigiFace-1M" in model.trained_on
    images = model.decode(reference["latents"])
    original = (reference["images"] + 1) / 2
    assert float((images - original).abs().max()) <= 1 / 255
    assert int(np.abs(to_uint8(images).astype(int) - to_uint8(original).astype(int)).max()) <= 1
    assert float((images - original).abs().mean()) < 1e-3  # float16 rounding, not a different network
    other = model.decode(reference["latents"].flip(0))
    assert float((other - original).abs().mean()) > 0.05  # each image follows its own latent (eval-mode batch norm)
    licence = (Path(models.registry.ASSETS) / "faces-dcgan" / "LICENSE.md").read_text()
    assert "MIT" in licence and "Chien Liu" in licence and "non-commercial" in licence


@pytest.mark.parametrize("name", ["digits-ddim", "digits-vae", "semicircle-gen"])
def test_encode_then_decode_reconstructs_heldout_digits(name):
    model = models.load(name, device="cpu")
    images, _ = digits("heldout")
    images = images[:64]
    latents = model.encode(images)
    assert latents.shape == (64, *model.latent_shape)
    mse = float((model.decode(latents) - images).pow(2).mean())
    assert mse < RECONSTRUCTION_MSE_BOUND[name], mse


def test_inverted_ddim_latents_are_reported(capsys):
    model = models.load("digits-ddim", device="cpu")
    latents = model.encode(digits("heldout")[0][:32])
    flat = latents.flatten().numpy()
    p = scipy.stats.kstest(flat, "norm").pvalue
    with capsys.disabled():
        print(f"\ndigits-ddim inverted latents: mean {flat.mean():.3f}, std {flat.std():.3f}, KS p {p:.2e}")
    assert np.isfinite(flat).all()


def test_vae_decoding_is_differentiable_when_asked():
    model = models.load("digits-vae", device="cpu")
    z = model.prior.sample(2, seed=0).requires_grad_(True)
    model.decode(z, grad=True).sum().backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    assert not model.decode(z).requires_grad


def test_path_energy_differentiates_through_a_model():
    import latentcore as lc

    model = models.load("digits-vae", device="cpu")
    a, b = model.prior.sample(2, seed=4)
    path = lc.interpolate(a, b, 8, scheme="linear", prior=model.prior).requires_grad_(True)
    lc.path_energy(path, prior=model.prior, decoder=model).backward()
    assert torch.isfinite(path.grad).all() and float(path.grad[1:-1].abs().sum()) > 0
    index = lc.path_realism(path.detach(), prior=model.prior, decoder=model)
    assert 0 < float(index.index) <= 1


def test_images_of_other_sizes_and_channels_are_prepared():
    model = models.load("digits-vae", device="cpu")
    rgb = torch.rand(2, 3, 40, 32)
    assert model.prepare_images(rgb).shape == (2, 1, 16, 16)
    assert model.encode(rgb[0]).shape == (1, 16)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.encode(rgb * 255)


def test_classifier_accuracy_on_heldout_digits():
    classifier = models.load_classifier(device="cpu")
    images, labels = digits("heldout")
    accuracy = float((classifier.predict(images) == labels).float().mean())
    assert accuracy >= 0.95
    assert classifier.features(images[:4]).shape == (4, 128)
    torch.testing.assert_close(classifier.predict_proba(images[:4]).sum(1), torch.ones(4))


def test_frechet_distance():
    from latentcore.models.classifier import frechet_distance

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(500, 4, generator=g), torch.randn(500, 4, generator=g)
    assert frechet_distance(a, b) < 0.2
    assert abs(frechet_distance(a, a + 3.0) - 36.0) < 1e-6


class ClassConditionalGenerator(models.GenerativeModel):
    """A toy class-conditional GAN-style generator: one linear layer from (latent, one-hot label) to an image.
    It shows that the typed interface serves a conditional generator with no sampler."""

    kind = "gan"
    conditions = {"label": models.Condition("label", int, 0, "The digit class to draw", choices=tuple(range(10)))}

    def __init__(self):
        super().__init__("cpu")
        self.name, self.description, self.trained_on = "toy-cgan", "a toy", "nothing"
        self.latent_shape, self.image_shape = (8,), (1, 4, 4)
        self.prior = lc.StandardNormal(8)
        self.net = torch.nn.Linear(8 + 10, 16)

    def _decode(self, latents, *, label: int):
        onehot = torch.nn.functional.one_hot(torch.full((len(latents),), label), 10).float()
        return torch.sigmoid(self.net(torch.cat([latents, onehot], 1))).reshape(-1, *self.image_shape)


def test_the_model_interface_serves_a_conditional_generator_and_refuses_what_a_model_does_not_take():
    torch.manual_seed(0)
    model = ClassConditionalGenerator()
    z = model.prior.sample(3, seed=0)
    three, default = model.decode(z, label=3), model.decode(z)
    assert three.shape == (3, 1, 4, 4) and not torch.equal(three, default)
    torch.testing.assert_close(model.decode(z, label=0), default)
    with pytest.raises(ValueError, match="toy-cgan decodes in one pass and takes no sampler steps"):
        model.decode(z, steps=10)
    with pytest.raises(ValueError, match="toy-cgan takes no condition prompt; its conditions: label"):
        model.decode(z, prompt="a cat")
    with pytest.raises(ValueError, match="label must be one of 0, 1, 2"):
        model.decode(z, label=12)
    with pytest.raises(ValueError, match="label must be an integer"):
        model.decode(z, label=2.5)
    with pytest.raises(ValueError, match="latents to decode: 1 NaN or Inf value found"):
        model.decode(torch.tensor([[float("nan")] + [0.0] * 7]))
    decoder = model.decoder(label=3)  # a plain differentiable callable, e.g. for ri-optimal paths
    path = lc.interpolate(z[0], z[1], 6, scheme="linear", prior=model.prior).requires_grad_(True)
    lc.path_energy(path, prior=model.prior, decoder=decoder).backward()
    assert path.grad is not None and torch.isfinite(path.grad).all() and float(path.grad.abs().sum()) > 0
    ddim = models.load("digits-ddim")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        ddim.decode(ddim.prior.sample(1, seed=0), steps=0)


def test_a_decoding_is_made_and_checked_by_its_model_once_and_taken_everywhere():
    ddim, vae = models.load("digits-ddim", device="cpu"), models.load("digits-vae", device="cpu")
    decoding = ddim.decoding(steps=10, scheduler="ddim")
    assert decoding == ddim.decoding(steps=10) and hash(decoding) == hash(ddim.decoding(steps=10))  # a cache key
    assert decoding.describe() == {"steps": 10, "scheduler": "ddim", "conditions": {}}
    assert ddim.decoding_described(decoding.describe()) == decoding  # a saved run's or round's, made again
    assert vae.decoding() == models.Decoding("digits-vae") and ddim.decoding().steps == ddim.sampler.default
    z = ddim.prior.sample(2, seed=0)
    assert torch.equal(ddim.decode(z, decoding), ddim.decode(z, steps=10, scheduler="ddim"))
    assert torch.equal(ddim.decoder(decoding)(z), ddim.decode(z, decoding)) and vae.decoder() is vae
    with pytest.raises(ValueError, match="decodes with a Decoding it made"):
        vae.decode(vae.prior.sample(1, seed=0), decoding)  # another model's
    with pytest.raises(ValueError, match="as one Decoding or by keyword, not both"):
        ddim.decode(z, decoding, steps=5)
    with pytest.raises(ValueError, match="takes no sampler steps"):
        vae.decoding(steps=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoding.steps = 5
