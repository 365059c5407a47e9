"""Seed sets (ui.server.seed_set): unique names, renaming, keeping, selecting."""

import pytest
import torch

from ui.server.seed_set import SeedSet, SeedSetFull


def _set(count=3):
    return SeedSet(torch.arange(count * 4, dtype=torch.float32).reshape(count, 4), [f"s{i}" for i in range(count)])


def test_an_empty_set():
    seeds = SeedSet()
    assert len(seeds) == 0 and seeds.latents is None and seeds.names == []


def test_add_makes_taken_names_unique_and_stores_cpu_float32_without_a_graph():
    seeds = SeedSet()
    source = torch.ones(2, 4, dtype=torch.float64, requires_grad=True)
    assert seeds.add(source, ["x", "x"]) == ["x", "x (2)"]
    assert seeds.add(torch.zeros(2, 4), ["x", "y"]) == ["x (3)", "y"]
    assert len(seeds) == 4 and seeds.names == ["x", "x (2)", "x (3)", "y"]
    assert seeds.latents.shape == (4, 4) and seeds.latents.dtype == torch.float32
    assert not seeds.latents.requires_grad and seeds.latents.device.type == "cpu"


@pytest.mark.parametrize("latents, names, pattern", [
    (torch.zeros(2, 4), ["a"], "1 names for 2 seeds"),
    (torch.zeros(1, 5), ["a"], "do not fit"),
    (torch.zeros(4), ["a"], "a batch"),
])
def test_add_refuses_what_does_not_fit(latents, names, pattern):
    _refused(latents, names, pattern)


def test_add_new_adds_only_latents_not_in_the_set_and_names_the_seeds_that_hold_the_others():
    seeds = _set()  # s0, s1, s2
    seeds.rename("s1", "mine")
    again = torch.cat([seeds.latents[[1]], torch.full((1, 4), 0.5), seeds.latents[[0]].double()])
    assert seeds.add_new(again, ["s1", "new", "s0"]) == (["new"], ["mine", "s0"])
    assert seeds.names == ["s0", "mine", "s2", "new"]
    near = seeds.latents[[2]].clone()
    near[0, 3] += 1e-3  # the same first element, another latent
    assert seeds.find(near) == [None] and seeds.add_new(near, ["s2"]) == (["s2 (2)"], [])
    assert SeedSet().add_new(torch.zeros(1, 4), ["z"]) == (["z"], [])


def _refused(latents, names, pattern):
    seeds = _set()
    with pytest.raises(ValueError, match=pattern):
        seeds.add(latents, names)
    assert len(seeds) == 3


def test_edits_replace_the_lists_so_earlier_values_stay_as_they_were():
    seeds = _set()
    names, latents = seeds.names, seeds.latents
    seeds.add(torch.zeros(1, 4), ["new"])
    seeds.rename("s0", "first")
    assert names == ["s0", "s1", "s2"] and len(latents) == 3


def test_rename():
    seeds = _set()
    assert seeds.rename("s1", "  middle ") == "middle"
    assert seeds.names == ["s0", "middle", "s2"]
    assert seeds.rename("s2", "s2") == "s2"
    with pytest.raises(ValueError, match="cannot be empty"):
        seeds.rename("s0", "   ")
    with pytest.raises(ValueError, match="already called 'middle'"):
        seeds.rename("s0", "middle")
    with pytest.raises(KeyError, match="no seed is called"):
        seeds.rename("gone", "x")
    assert seeds.names == ["s0", "middle", "s2"]


def test_keep_remove_and_select():
    seeds = _set(4)
    assert torch.equal(seeds.select(["s3", "s0"]), torch.stack([seeds.latents[3], seeds.latents[0]]))
    seeds.keep([2, 0])
    assert seeds.names == ["s2", "s0"] and torch.equal(seeds.latents[:, 0], torch.tensor([8.0, 0.0]))
    seeds.remove(["s2", "not a seed"])
    assert seeds.names == ["s0"] and seeds.latents.shape == (1, 4)
    seeds.remove(["s0"])
    assert len(seeds) == 0 and seeds.latents is None
    with pytest.raises(KeyError):
        _set().select(["s9"])


@pytest.mark.parametrize("latents, names, pattern", [
    (torch.zeros(2, 4), ["a", "a"], "distinct"),
    (torch.zeros(2, 4), ["a"], "1 names for 2 seeds"),
    (None, ["a"], "1 names for 0 seeds"),
])
def test_construction_checks_the_names(latents, names, pattern):
    with pytest.raises(ValueError, match=pattern):
        SeedSet(latents, names)


def test_a_set_holds_at_most_max_seeds(monkeypatch):
    from ui.server import limits

    monkeypatch.setattr(limits, "MAX_SEEDS", 5)
    seeds = _set(3)
    assert seeds.room() == 2
    with pytest.raises(SeedSetFull, match="holds 3 seeds and a set holds at most 5, so these 3 do not fit "
                                             r"\(room for 2\)"):
        seeds.add(torch.zeros(3, 4), ["a", "b", "c"])
    assert len(seeds) == 3  # nothing added
    seeds.add(torch.zeros(2, 4), ["a", "b"])
    assert len(seeds) == 5 and seeds.room() == 0


def test_every_change_gives_a_new_version_and_reading_none():
    seeds = _set(3)
    seen = [seeds.version, SeedSet().version]
    for change in (lambda: seeds.add(torch.zeros(1, 4), ["x"]), lambda: seeds.rename("x", "y"),
                   lambda: seeds.keep([2, 0, 1]), lambda: seeds.remove(["y", "s0"])):
        change()
        seen.append(seeds.version)
    assert len(set(seen)) == len(seen)  # a fresh set never repeats another's version either
    seeds.select(["s1"]), seeds.index("s1"), len(seeds), seeds.room()
    assert seeds.version == seen[-1]
