"""Server-sent events parsed from the raw bytes of a streamed response."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional


@dataclass(frozen=True)
class ServerEvent:
    """One dispatched event: its type (``message`` when unnamed), its data and its id."""

    event: str
    data: str
    id: Optional[str] = None

    def json(self) -> Any:
        return json.loads(self.data)


def parse_events(chunks: Iterable[bytes]) -> Iterator[ServerEvent]:
    """Events from byte chunks split anywhere (text/event-stream, HTML standard)."""
    buffer = b""
    event, data, event_id = "message", [], None
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            line = raw.rstrip(b"\r").decode("utf-8")
            if not line:
                # A blank line dispatches; an event without data lines is not dispatched.
                if data:
                    yield ServerEvent(event, "\n".join(data), event_id)
                event, data = "message", []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
