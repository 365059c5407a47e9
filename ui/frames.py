"""Rows and grids of decoded images drawn as HTML: every image in a cell of one size with its caption under it
(always legible text, not pixels of a shrunk picture), rows that wrap onto more lines where the page is too narrow
for them (the same way for every scheme, so that they still line up), a size control, and a click on an image to
see it large (CSS only: the image takes the focus and is drawn over the page; a click elsewhere puts it back).
Images are sent inline, encoded once per image (cached by content): PNG for small frames, a JPEG of at most 384 px
for large ones."""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
import streamlit as st
from PIL import Image

from .state import remember
from .text import plain_html

SIZES = {"Fit the width": None, "Small (48 px)": 48, "Medium (96 px)": 96, "Large (160 px)": 160}
# A fitted row shares the width between its frames, each between ROW_MIN_PX (wide enough for a caption such as
# "demo 0") and ROW_MAX_PX (a few frames are not blown up); more frames than fit at ROW_MIN_PX wrap onto more lines.
ROW_MIN_PX, ROW_MAX_PX = 56, 160
FIT_MIN_PX = 36  # a grid's cells (rows and columns given) never narrower than this
GAP_PX = 6
# Frames up to LOSSLESS_MAX_PX are sent as PNG; larger ones (pipelines' images) as JPEG at most SHOWN_MAX_PX wide,
# so a row of 16 stays well under a megabyte (the GIF and PNG exports keep every pixel).
LOSSLESS_MAX_PX, SHOWN_MAX_PX = 128, 384

_STYLE = """<style>
.le-frames { display: grid; gap: 6px; overflow-x: auto; padding-bottom: 4px; justify-content: start; }
.le-frames figure { margin: 0; min-width: 0; }
.le-frames .le-cell { aspect-ratio: var(--le-aspect); width: 100%; }
.le-frames img { width: 100%; height: 100%; display: block; image-rendering: pixelated; cursor: zoom-in;
  border: 1px solid rgba(128, 128, 128, 0.35); box-sizing: border-box; }
.le-frames img:focus { position: fixed; z-index: 1000000; top: 50%; left: 50%; transform: translate(-50%, -50%);
  width: min(80vh, 80vw); height: auto; cursor: zoom-out; outline: none;
  box-shadow: 0 0 0 100vmax rgba(0, 0, 0, 0.6); }
.le-frames figure:focus-within figcaption { position: fixed; z-index: 1000001; left: 50%;
  top: calc(50% + min(40vh, 40vw)); transform: translateX(-50%); padding: 0.3rem 0.8rem; color: #fff;
  font-size: 1rem; opacity: 1; white-space: normal; }
.le-frames figcaption { font-size: 0.8rem; line-height: 1.2; text-align: center; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; opacity: 0.85; }
.le-frames .le-note { font-size: 0.7rem; text-align: center; opacity: 0.7; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
.le-frames .le-head { font-size: 0.8rem; opacity: 0.85; align-self: center; text-align: center; }
.le-frames .le-marked img { outline: 3px solid #ff4b4b; outline-offset: -3px; }
</style>"""


def frame_size_control(key: str, label: str = "Frame size") -> int | None:
    """A segmented control of :data:`SIZES`, every choice in view; the pixel width of a cell, or None to fit the
    page's width."""
    names = list(SIZES)
    chosen = st.segmented_control(
        label, names, required=True, key=remember(key, names[0], options=names),
        help=f"Fit the width: the frames share the page's width, {ROW_MIN_PX} to {ROW_MAX_PX} px each, on more "
             "lines when there are many. The other sizes draw each frame that wide. Click a frame to see it large; "
             "click anywhere to put it back.")
    return SIZES.get(chosen)


