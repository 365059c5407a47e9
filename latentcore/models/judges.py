"""Judges: what labels and describes decoded images for the measures that need more than the prior and the
decoder (class preservation along paths, the Frechet distance of features), as the digits classifier does for the
digits models (Bodin et al., "Linear combinations of latents in generative models", arXiv 2408.08558, measure
interpolation by a classifier's accuracy and FID).

A :class:`Judge` may label images (``predict``), describe them (``features``), or both; a class-conditional model's
judge names the condition that is the class to preserve (``class_condition``), so every path decoded with
``label=3`` should stay a 3. A model carries its judge (:attr:`~.base.GenerativeModel.judge`): the built-in digits
models the digits classifier (:func:`~.registry.digits_judge`), a plug-in the one declared beside it
(:class:`~.plugins.Plugin`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True, eq=False)
class Judge:
    """Functions of decoded images ``[N, C, H, W]`` in [0, 1] (the model's image shape).

    Parameters
    ----------
    name
        How reports name it.
    predict : callable, optional
        ``predict(images) -> labels [N]`` (whole numbers): the class of each image; None (the default) when it
        gives none.
    features : callable, optional
        ``features(images) -> [N, F]``: a feature vector per image for the Frechet distance; None (the default)
        when it gives none. F should be well below the number of images compared (the digits classifier's is
        128).
    class_condition
        The name of the model's condition whose value is the class ``predict`` should return for every image
        decoded with it (a class-conditional model); None (the default) otherwise.

    Raises
    ------
    ValueError
        When neither ``predict`` nor ``features`` is given, either is not callable, or ``class_condition`` is
        given without ``predict``.
    """

    name: str
    predict: Callable[[torch.Tensor], torch.Tensor] | None = None
    features: Callable[[torch.Tensor], torch.Tensor] | None = None
    class_condition: str | None = None

    def __post_init__(self):
        if self.predict is None and self.features is None:
            raise ValueError(f"judge {self.name!r}: give predict, features or both")
        for part in ("predict", "features"):
            value = getattr(self, part)
            if value is not None and not callable(value):
                raise ValueError(f"judge {self.name!r}: {part} must be a function of images, got "
                                 f"{type(value).__name__}")
        if self.class_condition is not None and self.predict is None:
            raise ValueError(f"judge {self.name!r}: a class condition needs predict, which labels the images")

    def labels(self, images: torch.Tensor) -> torch.Tensor:
        """``predict(images)`` as whole-number labels ``[N]`` on the CPU; a ValueError that names the judge when
        it returns something else.

        Parameters
        ----------
        images : torch.Tensor ``[N, C, H, W]``
            Decoded images in [0, 1].

        Returns
        -------
        torch.Tensor ``[N]``
            int64 labels on the CPU, computed without gradients.

        Raises
        ------
        ValueError
            When ``predict`` returns another shape or numbers that are not whole.
        """
        with torch.no_grad():
            out = torch.as_tensor(self.predict(images))
        if out.shape != (len(images),) or out.is_floating_point() and not bool((out == out.round()).all()):
            raise ValueError(f"judge {self.name!r}: predict must return one whole-number label per image "
                             f"([{len(images)}]), got {'a tensor of shape ' + str(tuple(out.shape))}")
        return out.long().cpu()

    def describe(self, images: torch.Tensor) -> torch.Tensor:
        """``features(images)`` as ``[N, F]`` float64 on the CPU, finite; a ValueError that names the judge
        otherwise.

        Parameters
        ----------
        images : torch.Tensor ``[N, C, H, W]``
            Decoded images in [0, 1].

        Returns
        -------
        torch.Tensor ``[N, F]``
            float64 features on the CPU, computed without gradients.

        Raises
        ------
        ValueError
            When ``features`` returns another shape or values that are not finite.
        """
        with torch.no_grad():
            out = torch.as_tensor(self.features(images)).detach()
        if out.dim() != 2 or len(out) != len(images) or not bool(torch.isfinite(out).all()):
            raise ValueError(f"judge {self.name!r}: features must return finite features [{len(images)}, F], got a "
                             f"tensor of shape {tuple(out.shape)}")
        return out.double().cpu()


__all__ = ["Judge"]
