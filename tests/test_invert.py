"""Inversion of images into latents (latentcore.invert) and the out-of-domain verdict (latentcore.reach), on the
real digits-vae model."""

import io
import math

import numpy as np
import pytest
import torch

import latentcore as lc
import latentcore.models as models
from latentcore.invert import DEFAULT_PRIOR_WEIGHT, invert, inversion_methods, typicality_penalty
from latentcore.reach import typical_error

FAST = {"max_iter": 150, "restarts": 2}


@pytest.fixture(scope="module")
def vae():
    return models.load("digits-vae", device="cpu")


def own_samples(model, n, seed):
    return model.decode(model.prior.sample(n, seed=seed, device="cpu"))


def photo_like(seed=0):
    """Smooth colour noise and an 800x600 colour gradient: nothing like a digit."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.nn.functional.interpolate(torch.rand(3, 3, 4, 4, generator=g), size=(64, 64), mode="bicubic",
                                            align_corners=False).clamp(0, 1)
    ramp_x, ramp_y = torch.linspace(0, 1, 800), torch.linspace(0, 1, 600)
    gradient = torch.stack([ramp_x[None].expand(600, 800), ramp_y[:, None].expand(600, 800),
                            torch.full((600, 800), 0.3)])[None]
    return [noise, gradient]


def real_digits(n):
    from latentcore.models.data import digits

    return digits("heldout")[0][:n]


def test_methods_follow_what_the_model_can_do(vae):
    assert list(inversion_methods(vae)) == ["encoder", "optimise", "refine"]
    ddim = models.load("digits-ddim", device="cpu")
    assert list(inversion_methods(ddim)) == ["encoder"]  # a sampler: no differentiable one-pass decoder
    assert lc.default_method(ddim) == "encoder"
    with pytest.raises(ValueError, match="unknown inversion method 'optimise'; choose one of encoder"):
        invert(ddim, torch.rand(1, 1, 16, 16), method="optimise")


def test_optimisation_recovers_decoded_samples(vae):
    images = own_samples(vae, 8, seed=11)
    found = invert(vae, images, method="optimise", **FAST)
    assert found.latents.shape == (8, 16) and found.reconstructions.shape == (8, 1, 16, 16)
    # the encoder alone reaches about 29 dB on such samples, random latents about 12 dB
    assert np.median(found.psnr) > 38.0 and found.psnr.min() > 30.0, found.psnr
    np.testing.assert_allclose(found.mse, (vae.decode(found.latents) - images).pow(2).mean((1, 2, 3)).numpy(),
                               rtol=1e-4)
    assert found.stopped_by in ("converged", "max_iter") and 0 < found.iterations <= FAST["max_iter"]


def test_refinement_improves_on_the_encoder(vae):
    images = own_samples(vae, 8, seed=12)
    encoded = invert(vae, images, method="encoder")
    refined = invert(vae, images, method="refine", max_iter=150, restarts=1)
    assert encoded.stopped_by == "encoded" and encoded.iterations == 0
    assert np.median(refined.psnr) > np.median(encoded.psnr) + 8.0, (encoded.psnr, refined.psnr)


def test_restarts_keep_the_start_of_lowest_loss_per_image(vae):
    images = own_samples(vae, 5, seed=13)
    found = invert(vae, images, method="optimise", max_iter=0, restarts=6, seed=3)  # no step: the starts compete
    starts = vae.prior.sample(5 * 6, seed=3, device="cpu").reshape(5, 6, 16)
    decoded = vae.decode(starts)
    loss = (decoded - images[:, None]).pow(2).mean((2, 3, 4)) + DEFAULT_PRIOR_WEIGHT * typicality_penalty(
        starts.reshape(30, 16), vae.prior).reshape(5, 6)
    best = loss.argmin(1)
    assert len(set(best.tolist())) > 1  # the test means something only if different restarts win
    assert found.restart.tolist() == best.tolist()
    torch.testing.assert_close(found.latents, starts[torch.arange(5), best])


def test_time_budget_and_stop_request_end_early_with_the_best_so_far(vae):
    images = own_samples(vae, 4, seed=14)
    budget = invert(vae, images, method="optimise", max_iter=100_000, tol=0.0, budget_s=2.0)  # a busy machine too
    assert budget.stopped_by == "budget" and 0 < budget.iterations < 100_000
    assert "time budget was spent" in budget.message and "best latents found so far" in budget.message
    assert np.isfinite(budget.psnr).all()
    calls = []
    stopped = invert(vae, images, method="optimise", max_iter=1000, tol=0.0,
                     should_stop=lambda: calls.append(1) or len(calls) >= 5)
    assert stopped.stopped_by == "stop" and stopped.iterations == 4
    assert "stop was requested" in stopped.message


def test_progress_reports_fractions_and_time_left(vae):
    seen = []
    invert(vae, own_samples(vae, 2, seed=15), method="optimise", max_iter=60, tol=0.0, restarts=1,
           progress=lambda f, text: seen.append((f, text)))
    assert seen and all(0.0 <= f <= 1.0 for f, _ in seen) and seen[-1][0] == 1.0
    assert any("s left" in text for _, text in seen[:-1])
    assert "iteration limit reached after 60 iterations" in seen[-1][1]


def test_constant_images_give_finite_results(vae):
    images = torch.tensor([0.0, 1.0, 0.5]).reshape(3, 1, 1, 1).expand(3, 1, 16, 16)
    for method in inversion_methods(vae):
        found = invert(vae, images, method=method, **FAST)
        assert torch.isfinite(found.latents).all() and np.isfinite(found.mse).all() and np.isfinite(found.psnr).all()


def test_the_penalty_keeps_inverted_latents_typical(vae):
    """Without the penalty photo-like images pull the latent's norm far beyond the prior's typical band."""
    images = photo_like()
    free = invert(vae, images, method="optimise", prior_weight=0.0, **FAST)
    held = invert(vae, images, method="optimise", **FAST)
    q = lambda z: ((z.pow(2).sum(1) - 16) / math.sqrt(32)).abs()  # noqa: E731
    assert (q(free.latents) > 3.0).all() and (q(held.latents) < 2.5).all()


def test_bad_settings_and_images_are_refused(vae):
    with pytest.raises(ValueError, match="restarts must be an integer >= 1"):
        invert(vae, torch.rand(1, 1, 16, 16), method="optimise", restarts=0)
    with pytest.raises(ValueError, match="budget_s must be a positive, finite number"):
        invert(vae, torch.rand(1, 1, 16, 16), method="optimise", budget_s=0)
    with pytest.raises(ValueError, match=r"image values must lie in \[0, 1\]"):
        invert(vae, torch.full((1, 1, 16, 16), 2.0), method="optimise")


def test_out_of_domain_verdict(vae):
    for method, settings in (("encoder", {}), ("optimise", FAST)):
        reference = typical_error(vae, method=method, samples=16, **settings)
        assert reference.complete and len(reference.errors) == 16 and reference.p95 < reference.threshold
        own = invert(vae, own_samples(vae, 8, seed=16), method=method, **settings)
        assert "far" not in reference.verdicts(own), reference.describe(own)
        photos = invert(vae, photo_like(), method=method, **settings)
        assert (reference.verdicts(photos) == "far").all(), reference.describe(photos)
        assert all(text.startswith("Far from what digits-vae can make") for text in reference.describe(photos))
        digits = invert(vae, real_digits(8), method=method, **settings)  # the training domain: never far
        assert "far" not in reference.verdicts(digits), reference.describe(digits)


def test_typical_errors_are_cached_unless_stopped(vae):
    first = typical_error(vae, method="optimise", samples=4, max_iter=40, restarts=1)
    again = typical_error(vae, method="optimise", samples=4, max_iter=40, restarts=1, budget_s=60.0)
    assert again.errors is first.errors  # a complete reference serves any budget
    endless = {"method": "optimise", "samples": 4, "max_iter": 100_000, "tol": 0.0, "restarts": 1}
    short = typical_error(vae, budget_s=0.2, **endless)
    assert short.stopped_by == "budget" and not short.complete
    assert typical_error(vae, budget_s=0.2, **endless).errors is short.errors  # the same budget, the same result
    calls = []
    stopped = typical_error(vae, should_stop=lambda: calls.append(1) or len(calls) > 3, **endless)
    assert stopped.stopped_by == "stop" and not stopped.complete
    more = []
    recomputed = typical_error(vae, should_stop=lambda: more.append(1) or len(more) > 3, **endless)
    assert recomputed.errors is not stopped.errors
    with pytest.raises(ValueError, match="takes no setting budget"):
        typical_error(vae, method="optimise", budget=3)


def test_every_inversion_method_takes_the_run_controls(vae):
    """The model's own inverse runs in one pass and has nothing to cut short, but it takes the controls as
    optimisation does, so a caller never asks which method takes them."""
    images = own_samples(vae, 2, seed=5)
    for method in inversion_methods(vae):
        result = invert(vae, images, method=method, max_iter=5, restarts=1, budget_s=30.0,
                        should_stop=lambda: False, progress=lambda fraction, text: None)
        assert result.latents.shape == (2, *vae.latent_shape) and result.method == method
        reference = typical_error(vae, method=method, samples=2, max_iter=5, restarts=1, budget_s=30.0,
                                  should_stop=lambda: False, progress=lambda fraction, text: None)
        assert len(reference.errors) == 2


# faces-dcgan: a GAN reconstructs smooth images (gradients, discs, flat colours, an upscaled 1x1 picture) with a
# small pixel error, so the verdict also compares edges and the image's own detail and flatness (latentcore.reach).
FACES_FAST = {"max_iter": 60, "restarts": 1}


def upload(array):
    """A uint8 [H, W, 3] array as the app receives it: PNG bytes, loaded and shrunk towards the GAN's size."""
    from latentcore.imaging import load_image
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return load_image(buffer.getvalue(), "upload.png", (64, 64))


