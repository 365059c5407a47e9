"""What every page of the app shares: the guard around a page run, the sidebar, the session's workspace and seed
sets, the model and cached decoding, and error messages.

Pages hold widgets and layout; every computation on latents goes through latentcore. Pages find ``ui`` beside
app.py, also when Streamlit runs a page script directly (a server's first run, AppTest): ``streamlit run`` puts
app.py's folder on ``sys.path``, and the tests run from that folder.
"""

from . import frames, jobs
from .errors import show_error, stop
from .guard import guarded, page
from .inversion import (ended_inversion, inversion_settings, invert_image, say_refused, say_small, show_inversion,
                        start_inversion)
from .models import centroid_of, decode_to_uint8, get_model, image_as_model_sees_it, path_through
from .seed_sets import go_to_seeds, seed_set, seeds_or_stop
from .server.seed_set import SeedSetFull
from .state import keep_last_paths, last_paths, remember
from .tables import table
from .text import file_stem, plain, plain_html
from .widgets import BROWSER_MAX_WHOLE, number_field, scheme_settings

__all__ = ["frames", "jobs", "scheme_settings", "table", "page", "stop", "guarded", "show_error", "plain", "plain_html",
           "file_stem", "remember", "seed_set", "seeds_or_stop", "go_to_seeds", "get_model", "decode_to_uint8",
           "path_through", "centroid_of", "image_as_model_sees_it",
           "inversion_settings", "start_inversion", "ended_inversion", "show_inversion", "invert_image", "say_refused",
           "say_small",
           "keep_last_paths", "last_paths", "SeedSetFull", "number_field", "BROWSER_MAX_WHOLE"]
