"""Models: the typed decoder interface (:mod:`.base`), the built-in models, diffusers pipelines and one registry.

- :func:`available` lists the registered generative models; :func:`register` adds one (:class:`ModelSpec`).
- :func:`load` takes a registered name or a local diffusers pipeline folder and returns a
  :class:`GenerativeModel` on the chosen device in the chosen precision; loading is cached.
- :func:`load_diffusers` loads a folder written by ``pipeline.save_pretrained`` (:mod:`.diffusers_folder`).
- :func:`load_classifier` loads ``digits-classifier``.
- :data:`SCHEDULERS`: the decoding schedulers a sampling model may offer (:mod:`.schedulers`); :data:`PRECISIONS`:
  the precisions :func:`load` takes (:mod:`.precision`); :func:`offload_others` frees the accelerator for one model.
- :class:`Plugin` declares a model made of any torch module (:mod:`.plugins`); :func:`load_plugins` runs plug-in
  files and installed entry points, checks what they declare and registers it; :func:`configured_files` names the
  files given to the app (``--models``, ``$LATENT_EXPLORER_MODELS``).
"""

from .judges import Judge
from .base import Condition, Decoding, GenerativeModel, ModelLoadError, OutOfMemory, Sampler, offload_others
from .precision import PRECISIONS
from .schedulers import SCHEDULERS
from .diffusers_folder import load_diffusers
from .registry import MODELS, ModelSpec, available, digits_judge, load, load_classifier, register
from .plugins import (Plugin, PluginModel, PluginReport, PluginSpec, Refusal, configured_files, load_plugins,
                      plugins_in_file, register_plugin)

__all__ = ["GenerativeModel", "Sampler", "Condition", "Decoding", "Judge", "digits_judge", "ModelSpec",
           "ModelLoadError", "OutOfMemory",
           "MODELS",
           "SCHEDULERS", "PRECISIONS", "offload_others", "register",
           "available", "load", "load_diffusers", "load_classifier", "Plugin", "PluginModel", "PluginSpec",
           "PluginReport", "Refusal", "register_plugin", "load_plugins", "plugins_in_file", "configured_files"]
