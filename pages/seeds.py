import math

import streamlit as st

import latentcore as lc
import ui
from ui.server import limits
from ui.uploads import upload_help, upload_limit_problem, upload_mib
from latentcore.diagnostics import NORMALITY_LEVEL, latent_summary
from latentcore.validation import some_of

DOWNLOAD_FORMATS = [".safetensors", ".npz"]
GALLERY_PAGE = 64  # seeds drawn at once: a large set never draws thousands of images
SAMPLE_MAX = 64  # latents one Sample adds

with ui.page("Seeds") as (name, model, decoding):
    seeds = ui.seed_set(name)

    sample_col, upload_col = st.columns(2)
    with sample_col:
        st.subheader("Sample from the prior")
        notice = st.session_state.pop("seeds.sampled_again", None)  # said by the run that sampled
        count, too_many = ui.number_field("How many", "seeds.count", 8, 1, SAMPLE_MAX, what="How many to sample",
                                          why_high="the most one Sample adds", say=False)
        seed, wrong_seed = ui.number_field("Random seed (the same seed gives the same latents)", "seeds.seed", 0, 0,
                                           ui.BROWSER_MAX_WHOLE, what="The random seed", say=False,
                                           why_high="2⁵³ − 1, the largest whole number a browser holds exactly")
        if st.button("Sample", type="primary", disabled=bool(too_many or wrong_seed)):
            try:
                _, present = seeds.add_new(model.prior.sample(count, seed=seed),
                                           [f"seed {seed}.{i}" for i in range(count)])
            except ui.SeedSetFull as err:
                st.warning(ui.plain(err))
            else:
                notice = present and (f"{len(present)} of these {count} latents {'is' if len(present) == 1 else 'are'} "
                                      f"already in the set, as {ui.plain(some_of(present, shown=3))}: the same random "
                                      "seed gives the same latents, so they were not added again.")
                if len(present) < count:  # the seed count in the sidebar is drawn again
                    st.session_state["seeds.sampled_again"] = notice
                    st.rerun()
        for problem in (too_many, wrong_seed):
            if problem:
                st.warning(problem)
        if notice:
            st.info(notice)
    with upload_col:
        st.subheader("Upload latents")
        upload = st.file_uploader("A latent file", type=[f[1:] for f in lc.LATENT_FORMATS],
                                  max_upload_size=upload_mib(limits.MAX_FILE_BYTES),
                                  help=upload_help(f"One latent {model.latent_shape} or a batch of at most "
                                                   f"{limits.MAX_UPLOAD_LATENTS}; formats "
                                                   f"{', '.join(lc.LATENT_FORMATS)}", limits.MAX_FILE_BYTES))
        if mismatch := upload_limit_problem(limits.MAX_FILE_BYTES, "a latent file"):
            st.warning(ui.plain(mismatch))
        st.caption(f"{ui.plain(name)} takes {lc.latent_files.accepted_shapes(model.latent_shape)}.")
        if upload is not None and st.session_state.get("upload_result", (None,))[0] != upload.file_id:
            most = min(limits.MAX_UPLOAD_LATENTS, seeds.room())
            why = (f"one file adds at most {most} latents" if most == limits.MAX_UPLOAD_LATENTS else
                   f"the seed set holds {len(seeds)} seeds and a set holds at most {limits.MAX_SEEDS}; delete seeds "
                   "to make room")
            try:  # each uploaded file is read once; its result stays on screen while it is in the uploader
                uploaded = lc.read_latent_file(upload.getvalue(), name=upload.name, shape=model.latent_shape,
                                               max_latents=most, **limits.latent_file_limits())
            except lc.TooManyLatents as err:
                st.session_state["upload_result"] = (upload.file_id, "error",
                                                     f"{err} ({why}). Your seed set is unchanged.")
            except lc.LatentFileError as err:
                st.session_state["upload_result"] = (upload.file_id, "error", f"{err}. Your seed set is unchanged.")
            else:
                stem = upload.name.rsplit(".", 1)[0]
                given, present = seeds.add_new(uploaded.latents,
                                               uploaded.names or [f"{stem} {i}" for i in range(len(uploaded.latents))])
                again = present and (f" {len(present)} {'was' if len(present) == 1 else 'were'} already in the set, as "
                                     f"{some_of(present, shown=3)}, and not added again.")
                st.session_state["upload_result"] = (upload.file_id, "success",
                                                     f"Added {len(given)} latents from {upload.name}.{again or ''}")
        file_id, kind, message = st.session_state.get("upload_result", (None, None, None))
        if upload is not None and file_id == upload.file_id and kind == "error":
            ui.show_error(ui.plain(message))
        elif upload is not None and file_id == upload.file_id:
            st.success(ui.plain(message))

    st.subheader("Invert images into latents")
    if not lc.inversion_methods(model):
        st.caption(f"{ui.plain(name)} has no encoder and decodes with a sampler, so images cannot be turned into its "
                   "latents.")
    else:
        pictures = st.file_uploader("PNG or JPEG images", type=["png", "jpg", "jpeg"], accept_multiple_files=True,
                                    help=f"Resized to {model.image_shape[1]}x{model.image_shape[2]}; the closer "
                                         "to the model's own images, the closer the reconstruction")
        ui.say_small(model, [(p.getvalue(), p.name) for p in pictures])  # before inverting
        settings = ui.inversion_settings(model)
        if pictures and st.button("Invert the images", disabled=settings is None):
            try:
                started = ui.start_inversion(model, [(p.getvalue(), p.name) for p in pictures], settings, decoding)
            except ValueError as err:
                ui.show_error(f"{ui.plain(err)}. Your seed set is unchanged.", err)
            else:
                ui.say_refused(started.refused, inverting=len(started.started), skipped=len(started.skipped))
                if started.skipped:
                    st.info(ui.plain(f"Already in the seed set, not inverted again: {', '.join(started.skipped)}. "
                                     "Delete its seed to invert it anew."))
    try:
        ended = ui.ended_inversion()
    except (ValueError, RuntimeError) as err:
        ui.show_error(f"The inversion failed: {ui.plain(err)}. Your seed set is unchanged.", err)
    else:
        if ended is not None:
            ui.show_inversion(ui.get_model(ended.model_name), ended.names, ended.inversion, ended.reference,
                              ended.notes)
            where = "the seed set" if ended.model_name == name else f"the seed set of {ui.plain(ended.model_name)}"
            st.success(f"Added {len(ended.names)} inverted latent{'s' * (len(ended.names) != 1)} to {where}.")
            ui.say_refused(ended.refused)

    st.subheader(f"{len(seeds)} seeds")
    if not len(seeds):
        st.info("No seeds yet: sample some or upload a file.")
        ui.stop()

    pages = math.ceil(len(seeds) / GALLERY_PAGE)
    shown = 1
    if pages > 1:
        shown, wrong_page = ui.number_field(f"Page of the gallery ({GALLERY_PAGE} seeds each)", "seeds.page", 1, 1,
                                            pages, why_high="the last page", what="The page", shared=False, say=False)
        if wrong_page:  # e.g. past the last page once seeds were deleted: the nearest page, said so
            shown = min(max(1, int(st.session_state["seeds.page"] or 1)), pages)
            st.warning(f"{wrong_page} Showing page {shown}.")
    first = (int(shown) - 1) * GALLERY_PAGE
    on_page, labels = seeds.latents[first:first + GALLERY_PAGE], seeds.names[first:first + GALLERY_PAGE]
    if pages > 1:
        st.caption(f"Seeds {first + 1} to {first + len(labels)} of {len(seeds)} (page {int(shown)} of {pages}).")
    summary = latent_summary(on_page, prior=model.prior)
    images = ui.decode_to_uint8(model, on_page, decoding)
    size = ui.frames.frame_size_control("seeds.frame_size")
    ui.frames.image_row(images, [str(label) for label in labels], size=size, wrap_px=128,
                        titles=[f"{label}: norm {summary.norm[i]:.2f}, typical-set index (two-sided χ² p of the "
                                f"squared norm) {summary.typicality[i]:.2f}, {summary.verdicts[i]}"
                                for i, label in enumerate(labels)],
                        notes=[f"{summary.norm[i]:.1f} · p {summary.typicality[i]:.2f} · {summary.verdicts[i]}"
                               for i in range(len(labels))])
    st.caption("Under each seed: its norm, its typical-set index (p: the two-sided chi-square p-value of the squared "
               f"norm) and whether it passes the normality tests (\"atypical\" when one has p < {NORMALITY_LEVEL:g}, "
               "with the test that rejects it and its p-value). Hover for the whole name.")

    rename_col, new_col, button_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    old = rename_col.selectbox("Rename a seed", seeds.names)
    new = new_col.text_input("New name", value=old, key=f"rename-{old}", max_chars=limits.MAX_NAME_CHARS)
    if button_col.button("Rename") and new != old:
        try:
            seeds.rename(old, new)
        except ValueError as err:
            st.warning(ui.plain(err))
        else:
            st.rerun()
    remove = st.multiselect("Select seeds to delete", seeds.names)
    delete_col, page_col = st.columns(2)
    if remove and delete_col.button("Delete selected"):
        seeds.remove(remove)
        st.rerun()
    if pages > 1 and page_col.button(f"Delete the {len(labels)} seeds on this page"):
        seeds.remove(labels)
        st.rerun()
    fmt = st.selectbox("Download format", DOWNLOAD_FORMATS,
                       key=ui.remember("seeds.format", DOWNLOAD_FORMATS[0], options=DOWNLOAD_FORMATS))
    latents, seed_names = seeds.latents, seeds.names  # as shown now (edits replace both), encoded when pressed
    st.download_button("Download the seed set", lambda: lc.latents_to_bytes(latents, seed_names, fmt=fmt),
                       file_name=f"seeds-{ui.file_stem(name)}{fmt}", on_click="ignore")
