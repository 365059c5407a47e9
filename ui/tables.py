"""Tables that fit the page: short headers, the full name of each column as its header's help, numbers to three
significant figures, and text columns of a bounded width (a long name is cut with an ellipsis and shown whole on
hover)."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def table(frame: pd.DataFrame, short: dict[str, str], *, helps: dict[str, str] | None = None, where=st,
          text_width: str = "medium") -> None:
    """``frame`` at the page's width; ``short`` maps a column to its header, and the header's help is
    ``helps[column]`` or else the column's own name. Numeric columns show three significant figures; text columns
    are ``text_width`` wide."""
    config = {}
    for column in frame.columns:
        label = short.get(column, column)
        help = (helps or {}).get(column) or (column if label != column else None)
        if pd.api.types.is_numeric_dtype(frame[column]):
            config[column] = st.column_config.NumberColumn(label, help=help, format="%.3g")
        else:
            config[column] = st.column_config.TextColumn(label, help=help, width=text_width)
    where.dataframe(frame, hide_index=True, width="stretch", column_config=config)
