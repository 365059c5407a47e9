"""Text-to-image diffusers pipelines as decoders: Stable Diffusion 1.x/2.x, Stable Diffusion XL and Stable
Diffusion 3. The latent is the starting noise in the VAE's latent space (``C x H/f x W/f``, prior N(0, I));
decoding runs the chosen scheduler (:mod:`.schedulers`) conditioned on a prompt with classifier-free guidance
(Ho & Salimans, "Classifier-Free Diffusion Guidance", arXiv 2207.12598), then the VAE decoder; encoding runs the VAE
encoder (the posterior mean), then inverts the sampler without guidance: DDIM inversion for the diffusion models,
the flow ODE backwards for Stable Diffusion 3.

- :class:`StableDiffusionModel` (Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models",
  arXiv 2112.10752): one CLIP text encoder, its last hidden states condition the UNet.
- :class:`StableDiffusionXLModel` (Podell et al., "SDXL: Improving Latent Diffusion Models for High-Resolution
  Image Synthesis", arXiv 2307.01952): two CLIP text encoders whose penultimate hidden states are concatenated,
  the second one's pooled (projected) embedding and the "added time ids" (original size, crop corner, target
  size: here the image size, no crop) condition the UNet; an empty prompt's embeddings are zeros when the
  pipeline says so (``force_zeros_for_empty_prompt``).
- :class:`StableDiffusion3Model` (Esser et al., "Scaling Rectified Flow Transformers for High-Resolution Image
  Synthesis", arXiv 2403.03206): a flow-matching ``SD3Transformer2DModel``; two CLIP encoders (penultimate hidden
  states side by side, pooled embeddings concatenated) and a T5 encoder whose states follow the CLIP ones in the
  sequence; without the T5 encoder (diffusers allows that) its part is zeros, as in diffusers.

As in diffusers: latents enter the VAE as ``z / scaling_factor + shift_factor``; the VAE decodes one image at a
time (slicing) and tiles images larger than its tile size, and stays in float32 when it is known to overflow in
float16 (``force_upcast``). Prompt embeddings are computed once per prompt and kept (the last 16 prompts).
"""

from __future__ import annotations

import collections
import threading

import torch

from ..priors import StandardNormal
from .base import Condition, GenerativeModel, ModelLoadError, Sampler
from .ddim import ddim_invert, inverse_scheduler
from .flow import flow_invert
from .precision import half_dtype, resolve_dtype
from .schedulers import choices, make_scheduler, sample

#: The prompt condition of every text-to-image pipeline (default empty).
PROMPT = Condition("prompt", str, "", "The text the image should show")
#: The classifier-free guidance scale of every text-to-image pipeline (default 7.5; 1 turns guidance off).
GUIDANCE = Condition("guidance_scale", float, 7.5, "Classifier-free guidance; 1 turns it off (and halves the work)")
#: The T5 sequence length of diffusers' Stable Diffusion 3 pipeline.
T5_TOKENS = 256
#: How many prompts' embeddings a model keeps on the device (an SD3 prompt's take 2.7 MB in float16).
KEPT_PROMPTS = 16


def sampler_for(family: str, default: int, config: dict) -> Sampler:
    """Steps from 4 to 50 and the schedulers of ``family``, the pipeline's own (``config``) first."""
    return Sampler("Decoding steps", default, (4, 8, 10, 20, 25, 40, 50),
                   "More steps: closer to the model's own images, slower. Inversion runs the same number of steps",
                   schedulers=choices(family, config))


def _expand(embeddings, batch: int):
    """Embeddings of one prompt (tensors ``[1, ...]``, possibly in a dict) repeated ``batch`` times (views)."""
    if isinstance(embeddings, dict):
        return {k: _expand(v, batch) for k, v in embeddings.items()}
    return embeddings.expand(batch, *embeddings.shape[1:])


def _stack(first, second):
    """Two batches of embeddings one after the other (the unconditional and the conditional half)."""
    if isinstance(first, dict):
        return {k: _stack(first[k], second[k]) for k in first}
    return torch.cat([first, second])


