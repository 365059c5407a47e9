"""Images in and out: decoded tensors to 8-bit arrays for display and files, uploaded image files to tensors."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_FORMATS = ("PNG", "JPEG")
MAX_IMAGE_PIXELS = 4096 * 4096


class ImageFileError(ValueError):
    """An image file that cannot be used; the message says why and what is accepted."""


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images ``[N, C, H, W]`` in [0, 1] as ``uint8`` arrays ``[N, H, W]`` (one channel) or ``[N, H, W, 3]``."""
    array = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return array[:, 0] if array.shape[1] == 1 else array.transpose(0, 2, 3, 1)


def load_image(data: bytes, name: str = "image") -> torch.Tensor:
    """An uploaded PNG or JPEG as ``[1, C, H, W]`` in [0, 1] (C = 1 for greyscale, else 3)."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.format not in IMAGE_FORMATS:
                raise ImageFileError(f"{name} is a {picture.format or 'unknown'} image; accepted: PNG or JPEG")
            if picture.width * picture.height > MAX_IMAGE_PIXELS:
                raise ImageFileError(f"{name} has {picture.width}x{picture.height} pixels; at most 4096x4096 are accepted")
            picture = picture.convert("L" if picture.mode in ("L", "LA", "I", "I;16", "1") else "RGB")
            array = np.asarray(picture, dtype=np.float32) / 255.0
    except ImageFileError:
        raise
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ImageFileError(f"{name} is not a readable PNG or JPEG image ({err})") from err
    tensor = torch.from_numpy(array)
    return (tensor[None, None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)[None]).contiguous()


def load_images(files: list[tuple[bytes, str]]) -> list[torch.Tensor]:
    """Several uploaded images (``(data, name)`` pairs) as a list of ``[1, C, H, W]`` tensors."""
    return [load_image(data, name) for data, name in files]


def reconstruction_report(model, images: torch.Tensor, latents: torch.Tensor, steps: int | None = None):
    """Originals and their decoded latents as 8-bit arrays, and the mean squared error per image."""
    decoded = model.decode(latents, **({"steps": steps} if steps else {}))
    errors = (decoded - images).pow(2).flatten(1).mean(1).tolist()
    return to_uint8(images), to_uint8(decoded), errors
