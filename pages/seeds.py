import streamlit as st

import latentcore as lc
import ui
from latentcore import imaging
from latentcore.diagnostics import latent_summary

FORMATS = [".safetensors", ".npz"]

with ui.page("Seeds") as (name, model, decoding):
    seeds = ui.seed_set(name)

    sample_col, upload_col = st.columns(2)
    with sample_col:
        st.subheader("Sample from the prior")
        count = st.number_input("How many", min_value=1, max_value=64,
                                key=ui.remember("seeds.count", 8, bounds=(1, 64)))
        seed = st.number_input("Random seed (the same seed gives the same latents)", min_value=0, step=1,
                               key=ui.remember("seeds.seed", 0, bounds=(0, 2**62)))
        if st.button("Sample", type="primary"):
            seeds.add(model.prior.sample(int(count), seed=int(seed)),
                      [f"seed {int(seed)}.{i}" for i in range(int(count))])
            st.rerun()
    with upload_col:
        st.subheader("Upload latents")
        upload = st.file_uploader("A latent file", type=[f[1:] for f in lc.FORMATS],
                                  help=f"One latent {model.latent_shape} or a batch; formats {', '.join(lc.FORMATS)}")
        if upload is not None and st.session_state.get("upload_result", (None,))[0] != upload.file_id:
            try:  # each uploaded file is read once; its result stays on screen while it is in the uploader
                uploaded = lc.read_latent_file(upload.getvalue(), name=upload.name, shape=model.latent_shape)
            except lc.LatentFileError as err:
                st.session_state["upload_result"] = (upload.file_id, "error", f"{err}. Your seed set is unchanged.")
            else:
                stem = upload.name.rsplit(".", 1)[0]
                added = len(uploaded.latents)
                seeds.add(uploaded.latents, uploaded.names or [f"{stem} {i}" for i in range(added)])
                st.session_state["upload_result"] = (upload.file_id, "success",
                                                     f"Added {added} latents from {upload.name}.")
        file_id, kind, message = st.session_state.get("upload_result", (None, None, None))
        if upload is not None and file_id == upload.file_id and kind == "error":
            ui.show_error(ui.plain(message))
        elif upload is not None and file_id == upload.file_id:
            st.success(ui.plain(message))

    st.subheader("Invert images into latents")
    if not lc.inversion_methods(model):
        st.caption(f"{name} has no encoder and decodes with a sampler, so images cannot be turned into its latents.")
    else:
        pictures = st.file_uploader("PNG or JPEG images", type=["png", "jpg", "jpeg"], accept_multiple_files=True,
                                    help=f"Resized to {model.image_shape[1]}x{model.image_shape[2]}; the closer "
                                         "to the model's own images, the closer the reconstruction")
        settings = ui.inversion_settings(model)
        if pictures and st.button("Invert the images"):
            try:
                batch = imaging.load_images([(p.getvalue(), p.name) for p in pictures])
                inversion, reference = ui.invert_with_reference(model, batch, settings, decoding)
            except (imaging.ImageFileError, ValueError) as err:
                ui.show_error(f"{ui.plain(err)}. Your seed set is unchanged.", err)
            else:
                ui.show_inversion(model, [p.name for p in pictures], inversion, reference)
                seeds.add(inversion.latents, [p.name.rsplit(".", 1)[0] for p in pictures])
                st.success(f"Added {len(pictures)} inverted latent{'s' * (len(pictures) != 1)} to the seed set.")

    st.subheader(f"{len(seeds)} seeds")
    if not len(seeds):
        st.info("No seeds yet: sample some or upload a file.")
        st.stop()

    summary = latent_summary(seeds.latents, prior=model.prior)
    images = ui.decode_to_uint8(name, seeds.latents.numpy(), decoding)
    columns = st.columns(8)
    for i, label in enumerate(seeds.names):
        badge = "normal" if summary.passes[i] else "atypical"
        with columns[i % 8]:
            st.image(images[i], width="stretch", clamp=True)
            st.caption(f"**{ui.plain(label)}** · norm {summary.norm[i]:.1f} · χ² p {summary.typicality[i]:.2f} · "
                       f"{badge}")

    rename_col, new_col, button_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    old = rename_col.selectbox("Rename a seed", seeds.names)
    new = new_col.text_input("New name", value=old, key=f"rename-{old}")
    if button_col.button("Rename") and new != old:
        try:
            seeds.rename(old, new)
        except ValueError as err:
            st.warning(ui.plain(err))
        else:
            st.rerun()
    remove = st.multiselect("Select seeds to delete", seeds.names)
    if remove and st.button("Delete selected"):
        seeds.remove(remove)
        st.rerun()
    fmt = st.selectbox("Download format", FORMATS, key=ui.remember("seeds.format", FORMATS[0], options=FORMATS))
    latents, seed_names = seeds.latents, seeds.names  # as shown now (edits replace both), encoded when pressed
    st.download_button("Download the seed set", lambda: lc.latents_to_bytes(latents, seed_names, fmt=fmt),
                       file_name=f"seeds-{name.replace('/', '_')}{fmt}", on_click="ignore")
