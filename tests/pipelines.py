"""Tiny diffusers pipeline folders of each kind Latent Explorer loads, built from configs with random weights and
tokenizers whose vocabularies the tests write: nothing is downloaded. Sizes are the smallest the architectures
accept, so a decode takes milliseconds on a CPU."""

import json

import torch

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def clip_tokenizer(folder):
    """A CLIP BPE tokenizer over single letters (words become letter sequences), 16 tokens long."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for i, c in enumerate(LETTERS):
        vocab[c], vocab[c + "</w>"] = 2 + 2 * i, 3 + 2 * i
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=16)


def clip_config(vocab_size: int, hidden: int = 8, projection: int = 8):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=hidden, intermediate_size=16,
                          num_attention_heads=2, num_hidden_layers=2, vocab_size=vocab_size,
                          max_position_embeddings=16, projection_dim=projection)


def t5_tokenizer():
    """A T5 unigram tokenizer over single letters."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -1.0) for c in LETTERS] + [("\u2581", -1.0)]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=16)


def tiny_vae(latent_channels: int = 4, **extra):
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=[4, 8], in_channels=3, out_channels=3, latent_channels=latent_channels,
                         down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                         norm_num_groups=2, sample_size=16, **extra)


def stable_diffusion(path):
    """A ``StableDiffusionPipeline`` folder: latent 4x8x8, image 3x16x16, DDIM scheduler."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    tokenizer = clip_tokenizer(path / "vocab")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=8,
                                norm_num_groups=2, attention_head_dim=2)
    text = CLIPTextModel(clip_config(len(tokenizer)))
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=tiny_vae(), text_encoder=text, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(path / "pipe")
    return path / "pipe"


def stable_diffusion_xl(path):
    """A ``StableDiffusionXLPipeline`` folder: two CLIP text encoders (the second with a projection: the pooled
    embedding), a UNet with SDXL's added time ids, an Euler scheduler as SDXL ships; latent 4x8x8, image 3x16x16."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = clip_tokenizer(path / "vocab")
    torch.manual_seed(0)
    time_dim, projection = 4, 8
    unet = UNet2DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=8, in_channels=4,
                                out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
                                norm_num_groups=2, attention_head_dim=2, use_linear_projection=True,
                                addition_embed_type="text_time", addition_time_embed_dim=time_dim,
                                projection_class_embeddings_input_dim=6 * time_dim + projection)
    text = CLIPTextModel(clip_config(len(tokenizer)))
    text_2 = CLIPTextModelWithProjection(clip_config(len(tokenizer), projection=projection))
    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                       steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(vae=tiny_vae(scaling_factor=0.13025, force_upcast=True), text_encoder=text,
                                     text_encoder_2=text_2, tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet,
                                     scheduler=scheduler)
    pipe.save_pretrained(path / "pipe")
    return path / "pipe"


def stable_diffusion_3(path, *, t5: bool = False):
    """A ``StableDiffusion3Pipeline`` folder: an ``SD3Transformer2DModel`` (patch 2), two CLIP text encoders with
    projections, a T5 encoder only when ``t5`` (diffusers allows it to be absent), a flow-matching Euler scheduler
    with SD3's shift 3; latent 16x8x8, image 3x16x16."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection, T5Config, T5EncoderModel

    tokenizer = clip_tokenizer(path / "vocab")
    torch.manual_seed(0)
    joint = 16  # the CLIP hidden states (8 + 8) and T5's, side by side
    transformer = SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=16, out_channels=16, num_layers=1,
                                        attention_head_dim=4, num_attention_heads=2, caption_projection_dim=8,
                                        joint_attention_dim=joint, pooled_projection_dim=16, pos_embed_max_size=8)
    text = CLIPTextModelWithProjection(clip_config(len(tokenizer)))
    text_2 = CLIPTextModelWithProjection(clip_config(len(tokenizer)))
    extra = {"text_encoder_3": None, "tokenizer_3": None}
    if t5:
        t5_tok = t5_tokenizer()
        extra = {"tokenizer_3": t5_tok, "text_encoder_3": T5EncoderModel(T5Config(
            vocab_size=len(t5_tok), d_model=joint, d_kv=4, d_ff=16, num_layers=1, num_heads=2,
            decoder_start_token_id=0, pad_token_id=0, eos_token_id=1))}
    vae = tiny_vae(16, shift_factor=0.0609, scaling_factor=1.5305, use_quant_conv=False,
                   use_post_quant_conv=False)
    pipe = StableDiffusion3Pipeline(transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                                    vae=vae, text_encoder=text, tokenizer=tokenizer, text_encoder_2=text_2,
                                    tokenizer_2=tokenizer, **extra)
    pipe.save_pretrained(path / "pipe")
    return path / "pipe"


BUILDERS = {"sd": stable_diffusion, "sdxl": stable_diffusion_xl, "sd3": stable_diffusion_3,
            "sd3-t5": lambda path: stable_diffusion_3(path, t5=True)}
