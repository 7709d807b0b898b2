"""Apertium and Argos behind one interface: the worker's direct pairs per engine, routes, translation.

Routes come from the contract (shared.kinds.translate.engines.best_route): a job naming an engine
stays on it, a job that does not takes the best route, which may cross engines. HTML is deformatted
by Apertium's ``apertium-deshtml`` on every hop: Apertium translates the stream, Argos its text runs
(runs.py), and ``apertium-rehtml`` puts the markup back.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from services.translate_worker.apertium import ApertiumTranslator, UnsupportedPairError, deformat_html, reformat_html
from services.translate_worker.argos_engine import ArgosTranslator
from services.translate_worker.runs import translate_runs, xml_text
from shared.kinds.translate.engines import APERTIUM, ARGOS, Hop, best_route, catalog
from shared.kinds.translate.formats import HTML, TEXT
from shared.kinds.translate.languages import normalize
from shared.kinds.translate.pairs import DEFAULT_MAX_HOPS, describe_pairs


class Translators:
    """Every engine's translator; the catalog is recomputed only when the installed pairs change."""

    def __init__(self, apertium: Optional[ApertiumTranslator] = None, argos_dir: Optional[Path] = None,
                 argos: Optional[ArgosTranslator] = None, max_hops: int = DEFAULT_MAX_HOPS):
        self.apertium = apertium or ApertiumTranslator()
        self.argos = argos or ArgosTranslator(argos_dir)
        self._max_hops = max_hops
        self._lock = threading.Lock()
        self._catalog: Optional[tuple[frozenset[Hop], list[dict[str, Any]]]] = None
        self.argos.refresh()

    def refresh(self) -> None:
        """Read the Argos packages directory again (installs and removals since the last look)."""
        self.argos.refresh()

    def edges(self) -> frozenset[Hop]:
        """Every direct pair with the engine that serves it."""
        return frozenset({Hop(s, t, APERTIUM) for s, t in self.apertium.pairs()}
                         | {Hop(s, t, ARGOS) for s, t in self.argos.pairs()})

    def pairs(self) -> set[tuple[str, str]]:
        """The direct pairs of all engines (what a requested pair is checked against)."""
        return {(hop.source, hop.target) for hop in self.edges()}

    def supported_pairs(self) -> list[dict[str, Any]]:
        """The catalog the worker announces (shared.kinds.translate.engines.catalog), fresh from disk."""
        self.refresh()
        edges = self.edges()
        with self._lock:
            if self._catalog is None or self._catalog[0] != edges:
                self._catalog = (edges, catalog(edges, self._max_hops))
            return self._catalog[1]

    def route(self, source: str, target: str, engine: Optional[str] = None) -> list[Hop]:
        """The hops that translate source to target; raises UnsupportedPairError saying why not."""
        src, tgt = normalize(source), normalize(target)
        route = best_route(self.edges(), src, tgt, engine=engine, max_hops=self._max_hops)
        if route is None:
            served = sorted({(hop.source, hop.target) for hop in self.edges()
                             if engine is None or hop.engine == engine})
            by = f" with {engine}" if engine else ""
            raise UnsupportedPairError(f"cannot translate {src} to {tgt}{by}; direct pairs: "
                                       f"{describe_pairs(served)}")
        return route

    def translate(self, text: str, route: list[Hop], text_format: str = TEXT,
                  alternatives: int = 0) -> list[str]:
        """The translation along ``route`` and, when the route is one Argos hop, up to ``alternatives``
        other hypotheses (Apertium gives one translation; a pivot would multiply guesses; HTML is
        translated run by run)."""
        for position, hop in enumerate(route):
            if hop.engine == ARGOS and text_format == HTML:
                text = self.translate_html_runs(text, hop)
            elif hop.engine == ARGOS:
                wanted = alternatives if len(route) == 1 else 0
                found = self.argos.translate(text, hop.source, hop.target, wanted)
                if position == len(route) - 1:
                    return found
                text = found[0]
            else:
                text = self.apertium.pipeline(hop.source, hop.target).translate(text, text_format)
        return [text]

    def translate_html_runs(self, html: str, hop: Hop) -> str:
        """HTML through one Argos hop: Apertium's HTML deformatter, the text runs, its reformatter."""
        return reformat_html(self.translate_runs(deformat_html(html), hop, xml_text))

    def translate_runs(self, stream: str, hop: Hop, escape: Callable[[str], str]) -> str:
        """A deformatted stream through one Argos hop: its text runs in one batch (runs.py)."""
        return translate_runs(stream, lambda runs: self.argos.translate_batch(runs, hop.source, hop.target), escape)

    def close(self) -> None:
        """Stop Apertium's pipelines."""
        self.apertium.close()
