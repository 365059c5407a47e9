"""Tables that fit the page: short headers, the full name of each column as its header's help, numbers to three
significant figures, and column widths that add up to the main area's width in a 1024 px wide window (wider
windows share out the rest); a long name is cut with an ellipsis."""

from __future__ import annotations

import pandas as pd
import streamlit as st

FIT_PX = 560          # the main area of the app in a 1024 px wide window, beside the sidebar
HEADER_CHAR_PX = 7.0  # a header's width per character (plus 16 px of padding)
MIN_TEXT_PX = 110
MIN_NUMBER_PX = 79    # "0.0000375" or "3.37e-13": nine characters at three significant figures
# A table's toolbar (search, download, full screen) appears over the 44 px above the table while the pointer is on it;
# beyond the gap between elements (16 px) that would cover the end of the line above (a heading, a long label), so
# tables keep that much more room above them.
TOOLBAR_ROOM = """<style>
[data-testid=stMain] [data-testid=stElementContainer]:has(> [data-testid=stFullScreenFrame] > [data-testid=stDataFrame])
  { margin-top: 28px; }
</style>"""


def column_widths(frame: pd.DataFrame, short: dict[str, str]) -> dict[str, int]:
    """Pixel widths: each numeric column as wide as its header or its widest number; the text columns share what is
    left of :data:`FIT_PX` (at least :data:`MIN_TEXT_PX` each)."""
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    widths = {c: max(MIN_NUMBER_PX, round(HEADER_CHAR_PX * len(short.get(c, c)) + 16)) for c in numeric}
    text = [c for c in frame.columns if c not in widths]
    if text:
        share = max(MIN_TEXT_PX, (FIT_PX - sum(widths.values())) // len(text))
        widths.update({c: share for c in text})
    return widths


def table(frame: pd.DataFrame, short: dict[str, str], *, helps: dict[str, str] | None = None, where=st) -> None:
    """``frame`` at the page's width; ``short`` maps a column to its header, and the header's help is
    ``helps[column]`` or else the column's own name. Numeric columns show three significant figures."""
    config = {}
    for column, width in column_widths(frame, short).items():
        label = short.get(column, column)
        help = (helps or {}).get(column) or (column if label != column else None)
        if pd.api.types.is_numeric_dtype(frame[column]):
            config[column] = st.column_config.NumberColumn(label, help=help, format="%.3g", width=width)
        else:
            config[column] = st.column_config.TextColumn(label, help=help, width=width)
    where.html(TOOLBAR_ROOM)
    where.dataframe(frame, hide_index=True, width="stretch", column_config=config)
