import numpy as np
import pandas as pd
import streamlit as st
import torch

import latentcore as lc
import ui
from latentcore import imaging
from ui import plots
from latentcore.diagnostics import latent_summary
from latentcore.validation import some_of

TARGETS = ["A seed", "A fresh sample", "An uploaded image"]


with ui.page("Centroids and reconstruction") as (name, model, decoding):
    seeds = ui.seeds_or_stop(name, "Centroids and reconstructions need")
    names = seeds.names

    st.header("Centroids")
    st.markdown("The centre of several seeds. The arithmetic mean of Gaussian latents has a norm far below the "
                "typical one (LOL paper, section 3.2): a latent the model never saw in training. LOL, the rescaled "
                "mean and NAO keep the norm typical (p under each centroid); a centroid can still fail a normality "
                "test of its elements (NAO's optimisation may leave them unlike a sample), and its badge then names "
                "that test.")
    members = st.multiselect("Seeds to average (2 or more)", names,
                             key=ui.remember("centroids.seeds", names[:4], options=names, least=2))
    if len(members) < 2:
        st.info("Choose at least two seeds.")
    else:
        group = seeds.select(members)
        centroids = {}
        for key, spec in lc.CENTROIDS.items():
            shown = ui.centroid_of(model, group, key, computed_for=", ".join(members))
            if shown.value is not None and shown.current:  # iterative ones appear when their job has ended
                centroids[key] = shown.value
        specs = {key: lc.CENTROIDS[key] for key in centroids}
        batch = torch.stack(list(centroids.values()))
        images = ui.decode_to_uint8(model, batch, decoding)
        summary = latent_summary(batch, prior=model.prior)
        ui.frames.image_row(images, [spec.label for spec in specs.values()], size=128, notes=[
            f"norm {summary.norm[i]:.1f} · p {summary.typicality[i]:.2f} · {summary.verdicts[i]}"
            for i in range(len(specs))])
        st.markdown("\n".join(f"- **{spec.label}**: {spec.lead}" for spec in specs.values()))
        with st.expander("How each centroid is computed, precisely"):
            st.markdown("\n".join(f"- **{spec.label}**: {spec.description}" for spec in specs.values()))
        st.caption("Under each centroid: its norm, its typical-set index (p) and whether it passes the normality "
                   "tests (\"atypical\" with the test that rejects it and its p-value); the table below has each "
                   "figure in full.")
        add_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
        adding = add_col.selectbox("Add a centroid to the seeds", list(specs), format_func=lambda k: specs[k].label)
        if button_col.button("Add to the seeds"):
            # named after its first few seeds: a name within the length a seed name may have
            seeds.add(centroids[adding][None], [f"{adding} centroid of {some_of(members, shown=3, width=40)}"])
            st.rerun()
        numbers = {"typical-set index (two-sided χ² p of the squared norm)": summary.typicality,
                   "smallest normality-test p-value (KS, CvM, AD)": summary.normality,
                   "realisticity index (density)": lc.realisticity_index(batch, prior=model.prior).numpy()}
        short = dict(zip(["norm", *numbers], ["norm", "typical-set index", "min normality p",
                                              "density index"]))  # short headers fit the page; the long in help
        ui.table(pd.DataFrame({"centroid": [c.label for c in specs.values()], "norm": summary.norm, **numbers}), short)
        st.caption("The typical-set index of Struski et al. is the two-sided chi-square p-value of the squared "
                   "(Mahalanobis) norm, so one column shows both.")

    st.header("k-NN reconstruction")
    st.markdown("A target latent rebuilt from the k seeds nearest to it: a weighted mix of them, the weights adding "
                "up to 1 and chosen to come as close to the target as they can. The closer the **k-NN "
                "reconstruction** looks to the target, the better your seeds cover that part of the latent space.")
    with st.expander("How the weights are computed, precisely"):
        st.markdown("An affine combination (weights summing to 1) of the target's k nearest seeds by Euclidean "
                    "distance, the weights solving the constrained least-squares (Lagrange) system, as locally "
                    "linear embedding does (Roweis & Saul, Science 2000). With LOL the same weights go through the "
                    "LOL map, so the reconstruction stays a typical latent.")
    source = st.radio("Target", TARGETS, horizontal=True, key=ui.remember("reconstruct.target", TARGETS[0],
                                                                          options=TARGETS))
    bank_names = names
    target = uploaded = None
    if source == "A seed":
        chosen = st.selectbox("Seed", names, key=ui.remember("reconstruct.seed", names[-1], options=names))
        bank_names = [n for n in names if n != chosen]  # the seed itself would be its own perfect reconstruction
        target = seeds.select([chosen])[0]
    elif source == "A fresh sample":
        number, _ = ui.number_field("Random seed of the sample", "reconstruct.sample_seed", 1234, 0,
                                    ui.BROWSER_MAX_WHOLE, what="The random seed",
                                    why_high="2⁵³ − 1, the largest whole number a browser holds exactly")
        target = None if number is None else model.prior.sample(1, seed=number)[0].cpu()
    elif not lc.inversion_methods(model):
        st.info(f"{ui.plain(name)} has no encoder and decodes with a sampler, so images cannot be turned into its "
                "latents; choose another target.")
    else:
        picture = st.file_uploader("A PNG or JPEG image", type=["png", "jpg", "jpeg"], key="reconstruct.image")
        if picture is not None:
            try:
                inverted = ui.invert_image(model, picture.getvalue(), picture.name, decoding)
            except (imaging.ImageFileError, ValueError, RuntimeError) as err:
                ui.show_error(f"{ui.plain(err)}. Your seed set is unchanged.", err)
            else:
                if inverted is not None:
                    target, psnr, verdict, sentence = inverted
                    uploaded = ui.image_as_model_sees_it(model, picture.getvalue(), picture.name)
                    {"far": st.warning, "unusual": st.info}.get(verdict, st.caption)(
                        f"Inverted with PSNR {psnr:.1f} dB: how close \"your image, inverted\" (the target below) "
                        f"comes to your image. {sentence}")
    if target is not None:
        k_col, lol_col = st.columns(2)
        k = 1
        if len(bank_names) > 1:
            k = k_col.slider("k (neighbours)", 1, len(bank_names), key=ui.remember(
                "reconstruct.k", min(4, len(bank_names)), bounds=(1, len(bank_names))))
        else:
            k_col.caption("One seed besides the target: k = 1.")
        use_lol = lol_col.toggle("Weights through LOL", key=ui.remember("reconstruct.lol", False))
        bank = seeds.select(bank_names)
        result = lc.knn_affine(target, bank, k, lol=use_lol, prior=model.prior)
        neighbour_names = [bank_names[i] for i in result.indices.tolist()]
        decoded = ui.decode_to_uint8(model, torch.stack([target, result.reconstruction]), decoding)
        rebuilt = f"from {k} seed{'s' * (k != 1)}"
        if uploaded is None:
            ui.frames.image_row(decoded, ["target", "k-NN reconstruction"], size=128, notes=["", rebuilt],
                                titles=["the target latent, decoded", f"k-NN reconstruction {rebuilt}, decoded"])
        else:  # the upload, what its inversion decodes to (the target) and the k-NN reconstruction of that
            ui.frames.image_row(np.stack([uploaded, decoded[0], decoded[1]]),
                                ["your image", "your image, inverted", "k-NN reconstruction"], size=128,
                                notes=["", "the target", rebuilt],
                                titles=["your image, at the model's size", "the target: the latent your image was "
                                        "inverted into, decoded", f"k-NN reconstruction of the target {rebuilt}, "
                                        "decoded"])
        a, c = st.columns(2)
        a.metric("Latent distance", f"{float(result.residual):.3f}",
                 help="||z_hat - z||: how far the k-NN reconstruction's latent is from the target's")
        c.metric("Image mean squared error", f"{imaging.mean_squared_error(decoded[0], decoded[1]):.4f}",
                 help="Between the decoded target and the decoded k-NN reconstruction (pixels in [0, 1])")
        if bool(result.rank_deficient):
            st.caption(f"The neighbours are (nearly) affinely dependent (rank {int(result.rank)} of {k - 1}), so the "
                      "weights are the smallest that fit.")
        st.plotly_chart(plots.weights_figure(neighbour_names, result.weights.numpy()), width="stretch")
        thumbs = ui.decode_to_uint8(model, bank[result.indices], decoding)
        ui.frames.image_row(thumbs, neighbour_names, size=96,
                            notes=[f"weight {w:.2f}" for w in result.weights.tolist()])
