"""An engine without deformatters (Argos) translating a deformatted stream: its text runs, one by one.

Apertium's deformatters (``apertium-deshtml``, ``-deswxml``, ``-desodt``, ``-desrtf``...; destxt's
equivalent in apertium.py) turn a document into a stream where every piece of markup is a superblank
``[...]``, text characters that the stream uses are escaped (``\\[``), and ``.[]`` marks an end of
sentence the deformatter added. Apertium's own programs translate the stream whole, moving the
superblanks with the words. An engine that takes plain text gets the *text runs* instead: the text
between two superblanks (a Word run, a span of a paragraph, an HTML text node), unescaped, without
the blanks around it. Every run with a letter in it is translated (a batch of them per call), then
written back in its place, escaped again for the stream and for the document's own syntax (XML's
``&``, ``<``, ``>``; RTF's ``\\``, ``{``, ``}``), so the reformatter gives back the document with
every superblank, hence every tag, style, table and image reference, exactly where it was.

A run is translated on its own: a word set in bold is translated apart from the rest of its
sentence. That is the price of keeping the formatting with an engine that cannot place markup.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

# An escape, an added end of sentence, a superblank (markup): everything of a stream that is not text.
_NOT_TEXT = re.compile(r"\\(.)|(\.\[\])|(\[(?:\\.|[^\]\\])*\])", re.DOTALL)
_SURROUNDING_BLANKS = re.compile(r"^(\s*)(.*?)(\s*)$", re.DOTALL)
_STREAM_SPECIAL = re.compile(r"([\[\]\\])")
_RTF_SPECIAL = re.compile(r"([\\{}])")
_REFERENCES_ONLY = re.compile(r"^\s*(?:&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);\s*)+$")

# Translates a batch of plain texts, in order.
BatchTranslator = Callable[[Sequence[str]], list[str]]


def xml_text(text: str) -> str:
    """Text made safe for an XML or HTML text node (what the XML formats' reformatters write out)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rtf_text(text: str) -> str:
    """Text made safe for an RTF group (its control characters escaped)."""
    return _RTF_SPECIAL.sub(r"\\\1", text)


def plain_text(text: str) -> str:
    """Plain text needs nothing more than the stream's own escapes."""
    return text


class Run(NamedTuple):
    """A text run: its stream text (escaped) and its text."""
    raw: str
    text: str


def split_runs(stream: str, references: bool = False) -> tuple[list[str], list[Run]]:
    """(markup, runs): the stream is markup[0] + runs[0].raw + markup[1] + runs[1].raw + ... + markup[-1].

    Markup pieces are superblanks and added ends of sentence, kept verbatim; there is one more of
    them than runs (the first and last may be empty). With ``references`` (XML and HTML), a
    superblank of nothing but character references and blanks (``[ &amp; ]``, ``[&#39;]``: the
    deformatters make one of each) is text, decoded, so that ``don&#39;t`` stays one run.
    """
    markup: list[str] = [""]
    runs: list[Run] = []
    raw: list[str] = []
    text: list[str] = []

    def end_run() -> None:
        if raw:
            runs.append(Run("".join(raw), "".join(text)))
            markup.append("")
            raw.clear()
            text.clear()

    position = 0
    for match in _NOT_TEXT.finditer(stream):
        if match.start() > position:
            raw.append(stream[position:match.start()])
            text.append(stream[position:match.start()])
        position = match.end()
        if match.group(1) is not None:  # an escaped character is text
            raw.append(match.group())
            text.append(match.group(1))
        elif references and match.group(3) and _REFERENCES_ONLY.match(match.group(3)[1:-1]):
            raw.append(match.group())
            text.append(html.unescape(match.group(3)[1:-1]))
        else:
            end_run()
            markup[-1] += match.group()
    if position < len(stream):
        raw.append(stream[position:])
        text.append(stream[position:])
    end_run()
    return markup, runs


def translate_runs(stream: str, translate: BatchTranslator, escape: Callable[[str], str] = plain_text) -> str:
    """The stream with each text run that holds a letter translated (in one batch) and put back.

    ``escape`` makes the engine's text safe for the document's syntax before the stream's own escapes;
    with ``xml_text`` the character references between words belong to the runs (split_runs).
    Runs without a letter (numbers, punctuation) stay as they were.
    """
    markup, runs = split_runs(stream, references=escape is xml_text)
    wanted = [index for index, run in enumerate(runs) if _has_letter(run.text)]
    cores = [_SURROUNDING_BLANKS.match(runs[index].text).groups() for index in wanted]
    translated = translate([core for _, core, _ in cores]) if wanted else []
    if len(translated) != len(wanted):
        raise ValueError(f"the engine gave {len(translated)} translations for {len(wanted)} runs")
    out = [run.raw for run in runs]
    for index, (lead, _, trail), text in zip(wanted, cores, translated):
        out[index] = _STREAM_SPECIAL.sub(r"\\\1", escape(lead + text.replace("\0", "") + trail))
    pieces = [markup[0]]
    for run, after in zip(out, markup[1:]):
        pieces += [run, after]
    return "".join(pieces)


def _has_letter(text: str) -> bool:
    return any(character.isalpha() for character in text)
