"""Which diffusers pipeline folders a browser may load, so that the sidebar's folder box is no probe of the server's
files: with :data:`ui.server.limits.MODEL_FOLDERS` set, every browser may load folders under those roots and nothing
else, and a path outside them gets one answer whether it exists or not; unset, only a browser on the server's own
machine gets the box (:func:`on_this_machine`), and it loads any folder, as a researcher's laptop needs.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence

# Headers a reverse proxy adds: through one on this machine every browser connects from a loopback address.
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host")


class FolderNotAllowed(ValueError):
    """A folder outside the allowed roots; the message is the same for every such path."""


def on_this_machine(ip: str | None, headers: Mapping[str, str]) -> bool:
    """Whether the browser of a session runs on the server's own machine, from ``st.context.ip_address`` (``ip``,
    ``None`` for 127.0.0.1 and ::1) and ``st.context.headers``: no headers at all is no browser (the script run in
    process, as AppTest does); otherwise the connection comes from a loopback address, asked for a loopback host
    name (``localhost:8501``, ``127.0.0.1``) and came through no proxy (none of :data:`PROXY_HEADERS`). The host
    and proxy checks matter behind a reverse proxy on the same machine, whose connections are all loopback ones.
    """
    if not headers:
        return True
    lowered = {str(key).lower(): value for key, value in headers.items()}
    if any(name in lowered for name in PROXY_HEADERS):
        return False
    if ip is not None and not _loopback(ip):
        return False
    host = str(lowered.get("host", "")).strip().lower()
    if host.startswith("["):  # [::1]:8501
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host == "localhost" or host.endswith(".localhost") or _loopback(host)


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return (mapped or ip).is_loopback


def check_model_folder(text: str, roots: Sequence[str]) -> str:
    """The pipeline folder ``text`` to load: as typed when ``roots`` is empty; else its real path (``~``, ``..`` and
    symlinks resolved, so nothing leads out of a root), which must lie under one of ``roots`` (real paths,
    :data:`ui.server.limits.MODEL_FOLDERS`). Outside them: :class:`FolderNotAllowed`, with one message for a
    folder, a file or nothing at all, so that the answer reveals nothing about the path."""
    if not roots:
        return text
    try:
        resolved = os.path.realpath(os.path.expanduser(text.strip()))
    except (OSError, ValueError):  # a NUL character, say: outside like any other
        resolved = None
    if resolved is None or not any(_inside(resolved, root) for root in roots):
        raise FolderNotAllowed(f"that path is not inside the folders this server allows: {', '.join(roots)}")
    return resolved


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # another drive (Windows), or a relative root
        return False