def image_row(images: np.ndarray, captions: list[str], *, size: int | None = None, titles: list[str] | None = None,
              notes: list[str] | None = None, marked: int | None = None, columns: int | None = None,
              wrap_px: int | None = None, row_heads: list[str] | None = None, column_heads: list[str] | None = None,
              where=st) -> None:
    """Images ``[N, H, W]`` or ``[N, H, W, C]`` (8-bit) in one row (or a grid of ``columns``), each with its caption.

    ``size``: the cell width in pixels, or None to share the width equally (between :data:`ROW_MIN_PX` and
    :data:`ROW_MAX_PX`); a row wider than the page wraps onto more lines, the same way for every row of as many
    images, and a cell is never wider than the page. ``columns``: a grid of that many columns instead (its cells at
    least :data:`FIT_MIN_PX` wide, or ``size``; a grid wider than the page scrolls sideways). ``wrap_px``: a gallery,
    as many columns of at least that width (or ``size``) as the page has room for. ``titles``: each image's tooltip
    and alternative text (default its caption). ``notes``: a second, smaller line under each caption. ``marked``:
    the index of an image to outline. ``row_heads`` / ``column_heads``: labels of a grid's rows (left) and columns
    (top).
    """
    count = len(images)
    height, width = images.shape[1:3]
    if wrap_px:
        template = f"repeat(auto-fill, {f'min({size}px, 100%)' if size else f'minmax({wrap_px}px, 1fr)'})"
    elif columns:
        cell = f"{size}px" if size else f"minmax({FIT_MIN_PX}px, 1fr)"
        template = f"{'auto ' if row_heads else ''}repeat({columns}, {cell})"
    elif size:  # as many cells of that width as fit, on as many lines as it takes
        template = f"repeat(auto-fill, min({size}px, 100%))"
    else:  # count cells on one line where each gets ROW_MIN_PX or more (less 0.5 px: rounding never drops one)
        share = f"calc((100% - {GAP_PX * (count - 1)}px) / {count} - 0.5px)"
        template = f"repeat(auto-fill, minmax(max({ROW_MIN_PX}px, min({ROW_MAX_PX}px, {share})), 1fr))"
    sized = ' data-sized="1"' if size and columns else ""  # a grid set wider than the page scrolls sideways
    columns = columns or count
    titles = titles or captions
    parts = [f'<div class="le-frames"{sized} style="grid-template-columns: {template}; '
             f'--le-aspect: {width} / {height};">']
    if column_heads:
        parts += ['<div></div>'] if row_heads else []
        parts += [f'<div class="le-head">{plain_html(h)}</div>' for h in column_heads]
    for k in range(count):
        if row_heads and k % columns == 0:
            parts.append(f'<div class="le-head">{plain_html(row_heads[k // columns])}</div>')
        title = plain_html(titles[k])
        parts.append(f'<figure class="{"le-marked" if k == marked else ""}"><div class="le-cell">'
                     f'<img tabindex="0" alt="{title}" title="{title}" src="{_png_data(images[k])}"></div>'
                     + (f'<figcaption>{plain_html(captions[k])}</figcaption>' if captions[k] else "")
                     + (f'<div class="le-note">{plain_html(notes[k])}</div>' if notes else "") + '</figure>')
    parts.append("</div>")
    where.html(_STYLE + "".join(parts))


def _png_data(image: np.ndarray) -> str:
    array = np.ascontiguousarray(image)
    return _encoded(array.tobytes(), array.shape, array.dtype.str)


@functools.lru_cache(maxsize=1024)  # at most ~20 MB for 64x64 colour frames (key and PNG)
def _encoded(data: bytes, shape: tuple, dtype: str) -> str:
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    picture = Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array)
    buffer = io.BytesIO()
    if max(picture.size) <= LOSSLESS_MAX_PX:  # small frames: exact pixels, drawn sharp
        picture.save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    picture.thumbnail((SHOWN_MAX_PX, SHOWN_MAX_PX), Image.LANCZOS)  # a pipeline's 512x512 frames: ~40 KB each
    picture.convert("RGB").save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def path_captions(frames: int, legs: int, stop_names: list[str]) -> tuple[list[str], str]:
    """Captions of the frames of a path through ``legs + 1`` stops with ``frames`` per leg (the shared stops once):
    the position ``t`` in its leg (0 at a leg's start, 1 at its end), and the seed's name at every stop (HTML-escaped
    where they are drawn); and one sentence that says so."""
    captions = []
    for leg in range(legs):
        for i in range(frames - 1):
            captions.append(str(stop_names[leg]) if i == 0 else f"{i / (frames - 1):.2f}")
    captions.append(str(stop_names[-1]))
    what = ("Under each frame its t, from 0 at the first seed to 1 at the second." if legs == 1 else
            "Under each frame its t in its leg, from 0 at one seed to 1 at the next; at the seeds, their names.")
    return captions, what
