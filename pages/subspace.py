import streamlit as st
import torch

import latentcore as lc
import ui
from ui import plots

with ui.page("Subspace") as (name, model, decoding):
    st.markdown("Pick a few seeds and explore every mix of them: each slider moves you along one direction of the "
                "space the seeds span, and the image shows where you are. Look for how the image changes smoothly "
                "from one seed's look towards another's; each seed's own position is listed under the sliders.")
    with st.expander("What the sliders are, precisely"):
        st.markdown("The basis seeds span a subspace (Bodin et al., \"Linear combinations of latents in generative "
                    "models\", arXiv 2408.08558, section 3.3). Its coordinates h1, h2, ... are along an orthonormal "
                    "basis of that span (a QR decomposition of the seeds), not one weight per seed, so each seed sits "
                    "at a point of its own: its coordinates are listed under each slider. A slider runs from the "
                    "seeds' smallest to their largest value of its coordinate, a quarter of that span wider on each "
                    "side. With **LOL** every point is a typical latent; the **raw** linear combination shrinks or "
                    "inflates the norm.")
    seeds = ui.seeds_or_stop(name, "A subspace needs")

    names = seeds.names
    basis = st.multiselect("Basis seeds (2 to 6)", names, max_selections=6,
                           key=ui.remember("subspace.basis", names[:3], options=names, least=2))
    use_lol = st.toggle("LOL (off: raw linear combination)", key=ui.remember("subspace.lol", True),
                        help="On: every point is moved to the distance from the centre that the model's own samples "
                             "have, so it looks like a fresh sample. Off: the plain mix of the seeds, which can look "
                             "faded (too close to the centre) or overdone (too far)")
    if len(basis) < 2:
        st.info("Pick at least two seeds for the basis.")
        ui.stop()
    try:
        sub = lc.Subspace(seeds.select(basis), prior=model.prior)
    except ValueError as err:
        ui.show_error(f"{ui.plain(err)}.")
        ui.stop()
    ranges = sub.ranges.tolist()
    seed_coords = sub.seed_coordinates

    def slider_key(k: int) -> str:
        return f"subspace.h{k}.{'-'.join(basis)}"

    @st.fragment
    @ui.guarded
    def explorer():
        image_col, control_col = st.columns([1, 2])
        coords, bounds = [], []
        with control_col:
            for k, (lo, hi) in enumerate(ranges):
                pad = 0.25 * (hi - lo) or 1.0
                low, high = float(lo - pad), float(hi + pad)
                bounds.append((low, high))
                key = ui.remember(slider_key(k), float(seed_coords[:, k].mean()), bounds=(low, high))
                coords.append(st.slider(f"h{k + 1}", low, high, step=(high - low) / 100, key=key))
                st.caption("seeds: " + " · ".join(f"{ui.plain(seed)}: {value:.2f}"
                                                  for seed, value in zip(basis, seed_coords[:, k].tolist())))
        h = torch.tensor([coords])
        latent = sub.to_latents(h, lol=use_lol)
        with image_col:
            st.image(ui.decode_to_uint8(model, latent, decoding)[0], width=192, clamp=True,
                     caption="current point")
            if st.button("Add to the seeds", help="Add the current point to the seed set"):
                seeds.add(latent, [f"subspace point ({', '.join(f'{c:.2f}' for c in coords)})"])
                st.rerun(scope="app")
        # an SVG image, not a plotly chart: the browser draws it again at every slider step, and a plotly chart
        # took it ~70 ms each time, the image above waiting for it (ui.plots.scatter_svg)
        st.image(plots.scatter_svg(seed_coords[:, :2].numpy(), basis, h[0, :2].numpy(),
                                   title="Seeds and the current point (h1, h2)", axes=("h1", "h2"),
                                   bounds=(bounds[0], bounds[1])), width=600)

    explorer()

    st.subheader("Grid over two coordinates")
    axes = list(range(sub.dim))
    i_col, j_col, n_col = st.columns(3)
    i = i_col.selectbox("Rows", axes, format_func=lambda k: f"h{k + 1}",
                        key=ui.remember("subspace.rows", 0, options=axes))
    j = j_col.selectbox("Columns", axes, format_func=lambda k: f"h{k + 1}",
                        key=ui.remember("subspace.columns", 1, options=axes))
    n = n_col.slider("Points per axis", 2, 10, key=ui.remember("subspace.points", 5, bounds=(2, 10)))
    if i == j:
        st.info("Choose two different coordinates.")
        ui.stop()
    # Around the current point as the sliders were at this run of the page (the sliders rerun only their
    # fragment, so a slider step does not send the whole grid again)
    here = torch.tensor([st.session_state[slider_key(k)] for k in range(sub.dim)])
    latents, grid_coords = sub.grid(i, j, n, base=here, lol=use_lol)
    decoded = ui.decode_to_uint8(model, latents.reshape(n * n, *model.latent_shape), decoding)
    row, column = sub.nearest_grid_point(grid_coords, here)
    rows, columns = grid_coords[:, 0, i].tolist(), grid_coords[0, :, j].tolist()
    ui.frames.image_row(decoded, [""] * (n * n), columns=n, marked=row * n + column,
                        row_heads=[f"h{i + 1} = {v:.2f}" for v in rows],
                        column_heads=[f"h{j + 1} = {v:.2f}" for v in columns],
                        titles=[f"h{i + 1} = {a:.2f}, h{j + 1} = {b:.2f}" for a in rows for b in columns])
    st.caption(f"Rows step through h{i + 1}, columns through h{j + 1}, each over the seeds' range; the other "
               f"coordinates are those of the current point, and the outlined image is the one nearest to it "
               f"(h{i + 1} = {float(here[i]):.2f}, h{j + 1} = {float(here[j]):.2f}). After moving the sliders, "
               "press Redraw to centre the grid on the new point. Click an image to see it large.")
    st.button("Redraw the grid around the current point")

