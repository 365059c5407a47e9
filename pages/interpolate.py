import streamlit as st

import latentcore as lc
import ui

name, model, steps = ui.sidebar()
seeds = ui.seed_set(name)

st.title("Interpolate")
if seeds["latents"] is None or len(seeds["names"]) < 2:
    st.info("Interpolation needs at least two seeds: sample or upload some on the Seeds page.")
    st.page_link("pages/seeds.py", label="Go to Seeds")
    st.stop()

names = seeds["names"]
left, right = st.columns(2)
start = left.selectbox("From", names, index=0)
end = right.selectbox("To", names, index=1)
labels = {s.label: key for key, s in lc.SCHEMES.items()}
chosen = st.multiselect("Schemes", list(labels), default=["Linear", "SLERP", "LOL"])
frames = st.slider("Frames", min_value=2, max_value=64, value=8)

if not chosen:
    st.info("Choose at least one scheme.")
    st.stop()

z0, z1 = seeds["latents"][names.index(start)], seeds["latents"][names.index(end)]
for label in chosen:
    scheme = lc.SCHEMES[labels[label]]
    options = {"decoder": model} if scheme.name == "geodesic" else {}
    if scheme.name == "nao":
        options["max_steps"] = 2000
    bar = st.progress(0.0, text=f"{label} ...") if scheme.iterative else None
    try:
        path = lc.interpolate(z0, z1, frames, scheme=scheme.name, prior=model.prior,
                              progress=(lambda f, text, b=bar: b.progress(min(f, 1.0), text=text)) if bar else None,
                              **options)
    except (ValueError, RuntimeError) as err:
        ui.show_error(f"{label} failed: {err}", err)
        continue
    if bar is not None:
        bar.empty()
    st.markdown(f"**{label}**: {scheme.description}")
    st.image(list(ui.decode_to_uint8(name, path.numpy(), steps)), width=72, clamp=True)