def not_faces():
    """A 3000x3000 colour gradient, a radial-gradient disc on a plain background, the pagoda photograph that
    scikit-learn ships (a square crop) and a 1x1 image."""
    from sklearn.datasets import load_sample_images

    t = np.linspace(0.0, 1.0, 3000, dtype=np.float32)
    gradient = (np.stack([t[None, :].repeat(3000, 0), t[:, None].repeat(3000, 1),
                          np.full((3000, 3000), 0.3, np.float32)], -1) * 255).astype(np.uint8)
    y, x = np.mgrid[0:256, 0:256]
    r = np.hypot(x - 128, y - 128) / 80.0
    ring = np.clip(r, 0, 1)[..., None] * np.array([200.0, -255.0, -255.0]) + np.array([255.0, 255.0, 255.0])
    disc = np.where((r <= 1)[..., None], ring, np.array([20.0, 20.0, 60.0])).astype(np.uint8)
    pagoda = load_sample_images().images[0][:, 100:527]
    pixel = np.full((1, 1, 3), 128, np.uint8)
    return {name: upload(image) for name, image in (("gradient", gradient), ("disc", disc), ("pagoda", pagoda),
                                                      ("1x1", pixel))}


@pytest.fixture(scope="module")
def faces():
    gan = models.load("faces-dcgan", device="cpu")
    return gan, typical_error(gan, method="optimise", samples=8, **FACES_FAST)


