"""Judging rounds: a room of people compares interpolation schemes blind, kept in the workspace store so that every
session, and every server process sharing the store, sees the same round and pools its votes.

A round is opened by its host on a model, with its decoding, two or more schemes and a few pairs of endpoints; the
paths of every scheme between every pair are computed once, when the round opens, and saved with it. A comparison
is one pair of endpoints and two of the schemes; a participant sees them in an order of their own (drawn from
their anonymous id and the round: the same after a reload), each comparison with the two filmstrips in a random
left/right order and no scheme named, and answers which looks more natural, or neither.

Files, in the store's ``rounds`` folder: ``<code>.safetensors`` (the paths, with the round's description as JSON
metadata) and ``<code>/<participant>.<comparison>.vote`` (one choice). A vote file is created only if it does not
exist, so a participant's second vote for a comparison is refused and nothing is counted twice; a participant can
vote at most once per comparison of the round, a round holds at most :data:`MAX_COMPARISONS` and takes votes from at
most :data:`MAX_PARTICIPANTS` participants (each noted by a ``<participant>.joined`` file at their first vote).
Codes and participant ids are random and checked before they name a file; a vote names its round's code, a
comparison of it and one of :data:`~latentcore.evaluate.preferences.CHOICES`, so nothing a participant sends reaches
another round.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import safetensors.torch
import torch

import latentcore as lc
from latentcore.evaluate.metrics import point_metrics
from latentcore.evaluate.preferences import CHOICES

from latentcore.latent_files import safetensors_metadata

from .workspace import Store

CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are read aloud and typed
CODE = re.compile(f"[{CODE_ALPHABET}]{{8}}")
PARTICIPANT = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_COMPARISONS = 200
MAX_PAIRS = 16
MAX_PARTICIPANTS = 500  # per round: a class, many times over; a flood of fresh anonymous ids stops here
ANSWERS = {"first": "left", "second": "right", "same": "no difference"}  # a choice, as the participant saw it


class RoundError(ValueError):
    """A round or a vote that cannot be used; the message says why."""


@dataclass(frozen=True)
class Round:
    """A judging round: its ``code``, the model's key and its decoding (``decoding``: its description), the
    ``schemes`` compared (keys), and ``paths [schemes, pairs, frames, *latent_shape]``."""

    code: str
    model: str
    decoding: dict
    schemes: tuple[str, ...]
    paths: torch.Tensor
    opened: float

    @property
    def pairs(self) -> int:
        return self.paths.shape[1]

    def decoding_for(self, model):
        """The :class:`~latentcore.models.Decoding` the round was opened with, made again by ``model``."""
        return model.decoding_described(self.decoding)

    def comparisons(self) -> list[tuple[int, int, int]]:
        """Every comparison: ``(pair, scheme a, scheme b)`` with ``a < b``, in a fixed order (its index is the
        comparison's number)."""
        return [(p, a, b) for p in range(self.pairs) for a, b in itertools.combinations(range(len(self.schemes)), 2)]

    def order_for(self, participant: str) -> list[tuple[int, bool]]:
        """The comparisons as ``participant`` sees them: ``(comparison, swapped)``, in an order of their own, each
        with the two paths left and right (``swapped``: scheme b on the left)."""
        rng = random.Random(f"{self.code}:{participant}")
        numbers = list(range(len(self.comparisons())))
        rng.shuffle(numbers)
        return [(n, rng.random() < 0.5) for n in numbers]


def round_paths(model, schemes, *, pairs: int, frames: int, seed: int) -> torch.Tensor:
    """The paths of a round: ``2 * pairs`` samples of ``model``'s prior drawn with ``seed``, paired, and each
    scheme's path of ``frames`` frames between every pair: ``[schemes, pairs, frames, *latent_shape]``."""
    ends = model.prior.sample(2 * pairs, seed=seed).reshape(pairs, 2, *model.latent_shape)
    return torch.stack([lc.interpolate(ends[:, 0], ends[:, 1], frames, scheme=scheme, prior=model.prior)
                        for scheme in schemes])


def round_metrics(round_: Round, model) -> pd.DataFrame:
    """Per scheme of ``round_``, the prior's measures of its paths' interior frames (as the comparison of schemes
    gives them, :func:`latentcore.evaluate.metrics.point_metrics`): what people judged, beside what the metrics
    say."""
    rows = []
    for k, scheme in enumerate(round_.schemes):
        interior = round_.paths[k, :, 1:-1]
        values = point_metrics(interior, None, torch.full((round_.pairs,), -1), judge=None, prior=model.prior)
        rows.append({"scheme": scheme, **{name: float(v.mean()) for name, v in values.items()}})
    return pd.DataFrame(rows)


def check_code(code) -> str:
    """``code`` (surrounding spaces dropped, lower case) if it is a round code; a RoundError otherwise."""
    text = str(code).strip().lower() if isinstance(code, str) else ""
    if not CODE.fullmatch(text):
        raise RoundError(f"{str(code)[:40]!r} is not a round code; a code is 8 letters and digits, e.g. 'k7m2qx9a'")
    return text


def new_participant() -> str:
    """An anonymous participant id (128 random bits): no identity beyond it."""
    return secrets.token_urlsafe(16)


class RoundStore:
    """The rounds of a workspace store (:func:`~ui.server.workspace.workspace_store`, or ``store``)."""

    def __init__(self, store=None):
        opened = Store(store)
        self.fs = opened.fs
        self.root = opened.root / "rounds" if self.fs is None else f"{opened.root}/rounds"

    def _path(self, *parts: str):
        return self.root.joinpath(*parts) if self.fs is None else "/".join([self.root, *parts])

    def open_round(self, model: str, decoding: dict, schemes, paths: torch.Tensor) -> Round:
        """Save a new round of ``paths [schemes, pairs, frames, *latent_shape]`` (finite) under a fresh code."""
        schemes = tuple(schemes)
        if len(schemes) < 2 or len(set(schemes)) < len(schemes):
            raise RoundError("a round compares at least two different schemes")
        if paths.dim() < 4 or paths.shape[0] != len(schemes) or not 1 <= paths.shape[1] <= MAX_PAIRS:
            raise RoundError(f"a round holds paths [schemes, pairs, frames, ...] of 1 to {MAX_PAIRS} pairs, got "
                             f"{tuple(paths.shape)}")
        if not bool(torch.isfinite(paths).all()):
            raise RoundError("a round's paths must be finite")
        opened = Round("".join(secrets.choice(CODE_ALPHABET) for _ in range(8)),
                       str(model), dict(decoding), schemes, paths.detach().to("cpu", torch.float32).contiguous(),
                       time.time())
        if len(opened.comparisons()) > MAX_COMPARISONS:
            raise RoundError(f"a round holds at most {MAX_COMPARISONS} comparisons; {len(opened.comparisons())} "
                             "would take the room too long: fewer pairs or schemes")
        meta = {"model": opened.model, "decoding": opened.decoding, "schemes": list(schemes), "opened": opened.opened}
        data = safetensors.torch.save({"paths": opened.paths}, metadata={"round": json.dumps(meta)})
        self._write(self._path(f"{opened.code}.safetensors"), data, exclusive=False)
        return opened

    def load_round(self, code) -> Round:
        """The round ``code``; a RoundError when there is none (or it cannot be read)."""
        code = check_code(code)
        try:
            data = self._read(self._path(f"{code}.safetensors"))
            meta = json.loads(safetensors_metadata(data)["round"])
            paths = safetensors.torch.load(data)["paths"]
            return Round(code, meta["model"], meta["decoding"], tuple(meta["schemes"]), paths, float(meta["opened"]))
        except FileNotFoundError:
            raise RoundError(f"no round has the code {code}; check it with the person who opened the round") from None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise RoundError(f"round {code} cannot be read ({type(err).__name__})") from err

    def vote(self, round_: Round, participant: str, comparison: int, choice: str) -> None:
        """Record ``participant``'s ``choice`` (of :data:`CHOICES`, for scheme a, scheme b or neither) for
        ``comparison`` of ``round_``; a RoundError for an unknown comparison or choice, a malformed participant,
        or a second vote for the same comparison (the first stands)."""
        if not isinstance(participant, str) or not PARTICIPANT.fullmatch(participant):
            raise RoundError("a vote needs the participant's anonymous id")
        if isinstance(comparison, bool) or not isinstance(comparison, int) or \
                not 0 <= comparison < len(round_.comparisons()):
            raise RoundError(f"round {round_.code} has no comparison {comparison!r}")
        if choice not in CHOICES:
            raise RoundError(f"a vote is one of {', '.join(CHOICES)}, got {str(choice)[:20]!r}")
        self._join(round_, participant)
        path = self._path(round_.code, f"{participant}.{comparison}.vote")
        try:
            self._write(path, choice.encode(), exclusive=True)
        except FileExistsError:
            raise RoundError("this comparison has your vote already; it is counted once") from None

    def _join(self, round_: Round, participant: str) -> None:
        """Note ``participant`` in ``round_`` at their first vote; a RoundError when it has its most participants."""
        joined = self._path(round_.code, f"{participant}.joined")
        if self._exists(joined):
            return
        folder = self._path(round_.code)
        if self.fs is None:
            count = sum(1 for _ in folder.glob("*.joined")) if folder.is_dir() else 0
        else:
            count = len(self.fs.glob(f"{folder}/*.joined"))
        if count >= MAX_PARTICIPANTS:
            raise RoundError(f"round {round_.code} has votes from {MAX_PARTICIPANTS} people, the most a round takes; "
                             "ask for a new round")
        try:
            self._write(joined, b"", exclusive=True)
        except FileExistsError:  # the same participant's other tab got there first
            pass

    def votes(self, round_: Round) -> list[tuple[int, str]]:
        """Every vote of ``round_``: ``(comparison, choice)``; files that are not votes are passed over."""
        folder = self._path(round_.code)
        if self.fs is None:
            names = [p.name for p in folder.glob("*.vote")] if folder.is_dir() else []
        else:
            names = [p.rsplit("/", 1)[-1] for p in self.fs.glob(f"{folder}/*.vote")]
        out = []
        for name in names:
            participant, number, _ = name.rsplit(".", 2) if name.count(".") >= 2 else ("", "", "")
            if not PARTICIPANT.fullmatch(participant) or not number.isdigit():
                continue
            try:
                choice = self._read(self._path(round_.code, name))[:16].decode()
            except (OSError, UnicodeDecodeError):
                continue
            if choice in CHOICES and int(number) < len(round_.comparisons()):
                out.append((int(number), choice))
        return out

    def voted(self, round_: Round, participant: str) -> set[int]:
        """The comparisons ``participant`` has voted on."""
        return {n for n in range(len(round_.comparisons()))
                if self._exists(self._path(round_.code, f"{participant}.{n}.vote"))}

    def judgements(self, round_: Round) -> list[tuple[str, str, str]]:
        """The votes as judgements ``(scheme a, scheme b, choice)`` for :mod:`latentcore.evaluate.preferences`."""
        comparisons = round_.comparisons()
        return [(round_.schemes[comparisons[n][1]], round_.schemes[comparisons[n][2]], choice)
                for n, choice in self.votes(round_)]

    # --- files -----------------------------------------------------------------------------------------------

    def _read(self, path) -> bytes:
        if self.fs is None:
            return Path(path).read_bytes()
        with self.fs.open(path, "rb") as handle:
            return handle.read()

    def _exists(self, path) -> bool:
        return Path(path).is_file() if self.fs is None else self.fs.isfile(path)

    def _write(self, path, data: bytes, *, exclusive: bool) -> None:
        """Write ``data``; with ``exclusive``, only if no file is there (FileExistsError otherwise: atomic on a
        local folder, a check then a write on other filesystems)."""
        if self.fs is None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb" if exclusive else "wb") as handle:
                handle.write(data)
            return
        if exclusive and self.fs.exists(path):
            raise FileExistsError(path)
        self.fs.makedirs(str(path).rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(path, data)


__all__ = ["Round", "RoundError", "RoundStore", "check_code", "new_participant", "round_paths", "round_metrics",
           "ANSWERS", "MAX_COMPARISONS", "MAX_PAIRS"]
