"""Which engine translates which pair: the pair graph with an engine on every edge, and the catalog.

A worker knows its direct pairs per engine (Apertium's installed modes, the Argos packages in its
directory) as edges ``(source, target, engine)``. A route is a list of such hops; a job that names an
engine keeps every hop on it, a job that does not takes the best route over all of them, so a pivot
may cross engines (en -argos-> es -apertium-> ca). "Best" is fewest hops first, then the engine
preferred in ENGINES' order: a neural Argos model, where one is installed, over Apertium's rules.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Optional

from shared.kinds.translate.pairs import DEFAULT_MAX_HOPS

ARGOS = "argos"
APERTIUM = "apertium"
# Order of preference between hops of equal count (the first is preferred).
ENGINES = (ARGOS, APERTIUM)


class Hop(NamedTuple):
    """One translation step: a direct pair served by one engine."""
    source: str
    target: str
    engine: str


def check_engine(value: object) -> Optional[str]:
    """The engine named (None: the best installed one), or ValueError naming the ones there are."""
    if value is None or value == "":
        return None
    if value not in ENGINES:
        raise ValueError(f"engine {value!r} is not supported; use one of: {', '.join(ENGINES)}")
    return value


def best_route(edges: Iterable[Hop], source: str, target: str, engine: Optional[str] = None,
               max_hops: int = DEFAULT_MAX_HOPS, engines: Optional[Iterable[str]] = None) -> Optional[list[Hop]]:
    """The preferred route from source to target (see the module's docstring), or None.

    ``engine`` keeps every hop on that engine; ``engines`` limits the ones allowed.
    """
    allowed = set(ENGINES if engines is None else engines) & ({engine} if engine else set(ENGINES))
    rank = {name: position for position, name in enumerate(ENGINES)}
    graph: dict[str, list[Hop]] = {}
    for hop in sorted(set(edges), key=lambda hop: (rank.get(hop.engine, len(rank)), hop)):
        if hop.engine in allowed:
            graph.setdefault(hop.source, []).append(hop)
    # Breadth first, so the first route found has the fewest hops; edges are tried in preference order.
    previous: dict[str, Optional[Hop]] = {source: None}
    queue = deque([(source, 0)])
    while queue:
        language, hops = queue.popleft()
        if hops == max_hops:
            continue
        for hop in graph.get(language, []):
            if hop.target == target:
                return _path(previous, hop)
            if hop.target not in previous:
                previous[hop.target] = hop
                queue.append((hop.target, hops + 1))
    return None


def _path(previous: Mapping[str, Optional[Hop]], last: Hop) -> list[Hop]:
    path = [last]
    while previous[path[-1].source] is not None:
        path.append(previous[path[-1].source])
    return path[::-1]


def catalog(edges: Iterable[Hop], max_hops: int = DEFAULT_MAX_HOPS) -> list[dict[str, Any]]:
    """Every reachable pair: {source, target, via, engines, route}.

    ``engines`` lists the engines that serve the pair on their own (what a job may name); ``via`` and
    ``route`` (hops as {source, target, engine}) are the default route's, which may mix engines.
    """
    edges = set(edges)
    languages = sorted({hop.source for hop in edges} | {hop.target for hop in edges})
    entries = []
    for source in languages:
        for target in languages:
            route = best_route(edges, source, target, max_hops=max_hops) if source != target else None
            if route is None:
                continue
            engines = [name for name in ENGINES
                       if best_route(edges, source, target, engine=name, max_hops=max_hops)]
            entries.append({"source": source, "target": target, "via": [hop.target for hop in route[:-1]],
                            "engines": engines,
                            "route": [hop._asdict() for hop in route]})
    return entries


def engines_serving(entries: Iterable[Mapping[str, Any]], source: str, target: str) -> set[str]:
    """The engines that catalog entries (several workers' catalogs, say) say serve source -> target.

    An entry without ``engines`` comes from a worker that predates them: it is Apertium's.
    """
    return {engine for entry in entries if entry["source"] == source and entry["target"] == target
            for engine in entry.get("engines", [APERTIUM])}