class LatentPipelineModel(GenerativeModel):
    """What the text-to-image pipelines share: VAE, schedulers, prompt embeddings, guidance, precision. Subclasses
    set ``family`` (``"noise"`` or ``"flow"``), ``denoiser`` (the attribute name of the UNet or transformer) and
    implement ``_prompt_embeddings(prompt)`` (the network's keyword arguments for one prompt, ``[1, ...]``) and
    ``_network(x, t, embeddings)``."""

    kind = "diffusion"
    family = "noise"
    denoiser = "unet"
    prefer_bfloat16 = False
    conditions = {"prompt": PROMPT, "guidance_scale": GUIDANCE}
    decode_batch = 4
    encode_batch = 4
    sized_by_memory = True

    def __init__(self, components: dict, name: str, description: str, device=None, precision: str = "auto"):
        super().__init__(device)
        self.sampler = sampler_for(self.family, 25 if self.family == "noise" else 28, components["scheduler_config"])
        self.tokenizers = [components[k] for k in ("tokenizer", "tokenizer_2", "tokenizer_3")
                           if components.get(k) is not None]
        dtype = resolve_dtype(precision, self.device, self.auto_dtype()) or torch.float32
        self._embedding = threading.Lock()
        for key, value in components.items():
            if isinstance(value, torch.nn.Module):  # cast on the CPU, then move: the device never holds float32
                setattr(self, key, value.eval().requires_grad_(False))
        self._cast(dtype)
        self.dtype = dtype
        for module in self.networks().values():
            module.to(self.device)
        self.vae.enable_slicing()
        self.vae.enable_tiling()
        config = components["scheduler_config"]
        self.schedulers = {n: make_scheduler(n, self.family, config) for n in self.sampler.schedulers}
        if self.family == "noise":
            self.inverse_scheduler = inverse_scheduler(config)
        net = getattr(self, self.denoiser).config
        self.vae_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        size = net.sample_size
        h, w = (size, size) if isinstance(size, int) else tuple(size)
        self.latent_shape = (net.in_channels, h, w)
        self.image_shape = (3, h * self.vae_factor, w * self.vae_factor)
        self.scaling = float(getattr(self.vae.config, "scaling_factor", 0.18215))
        self.shift = float(getattr(self.vae.config, "shift_factor", None) or 0.0)
        self.prior = StandardNormal(self.latent_shape)
        self.name, self.description = name, description
        self.trained_on = "whatever the pipeline's authors trained it on (see its model card)"

    def auto_dtype(self) -> torch.dtype | None:
        return half_dtype(self.device, self.prefer_bfloat16)

    def _cast(self, dtype: torch.dtype) -> None:
        # a VAE that overflows in float16 stays in float32 (diffusers upcasts it the same way)
        upcast = dtype == torch.float16 and getattr(self.vae.config, "force_upcast", False)
        for module in self.networks().values():
            target = torch.float32 if upcast and module is self.vae else dtype
            if any(p.dtype != target for p in module.parameters()):
                module.to(target)
        self._embeddings = collections.OrderedDict()  # computed in the old dtype

    # --- prompts and guidance --------------------------------------------------------------------------------

    def _embed(self, prompt: str):
        """The prompt's embeddings, kept for the :data:`KEPT_PROMPTS` prompts used last."""
        with self._embedding:  # decodes in several threads share the cache
            found = self._embeddings.get(prompt)
            if found is None:
                with torch.no_grad():
                    found = self._prompt_embeddings(prompt)
            self._embeddings[prompt] = found
            self._embeddings.move_to_end(prompt)
            while len(self._embeddings) > KEPT_PROMPTS:
                self._embeddings.popitem(last=False)
            return found

    def _negative(self):
        """The embeddings of the unconditional half of guidance: those of the empty prompt."""
        return self._embed("")

    def _tokens(self, tokenizer, prompt: str, length: int | None = None) -> torch.Tensor:
        return tokenizer([prompt], padding="max_length", max_length=length or tokenizer.model_max_length,
                         truncation=True, return_tensors="pt").input_ids.to(self.device)

    def _guided(self, batch: int, prompt: str, guidance_scale: float):
        """``(x, t) -> prediction`` for a batch of ``batch`` latents, with classifier-free guidance unless the
        scale is 1."""
        cond = _expand(self._embed(prompt), batch)
        if guidance_scale == 1.0:
            return lambda x, t: self._network(x, t, cond)
        both = _stack(_expand(self._negative(), batch), cond)

        def guided(x, t):
            uncond, conditional = self._network(torch.cat([x, x]), t, both).chunk(2)
            return uncond + guidance_scale * (conditional - uncond)

        return guided

    # --- decoding and inversion ------------------------------------------------------------------------------

    def _decode(self, latents, *, steps: int, scheduler: str, prompt: str, guidance_scale: float, should_stop=None):
        x0 = sample(self._guided(len(latents), prompt, guidance_scale), self.schedulers[scheduler], latents, steps,
                    should_stop=should_stop)
        images = self.vae.decode((x0 / self.scaling + self.shift).to(self.vae.dtype)).sample.to(latents.dtype)
        return ((images + 1.0) / 2.0).clamp(0.0, 1.0)

    def _encode(self, images, *, steps: int, scheduler: str, prompt: str, guidance_scale: float, should_stop=None):
        posterior = self.vae.encode((images * 2.0 - 1.0).to(self.vae.dtype)).latent_dist.mean.to(images.dtype)
        x0 = (posterior - self.shift) * self.scaling
        network = self._guided(len(images), prompt, 1.0)  # inversion runs without guidance
        if self.family == "flow":
            return flow_invert(network, self.schedulers["euler"], x0, steps, should_stop=should_stop)
        return ddim_invert(network, self.inverse_scheduler, x0, steps, should_stop=should_stop)

    def _prompt_embeddings(self, prompt: str):
        raise NotImplementedError

    def _network(self, x, t, embeddings):
        raise NotImplementedError


