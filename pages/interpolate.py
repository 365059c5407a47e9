import streamlit as st

import latentcore as lc
import ui
from latentcore import imaging
from ui import plots
from latentcore.diagnostics import NORMALITY_LEVEL, path_profile, typical_norm_band

with ui.page("Interpolate") as (name, model, decoding):
    seeds = ui.seeds_or_stop(name, "Interpolation needs")
    names = seeds.names
    chain = st.toggle("A chain through several seeds", key=ui.remember("interpolate.chain", False))
    if chain:
        stops = st.multiselect("Seeds, in order", names,
                               key=ui.remember("interpolate.stops", names[:3], options=names, least=2))
        if len(stops) < 2:
            st.info("A chain needs at least two seeds.")
            ui.stop()
    else:
        left, right = st.columns(2)
        stops = [left.selectbox("From", names, key=ui.remember("interpolate.from", names[0], options=names)),
                 right.selectbox("To", names, key=ui.remember("interpolate.to", names[1], options=names))]
    offered, not_offered = lc.schemes_for(model)
    chosen = st.multiselect("Schemes", offered, format_func=lambda key: lc.SCHEMES[key].label,  # kept by key
                            key=ui.remember("interpolate.schemes", lc.SCHEMES.default_selection(), options=offered))
    for key, why in not_offered.items():
        st.caption(f"{lc.SCHEMES[key].label} is not offered for {ui.plain(name)}: {why}.")
    if chosen:
        with st.expander("How each scheme works, precisely"):
            st.markdown("\n".join(f"- **{lc.SCHEMES[key].label}**: {lc.SCHEMES[key].description_for(model.prior)}"
                                   for key in chosen))
    frames = st.slider("Frames" + (" per leg" if chain else ""), min_value=2, max_value=64,
                       key=ui.remember("interpolate.frames", 8, bounds=(2, 64)))
    if not chosen:
        st.info("Choose at least one scheme.")
        ui.stop()

    size = ui.frames.frame_size_control("interpolate.frame_size")
    captions, what = ui.frames.path_captions(frames, len(stops) - 1, stops)
    st.caption(what)
    stop_latents = seeds.select(stops)
    z0, z1 = stop_latents[0], stop_latents[-1]
    paths, images, keys = {}, {}, {}
    for key in chosen:
        scheme = lc.SCHEMES[key]
        label = scheme.label  # what charts and messages say; files and exports say the key
        keys[label] = key
        # the exports keep their width beside the text, which takes the rest of the line
        heading = st.container(horizontal=True, vertical_alignment="bottom", wrap=False)
        heading.markdown(f"**{label}**: {scheme.summary_for(model.prior)}", width="stretch")
        settings = ui.scheme_settings(scheme, f"interpolate.{scheme.name}")
        inputs = ", ".join([f"{frames} frames{' per leg' if chain else ''} through {' → '.join(stops)}",
                            *(f"{s.label}: {s.label_of(settings[s.name])}" for s in scheme.settings)])
        try:
            shown = ui.path_through(model, stop_latents, frames, scheme.name, decoding, settings,
                                    computed_for=inputs, where=st)
        except (ValueError, RuntimeError) as err:
            ui.show_error(f"{label} failed: {ui.plain(err)}", err)
            continue
        path = shown.value
        if path is None:  # not computed yet: its row offers to, or its job is running
            continue
        if not shown.current:
            st.caption(f"Out of date, not in the charts below: computed for {ui.plain(shown.computed_for)}.")
            ui.frames.image_row(ui.decode_to_uint8(model, path, decoding), [f"{i + 1}" for i in range(len(path))],
                                size=size)
            continue
        paths[label] = path
        images[label] = ui.decode_to_uint8(model, path, decoding)
        ui.frames.image_row(images[label], captions, size=size,
                            titles=[f"{label}, frame {i + 1} of {len(captions)}: {c}" for i, c in enumerate(captions)])
        decoded = imaging.from_uint8(images[label])
        # exports are encoded when their button is pressed, not on every run
        heading.download_button("GIF", lambda d=decoded: imaging.gif_bytes(d), file_name=f"{key}.gif",
                                key=f"gif-{key}", on_click="ignore", width="content",
                                help="The frames as an animated GIF")
        heading.download_button("PNG", lambda d=decoded: imaging.png_bytes(d), file_name=f"{key}.png",
                                key=f"png-{key}", on_click="ignore", width="content",
                                help="The frames side by side in one PNG image")

    if not paths:
        ui.stop()
    ui.keep_last_paths(name, paths)  # Diagnostics can inspect points on these paths
    named_paths = {keys[label]: path for label, path in paths.items()}
    st.download_button("All paths (.npz)", lambda: lc.latent_files.paths_to_npz(named_paths),
                       file_name="paths.npz", on_click="ignore")

    profiles = {k: path_profile(p, prior=model.prior, images=images[k].astype("float32") / 255)
                for k, p in paths.items()}
    plane = {k: lc.endpoint_plane(p, z0, z1).numpy() for k, p in paths.items()}
    a, b = st.columns(2)  # charts that belong together side by side: the two indices, then the geometry
    a.plotly_chart(plots.along_path_figure({k: v.density_index for k, v in profiles.items()},
                                           "Realisticity index (density)", "ri"), width="stretch")
    b.plotly_chart(plots.along_path_figure({k: v.typical_index for k, v in profiles.items()},
                                           "Realisticity index (typical set)", "ri"), width="stretch")
    st.caption("A realisticity index (Struski et al., \"Interpolation in generative models\") rates how usual a "
               "latent is for the prior, from 0 to 1. The typical-set index is the two-sided chi-square p-value of "
               "the squared norm: near 0 for a norm the prior rarely produces, too small or too large. "
               "For a Gaussian prior the density index is "
               "1 - F(||z||²), F the chi-square CDF: the prior's own samples spread evenly between 0 and 1, and a "
               "point of atypically small norm scores near 1. A linear midpoint has about half the typical squared "
               "norm, so it scores about 0.95 in 16 dimensions and above 0.9999 in 100: rated more realistic than the "
               "endpoints. The typical-set index and the normality tests flag its small norm instead.")
    a, b = st.columns(2)
    a.plotly_chart(plots.endpoint_plane_figure(plane), width="stretch")
    a.caption("The endpoint plane is the plane through the origin spanned by the two endpoints (Struski et al., "
              "Eq. 4): each frame is projected onto it, the start at (1, 0), the end at (0, 1).")
    b.plotly_chart(plots.along_path_figure({k: v.step for k, v in profiles.items()},
                                           "Step between frames (L2)", "distance"), width="stretch")
    a, b = st.columns(2)
    a.plotly_chart(plots.along_path_figure({k: v.norm for k, v in profiles.items()}, "Norm along the path", "norm",
                                           band=typical_norm_band(model.prior)), width="stretch")
    b.plotly_chart(plots.along_path_figure({k: v.normality for k, v in profiles.items()},
                                           "Smallest normality-test p-value", "p-value", log_y=True,
                                           level=NORMALITY_LEVEL), width="stretch")
