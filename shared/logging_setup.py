"""Log format shared by every Conveyor process."""
from __future__ import annotations

import logging
import os

FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"


def configure_logging() -> None:
    """Log to stderr at CONVEYOR_LOG_LEVEL (INFO by default), once per process."""
    root = logging.getLogger()
    if any(getattr(handler, "_conveyor", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._conveyor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(os.environ.get("CONVEYOR_LOG_LEVEL", "INFO").upper())
    logging.getLogger("pika").setLevel(logging.WARNING)
