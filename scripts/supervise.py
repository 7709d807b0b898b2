"""Run a server of ``make up`` and start it again whenever it exits: ``supervise.py NAME -- COMMAND...``.

deploy/Procfile wraps the gunicorn masters and nginx in it: honcho stops every process as soon as
one exits, so a process that can die must not be one of honcho's own children. The workers and the
relay supervise themselves (shared.worker.supervisor, the same restart policy).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.logging_setup import configure_logging  # noqa: E402
from shared.worker.supervisor import run_command_supervised  # noqa: E402


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: supervise.py NAME -- COMMAND [ARG...]")
    configure_logging()
    run_command_supervised(argv[2:], argv[0])


if __name__ == "__main__":
    main(sys.argv[1:])
