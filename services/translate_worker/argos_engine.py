"""Argos Translate: the Argos packages of a directory, loaded with argostranslate, translating text.

Each installed package is a folder (metadata.json, model/ for CTranslate2, sentencepiece.model or
bpe.model). argostranslate reads the package (``argostranslate.package.Package``: metadata,
tokenizer) and translates (``argostranslate.translate.apply_packaged_translation``: tokenize,
CTranslate2's beam search with ``num_hypotheses``, detokenize); the CTranslate2 translator of a
package is loaded on its first job and kept.

The directory is read again (one listing, one stat per package) before each job and each catalog
announcement, so a package the API installs or removes is served or dropped without a restart.

Sentences: argostranslate's own sentencizers fetch models at run time (MiniSBD, spaCy) or need
PyTorch (Stanza), and nothing here may download. The worker cuts the text into sentences itself and
hands argostranslate a sentencizer with its interface. ``argostranslate.sbd`` still imports stanza
when loaded; where stanza is not installed (the normal case: it would bring ~770 MB of PyTorch for
a sentencizer never used) a stand-in module takes its name, and using it fails loudly.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
import sys
import tempfile
import threading
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from shared.kinds.translate.languages import normalize

LOGGER = logging.getLogger(__name__)

DEFAULT_THREADS = 1
_import_lock = threading.Lock()
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])[\"'\u00bb\u201d\u2019)\]]*\s+")


class ArgosError(RuntimeError):
    """A package could not be loaded or failed to translate (the files may be changing: retry)."""


class StanzaMissing(AttributeError):
    """argostranslate asked the stanza stand-in for something: it meant to use Stanza after all."""


class _StanzaStandIn(types.ModuleType):
    """Takes stanza's name for argostranslate.sbd's import; any use of it says why it is absent.

    Lookups fail as AttributeError does on any module, so tools that walk ``sys.modules`` asking
    for ``__file__`` and the like (hypothesis, reloaders) take it for a module without them.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise StanzaMissing("stanza is not installed: Conveyor splits sentences itself and never uses "
                            f"argostranslate's Stanza sentencizer (stanza.{name} asked for)")


