"""Text that users chose (seed names, file names) shown where Streamlit renders Markdown: every Markdown
character escaped, so it reads as written and can neither fetch an image nor form a link. Seed names arrive with
shared workspace links, so they are another person's text."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=])")


def plain(text) -> str:
    """``text`` with each Markdown character backslash-escaped (CommonMark escapes any ASCII punctuation)."""
    return _MARKDOWN.sub(r"\\\1", str(text))
