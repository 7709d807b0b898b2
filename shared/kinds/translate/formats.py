"""What a translate job's text is: plain text, or HTML whose text nodes are translated and markup kept.

Pure Python: which parts of an HTML text are markup (never to be cut or translated), and what its
visible text is (for language detection and word counts). The worker's Apertium HTML deformatter does
the translation itself.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

TEXT = "text"
HTML = "html"
TEXT_FORMATS = (TEXT, HTML)

# Tags, comments, declarations, processing instructions, and the whole of script and style elements
# (their content is code, not text): a text must never be cut inside one of these.
_MARKUP = re.compile(r"<!--.*?(?:-->|\Z)|<(script|style)\b.*?(?:</\1\s*>|\Z)|<[!?/]?[A-Za-z][^>]*(?:>|\Z)|<![^>]*>",
                     re.DOTALL | re.IGNORECASE)


def check_format(value: object) -> str:
    """The format named, or ValueError naming the ones there are."""
    if value not in TEXT_FORMATS:
        raise ValueError(f"format {value!r} is not supported; use one of: {', '.join(TEXT_FORMATS)}")
    return value


def markup_spans(html: str) -> list[tuple[int, int]]:
    """The (start, end) of every piece of markup in ``html``, in order and not overlapping."""
    return [match.span() for match in _MARKUP.finditer(html)]


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("script", "style"):
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a reader of ``html`` sees (entities decoded, script and style left out)."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return " ".join(" ".join(collector.parts).split())
