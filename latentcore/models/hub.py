"""The one way latentcore imports diffusers: offline first.

Nothing is downloaded at run time: ``HF_HUB_OFFLINE=1`` is set (unless the user set it) before diffusers is
imported, so a Hugging Face Hub id fails at once with a clear message; set ``HF_HUB_OFFLINE=0`` on a machine with
internet to allow hub ids. Progress bars and informational logs of diffusers and transformers are silenced.
"""

from __future__ import annotations

import os

#: The environment settings made (unless the user set them) before diffusers is imported.
QUIET = {"HF_HUB_OFFLINE": "1", "DIFFUSERS_VERBOSITY": "error", "TRANSFORMERS_VERBOSITY": "error",
         "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def offline() -> bool:
    """True unless the user allowed downloads with ``HF_HUB_OFFLINE=0``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return os.environ["HF_HUB_OFFLINE"] not in ("0", "false", "False")


def import_diffusers():
    """The ``diffusers`` module, imported with the settings above in the environment."""
    for key, value in QUIET.items():
        os.environ.setdefault(key, value)
    import diffusers

    return diffusers