@contextmanager
def _environment(overrides: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then put the previous values back."""
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _import_argostranslate() -> tuple[Any, Any]:
    """argostranslate's package and translate modules, with the stanza stand-in where needed.

    At import argostranslate creates its data, config and cache folders under $HOME (the worker
    image's user has none: the import would fail) and reads a settings.json there (which could change
    its beam size or device behind Conveyor's back): it is imported once with the XDG folders pointing
    into a private temporary folder, where it writes three empty folders and finds no settings.
    """
    with _import_lock:
        if "argostranslate.translate" not in sys.modules:
            if "stanza" not in sys.modules and importlib.util.find_spec("stanza") is None:
                sys.modules["stanza"] = _StanzaStandIn("stanza")
            home = Path(tempfile.mkdtemp(prefix="conveyor-argostranslate-"))
            private = {name: str(home / folder) for name, folder in
                       (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache"))}
            try:
                with _environment(private):
                    importlib.import_module("argostranslate.translate")
            except (ImportError, OSError) as exc:
                raise ArgosError(f"cannot import argostranslate: {exc}") from exc
    return sys.modules["argostranslate.package"], sys.modules["argostranslate.translate"]


class SentenceSplitter:
    """argostranslate's sentencizer interface (``split_sentences``), cutting after final punctuation."""

    def split_sentences(self, text: str) -> list[str]:
        """The sentences of ``text``, each with the blanks after it dropped (Argos joins with spaces)."""
        sentences = [part.strip() for part in _SENTENCE_END.split(text)]
        return [sentence for sentence in sentences if sentence] or [text]


@dataclass
class InstalledPackage:
    """One package folder and, once used, its loaded argostranslate package and CTranslate2 translator."""
    path: Path
    source: str
    target: str
    version: str
    stamp: float
    _loaded: Optional[tuple[Any, Any]] = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def loaded(self, threads: int) -> tuple[Any, Any]:
        """(argostranslate Package, ctranslate2.Translator), loaded on first use."""
        with self._lock:
            if self._loaded is None:
                import ctranslate2
                package_module, _ = _import_argostranslate()  # raises ArgosError itself
                try:
                    package = package_module.Package(self.path)
                    translator = ctranslate2.Translator(str(self.path / "model"), device="cpu",
                                                        inter_threads=1, intra_threads=threads)
                except (OSError, RuntimeError, ValueError) as exc:
                    raise ArgosError(f"cannot load Argos package {self.path.name}: {exc}") from exc
                self._loaded = (package, translator)
                LOGGER.info("loaded Argos package %s (%s-%s %s)", self.path.name, self.source, self.target,
                            self.version)
            return self._loaded


def read_package(path: Path) -> Optional[InstalledPackage]:
    """The package in ``path``, or None (logged) when its metadata does not name a usable pair."""
    import json
    metadata_file = path / "metadata.json"
    try:
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
        source, target = normalize(metadata["from_code"]), normalize(metadata["to_code"])
        stamp = metadata_file.stat().st_mtime
    except (OSError, ValueError, KeyError, TypeError) as exc:
        LOGGER.warning("skipping Argos package %s: %s", path.name, exc)
        return None
    return InstalledPackage(path, source, target, str(metadata.get("package_version", "")), stamp)


class ArgosTranslator:
    """The packages of one directory, re-read on ``refresh()``; translates along a direct pair."""

    def __init__(self, packages_dir: Optional[Path], threads: int = DEFAULT_THREADS):
        self._dir = packages_dir
        self._threads = threads
        self._packages: dict[tuple[str, str], InstalledPackage] = {}
        self._lock = threading.Lock()
        self._splitter = SentenceSplitter()

    def refresh(self) -> bool:
        """Read the directory again; True when the installed packages changed.

        An unreadable directory keeps the packages known so far: this runs in the registry's loop,
        which must not die of it.
        """
        try:
            found = self._scan()
        except OSError as exc:
            LOGGER.warning("cannot read the Argos packages directory %s: %s", self._dir, exc)
            return False
        with self._lock:
            current = {pair: (package.path, package.stamp) for pair, package in self._packages.items()}
            if current == {pair: (package.path, package.stamp) for pair, package in found.items()}:
                return False
            # A package already loaded and unchanged keeps its translator.
            self._packages = {pair: package if current.get(pair) != (package.path, package.stamp)
                              else self._packages[pair] for pair, package in found.items()}
        LOGGER.info("Argos packages now: %s", ", ".join(f"{s}-{t}" for s, t in sorted(found)) or "none")
        return True

    def _scan(self) -> dict[tuple[str, str], InstalledPackage]:
        """Every package folder of the directory (dot folders are being installed or removed)."""
        if self._dir is None or not self._dir.is_dir():
            return {}
        found: dict[tuple[str, str], InstalledPackage] = {}
        for path in sorted(self._dir.iterdir()):
            if path.name.startswith(".") or not path.is_dir():
                continue
            package = read_package(path)
            if package is not None:
                found.setdefault((package.source, package.target), package)
        return found

    def pairs(self) -> set[tuple[str, str]]:
        """The direct pairs the installed packages translate."""
        with self._lock:
            return set(self._packages)

    def packages(self) -> list[InstalledPackage]:
        """The installed packages, by pair."""
        with self._lock:
            return [self._packages[pair] for pair in sorted(self._packages)]

    def _loaded(self, source: str, target: str) -> tuple[InstalledPackage, Any, Any]:
        """The installed package of the pair, its argostranslate Package and CTranslate2 translator."""
        with self._lock:
            package = self._packages.get((source, target))
        if package is None:
            raise ArgosError(f"no Argos package translates {source} to {target} any more")
        return (package, *package.loaded(self._threads))

    def translate(self, text: str, source: str, target: str, alternatives: int = 0) -> list[str]:
        """The translation of ``text`` and up to ``alternatives`` other hypotheses, best first."""
        package, argos_package, translator = self._loaded(source, target)
        _, translate_module = _import_argostranslate()
        try:
            hypotheses = translate_module.apply_packaged_translation(
                argos_package, text, translator, self._splitter, num_hypotheses=1 + alternatives)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ArgosError(f"Argos package {package.path.name} failed: {exc}") from exc
        values = []
        for hypothesis in hypotheses:
            if hypothesis.value not in values:
                values.append(hypothesis.value)
        return values

    def translate_batch(self, texts: Sequence[str], source: str, target: str) -> list[str]:
        """The best translation of each text, all their sentences in one CTranslate2 batch.

        What ``apply_packaged_translation`` does for one text with one hypothesis (the package's own
        tokenizer and target prefix, argostranslate's beam size, batch size and length penalty), for
        many texts at once: a document's runs are many short texts, and one call per run would pay
        CTranslate2's call overhead for each.
        """
        package, argos_package, translator = self._loaded(source, target)
        settings = sys.modules["argostranslate.settings"]  # imported with the package (_import_argostranslate)
        sentences = [self._splitter.split_sentences(text) for text in texts]
        prefix = argos_package.target_prefix
        try:
            tokenized = [argos_package.tokenizer.encode(sentence) for group in sentences for sentence in group]
            results = translator.translate_batch(
                tokenized, target_prefix=[[prefix]] * len(tokenized) if prefix else None,
                replace_unknowns=True, max_batch_size=settings.batch_size, batch_type="tokens",
                beam_size=max(1, settings.beam_size), num_hypotheses=1, length_penalty=0.2) if tokenized else []
            values, position = [], 0
            for group in sentences:
                tokens = [token for result in results[position:position + len(group)]
                          for token in result.hypotheses[0]]
                position += len(group)
                value = argos_package.tokenizer.decode(tokens)
                if prefix and value.startswith(prefix):
                    value = value[len(prefix):]
                values.append(value[1:] if value.startswith(" ") else value)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ArgosError(f"Argos package {package.path.name} failed: {exc}") from exc
        return values
