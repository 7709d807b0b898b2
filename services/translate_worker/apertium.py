"""Apertium kept warm: discover the installed pairs, keep each pair's programs running, translate text.

Each pair's mode is a shell pipeline of small programs. ``apertium eng-spa`` starts all of them for
every call (about 0.2 s); here they start once in null-flush mode (``-z``: each program flushes its
output when it reads a NUL byte), are wired together with pipes, and each text is written as
deformatted stream + NUL and read back up to the NUL that comes out of the last program.

Plain text is (de)formatted here, as ``apertium-destxt``/``apertium-retxt`` do; HTML goes through
Apertium's own ``apertium-deshtml``/``apertium-rehtml`` (what ``apertium -f html`` runs), which turn
tags, comments, scripts and entities into superblanks that pass the pipeline untranslated.
"""
from __future__ import annotations

import html
import logging
import os
import re
import select
import shlex
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from itertools import count, pairwise
from pathlib import Path
from typing import Self

from shared.kinds.translate.formats import HTML, TEXT, markup_spans
from shared.kinds.translate.languages import normalize
from shared.kinds.translate.pairs import DEFAULT_MAX_HOPS, describe_pairs, reachable_pairs, shortest_route

LOGGER = logging.getLogger(__name__)

MODES_DIR = Path("/usr/share/apertium/modes")
DEFAULT_TIMEOUT = 30.0
# What `apertium -u` substitutes for the mode's $1: generation that prints no '*', '#' or '@' marks.
UNMARKED_GENERATION = "-n"
_PLAIN_MODE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")
_READ_SIZE = 65536
HTML_DEFORMATTER = "apertium-deshtml"
HTML_REFORMATTER = "apertium-rehtml"
# Apertium reads and writes UTF-8 only under a UTF-8 locale (the `apertium` script sets one too).
_UTF8_LOCALE = {"LC_ALL": "C.UTF-8"}
_CHARACTER_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")

# The txt format of apertium-destxt/apertium-retxt (apertium's txt-format.xml): these characters are
# escaped, runs of these blanks become superblanks, and a ".[]" marks an end of sentence before a blank
# line and at the end of the text so that the tagger and transfer rules see sentence ends.
_ESCAPED = re.compile(r"([\[\]\\/@<>^${}])")
_BLANK_RUN = re.compile(r"([ \t\n\r~]+)")
_SENTENCE_END = ".[]"
_STREAM_TOKEN = re.compile(r"\\(.)|\.\[\]|\[((?:\\.|[^\]\\])*)\]", re.DOTALL)
_ESCAPE_PAIR = re.compile(r"\\(.)", re.DOTALL)


class ApertiumError(RuntimeError):
    """A pipeline failed, died twice in a row or timed out; the same text may well work later."""


class UnsupportedPairError(ValueError):
    """No route through the installed pairs leads from the source to the target language."""


class _PipelineBroken(Exception):
    """A program of the pipeline exited or closed its end of a pipe in the middle of a call."""


def deformat(text: str) -> str:
    """Turn plain text into Apertium's stream format, as ``apertium-destxt`` does."""
    parts = _BLANK_RUN.split(text)
    ends_with_blank = len(parts) > 1 and parts[-1] == ""
    out = []
    # After split, even indexes hold words (possibly empty) and odd indexes hold blank runs.
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(_ESCAPED.sub(r"\\\1", part))
            continue
        is_last = ends_with_blank and index == len(parts) - 2
        if is_last or "\n\n" in part or "\r\n\r\n" in part:
            out.append(_SENTENCE_END)
        out.append(part if part == " " else f"[{part}]")
    if not ends_with_blank:
        out.append(_SENTENCE_END)
    return "".join(out)


def reformat(stream: str) -> str:
    """Turn Apertium's stream format back into plain text, as ``apertium-retxt`` does."""
    def replace(match: re.Match) -> str:
        if match.group(1) is not None:
            return match.group(1)
        if match.group(2) is not None:
            return _ESCAPE_PAIR.sub(r"\1", match.group(2))
        return ""
    return _STREAM_TOKEN.sub(replace, stream)


