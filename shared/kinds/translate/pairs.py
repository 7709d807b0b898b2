"""Language pairs as a graph: routes through pivot languages, and the check of a requested pair."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from shared.kinds.translate.languages import normalize

DEFAULT_MAX_HOPS = 3
AUTO_DETECT = "auto"


def shortest_route(direct_pairs: Iterable[tuple[str, str]], source: str, target: str,
                   max_hops: int = DEFAULT_MAX_HOPS) -> list[str] | None:
    """Return the shortest language path from source to target through direct pairs, or None."""
    graph: dict[str, list[str]] = {}
    for src, tgt in sorted(direct_pairs):
        graph.setdefault(src, []).append(tgt)
    previous: dict[str, str | None] = {source: None}
    queue = deque([(source, 0)])
    while queue:
        language, hops = queue.popleft()
        if language == target and hops > 0:
            path = [language]
            while previous[path[-1]] is not None:
                path.append(previous[path[-1]])
            return path[::-1]
        if hops == max_hops:
            continue
        for neighbour in graph.get(language, []):
            if neighbour not in previous:
                previous[neighbour] = language
                queue.append((neighbour, hops + 1))
    return None


def reachable_pairs(direct_pairs: Iterable[tuple[str, str]],
                    max_hops: int = DEFAULT_MAX_HOPS) -> dict[tuple[str, str], list[str]]:
    """Map every pair that some route serves to that route, e.g. ('en', 'fr') -> ['en', 'es', 'fr']."""
    direct = set(direct_pairs)
    languages = sorted({code for pair in direct for code in pair})
    routes = {}
    for source in languages:
        for target in languages:
            if source != target:
                route = shortest_route(direct, source, target, max_hops)
                if route:
                    routes[(source, target)] = route
    return routes


def describe_pairs(pairs: Iterable[tuple[str, str]]) -> str:
    """Return pairs as 'en-es, en-fr, ...' for error messages."""
    return ", ".join(f"{src}-{tgt}" for src, tgt in sorted(pairs)) or "none"


def validate_pair(source: Any, target: Any,
                  pairs: Iterable[tuple[str, str] | Mapping[str, str]]) -> tuple[str, str]:
    """Normalize a requested pair and check that the given pairs serve it; raises ValueError.

    ``pairs`` are direct pairs ``(src, tgt)``, which may be chained through pivot languages, or catalog
    entries ``{"source", "target", "via"}`` (the output of ``ApertiumTranslator.supported_pairs()``),
    which already list every route; either way the API can check a job without Apertium.
    """
    pairs = list(pairs)
    is_catalog = any(isinstance(pair, Mapping) for pair in pairs)
    direct = {_as_pair(pair) for pair in pairs}
    max_hops = 1 if is_catalog else DEFAULT_MAX_HOPS

    def refuse(reason: str) -> ValueError:
        supported = reachable_pairs(direct, max_hops)
        return ValueError(f"{reason}; supported pairs: {describe_pairs(supported)}")

    if not isinstance(source, str) or not isinstance(target, str) or not source or not target:
        raise refuse("source_lang and target_lang are required")
    if source.strip().lower() == AUTO_DETECT:
        raise refuse("source_lang 'auto' is not supported yet: name the source language (e.g. 'en')")
    try:
        src, tgt = normalize(source), normalize(target)
    except ValueError as exc:
        raise refuse(str(exc)) from exc
    if src == tgt:
        raise refuse(f"source_lang and target_lang are both {src!r}")
    if shortest_route(direct, src, tgt, max_hops) is None:
        raise refuse(f"cannot translate {src} to {tgt}")
    return src, tgt


def _as_pair(pair: tuple[str, str] | Mapping[str, str]) -> tuple[str, str]:
    if isinstance(pair, Mapping):
        return normalize(pair["source"]), normalize(pair["target"])
    source, target = pair
    return normalize(source), normalize(target)
