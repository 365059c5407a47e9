"""The walk of one uploaded latent to pixels: the project's function calls, the modules they are in, and the checks
of the latent's values and shape on the way (the file read, the seed set, the shared cache of decoded images, the
decode batcher and the model), counted with a profiler in every thread. No timing: counts, which stay the same from
run to run.

    python -m bench.micro.upload_walk
"""

from __future__ import annotations

import argparse
import collections
import io
import sys
import threading
from pathlib import Path

import numpy as np

import latentcore as lc
import latentcore.models as models
from ui import models as ui_models
from ui.server.seed_set import SeedSet

ROOT = Path(__file__).resolve().parents[2]
CHECKS = {"count_nonfinite": "values", "check_finite": "values", "check_latents": "shape", "flatten": "shape",
          "as_file_latents": "shape"}


def main():
    argparse.ArgumentParser(prog="python -m bench.micro.upload_walk", description=__doc__.split("\n\n")[0]).parse_args()
    model = models.load("digits-vae")
    decoding = model.decoding()
    buffer = io.BytesIO()
    np.save(buffer, model.prior.sample(1, seed=0).numpy())
    calls, checks, recording = collections.Counter(), collections.Counter(), [False]

    def profile(frame, event, arg):
        path = frame.f_code.co_filename
        if event == "call" and recording[0] and path.startswith(str(ROOT)) and "/.venv/" not in path:
            where = (str(Path(path).relative_to(ROOT)), frame.f_code.co_name)
            calls[where] += 1
            if where[1] in CHECKS:
                checks[where] += 1

    threading.setprofile(profile)  # the batcher's worker thread starts below, profiled
    sys.setprofile(profile)
    ui_models.decode_to_uint8(model, model.prior.sample(1, seed=1), decoding)  # warm: the worker, the caches
    recording[0] = True
    uploaded = lc.read_latent_file(buffer.getvalue(), name="mine.npy", shape=model.latent_shape)
    seeds = SeedSet()
    seeds.add(uploaded.latents, ["mine"])
    ui_models.decode_to_uint8(model, seeds.latents, decoding)
    recording[0] = False
    sys.setprofile(None)
    threading.setprofile(None)
    modules = sorted({path for path, _ in calls})
    print(f"{sum(calls.values())} calls of {len(calls)} functions in {len(modules)} modules: {', '.join(modules)}")
    for (path, name), count in sorted(checks.items()):
        print(f"  {CHECKS[name]} check: {path} {name} x{count}")


if __name__ == "__main__":
    main()
