"""Diffusion models as decoders: the latent is ``x_T`` and decoding is deterministic DDIM; encoding is DDIM
inversion (see :mod:`.ddim`).

- :class:`PixelDiffusionModel`: a ``UNet2DModel`` pipeline (DDPM or DDIM) on pixels in [-1, 1]; the built-in
  ``digits-ddim`` is one.
- :class:`StableDiffusionModel`: a Stable Diffusion pipeline; the latent is ``4 x H/8 x W/8`` and decoding runs
  DDIM in the VAE's latent space, conditioned on a prompt with classifier-free guidance, then the VAE decoder.
"""

from __future__ import annotations

import torch

from ..priors import StandardNormal
from .base import Condition, GenerativeModel, Sampler
from .ddim import ddim_decode, ddim_invert, schedulers

DDIM_SAMPLER = Sampler("Decoding steps (DDIM)", 25, (10, 20, 25, 40, 50),
                       "Step counts that divide the 1000 training steps invert exactly")


class PixelDiffusionModel(GenerativeModel):
    kind = "diffusion"
    sampler = DDIM_SAMPLER
    decode_batch = 64

    def __init__(self, unet, scheduler_config: dict, name: str, description: str, trained_on: str, device=None):
        super().__init__(device)
        self.unet = unet.to(self.device).eval().requires_grad_(False)
        self.scheduler, self.inverse_scheduler = schedulers(scheduler_config)
        cfg = unet.config
        size = cfg.sample_size if isinstance(cfg.sample_size, int) else tuple(cfg.sample_size)
        h, w = (size, size) if isinstance(size, int) else size
        self.latent_shape = (cfg.in_channels, h, w)
        self.image_shape = (cfg.out_channels, h, w)
        self.prior = StandardNormal(self.latent_shape)
        self.name, self.description, self.trained_on = name, description, trained_on

    def _eps(self, x, t):
        return self.unet(x, t).sample

    def _decode(self, latents, *, steps: int):
        x0 = ddim_decode(self._eps, self.scheduler, latents, steps)
        return ((x0 + 1.0) / 2.0).clamp(0.0, 1.0)

    def _encode(self, images, *, steps: int):
        return ddim_invert(self._eps, self.inverse_scheduler, images * 2.0 - 1.0, steps)


class StableDiffusionModel(GenerativeModel):
    kind = "diffusion"
    sampler = DDIM_SAMPLER
    conditions = {
        "prompt": Condition("prompt", str, "", "The text the image should show"),
        "guidance_scale": Condition("guidance_scale", float, 7.5, "Classifier-free guidance; 1 turns it off"),
    }
    decode_batch = 4
    encode_batch = 4

    def __init__(self, components: dict, name: str, description: str, device=None):
        super().__init__(device)
        self.unet = components["unet"].to(self.device).eval().requires_grad_(False)
        self.vae = components["vae"].to(self.device).eval().requires_grad_(False)
        self.text_encoder = components["text_encoder"].to(self.device).eval().requires_grad_(False)
        self.tokenizer = components["tokenizer"]
        self.scheduler, self.inverse_scheduler = schedulers(components["scheduler_config"])
        factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        size = self.unet.config.sample_size
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        self.latent_shape = (self.unet.config.in_channels, h, w)
        self.image_shape = (3, h * factor, w * factor)
        self.scaling = float(getattr(self.vae.config, "scaling_factor", 0.18215))
        self.prior = StandardNormal(self.latent_shape)
        self.name, self.description = name, description
        self.trained_on = "whatever the pipeline's authors trained it on (see its model card)"
        self._embeddings: dict[str, torch.Tensor] = {}

    def _embed(self, prompt: str) -> torch.Tensor:
        if prompt not in self._embeddings:
            tokens = self.tokenizer([prompt], padding="max_length", max_length=self.tokenizer.model_max_length,
                                    truncation=True, return_tensors="pt").input_ids.to(self.device)
            with torch.no_grad():
                self._embeddings[prompt] = self.text_encoder(tokens)[0]
        return self._embeddings[prompt]

    def _eps_fn(self, batch: int, prompt: str, guidance_scale: float):
        cond = self._embed(prompt).expand(batch, -1, -1)
        if guidance_scale == 1.0:
            return lambda x, t: self.unet(x, t, encoder_hidden_states=cond).sample
        uncond = self._embed("").expand(batch, -1, -1)
        both = torch.cat([uncond, cond])

        def eps(x, t):
            e_uncond, e_cond = self.unet(torch.cat([x, x]), t, encoder_hidden_states=both).sample.chunk(2)
            return e_uncond + guidance_scale * (e_cond - e_uncond)

        return eps

    def _decode(self, latents, *, steps: int, prompt: str, guidance_scale: float):
        eps = self._eps_fn(latents.shape[0], prompt, guidance_scale)
        x0 = ddim_decode(eps, self.scheduler, latents, steps)
        images = self.vae.decode(x0 / self.scaling).sample
        return ((images + 1.0) / 2.0).clamp(0.0, 1.0)

    def _encode(self, images, *, steps: int, prompt: str, guidance_scale: float):
        x0 = self.vae.encode(images * 2.0 - 1.0).latent_dist.mean * self.scaling
        eps = self._eps_fn(images.shape[0], prompt, 1.0)  # inversion runs without guidance
        return ddim_invert(eps, self.inverse_scheduler, x0, steps)


__all__ = ["PixelDiffusionModel", "StableDiffusionModel"]
