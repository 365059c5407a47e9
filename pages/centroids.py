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
                "mean and NAO keep it typical.")
    members = st.multiselect("Seeds to average (2 or more)", names,
                             key=ui.remember("centroids.seeds", names[:4], options=names))
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
        st.caption(" ".join(f"**{spec.label}**: {spec.description}" for spec in specs.values()))
        st.caption("Under each centroid: its norm, its typical-set index (p) and whether it passes the normality "
                   "tests; the table below has each figure in full.")
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

    st.header("k-NN affine reconstruction")
    st.markdown("A target rebuilt as an affine combination (weights summing to 1) of its k nearest seeds, the "
                "weights solving the constrained least-squares (Lagrange) system, as locally linear embedding does "
                "(Roweis & Saul, Science 2000). With LOL the same weights go through the LOL map, so the "
                "reconstruction stays a typical latent.")
    source = st.radio("Target", TARGETS, horizontal=True, key=ui.remember("reconstruct.target", TARGETS[0],
                                                                          options=TARGETS))
    bank_names = names
    target = None
    if source == "A seed":
        chosen = st.selectbox("Seed", names, key=ui.remember("reconstruct.seed", names[-1], options=names))
        bank_names = [n for n in names if n != chosen]  # the seed itself would be its own perfect reconstruction
        target = seeds.select([chosen])[0]
    elif source == "A fresh sample":
        number = st.number_input("Random seed of the sample", min_value=0, step=1,
                                 key=ui.remember("reconstruct.sample_seed", 1234, bounds=(0, 2**62)))
        target = model.prior.sample(1, seed=int(number))[0].cpu()
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
                    {"far": st.warning, "unusual": st.info}.get(verdict, st.caption)(
                        f"Inverted with PSNR {psnr:.1f} dB. {sentence}")
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
        a, b, c = st.columns([1, 1, 2])
        a.image(decoded[0], width=128, clamp=True, caption="target")
        b.image(decoded[1], width=128, clamp=True, caption="reconstruction")
        c.metric("Latent distance ||z_hat - z||", f"{float(result.residual):.3f}")
        c.metric("Image mean squared error", f"{imaging.mean_squared_error(decoded[0], decoded[1]):.4f}")
        if bool(result.rank_deficient):
            c.caption(f"The neighbours are (nearly) affinely dependent (rank {int(result.rank)} of {k - 1}), so the "
                      "weights are the smallest that fit.")
        st.plotly_chart(plots.weights_figure(neighbour_names, result.weights.numpy()), width="stretch")
        thumbs = ui.decode_to_uint8(model, bank[result.indices], decoding)
        ui.frames.image_row(thumbs, neighbour_names, size=96,
                            notes=[f"weight {w:.2f}" for w in result.weights.tolist()])
