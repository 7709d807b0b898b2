"""Run an operator command: ``python -m services.ops init``."""
from __future__ import annotations

import argparse
import sys

from services.ops.init import init
from shared.config import Config
from shared.logging_setup import configure_logging


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command it names."""
    parser = argparse.ArgumentParser(prog="python -m services.ops")
    parser.add_argument("command", choices=["init"])
    parser.parse_args(argv)
    configure_logging()
    init(Config())
    return 0


if __name__ == "__main__":
    sys.exit(main())
