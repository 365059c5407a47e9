"""Convert pretrained weights that a registry package ships into a built-in model folder.

``python -m tools.import_weights faces-dcgan PATH/gan_face_generate-1.1.1-py3-none-any.whl``

reads the DCGAN generator checkpoint ``gan_face_generate/weights.tar`` from the wheel of the PyPI package
``gan-face-generate`` 1.1.1 (``pip download gan-face-generate==1.1.1 --no-deps``) with ``torch.load(...,
weights_only=True)`` (tensors only, no code), and writes ``latentcore/assets/models/faces-dcgan/``:
``model.safetensors``, ``config.json`` and ``LICENSE.md`` (the package's MIT licence and the dataset's terms).
The weights are stored in float16 when that moves no decoded 8-bit pixel of 256 samples by more than one level,
else in float32.

``--samples FILE`` also writes a PNG grid of 32 samples; ``--reference FILE`` also writes the regression
fixture of the tests: a few latents and the images of the package's own generator class for them (imported from
the wheel, float32 weights, eval mode).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from pathlib import Path

import safetensors.torch
import torch

from latentcore.imaging import image_grid, to_uint8
from latentcore.models.gan import DCGANGenerator
from latentcore.models.registry import ASSETS

CHECKPOINT = "gan_face_generate/weights.tar"
LICENCE = "gan_face_generate-1.1.1.dist-info/licenses/LICENSE"
SAMPLES = 256
REFERENCE_LATENTS = 4

FACES_LICENCE = """# faces-dcgan: origin and licences

The weights in `model.safetensors` are the DCGAN generator of the PyPI package `gan-face-generate` 1.1.1 by
Chien Liu (https://github.com/chien-liu/DCGAN-PyTorch), converted by Latent Explorer's `tools/import_weights.py`
(`python -m tools.import_weights faces-dcgan` in a checkout) without retraining. The architecture is the PyTorch
DCGAN tutorial's generator (Radford, Metz, Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv 1511.06434).

The package's licence (MIT) follows.

```
{licence}
```

## Training data

The generator was trained on DigiFace-1M, synthetic faces rendered by Microsoft from 511 face scans obtained with
consent: Bae, de La Gorce, Baltrusaitis, Hewitt, Chen, Valentin, Cipolla, Shen, "DigiFace-1M: 1 Million Digital
Face Images for Face Recognition", WACV 2023, arXiv 2210.02579 (https://github.com/microsoft/DigiFace1M). Its
authors state that the dataset can be used for non-commercial research, under the licence in that repository;
treat images made with these weights under the same terms. Some rendered faces may resemble real people; any such
resemblance is unintended.
"""


def read_checkpoint(wheel: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The generator's state dict and the package's licence text, read from the wheel without unpickling code."""
    with zipfile.ZipFile(wheel) as archive:
        checkpoint = torch.load(io.BytesIO(archive.read(CHECKPOINT)), map_location="cpu", weights_only=True)
        licence = archive.read(LICENCE).decode()
    return checkpoint["netG_state_dict"], licence


def generator(state: dict[str, torch.Tensor]) -> DCGANGenerator:
    net = DCGANGenerator()
    net.load_state_dict(state)
    return net.eval().requires_grad_(False)


def half_is_indistinguishable(state: dict[str, torch.Tensor]) -> bool:
    """Whether float16 weights move no 8-bit pixel of ``SAMPLES`` decoded samples by more than one level (a
    rounding flip; one level is 1/255 of the range, below what the eye separates)."""
    z = torch.randn(SAMPLES, 100, 1, 1, generator=torch.Generator().manual_seed(0))
    halved = {k: v.half().float() if v.is_floating_point() else v for k, v in state.items()}
    full, half = (to_uint8(generator(s)(z).add(1).mul(0.5)).astype(int) for s in (state, halved))
    change = abs(full - half)
    print(f"float16 weights: {(change > 0).mean():.2%} of the 8-bit pixels of {SAMPLES} samples move, by at most "
          f"{change.max()} level(s)")
    return change.max() <= 1


def import_faces_dcgan(wheel: Path, out: Path) -> None:
    state, licence = read_checkpoint(wheel)
    dtype = torch.float16 if half_is_indistinguishable(state) else torch.float32
    out.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: (v.to(dtype) if v.is_floating_point() else v).contiguous()
                                 for k, v in state.items()}, out / "model.safetensors")
    config = {"nz": 100, "ngf": 64, "nc": 3, "prior": "standard-normal", "output_range": [-1, 1],
              "stored_dtype": str(dtype).removeprefix("torch."),
              "source": {"package": "gan-face-generate", "version": "1.1.1", "file": CHECKPOINT,
                         "author": "Chien Liu", "licence": "MIT", "data": "DigiFace-1M (Microsoft, non-commercial "
                                                                          "research)"}}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "LICENSE.md").write_text(FACES_LICENCE.format(licence=licence.strip()))
    print(f"wrote {out} ({dtype})")


def write_reference(wheel: Path, out: Path) -> None:
    """Latents and the package's own generator's images for them (its class, imported from the wheel)."""
    state, _ = read_checkpoint(wheel)
    sys.path.insert(0, str(wheel))
    try:
        from gan_face_generate.models import Generator
    finally:
        sys.path.remove(str(wheel))
    original = Generator(ngpu=0, nc=3, nz=100, ngf=64)
    original.load_state_dict(state)
    original.eval()
    z = torch.randn(REFERENCE_LATENTS, 100, 1, 1, generator=torch.Generator().manual_seed(2024))
    with torch.no_grad():
        images = original(z)
    out.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({"latents": z.contiguous(), "images": images.contiguous()}, out,
                                metadata={"source": "gan-face-generate 1.1.1 Generator, eval mode, float32; "
                                                    "images in [-1, 1]"})
    print(f"wrote {out}")


def write_samples(folder: Path, out: Path) -> None:
    from latentcore.models.gan import GANModel

    model = GANModel(folder, "faces-dcgan", "", "", "cpu")
    image_grid(model.decode(model.prior.sample(32, seed=0)), columns=8, scale=1).save(out, optimize=True)
    print(f"wrote {out}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.import_weights",
                                     description="Convert pretrained weights shipped by a registry package into a "
                                                 "built-in Latent Explorer model.")
    parser.add_argument("model", choices=["faces-dcgan"], help="the built-in model to write (only faces-dcgan)")
    parser.add_argument("wheel", type=Path, help="gan_face_generate-1.1.1-py3-none-any.whl (pip download "
                                                 "gan-face-generate==1.1.1 --no-deps)")
    parser.add_argument("--out", type=Path, default=ASSETS / "faces-dcgan",
                        help="folder for model.safetensors, config.json and LICENSE.md (default: the package's "
                             "assets/models/faces-dcgan)")
    parser.add_argument("--reference", type=Path,
                        help="also write the tests' regression fixture (safetensors file) here")
    parser.add_argument("--samples", type=Path, help="also write a PNG grid of 32 samples (seed 0) here")
    args = parser.parse_args(argv)
    import_faces_dcgan(args.wheel, args.out)
    if args.samples:
        write_samples(args.out, args.samples)
    if args.reference:
        write_reference(args.wheel, args.reference)


if __name__ == "__main__":
    main()
