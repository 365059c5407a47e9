"""One upload limit per kind of file, said in words. Streamlit's server takes at most ``server.maxUploadSize`` MiB in
one upload and answers a larger one with a bare HTTP 413 (an "AxiosError" in the uploader), whatever the widget
promised; the app's own limits (:mod:`ui.server.limits`: a workspace file, a latent file) are checked after the
upload. The two must agree: ``.streamlit/config.toml`` sets the server's to the largest of the app's, each uploader
is told :func:`upload_mib` (the browser then refuses a larger file itself, in words) and says it in its help, and
:func:`upload_limit_problem` says, beside the uploader and once in the server's log, when a setting of the server
(an environment override of either) has made them differ.
"""

from __future__ import annotations

import logging
import math

import streamlit as st

from .server import limits

_LOG = logging.getLogger(__name__)


def server_upload_mib() -> int:
    """The most Streamlit's server takes in one upload, in MiB (``server.maxUploadSize``)."""
    return int(st.get_option("server.maxUploadSize"))


def upload_mib(limit_bytes: int) -> int:
    """The whole MiB an uploader of files the app takes up to ``limit_bytes`` lets the browser send: the app's
    limit, rounded down (at least 1), and never more than the server takes."""
    return max(1, min(limit_bytes // limits.MiB, server_upload_mib()))


def upload_help(text: str, limit_bytes: int) -> str:
    """An uploader's help ``text`` followed by the true limit of one file."""
    return f"{text}. At most {upload_mib(limit_bytes)} MiB a file"


def upload_limit_problem(limit_bytes: int, what: str) -> str | None:
    """When the server takes less in one upload than the app takes of ``what`` (``"a workspace"``): what that
    means and how to make them agree; logged once per server process. ``None`` when they agree."""
    server = server_upload_mib()
    if server * limits.MiB >= limit_bytes:
        return None
    problem = (f"This server takes uploads of at most {server} MiB (Streamlit's server.maxUploadSize), less than the "
               f"{limits.mib(limit_bytes)} {what} may take here, so a larger one cannot be uploaded. To make them "
               f"agree, start the server with server.maxUploadSize = {math.ceil(limit_bytes / limits.MiB)} (in "
               ".streamlit/config.toml, or STREAMLIT_SERVER_MAX_UPLOAD_SIZE) or a smaller LATENT_EXPLORER_ limit.")
    _logged_once(problem)
    return problem


@st.cache_resource(show_spinner=False)
def _logged_once(problem: str) -> None:
    _LOG.warning(problem)