def test_the_gan_accepts_its_own_samples(faces):
    gan, reference = faces
    assert reference.complete and reference.measures.mismatch.shape == (8,)
    own = invert(gan, own_samples(gan, 4, seed=17), method="optimise", **FACES_FAST)
    assert "far" not in reference.verdicts(own), reference.describe(own)


def test_the_gan_flags_gradients_discs_photos_and_a_single_pixel(faces):
    gan, reference = faces
    images = not_faces()
    found = invert(gan, list(images.values()), method="optimise", **FACES_FAST)
    verdicts, sentences = dict(zip(images, reference.verdicts(found))), dict(zip(images, reference.describe(found)))
    pixels_only = lc.TypicalError(reference.model, reference.method, reference.errors, "max_iter", 0.0)
    assert "typical" in pixels_only.verdicts(found)  # the pixel error alone let some of them through
    assert verdicts["pagoda"] != "typical", sentences["pagoda"]
    for name in ("gradient", "disc", "1x1"):  # decided by the image's own detail and flatness, whatever the inversion
        assert verdicts[name] == "far", sentences[name]
    assert "much smoother than any of the model's own samples" in sentences["gradient"]
    assert "of the image is flat" in sentences["disc"]
    assert "much smoother" in sentences["1x1"] and "100% of the image is flat" in sentences["1x1"]
    assert all(s.startswith("Far from what faces-dcgan can make") for s in (sentences["gradient"], sentences["1x1"]))


def test_the_image_measures():
    from latentcore.reach import edge_mismatch, flat_share, image_detail

    flat = torch.full((1, 3, 8, 8), 0.5)
    ramp = torch.linspace(0, 1, 8).expand(1, 3, 8, 8).contiguous()  # steps of 1/7 along the width
    assert image_detail(flat)[0] == 0.0 and image_detail(ramp)[0] == pytest.approx((1 / 7) ** 2)
    assert flat_share(flat)[0] == 1.0 and flat_share(ramp)[0] == 0.0
    noise = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert edge_mismatch(noise, noise).max() == 0.0
    assert edge_mismatch(noise[:1], noise[1:])[0] == pytest.approx(1.0, abs=0.1)  # unrelated edges
    assert edge_mismatch(1 - noise, noise).min() > 1.9  # opposite edges