class StableDiffusionModel(LatentPipelineModel):
    """Stable Diffusion 1.x/2.x: ``components`` holds ``unet``, ``vae``, ``text_encoder``, ``tokenizer`` and
    ``scheduler_config``."""

    def _prompt_embeddings(self, prompt: str):
        return {"encoder_hidden_states": self.text_encoder(self._tokens(self.tokenizers[0], prompt))[0]}

    def _network(self, x, t, embeddings):
        return self.unet(x, t, **embeddings).sample


class StableDiffusionXLModel(LatentPipelineModel):
    """Stable Diffusion XL: ``components`` as for :class:`StableDiffusionModel` plus ``text_encoder_2``,
    ``tokenizer_2`` and ``force_zeros_for_empty_prompt`` (the pipeline's setting)."""

    def __init__(self, components: dict, name: str, description: str, device=None, precision: str = "auto"):
        super().__init__(components, name, description, device, precision)
        self.zeros_for_empty_prompt = bool(components.get("force_zeros_for_empty_prompt", True))
        expected = self.unet.config.addition_time_embed_dim * 6 + self.text_encoder_2.config.projection_dim
        got = self.unet.add_embedding.linear_1.in_features
        if expected != got:
            raise ModelLoadError(f"its UNet expects added conditions of {got} numbers, but 6 time ids and the second "
                                 f"text encoder's {self.text_encoder_2.config.projection_dim} make {expected}: is it "
                                 "an SDXL refiner (which conditions on an aesthetic score)? Only the base model is "
                                 "supported")

    def _prompt_embeddings(self, prompt: str):
        states = []
        for tokenizer, encoder in zip(self.tokenizers, (self.text_encoder, self.text_encoder_2)):
            out = encoder(self._tokens(tokenizer, prompt), output_hidden_states=True)
            states.append(out.hidden_states[-2])
        pooled = out[0]  # the second encoder's projected embedding
        _, h, w = self.image_shape
        time_ids = torch.tensor([[h, w, 0, 0, h, w]], dtype=pooled.dtype, device=self.device)
        return {"encoder_hidden_states": torch.cat(states, dim=-1),
                "added_cond_kwargs": {"text_embeds": pooled, "time_ids": time_ids}}

    def _negative(self):
        if not self.zeros_for_empty_prompt:
            return self._embed("")
        embeddings = self._embed("")
        added = embeddings["added_cond_kwargs"]
        return {"encoder_hidden_states": torch.zeros_like(embeddings["encoder_hidden_states"]),
                "added_cond_kwargs": {"text_embeds": torch.zeros_like(added["text_embeds"]),
                                      "time_ids": added["time_ids"]}}

    def _network(self, x, t, embeddings):
        return self.unet(x, t, **embeddings).sample


class StableDiffusion3Model(LatentPipelineModel):
    """Stable Diffusion 3: ``components`` holds ``transformer``, ``vae``, ``text_encoder``, ``text_encoder_2``,
    ``tokenizer``, ``tokenizer_2``, optionally ``text_encoder_3`` and ``tokenizer_3`` (T5), and
    ``scheduler_config`` (a ``FlowMatchEulerDiscreteScheduler``'s)."""

    kind = "flow"
    family = "flow"
    denoiser = "transformer"
    prefer_bfloat16 = True

    def _prompt_embeddings(self, prompt: str):
        states, pooled = [], []
        for tokenizer, encoder in zip(self.tokenizers[:2], (self.text_encoder, self.text_encoder_2)):
            out = encoder(self._tokens(tokenizer, prompt), output_hidden_states=True)
            states.append(out.hidden_states[-2])
            pooled.append(out[0])
        clip = torch.cat(states, dim=-1)
        joint = self.transformer.config.joint_attention_dim
        if getattr(self, "text_encoder_3", None) is not None:
            t5 = self.text_encoder_3(self._tokens(self.tokenizers[2], prompt, T5_TOKENS))[0].to(clip.dtype)
        else:
            t5 = clip.new_zeros(1, T5_TOKENS, joint)
        clip = torch.nn.functional.pad(clip, (0, joint - clip.shape[-1]))
        return {"encoder_hidden_states": torch.cat([clip, t5], dim=-2),
                "pooled_projections": torch.cat(pooled, dim=-1)}

    def _network(self, x, t, embeddings):
        t = t.reshape(-1)[0].expand(len(x))  # one level for the whole batch (guidance doubles it)
        return self.transformer(hidden_states=x, timestep=t, return_dict=False, **embeddings)[0]


__all__ = ["StableDiffusionModel", "StableDiffusionXLModel", "StableDiffusion3Model", "LatentPipelineModel"]