def _run_formatter(program: str, data: str, timeout: float) -> str:
    try:
        done = subprocess.run([program], input=data.encode("utf-8"), capture_output=True, timeout=timeout,
                              env={**os.environ, **_UTF8_LOCALE}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ApertiumError(f"{program} failed: {exc}") from exc
    if done.returncode != 0:
        raise ApertiumError(f"{program} exited with {done.returncode}: "
                            f"{done.stderr.decode('utf-8', errors='replace')[-500:]}")
    return done.stdout.decode("utf-8", errors="replace")


def decode_letter_references(text: str) -> str:
    """Write the character references of letters and digits in HTML's text (``caf&eacute;``) as characters.

    ``apertium-deshtml`` decodes exactly these itself, but writes a multi-byte character as garbage
    (``Cafￃﾩ``); decoded here they reach it as plain UTF-8, which it passes on intact. The other
    references (``&amp;``, ``&lt;``, ``&nbsp;``, ``&copy;``) stay: deshtml keeps them as markup.
    """
    spans = markup_spans(text)
    out, position = [], 0
    for start, end in [*spans, (len(text), len(text))]:
        out.append(_CHARACTER_REFERENCE.sub(_letter_or_reference, text[position:start]))
        out.append(text[start:end])
        position = end
    return "".join(out)


def _letter_or_reference(match: re.Match) -> str:
    character = html.unescape(match.group(0))
    return character if len(character) == 1 and character.isalnum() else match.group(0)


def deformat_html(text: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Turn HTML into Apertium's stream format with ``apertium-deshtml``: markup becomes superblanks."""
    return _run_formatter(HTML_DEFORMATTER, decode_letter_references(text), timeout)


def reformat_html(stream: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Turn Apertium's stream format back into HTML with ``apertium-rehtml``."""
    return _run_formatter(HTML_REFORMATTER, stream, timeout)


def discover_modes(modes_dir: Path = MODES_DIR) -> dict[tuple[str, str], Path]:
    """Map each installed plain pair (ISO 639-1 codes) to its mode file.

    Variants (``eng-cat_valencia``, ``es-pt_BR``) and other non-plain modes (``eco-fr-es``) are skipped:
    the public API names languages, not variants.
    """
    modes: dict[tuple[str, str], Path] = {}
    if not modes_dir.is_dir():
        LOGGER.warning("no Apertium modes directory at %s", modes_dir)
        return modes
    for mode_file in sorted(modes_dir.glob("*.mode")):
        match = _PLAIN_MODE.match(mode_file.stem)
        if not match:
            continue
        try:
            pair = (normalize(match.group(1)), normalize(match.group(2)))
        except ValueError:
            LOGGER.info("skipping Apertium mode %s: unknown language code", mode_file.name)
            continue
        if pair in modes:
            LOGGER.info("skipping Apertium mode %s: %s already serves %s-%s",
                        mode_file.name, modes[pair].name, *pair)
            continue
        modes[pair] = mode_file
    return modes


def pipeline_commands(mode_file: Path) -> list[list[str]]:
    """Return the argv of each program of a mode, in null-flush mode and without unknown-word marks."""
    # apertium-wblank-mode is how the `apertium` script itself rewrites a mode for -z (it adds -z to
    # every program and inserts the word-bound-blank helpers), so the warm pipeline matches `apertium -u -z`.
    rewritten = subprocess.run(["apertium-wblank-mode", "-z", str(mode_file)], capture_output=True,
                               text=True, check=True).stdout
    lexer = shlex.shlex(rewritten, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token == "|":
            commands.append([])
        elif token == "$1":
            commands[-1].append(UNMARKED_GENERATION)
        elif token != "$2":  # $2 is the tagger's ambiguity flag (`apertium -a`), off here
            commands[-1].append(token)
    if any(not argv for argv in commands):
        raise ApertiumError(f"cannot parse Apertium mode {mode_file}: {rewritten!r}")
    return commands


class WarmPipeline:
    """One Apertium mode's programs, started once and fed one text at a time (thread-safe)."""

    def __init__(self, commands: list[list[str]], name: str, timeout: float = DEFAULT_TIMEOUT):
        self.name = name
        self._commands = commands
        self._timeout = timeout
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self._stderr = None
        self._call_numbers = count()

    @classmethod
    def from_mode(cls, mode_file: Path, timeout: float = DEFAULT_TIMEOUT) -> WarmPipeline:
        """Build the pipeline of a mode file (its programs start on first use)."""
        return cls(pipeline_commands(mode_file), mode_file.stem, timeout)

    def pids(self) -> list[int]:
        """Return the process ids of the running programs (empty when stopped)."""
        return [proc.pid for proc in self._procs]

    def start(self) -> None:
        """Start the programs now rather than on the first call."""
        with self._lock:
            if not self._alive():
                self._restart()

    def translate(self, text: str, text_format: str = TEXT) -> str:
        """Translate plain text or HTML; restarts dead programs and retries once, raises ApertiumError."""
        # A NUL in the text would end the call early and leave the rest of the output for the next one.
        text = text.replace("\0", "")
        if text_format == HTML:
            return reformat_html(self._translate_stream(deformat_html(text, self._timeout)), self._timeout)
        return reformat(self._translate_stream(deformat(text)))

    def translate_stream(self, stream: str) -> str:
        """Translate an already deformatted stream (a document's, from Apertium's deformatters)."""
        return self._translate_stream(stream.replace("\0", ""))

    def _translate_stream(self, stream: str) -> str:
        """Pass a deformatted stream through the programs and return their output stream."""
        with self._lock:
            # A superblank passes every program unchanged and in order: finding this call's own mark at
            # the end of the output proves that the whole text came through, and came from this call.
            # A program that dies makes the ones after it flush a NUL of their own on the way out, which
            # would otherwise pass for an (empty or cut) answer.
            mark = f"[;conveyor;{next(self._call_numbers)};]"
            payload = (stream + mark).encode("utf-8") + b"\0"
            try:
                return self._call(payload, mark)
            except _PipelineBroken as exc:
                LOGGER.warning("Apertium pipeline %s broke, retrying on fresh programs: %s", self.name, exc)
            try:
                return self._call(payload, mark)
            except _PipelineBroken as exc:
                raise ApertiumError(f"Apertium pipeline {self.name} broke twice: {exc}") from exc

    def close(self) -> None:
        """Stop the programs (the next call would start them again)."""
        with self._lock:
            self._stop(force=False)

    def _call(self, payload: bytes, mark: str) -> str:
        """One attempt: start the programs if needed, exchange, check the mark; stops them on failure."""
        if not self._alive():
            self._restart()
        try:
            output = self._exchange(payload).decode("utf-8", errors="replace")
            head, found, tail = output.rpartition(mark)
            if not found or tail.strip():
                raise _PipelineBroken("the answer came back without its end mark")
        except _PipelineBroken as exc:
            detail = self._stop(force=True)
            raise _PipelineBroken(f"{exc} {detail}".rstrip()) from exc
        except TimeoutError as exc:
            # Output may still come later and would answer the next call: start afresh.
            self._stop(force=True)
            raise ApertiumError(f"Apertium pipeline {self.name} timed out after {self._timeout:g} s") from exc
        return head + tail

    def _alive(self) -> bool:
        return bool(self._procs) and all(proc.poll() is None for proc in self._procs)

    def _restart(self) -> None:
        if self._procs:
            LOGGER.warning("restarting Apertium pipeline %s: a program exited", self.name)
            self._stop(force=True)
        env = {**os.environ, **_UTF8_LOCALE}
        # Kept open for the programs' lifetime and read after they stop (see _stop).
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        upstream = subprocess.PIPE
        try:
            for argv in self._commands:
                proc = subprocess.Popen(argv, stdin=upstream, stdout=subprocess.PIPE,
                                        stderr=self._stderr, env=env, bufsize=0)
                if self._procs:
                    # The child owns its copy now; ours would keep the pipe open after the child died.
                    self._procs[-1].stdout.close()
                self._procs.append(proc)
                upstream = proc.stdout
        except OSError as exc:
            self._stop(force=True)
            raise ApertiumError(f"cannot start Apertium pipeline {self.name}: {exc}") from exc
        os.set_blocking(self._procs[0].stdin.fileno(), False)
        LOGGER.info("started Apertium pipeline %s (%d programs)", self.name, len(self._procs))

    def _exchange(self, payload: bytes) -> bytes:
        """Write the payload and read the output up to its NUL, both without blocking past the deadline."""
        in_fd = self._procs[0].stdin.fileno()
        out_fd = self._procs[-1].stdout.fileno()
        poller = select.poll()
        poller.register(out_fd, select.POLLIN)
        poller.register(in_fd, select.POLLOUT)
        pending = memoryview(payload)
        received = bytearray()
        deadline = time.monotonic() + self._timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError()
            for fd, events in poller.poll(remaining * 1000):
                if fd == in_fd:
                    pending = self._write_some(in_fd, pending, events)
                    if not pending:
                        poller.unregister(in_fd)
                    continue
                chunk = os.read(out_fd, _READ_SIZE)
                if not chunk:
                    raise _PipelineBroken("the last program closed its output")
                searched_from = len(received)
                received += chunk
                end = received.find(b"\0", searched_from)
                if end == -1:
                    continue
                if end != len(received) - 1 or self._more_output(out_fd):
                    raise _PipelineBroken("output continued after the end of a translation")
                return bytes(received[:-1])

    @staticmethod
    def _more_output(fd: int) -> bool:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))

    @staticmethod
    def _write_some(fd: int, pending: memoryview, events: int) -> memoryview:
        if events & (select.POLLERR | select.POLLHUP):
            raise _PipelineBroken("the first program closed its input")
        try:
            written = os.write(fd, pending[:_READ_SIZE])
        except BlockingIOError:
            return pending
        except BrokenPipeError as exc:
            raise _PipelineBroken("the first program closed its input") from exc
        return pending[written:]

    def _stop(self, force: bool) -> str:
        """Stop every program; return the tail of their stderr for the log."""
        procs, self._procs = self._procs, []
        if procs:
            try:
                procs[0].stdin.close()
            except OSError:
                pass  # already broken: the program is gone, which is what we want
        for proc in procs:
            if force:
                proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        detail = ""
        if self._stderr is not None:
            self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, self._stderr.tell() - 1000))
            tail = self._stderr.read().decode("utf-8", errors="replace").strip()
            detail = f"(stderr: {tail})" if tail else ""
            self._stderr.close()
            self._stderr = None
        return detail


