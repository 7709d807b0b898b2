"""The pair graph with engines: routes, the engine a job names, the catalog workers announce."""
from __future__ import annotations

import pytest

from shared.kinds.translate.engines import Hop, best_route, catalog, check_engine, engines_serving

EDGES = {Hop("en", "es", "apertium"), Hop("es", "en", "apertium"), Hop("es", "ca", "apertium"),
         Hop("en", "es", "argos"), Hop("la", "en", "argos")}


def test_the_best_route_prefers_argos_between_routes_of_equal_length():
    assert best_route(EDGES, "en", "es") == [Hop("en", "es", "argos")]


def test_a_named_engine_keeps_every_hop_on_it():
    assert best_route(EDGES, "en", "es", engine="apertium") == [Hop("en", "es", "apertium")]
    assert best_route(EDGES, "la", "es", engine="apertium") is None


def test_a_pivot_may_cross_engines_when_no_engine_is_named():
    assert best_route(EDGES, "la", "ca") == [Hop("la", "en", "argos"), Hop("en", "es", "argos"),
                                             Hop("es", "ca", "apertium")]


def test_fewer_hops_beat_the_preferred_engine():
    edges = {Hop("en", "fr", "apertium"), Hop("en", "es", "argos"), Hop("es", "fr", "argos")}
    assert best_route(edges, "en", "fr") == [Hop("en", "fr", "apertium")]


def test_allowed_engines_leave_the_others_out_html_say():
    assert best_route(EDGES, "en", "es", engines={"apertium"}) == [Hop("en", "es", "apertium")]
    assert best_route(EDGES, "la", "en", engines={"apertium"}) is None


def test_routes_stop_at_the_hop_limit():
    chain = {Hop("a1", "a2", "argos"), Hop("a2", "a3", "argos"), Hop("a3", "a4", "argos")}
    assert best_route(chain, "a1", "a4", max_hops=2) is None
    assert len(best_route(chain, "a1", "a4", max_hops=3)) == 3


def test_the_catalog_lists_each_pair_with_its_engines_and_default_route():
    entries = {(entry["source"], entry["target"]): entry for entry in catalog(EDGES)}
    assert entries[("en", "es")]["engines"] == ["argos", "apertium"]
    assert entries[("en", "es")]["via"] == []
    assert entries[("la", "ca")]["engines"] == []  # served only by crossing engines
    assert entries[("la", "ca")]["via"] == ["en", "es"]
    assert [hop["engine"] for hop in entries[("la", "ca")]["route"]] == ["argos", "argos", "apertium"]
    assert entries[("es", "ca")]["engines"] == ["apertium"]
    assert ("ca", "es") not in entries


def test_engines_serving_reads_catalog_entries_older_workers_count_as_apertium():
    entries = [{"source": "en", "target": "es", "via": []},
               {"source": "en", "target": "es", "via": [], "engines": ["argos"]}]
    assert engines_serving(entries, "en", "es") == {"apertium", "argos"}
    assert engines_serving(entries, "es", "en") == set()


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("argos", "argos"), ("apertium", "apertium")])
def test_check_engine_takes_the_known_engines(value, expected):
    assert check_engine(value) == expected


def test_check_engine_refuses_others_naming_the_known_ones():
    with pytest.raises(ValueError, match="apertium"):
        check_engine("deepl")
