"""Images in and out: decoded tensors to 8-bit arrays for display and files, uploaded image files to tensors."""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

#: The image file formats :func:`load_image` accepts (Pillow's names).
IMAGE_FORMATS = ("PNG", "JPEG")
#: The side, in pixels, of the largest square image accepted.
MAX_SIDE = 4096
#: The most pixels an uploaded image may have (``MAX_SIDE * MAX_SIDE``); larger ones are refused from the header.
MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE
#: Pillow's modes for 16-bit greyscale PNGs (``"I"`` holds them in 32-bit integers); their range is 0..65535.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")


class ImageFileError(ValueError):
    """An image file that cannot be used; the message says why and what is accepted."""


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Images ``[N, C, H, W]`` in [0, 1] as ``uint8`` arrays ``[N, H, W]`` (one channel) or ``[N, H, W, 3]``."""
    array = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return array[:, 0] if array.shape[1] == 1 else array.transpose(0, 2, 3, 1)


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """The inverse of :func:`to_uint8`: ``[N, H, W]`` or ``[N, H, W, 3]`` bytes as ``[N, C, H, W]`` in [0, 1]."""
    t = torch.from_numpy(array.astype(np.float32)).div_(255.0)  # a copy: shared arrays are read-only
    return t[:, None] if t.dim() == 3 else t.permute(0, 3, 1, 2)


def load_image(data: bytes, name: str = "image", size: tuple[int, int] | None = None) -> torch.Tensor:
    """An uploaded PNG or JPEG as ``[1, C, H, W]`` in [0, 1] (C = 1 for greyscale, else 3). 16-bit greyscale PNGs
    are scaled by their own range (65535), not clipped to 8 bits. At most :data:`MAX_IMAGE_PIXELS` pixels; larger
    images are refused from their header, before they are decoded.

    ``size`` ``(height, width)``: the size the image is for (a model's ``image_shape[1:]``). A larger image is
    shrunk while still 8 or 16 bits per pixel, to between 2x and 4x that size (JPEGs decode at a reduced scale,
    others are box-averaged by a whole factor), so a 4096x4096 upload never becomes 200 MB of float32; the model's
    own antialiased resize (``prepare_images``) does the rest."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.format not in IMAGE_FORMATS:
                raise ImageFileError(f"{name} is a {opened.format or 'unknown'} image; accepted: PNG or JPEG")
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise ImageFileError(f"{name} has {opened.width}x{opened.height} pixels; at most {MAX_SIDE}x"
                                     f"{MAX_SIDE} are accepted")
            sixteen = opened.mode in SIXTEEN_BIT_MODES
            if size is not None and opened.format == "JPEG":
                opened.draft(opened.mode, (2 * size[1], 2 * size[0]))  # DCT scaling: never below the size asked
            mode = "I" if sixteen else "L" if opened.mode in ("L", "LA", "1") else "RGB"
            picture = opened if opened.mode == mode else opened.convert(mode)  # convert would copy
            if size is not None:
                factor = min(picture.width // (2 * size[1]), picture.height // (2 * size[0]))
                if factor > 1:
                    picture = picture.reduce(factor)
            array = np.asarray(picture, dtype=np.float32) / (65535.0 if sixteen else 255.0)
    except ImageFileError:
        raise
    except Image.DecompressionBombError as err:  # Pillow's own guard, for headers far beyond ours
        raise ImageFileError(f"{name} is far larger than {MAX_SIDE}x{MAX_SIDE} pixels, the most accepted") from err
    except UnidentifiedImageError as err:
        raise ImageFileError(f"{name} is not a PNG or JPEG image: its content is not an image format that can be "
                             "read") from err
    except (OSError, ValueError) as err:
        raise ImageFileError(f"{name} is a damaged or truncated PNG or JPEG image ({err})") from err
    tensor = torch.from_numpy(array.clip(0.0, 1.0))
    return (tensor[None, None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)[None]).contiguous()


def load_images(files: list[tuple[bytes, str]], size: tuple[int, int] | None = None) -> list[torch.Tensor]:
    """Several uploaded images (``(data, name)`` pairs) as a list of ``[1, C, H, W]`` tensors, each shrunk towards
    ``size`` as :func:`load_image` does."""
    return [load_image(data, name, size) for data, name in files]


#: An image with a side under this fraction of the model's is "much smaller" (:func:`upscale_note`).
SMALL_FRACTION = 0.5


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(height, width)`` of an image file from its header (nothing is decoded); None when it cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            return opened.height, opened.width
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def upscale_note(name: str, shape: tuple[int, int], size: tuple[int, int]) -> str | None:
    """A sentence for an image ``name`` of ``shape`` ``(height, width)`` with a side under :data:`SMALL_FRACTION`
    of ``size`` ``(height, width)``, the model's image size: it is enlarged to that size, so its reconstruction can
    show no detail the file lacks. None for other images."""
    height, width = shape
    if height >= SMALL_FRACTION * size[0] and width >= SMALL_FRACTION * size[1]:
        return None
    return (f"{name} is {width}x{height} pixels, much smaller than the {size[1]}x{size[0]} images the model makes: it "
            "is enlarged to that size, so the reconstruction shows no detail the file lacks and says little about "
            "what the model can make.")


def mean_squared_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared difference of two 8-bit images (or batches), on the [0, 1] scale."""
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0**2)


def image_grid(images: torch.Tensor, columns: int = 8, scale: int = 4) -> Image.Image:
    """Images ``[N, C, H, W]`` in [0, 1] as one PNG-ready grid, each pixel ``scale`` x ``scale``."""
    n, c, h, w = images.shape
    rows = math.ceil(n / columns)
    canvas = torch.ones(c, rows * (h + 1) + 1, columns * (w + 1) + 1)
    for k in range(n):
        r, q = divmod(k, columns)
        canvas[:, 1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + q * (w + 1): 1 + q * (w + 1) + w] = images[k]
    array = (canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    picture = Image.fromarray(array[..., 0] if c == 1 else array)
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)


#: Exported frames are at least this many pixels tall (a 16x16 digit is unreadable at its own size).
EXPORT_MIN_PX = 256


def export_scale(images: torch.Tensor) -> int:
    """The whole-number scale (nearest-neighbour, so pixels stay sharp) that makes frames ``[N, C, H, W]`` at least
    :data:`EXPORT_MIN_PX` pixels tall."""
    return max(1, math.ceil(EXPORT_MIN_PX / images.shape[-2]))


def png_bytes(images: torch.Tensor, columns: int | None = None, scale: int | None = None) -> bytes:
    """A PNG of images ``[N, C, H, W]`` in one row (or ``columns`` per row), each pixel ``scale`` x ``scale``
    (default :func:`export_scale`)."""
    buffer = io.BytesIO()
    image_grid(images, columns or len(images), scale or export_scale(images)).save(buffer, format="PNG")
    return buffer.getvalue()


def gif_bytes(images: torch.Tensor, frame_ms: int = 120, scale: int | None = None) -> bytes:
    """An animated GIF of the frames ``[N, C, H, W]``, looping forth and back, each pixel ``scale`` x ``scale``
    (default :func:`export_scale`)."""
    scale = scale or export_scale(images)
    frames = [image_grid(images[i:i + 1], 1, scale) for i in range(len(images))]
    frames = frames + frames[-2:0:-1]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()
