"""Text that users chose (seed names, file names, settings and results of a workspace, a plug-in's metadata, URL
parameters) shown as plain text, one helper per kind of place it is shown: :func:`plain` where Streamlit renders
Markdown (messages, captions, labels, tooltips, image captions), :func:`plain_html` in HTML and in plotly's titles,
labels and hover text (plotly renders a subset of HTML there, links included), :func:`file_stem` in the name of a
download. Such text reads as written and can neither fetch an image nor form a link: seed names and settings arrive
with shared workspace links, so they are another person's text."""

from __future__ import annotations

import html
import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=])")


def plain(text) -> str:
    """``text`` with each Markdown character backslash-escaped (CommonMark escapes any ASCII punctuation)."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def plain_html(text) -> str:
    """``text`` with ``&``, ``<``, ``>`` and ``"`` as character references, for HTML (element text and attribute
    values in double quotes) and for plotly's text (titles, tick and legend labels, hover text), which knows only a
    few named references (``&lt;``, ``&gt;``, ``&amp;``) and numeric ones, so the quote is numeric. Without ``<``
    no tag can form, so ``'`` stays as it is (plotly would show ``&#39;`` as written)."""
    return html.escape(str(text), quote=False).replace('"', "&#34;")


_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(text, max_chars: int = 80) -> str:
    """``text`` as part of a download's file name: ASCII letters, digits, ``.``, ``_`` and ``-`` only (any other run
    of characters, path separators included, becomes one ``_``), no leading dot, at most ``max_chars`` characters;
    ``"untitled"`` when nothing is left."""
    return _UNSAFE_IN_FILE_NAMES.sub("_", str(text)).lstrip(".")[:max_chars] or "untitled"
