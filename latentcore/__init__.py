"""latentcore: the mathematics of Latent Explorer, in batched torch.

Latents are tensors ``[N, *latent_shape]`` on the device chosen once by :func:`default_device`
(``LATENTCORE_DEVICE``, else CUDA, else MPS, else CPU). This package never imports streamlit.
"""

from .combine import CENTROIDS, centroid, lol_combine
from .device import default_device
from .geodesic import GeodesicResult, class_prior, classifier_index, ri_optimal_interpolate
from .diagnostics import TESTS, normality_tests, typical_norm_band
from .interpolate import SCHEMES, Scheme, interpolate, interpolate_chain, register_scheme
from .io import FORMATS, LatentFileError, latents_to_bytes, load_latents, save_latents
from .playground import (PLAYGROUND_PRIORS, PLAYGROUND_SCHEMES, default_endpoints, density_grid, playground_paths,
                         view_box)
from .priors import PRIORS, Empirical, Gaussian, GaussianMixture, Independent, Prior, StandardNormal
from .projection import endpoint_plane, pca
from .realism import path_energy, path_realism, realisticity_index
from .reconstruct import knn_affine
from .subspace import Subspace

__all__ = [
    "CENTROIDS", "centroid", "lol_combine", "default_device", "TESTS", "normality_tests", "typical_norm_band",
    "SCHEMES", "Scheme", "interpolate", "interpolate_chain", "register_scheme", "FORMATS", "LatentFileError",
    "latents_to_bytes", "load_latents", "save_latents", "PRIORS", "Empirical", "Gaussian", "GaussianMixture",
    "Independent", "Prior", "StandardNormal", "endpoint_plane", "pca", "path_energy", "path_realism",
    "realisticity_index", "knn_affine", "Subspace", "GeodesicResult", "ri_optimal_interpolate", "class_prior",
    "classifier_index", "PLAYGROUND_PRIORS", "PLAYGROUND_SCHEMES", "density_grid", "playground_paths", "view_box",
    "default_endpoints",
]
