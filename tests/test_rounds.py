"""Judging rounds (ui.server.rounds): a round saved in the workspace store and seen alike by every store instance
(every server process), blind orders of its own for each participant, votes counted once, and bad votes refused."""

import pytest
import torch

from latentcore.evaluate.preferences import bradley_terry
from ui.server.rounds import MAX_COMPARISONS, RoundError, RoundStore, check_code, new_participant


def _paths(schemes=3, pairs=2, frames=5, dim=4):
    return torch.randn(schemes, pairs, frames, dim, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("store", ["folder", "memory://judging-test"])
def test_a_round_is_shared_by_every_store_on_the_folder_and_counts_each_vote_once(store, tmp_path):
    where = tmp_path if store == "folder" else store
    host, other = RoundStore(where), RoundStore(where)  # two server processes on one store
    opened = host.open_round("digits-vae", {"steps": None}, ["linear", "slerp", "lol"], _paths())
    assert check_code(opened.code.upper()) == opened.code
    seen = other.load_round(opened.code)
    assert seen.schemes == ("linear", "slerp", "lol") and torch.equal(seen.paths, opened.paths)
    assert len(seen.comparisons()) == 2 * 3  # every pair of endpoints, every two schemes
    alice, bob = new_participant(), new_participant()
    assert seen.order_for(alice) == seen.order_for(alice) != seen.order_for(bob)  # the same after a reload
    assert sorted(n for n, _ in seen.order_for(alice)) == list(range(6))
    host.vote(seen, alice, 0, "first")
    other.vote(seen, bob, 0, "same")
    with pytest.raises(RoundError, match="has your vote already"):
        other.vote(seen, alice, 0, "second")  # replayed, from the other process
    assert sorted(host.votes(seen)) == [(0, "first"), (0, "same")] and host.voted(seen, alice) == {0}
    assert sorted(host.judgements(seen)) == [("linear", "slerp", "first"), ("linear", "slerp", "same")]


def test_bad_codes_votes_and_rounds_are_refused_and_change_nothing(tmp_path):
    store = RoundStore(tmp_path)
    opened = store.open_round("m", {}, ["linear", "lol"], _paths(schemes=2, pairs=1))
    someone = new_participant()
    for code in ["../../etc", "short", "", None, "ABCDEFGO"]:
        with pytest.raises(RoundError, match="is not a round code"):
            store.load_round(code)
    with pytest.raises(RoundError, match="no round has the code"):
        store.load_round("abcdefgh")
    for comparison in [1, -1, "0", True, 10**9]:
        with pytest.raises(RoundError, match="has no comparison"):
            store.vote(opened, someone, comparison, "first")
    with pytest.raises(RoundError, match="a vote is one of first, second, same"):
        store.vote(opened, someone, 0, "both")
    with pytest.raises(RoundError, match="anonymous id"):
        store.vote(opened, "../../x", 0, "first")
    assert store.votes(opened) == []
    (tmp_path / "rounds" / opened.code).mkdir()
    (tmp_path / "rounds" / opened.code / "junk.txt").write_text("first")  # not a vote file
    (tmp_path / "rounds" / opened.code / f"{someone}.0.vote").write_text("everything")
    assert store.votes(opened) == []
    with pytest.raises(RoundError, match="at least two different schemes"):
        store.open_round("m", {}, ["lol", "lol"], _paths(schemes=2))
    with pytest.raises(RoundError, match="must be finite"):
        store.open_round("m", {}, ["lol", "linear"], torch.full((2, 1, 3, 4), float("nan")))
    with pytest.raises(RoundError, match=f"at most {MAX_COMPARISONS} comparisons"):
        store.open_round("m", {}, [f"s{i}" for i in range(8)], _paths(schemes=8, pairs=16))


def test_a_room_that_prefers_lol_ranks_it_first():
    import numpy as np

    store = RoundStore("memory://judging-room")
    opened = store.open_round("faces-dcgan", {}, ["linear", "slerp", "lol"], _paths(pairs=4))
    rng = np.random.default_rng(0)
    prefer = {"linear": 0.0, "slerp": 0.7, "lol": 1.4}
    for _ in range(12):  # twelve people, every comparison each
        person = new_participant()
        for number, _swapped in opened.order_for(person):
            _, a, b = opened.comparisons()[number]
            sa, sb = prefer[opened.schemes[a]], prefer[opened.schemes[b]]
            store.vote(opened, person, number, "first" if rng.random() < 1 / (1 + np.exp(sb - sa)) else "second")
    table = bradley_terry(store.judgements(opened), opened.schemes, torch.Generator().manual_seed(0), resamples=200)
    assert list(table["scheme"]) == ["lol", "slerp", "linear"] and len(store.votes(opened)) == 12 * 12


def test_a_flood_of_fresh_participants_stops_at_the_rounds_limit(tmp_path, monkeypatch):
    from ui.server import rounds

    monkeypatch.setattr(rounds, "MAX_PARTICIPANTS", 3)
    store = RoundStore(tmp_path)
    opened = store.open_round("m", {}, ["linear", "lol"], _paths(schemes=2, pairs=2))
    people = [new_participant() for _ in range(5)]
    for person in people[:3]:
        store.vote(opened, person, 0, "first")
    store.vote(opened, people[0], 1, "second")  # one already counted may go on voting
    with pytest.raises(RoundError, match="votes from 3 people, the most a round takes"):
        store.vote(opened, people[3], 0, "first")
    assert len(store.votes(opened)) == 4
