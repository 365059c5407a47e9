"""Flow-matching decoding and inversion against the exact flow of Gaussian data; the built-in digits-flow (shapes,
steps, sample quality, the ODE round trip, its folder as a diffusers pipeline)."""

import math

import pytest
import torch

from latentcore import models
from latentcore.models.data import digits
from latentcore.models.flow import flow_decode, flow_invert, flow_scheduler
from latentcore.models.registry import ASSETS

MEAN, STD = 0.7, 0.3  # data N(MEAN, STD^2) per element: the flow between it and N(0, I) is known in closed form


def exact_velocity(x, t):
    """v(x, s) of x_s = (1 - s) MEAN + sd(s) x_1 with sd(s) = sqrt((1 - s)^2 STD^2 + s^2)."""
    s = (torch.as_tensor(t, dtype=torch.float32) / 1000).reshape(-1, *[1] * (x.dim() - 1))
    sd = torch.sqrt((1 - s) ** 2 * STD ** 2 + s ** 2)
    return -MEAN + (x - (1 - s) * MEAN) * (-(1 - s) * STD ** 2 + s) / sd ** 2


def test_euler_decode_and_inversion_converge_to_the_exact_flow():
    scheduler = flow_scheduler({"num_train_timesteps": 1000, "shift": 1.0, "_class_name": "ignored"})
    noise = torch.randn(8, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    errors = []
    for steps in (10, 50, 200):
        data = flow_decode(exact_velocity, scheduler, noise, steps)
        back = flow_invert(exact_velocity, scheduler, data, steps)
        errors.append(((data - (MEAN + STD * noise)).abs().max().item(), (back - noise).abs().max().item()))
    assert errors[-1][0] < 0.02 and errors[-1][1] < 0.1
    for coarse, fine in zip(errors, errors[1:]):  # first order: 4-5x more steps, 3x smaller error at least
        assert fine[0] < coarse[0] / 3 and fine[1] < coarse[1] / 3
    assert scheduler.step_index is None  # the model's scheduler is untouched: decoding works on a copy


# --- the built-in digits-flow ------------------------------------------------------------------------------------

FLOW_PSNR_BOUND = 22.0  # dB, round trip at 25 steps on 8 held-out digits (measured 24.9; docs/models.md: 23.4, all 297)


def _flow():
    return models.load("digits-flow", device="cpu")


def test_digits_flow_is_a_flow_model_of_16x16_digits():
    model = _flow()
    assert (model.kind, model.latent_shape, model.image_shape) == ("flow", (1, 16, 16), (1, 16, 16))
    assert model.can_encode and model.sampler.default == 25 and min(model.sampler.choices) == 10
    assert max(model.sampler.choices) == 50 and "scikit-learn" in model.trained_on
    assert type(model.scheduler).__name__ == "FlowMatchEulerDiscreteScheduler"


def test_digits_flow_steps_are_accepted_or_refused_with_a_message():
    model = _flow()
    z = model.prior.sample(2, seed=1)
    ten, fifty = model.decode(z, steps=10), model.decode(z, steps=50)
    assert ten.shape == fifty.shape == (2, 1, 16, 16) and not torch.equal(ten, fifty)
    assert float((ten - fifty).abs().mean()) < 0.05  # both follow the same ODE: Euler steps only refine the path
    for bad in (0, -3, 2.5, "ten"):
        with pytest.raises(ValueError, match="steps must be an integer"):
            model.decode(z, steps=bad)
    with pytest.raises(ValueError, match="digits-flow takes no condition prompt"):
        model.decode(z, prompt="a seven")


def test_digits_flow_samples_are_digits_the_classifier_recognises():
    """32 prior samples at the default 25 steps: the classifier is confident (p > 0.8) on most of them and they are
    not all one digit (docs/models.md: 256 samples measure the fraction over all)."""
    samples = _flow().decode(_flow().prior.sample(32, seed=0))
    confidence, label = models.load_classifier(device="cpu").predict_proba(samples).max(1)
    assert float((confidence > 0.8).float().mean()) >= 0.85
    assert len(set(label.tolist())) >= 6


def test_digits_flow_round_trip_of_heldout_digits():
    """ODE inversion then decoding, both at 25 Euler steps, on 8 held-out digits; each digit gets its own latent."""
    model = _flow()
    images = digits("heldout")[0][:8]
    latents = model.encode(images)
    assert latents.shape == (8, 1, 16, 16) and torch.isfinite(latents).all()
    mse = float((model.decode(latents) - images).pow(2).mean())
    assert 10 * math.log10(1 / mse) > FLOW_PSNR_BOUND, mse
    shuffled = float((model.decode(latents.roll(1, 0)) - images).pow(2).mean())
    assert shuffled > 10 * mse


def test_digits_flow_folder_is_a_diffusers_pipeline_that_samples_like_the_model():
    """diffusers' own DDPMPipeline loads the shipped folder and, from the same noise, draws the same digits."""
    from diffusers import DDPMPipeline

    pipe = DDPMPipeline.from_pretrained(ASSETS / "digits-flow", local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    theirs = pipe(batch_size=3, generator=torch.Generator().manual_seed(5), num_inference_steps=10,
                  output_type="np").images
    noise = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    ours = _flow().decode(noise, steps=10).permute(0, 2, 3, 1).numpy()
    assert abs(theirs - ours).max() < 1e-4
