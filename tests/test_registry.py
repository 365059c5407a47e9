"""The one registry mechanism: a name is registered once unless replacing is asked for, the four registries are
its instances, and each registry's default selection is what the pages preselect."""

from dataclasses import dataclass

import pytest
import torch

import latentcore as lc
from latentcore import models
from latentcore.registry import BaseScheme, Entry, Registry, current_names, former_names


@dataclass(frozen=True)
class Toy(Entry):
    value: int = 0


def test_a_taken_name_is_refused_with_a_message_that_says_how_to_replace():
    toys = Registry("toy")
    first = toys.register(Toy("a", 1))
    with pytest.raises(ValueError, match=r"the toy 'a' is already registered; .*replace=True"):
        toys.register(Toy("a", 2))
    assert toys["a"] is first


def test_replace_takes_the_place_of_the_entry_and_keeps_its_position():
    toys = Registry("toy")
    for name in "abc":
        toys.register(Toy(name))
    toys.register(Toy("b", 7), replace=True)
    assert list(toys) == ["a", "b", "c"] and toys["b"].value == 7 and len(toys) == 3


def test_a_registry_reads_like_a_mapping_and_entries_leave_by_unregister_del_or_pop():
    toys = Registry("toy")
    for name in "abcd":
        toys.register(Toy(name))
    assert "a" in toys and "z" not in toys and toys.get("z") is None and dict(toys)["c"].name == "c"
    assert toys.unregister("a").name == "a"
    del toys["b"]
    assert toys.pop("c").name == "c"
    assert list(toys) == ["d"]
    with pytest.raises(KeyError):
        toys.unregister("a")
    with pytest.raises((TypeError, AttributeError)):
        toys["e"] = Toy("e")  # only register adds, so a taken name is always caught


def test_the_default_selection_is_the_flagged_entries_in_registration_order():
    toys = Registry("toy")
    for name, flagged in [("a", False), ("b", True), ("c", False), ("d", True)]:
        toys.register(Toy(name, in_default_selection=flagged))
    assert toys.default_selection() == ["b", "d"]


def test_each_registry_preselects_what_the_pages_preselected():
    assert lc.SCHEMES.default_selection() == ["linear", "slerp", "lol"]  # Interpolate and Compare
    assert lc.CENTROIDS.default_selection() == ["lol", "mean", "rescaled"]  # Compare
    assert lc.PRIORS.default_selection() == ["semicircle"]  # the playground's prior
    assert models.MODELS.default_selection() == ["faces-dcgan"]  # the sidebar's model


@pytest.mark.parametrize("registry, register, entry", [
    (lc.SCHEMES, lc.register_scheme, lambda: lc.SCHEMES["lol"]),
    (lc.CENTROIDS, lc.register_centroid, lambda: lc.CENTROIDS["mean"]),
    (lc.PRIORS, lc.register_prior, lambda: lc.PRIORS["ring"]),
    (models.MODELS, models.register, lambda: models.MODELS["digits-vae"]),
])
def test_every_registry_refuses_a_taken_name_unless_replacing(registry, register, entry):
    taken = entry()
    with pytest.raises(ValueError, match="already registered"):
        register(taken)
    assert register(taken, replace=True) is registry[taken.name]


def test_schemes_and_centroids_share_their_base_and_run_alike():
    z = lc.StandardNormal(4).sample(3, seed=0)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    path, stopping = lc.SCHEMES["linear"].run(z[:1], z[1:2], t, lc.StandardNormal(4))
    assert stopping is None and path.shape == (1, 5, 4)
    centre, stopping = lc.CENTROIDS["mean"].run(z, lc.StandardNormal(4))
    assert stopping is None and torch.equal(centre, z.mean(0))
    for spec in [*lc.SCHEMES.values(), *lc.CENTROIDS.values()]:
        defaults = {s.name: s.default for s in getattr(spec, "settings", ())}  # a scheme's settings come first
        assert isinstance(spec, BaseScheme) and spec.options(context="interactive") == {**defaults,
                                                                                        **spec.interactive}
    path, stopping = lc.SCHEMES["nao"].run(z[:1], z[1:2], t, lc.StandardNormal(4), max_iter=3)
    assert path.shape == (1, 5, 4) and stopping is not None
    centre, stopping = lc.CENTROIDS["nao"].run(z, lc.StandardNormal(4), max_iter=3)
    assert centre.shape == (4,) and stopping is not None


def test_policy_fields_are_keyword_only_so_a_positional_one_cannot_land_in_another():
    with pytest.raises(TypeError):
        lc.Scheme("x", "X", "An example.", lambda *a, **k: None, True)
    with pytest.raises(TypeError):
        lc.Centroid("x", "X", "An example.", lambda *a, **k: None, True)


def test_a_renamed_entry_keeps_its_former_names_for_what_was_saved_under_them():
    toys = Registry("toy")
    toys.register(Toy("new", formerly=("old",)))
    assert "old" not in toys and list(toys) == ["new"]  # lookups go by the name it has now only
    assert toys.current_name("old") == "new" and toys.current_name("new") is None
    assert current_names("old") == ["new"] and former_names("new") == ["old"]
    with pytest.raises(ValueError, match="'new' cannot be a former name"):
        toys.register(Toy("other", formerly=("new",)))  # a registered name
    with pytest.raises(ValueError, match="'old' cannot be a former name"):
        toys.register(Toy("other", formerly=("old",)))  # another entry's former name
    toys.unregister("new")
    assert current_names("old") == [] and former_names("new") == []


def test_the_ri_optimal_scheme_was_called_geodesic():
    assert "ri-optimal" in lc.SCHEMES and "geodesic" not in lc.SCHEMES
    assert lc.SCHEMES["ri-optimal"].label == "ri-optimal"
    assert current_names("geodesic") == ["ri-optimal"]
