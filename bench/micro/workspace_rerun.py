"""What saving the workspace costs a rerun that changed nothing: every page run (and every Subspace fragment run)
asks ``ui.workspace.save_workspace`` whether to write.

    python -m bench.micro.workspace_rerun [--seeds 4000] [--repeats 200]

In a real session (Streamlit's AppTest, no browser) holding ``--seeds`` seeds of faces-dcgan (latent 100) and a
few settings: the median time of ``save_workspace()`` when nothing changed, beside the baseline measured in the
same run, serialising the workspace and hashing it (what a rerun paid when the decision to write was taken on the
file's bytes), and the time of a save after one seed was renamed (serialise, hash and write). Prints a Markdown
table.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from streamlit.testing.v1 import AppTest

from bench.report import add_save_option, saved_report


def _script(seeds: int, repeats: int):
    import statistics
    import time

    import streamlit as st
    import torch

    from ui.server import workspace
    from ui import workspace as ui_workspace
    from ui.seed_sets import seed_set

    def median_s(fn) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    ui_workspace.open_workspace()
    latents = torch.randn(seeds, 100, generator=torch.Generator().manual_seed(0))
    seed_set("faces-dcgan").add(latents, [f"seed {i}" for i in range(seeds)])
    st.session_state["settings"].update({"model": "faces-dcgan", "interpolate.frames": 12,
                                         "interpolate.schemes": ["LOL", "SLERP", "linear"]})
    assert ui_workspace.save_workspace() is None  # the first save writes
    unchanged = median_s(ui_workspace.save_workspace)
    baseline = median_s(lambda: ui_workspace._digest(workspace.workspace_to_bytes(ui_workspace.current_workspace())))
    seeds_set = seed_set("faces-dcgan")
    names = iter(range(repeats))

    def rename():
        seeds_set.rename(seeds_set.names[0], f"renamed {next(names)}")
        ui_workspace.save_workspace()

    changed = median_s(rename)
    st.session_state["bench"] = {"unchanged": unchanged, "baseline": baseline, "changed": changed,
                                 "bytes": len(workspace.workspace_to_bytes(ui_workspace.current_workspace()))}


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.micro.workspace_rerun", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=4000,
                        help="faces-dcgan seeds (latent 100) in the session's workspace (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=200,
                        help="timed calls per measurement, of which the median is reported (default %(default)s)")
    add_save_option(parser)
    args = parser.parse_args()
    with saved_report("bench.micro.workspace_rerun", args.save, None):
        with tempfile.TemporaryDirectory() as folder:
            os.environ["LATENT_EXPLORER_WORKSPACES"] = folder
            at = AppTest.from_function(_script, args=(args.seeds, args.repeats), default_timeout=600).run()
            if at.exception:
                raise SystemExit(at.exception[0].value)
            result = at.session_state["bench"]
        ms = {k: 1e3 * v for k, v in result.items() if k != "bytes"}
        print(f"workspace of {args.seeds} faces-dcgan seeds (latent 100), {result['bytes'] / 2**20:.2f} MiB; "
              f"median of {args.repeats}\n")
        print("| what | time | / unchanged |")
        print("|---|---|---|")
        print(f"| save_workspace, nothing changed | {ms['unchanged']:.3f} ms | 1 |")
        print(f"| baseline: serialise and hash the workspace | {ms['baseline']:.3f} ms | "
              f"{ms['baseline'] / ms['unchanged']:.0f} |")
        print(f"| save_workspace after renaming a seed (serialise, hash, write) | {ms['changed']:.3f} ms | "
              f"{ms['changed'] / ms['unchanged']:.0f} |")


if __name__ == "__main__":
    main()