class ApertiumTranslator:
    """Every installed Apertium pair, each kept warm, with pivoting where no direct pair exists."""

    def __init__(self, modes_dir: Path = MODES_DIR, timeout: float = DEFAULT_TIMEOUT,
                 max_hops: int = DEFAULT_MAX_HOPS):
        self._modes = discover_modes(modes_dir)
        self._timeout = timeout
        self._max_hops = max_hops
        self._pipelines: dict[tuple[str, str], WarmPipeline] = {}
        self._lock = threading.Lock()

    def pairs(self) -> set[tuple[str, str]]:
        """Return the direct (installed) pairs."""
        return set(self._modes)

    def route(self, source: str, target: str) -> list[str]:
        """Return the shortest language path, e.g. ['en', 'es', 'fr']; raises UnsupportedPairError."""
        src, tgt = normalize(source), normalize(target)
        route = shortest_route(self._modes, src, tgt, self._max_hops) if src != tgt else None
        if route is None:
            raise UnsupportedPairError(
                f"cannot translate {src} to {tgt}; supported pairs: "
                f"{describe_pairs(reachable_pairs(self._modes, self._max_hops))}")
        return route

    def translate(self, text: str, source: str, target: str, text_format: str = TEXT) -> str:
        """Translate plain text or HTML, pivoting through the route's languages."""
        route = self.route(source, target)
        for src, tgt in pairwise(route):
            text = self.pipeline(src, tgt).translate(text, text_format)
        return text

    def supported_pairs(self) -> list[dict]:
        """Return the catalog: [{"source": "en", "target": "fr", "via": ["es"]}, ...]."""
        routes = reachable_pairs(self._modes, self._max_hops)
        return [{"source": src, "target": tgt, "via": route[1:-1]}
                for (src, tgt), route in sorted(routes.items())]

    def pipeline(self, source: str, target: str) -> WarmPipeline:
        """Return the warm pipeline of a direct pair (built on first use)."""
        pair = (normalize(source), normalize(target))
        with self._lock:
            if pair not in self._pipelines:
                if pair not in self._modes:
                    raise UnsupportedPairError(f"no installed Apertium pair {pair[0]}-{pair[1]}")
                self._pipelines[pair] = WarmPipeline.from_mode(self._modes[pair], self._timeout)
            return self._pipelines[pair]

    def warm_up(self, pairs: Iterable[tuple[str, str]] | None = None) -> None:
        """Start the programs of the given direct pairs (all installed ones by default) now."""
        for src, tgt in sorted(self._modes if pairs is None else pairs):
            self.pipeline(src, tgt).start()

    def close(self) -> None:
        """Stop every pipeline."""
        with self._lock:
            pipelines, self._pipelines = list(self._pipelines.values()), {}
        for pipeline in pipelines:
            pipeline.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
