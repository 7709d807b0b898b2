"""The language-pair graph (shared.kinds.translate.pairs): routes, their length limit, the messages.

Pure functions on hand-made pairs; the worker's catalog is covered in test_translate_process.
"""
from __future__ import annotations

import pytest

from shared.kinds.translate.pairs import describe_pairs, reachable_pairs, shortest_route, validate_pair

CHAIN = [("en", "es"), ("es", "ca"), ("ca", "oc"), ("oc", "fr")]


def test_the_shortest_route_wins_over_a_longer_one():
    pairs = [("en", "es"), ("es", "fr"), ("fr", "de"), ("en", "de")]
    assert shortest_route(pairs, "en", "de") == ["en", "de"]
    assert shortest_route(pairs, "en", "fr") == ["en", "es", "fr"]


def test_routes_follow_the_direction_of_each_pair():
    assert shortest_route([("en", "es")], "es", "en") is None
    assert shortest_route([("en", "es")], "en", "es") == ["en", "es"]


def test_a_route_may_take_as_many_hops_as_allowed_and_no_more():
    assert shortest_route(CHAIN, "en", "oc") == ["en", "es", "ca", "oc"]  # three hops, the default
    assert shortest_route(CHAIN, "en", "fr") is None
    assert shortest_route(CHAIN, "en", "fr", max_hops=4) == ["en", "es", "ca", "oc", "fr"]
    assert shortest_route(CHAIN, "en", "ca", max_hops=1) is None
    assert shortest_route(CHAIN, "en", "es", max_hops=1) == ["en", "es"]


def test_a_language_is_no_route_to_itself():
    assert shortest_route([("en", "es"), ("es", "en")], "en", "en") is None
    assert shortest_route([], "en", "en") is None


def test_equal_routes_take_the_alphabetically_first_pivot():
    pairs = [("en", "it"), ("it", "fr"), ("en", "ca"), ("ca", "fr")]
    assert shortest_route(pairs, "en", "fr") == ["en", "ca", "fr"]
    assert shortest_route(list(reversed(pairs)), "en", "fr") == ["en", "ca", "fr"]


def test_a_route_never_visits_a_language_twice():
    pairs = [("en", "es"), ("es", "en"), ("es", "fr")]
    assert shortest_route(pairs, "en", "fr") == ["en", "es", "fr"]


def test_reachable_pairs_lists_every_served_pair_with_its_route():
    assert reachable_pairs([("en", "es"), ("es", "fr")]) == {
        ("en", "es"): ["en", "es"],
        ("es", "fr"): ["es", "fr"],
        ("en", "fr"): ["en", "es", "fr"],
    }
    assert reachable_pairs([("en", "es"), ("es", "fr")], max_hops=1) == {
        ("en", "es"): ["en", "es"], ("es", "fr"): ["es", "fr"]}
    assert reachable_pairs([]) == {}
    assert ("en", "fr") not in reachable_pairs(CHAIN)  # four hops away


def test_described_pairs_are_sorted_and_none_is_named():
    assert describe_pairs([("es", "fr"), ("en", "es"), ("en", "ca")]) == "en-ca, en-es, es-fr"
    assert describe_pairs([]) == "none"


def test_a_valid_pair_comes_back_normalized():
    assert validate_pair(" EN", "Spa", [("eng", "es")]) == ("en", "es")
    assert validate_pair("en", "oc", CHAIN) == ("en", "oc")


@pytest.mark.parametrize("source, target, message", [
    ("", "es", "source_lang and target_lang are required"),
    ("en", "", "source_lang and target_lang are required"),
    ("en", 7, "source_lang and target_lang are required"),
    (7, "es", "source_lang and target_lang are required"),
    (" Auto ", "es", "source_lang 'auto' is not supported yet: name the source language (e.g. 'en')"),
    ("en", "zz", "unknown language code 'zz': use an ISO 639-1 code such as 'en' or 'es'"),
    ("es", "spa", "source_lang and target_lang are both 'es'"),
    ("fr", "en", "cannot translate fr to en"),
])
def test_a_refused_pair_says_why_and_what_is_supported(source, target, message):
    with pytest.raises(ValueError) as refused:
        validate_pair(source, target, [("en", "es"), ("es", "fr")])
    assert str(refused.value).startswith(message + ";")
    assert str(refused.value).endswith("; supported pairs: en-es, en-fr, es-fr")


def test_the_cause_of_an_unknown_code_is_kept():
    with pytest.raises(ValueError) as refused:
        validate_pair("qq", "es", [("en", "es")])
    assert isinstance(refused.value.__cause__, ValueError)


def test_catalog_entries_are_not_chained_but_direct_pairs_are():
    catalog = [{"source": "eng", "target": "spa", "via": []}, {"source": "es", "target": "fr", "via": []}]
    assert validate_pair("en", "es", catalog) == ("en", "es")
    with pytest.raises(ValueError) as refused:
        validate_pair("en", "fr", catalog)
    assert str(refused.value) == "cannot translate en to fr; supported pairs: en-es, es-fr"
    # The same pairs as tuples may be chained, up to three hops.
    assert validate_pair("en", "fr", [("en", "es"), ("es", "fr")]) == ("en", "fr")
    with pytest.raises(ValueError, match="^cannot translate en to fr; supported pairs: "):
        validate_pair("en", "fr", CHAIN)


def test_a_mix_of_catalog_entries_and_pairs_is_read_as_a_catalog():
    mixed = [("en", "es"), {"source": "es", "target": "fr", "via": []}]
    with pytest.raises(ValueError, match="^cannot translate en to fr"):
        validate_pair("en", "fr", mixed)
