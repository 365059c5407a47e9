"""latentcore: the mathematics of Latent Explorer, in batched torch.

Latents are tensors ``[N, *latent_shape]`` on the device chosen once by :func:`default_device`
(``LATENTCORE_DEVICE``, else CUDA, else MPS, else CPU). This package never imports streamlit.

Registries: :data:`SCHEMES` (interpolation), :data:`CENTROIDS`, :data:`PRIORS` (prior families) and
``latentcore.models.MODELS``; each entry carries its own policy, and adding one is one ``register_*`` call.
"""

from .combine import CENTROIDS, Centroid, centroid, lol_combine, register_centroid
from .device import default_device
from .diagnostics import NORMALITY_LEVEL, TESTS, normality_tests, typical_norm_band
from .invert import Inversion, default_method, inversion_methods, invert
from .interpolate import SCHEMES, Scheme, Setting, interpolate, interpolate_chain, register_scheme, schemes_for
from .latent_files import (LATENT_FORMATS, LatentFile, LatentFileError, TooManyLatents, latents_to_bytes,
                           load_latents, read_latent_file, save_latents)
from .optimise import Cost, Stopped, Stopping, measure_cost
from .nao import nao_centroid, nao_interpolate  # registers the NAO scheme and centroid
from .ri_optimal import (ClassifierIndex, RiOptimalResult, class_prior, classifier_index,  # registers "ri-optimal"
                       ri_optimal_interpolate)
from .playground import (default_endpoints, density_grid, playground_paths, playground_priors, playground_schemes,
                         view_box)
from .prior_registry import PRIORS, PriorFamily, make_prior, register_prior
from .priors import Empirical, Gaussian, GaussianMixture, Independent, Prior, StandardNormal
from .projection import endpoint_plane, pca
from .reach import TypicalError, typical_error
from .realism import PointIndex, path_energy, path_realism, realisticity_index
from .reconstruct import knn_affine
from .subspace import Subspace

__all__ = [
    "Cost", "Stopped", "Stopping", "measure_cost", "CENTROIDS", "Centroid", "centroid", "lol_combine",
    "register_centroid", "default_device", "NORMALITY_LEVEL",
    "TESTS", "normality_tests", "typical_norm_band", "SCHEMES", "Scheme", "Setting", "interpolate",
    "interpolate_chain", "register_scheme", "schemes_for", "LATENT_FORMATS", "LatentFileError", "latents_to_bytes",
    "load_latents", "save_latents",
    "nao_centroid", "nao_interpolate", "ClassifierIndex", "RiOptimalResult", "class_prior", "classifier_index",
    "ri_optimal_interpolate", "default_endpoints", "density_grid", "playground_paths", "playground_priors",
    "playground_schemes", "view_box", "PRIORS", "PriorFamily", "make_prior", "register_prior", "Empirical",
    "Gaussian", "GaussianMixture", "Independent", "Prior", "StandardNormal", "endpoint_plane", "pca", "PointIndex",
    "path_energy", "path_realism", "realisticity_index", "knn_affine", "Subspace", "LatentFile", "read_latent_file",
    "TooManyLatents", "TypicalError", "typical_error", "Inversion", "default_method",
    "inversion_methods", "invert",
]
