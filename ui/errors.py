"""How failures reach the user: a message that says what to do, the exception's details folded away."""

from __future__ import annotations

import contextlib
from typing import NoReturn

import streamlit as st

from latentcore.models import OutOfMemory
from .server.seed_set import SeedSetFull

from .text import plain


def show_error(message: str, err: BaseException | None = None) -> None:
    """A message that says what to do, with the exception's details folded away."""
    st.error(message)
    if err is not None:
        with st.expander("Details"):
            st.exception(err)


class PageStop(Exception):
    """Raised by :func:`stop` and caught by the page guard (:func:`ui.page`)."""


def stop() -> NoReturn:
    """End the page's body here, as ``st.stop()`` does, but let the page guard draw what it draws after the body
    (the seed count, the progress of long computations): after ``st.stop()`` Streamlit draws nothing more."""
    raise PageStop


@contextlib.contextmanager
def errors_shown():
    """Any exception of the block becomes a message (a full seed set a warning without details); Streamlit's rerun
    and stop signals (BaseException) and :class:`PageStop` pass."""
    try:
        yield
    except PageStop:
        raise
    except SeedSetFull as err:  # a limit reached, not a fault: its message says what to do
        st.warning(plain(err))
    except OutOfMemory as err:  # the device's limit: the message says what to do instead
        show_error(plain(err), err)
    except Exception as err:  # noqa: BLE001 - the last line of defence between latentcore and the user
        show_error(f"Something went wrong: {type(err).__name__}: {plain(err)}. Your seeds are unchanged; try other "
                   "settings, or open the details below if it keeps happening.", err)
