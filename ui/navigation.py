"""The app's pages in one table: title, script, icon and what each page is for. app.py makes the navigation from
it (st.navigation) and the home page lists the other pages from it, so a new page is one new row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AppPage:
    """One page: its ``title`` (in the navigation and the home page's list), its ``script`` (relative to app.py's
    folder), a ``description`` of what it is for (the home page's list) and its ``icon`` (an emoji or
    ``":material/name:"`` for ``st.Page`` and ``st.page_link``; None: none, as now, so each link's accessible name is
    its title alone)."""

    title: str
    script: str
    description: str
    icon: str | None = None


# The first page is the home page (the navigation's default); the home page lists the others in this order.
PAGES = (
    AppPage("Home", "pages/home.py", "what the app is for, and a demo to start with"),
    AppPage("Seeds", "pages/seeds.py", "sample, upload and manage seed latents"),
    AppPage("Interpolate", "pages/interpolate.py", "paths between seeds, scheme by scheme"),
    AppPage("Subspace", "pages/subspace.py", "sliders over the coordinates of a subspace spanned by seeds"),
    AppPage("Diagnostics", "pages/diagnostics.py", "normality tests and realisticity of single latents"),
    AppPage("Compare schemes", "pages/compare.py", "every scheme on the same seeds, with metrics and intervals"),
    AppPage("Judge schemes", "pages/judge.py", "a room of people compares schemes blind; their ranking"),
    AppPage("Centroids and reconstruction", "pages/centroids.py",
            "centres of seeds; a latent rebuilt from its neighbours"),
    AppPage("Geometry playground", "pages/playground.py", "why straight paths cross empty regions, in 2-D"),
)
HOME = PAGES[0]
