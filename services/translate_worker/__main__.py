"""Run a translate worker: ``python -m services.translate_worker``."""
from __future__ import annotations

import logging

from services.translate_worker.translate import default_translator, process
from shared.config import Config
from shared.logging_setup import configure_logging
from shared.worker import Worker, run_worker_process

LOGGER = logging.getLogger(__name__)


def serve(config: Config) -> None:
    """Consume the translate queue with warm Apertium pipelines."""
    configure_logging()
    translator = default_translator()
    pairs = translator.supported_pairs()
    LOGGER.info("translate worker serves %d language pairs", len(pairs))
    Worker("translate", process, config, capabilities=lambda: {"pairs": pairs}).run()


def main() -> None:
    run_worker_process("translate-worker", serve)


if __name__ == "__main__":
    main()
