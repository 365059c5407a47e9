"""Train a built-in model on scikit-learn's digits and write it to ``assets/models/NAME/``.

    python -m tools.train NAME [--iterations N] [--out DIR]

NAME is one of :data:`TRAINERS`. Every run uses a fixed seed, prints progress and loss, and prints its total
time. Weights are written as safetensors with a JSON config.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from latentcore.models.data import digits
from latentcore.models.registry import ASSETS

# The digits DDIM model: its UNet2DModel and the scheduler it was trained with (also the decoding configuration).
DIGITS_UNET = dict(
    sample_size=16, in_channels=1, out_channels=1, layers_per_block=1, block_out_channels=(32, 64, 64),
    down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=8,
)
DIGITS_SCHEDULER = dict(
    num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="epsilon", clip_sample=True,
    set_alpha_to_one=True, steps_offset=0, timestep_spacing="trailing",
)
# The digits flow-matching model's scheduler: Euler steps over evenly spaced noise levels s (no shift), t = 1000 s.
FLOW_SCHEDULER = dict(num_train_timesteps=1000, shift=1.0)


def _save_unet_folder(unet, scheduler, folder: Path) -> None:
    """Write ``unet`` and ``scheduler`` as a diffusers ``DDPMPipeline`` folder (``unet/``, ``scheduler/``,
    ``model_index.json``). DDPMPipeline's loop (``set_timesteps``, then ``step`` on the UNet's output from
    Gaussian noise) samples correctly with a DDIM or a flow-matching Euler scheduler alike."""
    from latentcore.models.hub import import_diffusers

    folder = Path(folder)
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    scheduler.save_pretrained(folder / "scheduler")
    index = {"_class_name": "DDIMPipeline" if type(scheduler).__name__ == "DDIMScheduler" else "DDPMPipeline",
             "_diffusers_version": import_diffusers().__version__,
             "scheduler": ["diffusers", type(scheduler).__name__], "unet": ["diffusers", "UNet2DModel"]}
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def save_ddim_folder(unet, folder: Path) -> None:
    """Write ``unet`` and the digits DDIM scheduler as a diffusers pipeline folder (``DDIMPipeline``)."""
    from latentcore.models.hub import import_diffusers

    _save_unet_folder(unet, import_diffusers().DDIMScheduler(**DIGITS_SCHEDULER), folder)


def save_flow_folder(unet, folder: Path) -> None:
    """Write ``unet`` and the digits flow-matching scheduler (``FlowMatchEulerDiscreteScheduler``) as a diffusers
    pipeline folder."""
    from latentcore.models.hub import import_diffusers

    _save_unet_folder(unet, import_diffusers().FlowMatchEulerDiscreteScheduler(**FLOW_SCHEDULER), folder)


def _log(start: float, iteration: int, iterations: int, **values):
    shown = ", ".join(f"{k} {v:.4f}" for k, v in values.items())
    print(f"iteration {iteration:>6}/{iterations}  {shown}  ({time.perf_counter() - start:.0f} s)", flush=True)


def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float):
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.lerp_(p, 1.0 - decay)


def _train_unet(name: str, out: Path, iterations: int, loss_fn, save, batch: int = 128, lr: float = 1e-3,
                ema_decay: float = 0.999) -> float:
    """Train a ``UNet2DModel`` (:data:`DIGITS_UNET`) on the digits scaled to [-1, 1]: AdamW with a one-cycle
    learning rate, gradients clipped at norm 1, EMA weights (from iteration 200) saved by ``save(ema, out)`` every
    1000 iterations and at the end. ``loss_fn(unet, clean, gen) -> loss`` draws its own noise from ``gen``."""
    from latentcore.models.hub import import_diffusers

    images, _ = digits("train")
    x0 = images * 2.0 - 1.0
    unet = import_diffusers().UNet2DModel(**DIGITS_UNET)
    ema = copy.deepcopy(unet).eval()
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=iterations, pct_start=0.05)
    gen = torch.Generator().manual_seed(0)
    print(f"{name}: {sum(p.numel() for p in unet.parameters()):,} parameters, {len(x0)} training digits")
    start = time.perf_counter()
    running = None
    for iteration in range(1, iterations + 1):
        idx = torch.randint(len(x0), (batch,), generator=gen)
        loss = loss_fn(unet, x0[idx], gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        sched.step()
        _ema_update(ema, unet, ema_decay if iteration > 200 else 0.0)
        value = loss.item()
        running = value if running is None else 0.98 * running + 0.02 * value
        if iteration % 100 == 0 or iteration == iterations:
            _log(start, iteration, iterations, loss=running)
        if iteration % 1000 == 0 or iteration == iterations:
            save(ema, out)
    return time.perf_counter() - start


def train_digits_ddim(out: Path, iterations: int):
    """DDPM noise-prediction training of a small UNet2DModel (epsilon loss, cosine schedule, EMA weights);
    saved as a diffusers DDIM pipeline folder (``unet/``, ``scheduler/``, ``model_index.json``)."""
    from latentcore.models.hub import import_diffusers

    noise_schedule = import_diffusers().DDPMScheduler(
        **{k: DIGITS_SCHEDULER[k] for k in ("num_train_timesteps", "beta_schedule")})

    def loss(unet, clean, gen):
        noise = torch.randn(clean.shape, generator=gen)
        t = torch.randint(0, noise_schedule.config.num_train_timesteps, (len(clean),), generator=gen)
        noisy = noise_schedule.add_noise(clean, noise, t)
        return torch.nn.functional.mse_loss(unet(noisy, t).sample, noise)

    return _train_unet("digits-ddim", out, iterations, loss, save_ddim_folder)


def train_digits_flow(out: Path, iterations: int):
    """Rectified-flow training (Liu et al., "Flow Straight and Fast", arXiv 2209.03003; Lipman et al., "Flow
    Matching for Generative Modeling", arXiv 2210.02747) of the same UNet2DModel: for data ``x_0``, noise
    ``x_1 ~ N(0, I)`` and ``s ~ U(0, 1)``, the network at ``x_s = (1 - s) x_0 + s x_1`` and ``t = 1000 s`` regresses
    the velocity ``x_1 - x_0`` (mean squared error). ``s`` is uniform rather than logit-normal (Esser et al.,
    arXiv 2403.03206) because decoding and inversion evaluate the network on an even grid of ``s`` that includes
    both ends (inversion starts at the data, ``s = 0``), where a logit-normal draw would rarely train it.
    Saved as a diffusers pipeline folder with a ``FlowMatchEulerDiscreteScheduler``."""

    def loss(unet, clean, gen):
        noise = torch.randn(clean.shape, generator=gen)
        s = torch.rand(len(clean), generator=gen)
        noisy = (1.0 - s[:, None, None, None]) * clean + s[:, None, None, None] * noise
        scale = FLOW_SCHEDULER["num_train_timesteps"]
        return torch.nn.functional.mse_loss(unet(noisy, s * scale).sample, noise - clean)

    return _train_unet("digits-flow", out, iterations, loss, save_flow_folder)


def _train_vae(out: Path, iterations: int, prior_name: str, latent_dim: int, batch: int = 128, lr: float = 1e-3,
               rest_weight: float = 1.0):
    """VAE with a Bernoulli likelihood of pixel intensities and ``KL(q(z|x) || p(z))``.

    N(0, I): the KL in closed form. Semicircle: the prior factorises into the planar horseshoe of the first two
    coordinates times N(0, 0.5 I) on the rest (Struski et al., "Interpolation in generative models", section 6), so
    the KL splits into a one-sample Monte Carlo estimate ``log q - log p`` on the horseshoe plus a closed form on the
    rest, weighted by ``rest_weight``. A weight above 1 makes the remaining coordinates expensive, so the decoder
    carries the digits through the horseshoe coordinates instead of ignoring them.
    """
    from latentcore.models.nets import VAE
    from latentcore.models.nets import save_net
    from latentcore.models.vae import build_prior
    from latentcore.priors import GaussianMixture

    images, _ = digits("train")
    net = VAE(latent_dim)
    arc = GaussianMixture.semicircle(2) if prior_name == "semicircle" else None
    build_prior(prior_name, latent_dim)  # fails early on an unknown prior
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iterations)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for iteration in range(1, iterations + 1):
        x = images[torch.randint(len(images), (batch,), generator=gen)]
        mean, log_var = net.encoder(x)
        std = torch.exp(0.5 * log_var)
        z = mean + std * torch.randn(mean.shape, generator=gen)
        recon = torch.nn.functional.binary_cross_entropy_with_logits(net.decoder(z), x, reduction="sum") / batch
        if arc is None:
            kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(1).mean()
        else:
            log_q = torch.distributions.Normal(mean[:, :2], std[:, :2]).log_prob(z[:, :2]).sum(1)
            kl_arc = (log_q - arc.log_prob(z[:, :2])).mean()
            m, lv = mean[:, 2:], log_var[:, 2:]
            kl_rest = 0.5 * ((lv.exp() + m.pow(2)) / 0.5 - 1.0 - lv + torch.log(torch.tensor(0.5))).sum(1).mean()
            kl = kl_arc + rest_weight * kl_rest
        loss = recon + kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if iteration % 500 == 0 or iteration == iterations:
            _log(start, iteration, iterations, loss=loss.item(), reconstruction=recon.item(), kl=kl.item())
    seconds = time.perf_counter() - start
    save_net(net, out, {"latent_dim": latent_dim, "width": 32, "prior": prior_name,
                        "training": {"iterations": iterations, "batch": batch, "lr": lr, "seed": 0,
                                     "seconds": round(seconds), "rest_weight": rest_weight,
                                     "data": "scikit-learn digits, 1500 training images upsampled to 16x16"}})
    return seconds


def train_digits_vae(out: Path, iterations: int):
    return _train_vae(out, iterations, "standard-normal", 16)


def train_semicircle_gen(out: Path, iterations: int):
    return _train_vae(out, iterations, "semicircle", 20, rest_weight=4.0)


def _shift(x: torch.Tensor, gen: torch.Generator, pixels: int = 1) -> torch.Tensor:
    """Random translations by up to ``pixels`` (zero padding), one per image."""
    padded = torch.nn.functional.pad(x, (pixels,) * 4)
    offsets = torch.randint(0, 2 * pixels + 1, (len(x), 2), generator=gen)
    size = x.shape[-1]
    return torch.stack([p[:, i:i + size, j:j + size] for p, (i, j) in zip(padded, offsets.tolist())])


def train_digits_classifier(out: Path, iterations: int, batch: int = 128, lr: float = 2e-3):
    """Cross-entropy with random one-pixel shifts; held-out accuracy printed at the end."""
    from latentcore.models.nets import DigitsCNN, save_net

    images, labels = digits("train")
    net = DigitsCNN()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iterations)
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for iteration in range(1, iterations + 1):
        idx = torch.randint(len(images), (batch,), generator=gen)
        loss = torch.nn.functional.cross_entropy(net(_shift(images[idx], gen)), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if iteration % 200 == 0 or iteration == iterations:
            _log(start, iteration, iterations, loss=loss.item())
    seconds = time.perf_counter() - start
    net.eval()
    held_images, held_labels = digits("heldout")
    with torch.no_grad():
        accuracy = (net(held_images).argmax(1) == held_labels).float().mean().item()
    print(f"held-out accuracy {accuracy:.4f} on {len(held_labels)} digits")
    save_net(net, out, {"width": 32, "features": 128, "classes": 10,
                               "training": {"iterations": iterations, "batch": batch, "lr": lr, "seed": 0,
                                            "seconds": round(seconds), "heldout_accuracy": round(accuracy, 4),
                                            "data": "scikit-learn digits, 1500 training images upsampled to "
                                                    "16x16, random one-pixel shifts"}})
    return seconds


@dataclass(frozen=True)
class Trainer:
    """How to train one built-in model: ``train(out_folder, iterations) -> seconds`` and its default iterations."""

    name: str
    train: Callable[[Path, int], float]
    iterations: int


TRAINERS: dict[str, Trainer] = {t.name: t for t in (
    Trainer("digits-ddim", train_digits_ddim, 5000),
    Trainer("digits-flow", train_digits_flow, 3500),
    Trainer("digits-vae", train_digits_vae, 4000),
    Trainer("semicircle-gen", train_semicircle_gen, 4000),
    Trainer("digits-classifier", train_digits_classifier, 2000),
)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.train",
                                     description="Train a built-in Latent Explorer model on sklearn's digits.")
    parser.add_argument("name", choices=sorted(TRAINERS), help="the built-in model to train")
    parser.add_argument("--iterations", type=int, default=None,
                        help="optimiser iterations, one batch of 128 digits each (default: the model's own: "
                             f"{', '.join(f'{t.name} {t.iterations}' for t in TRAINERS.values())})")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: the package's assets/models/NAME)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    trainer = TRAINERS[args.name]
    out = args.out or ASSETS / args.name
    out.mkdir(parents=True, exist_ok=True)
    seconds = trainer.train(out, args.iterations or trainer.iterations)
    print(f"{args.name}: trained in {seconds:.0f} s ({seconds / 60:.1f} min); written to {out}")


if __name__ == "__main__":
    main()
