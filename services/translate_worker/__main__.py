"""Run a translate worker: ``python -m services.translate_worker``."""
from __future__ import annotations

import logging

from services.translate_worker.translate import default_translator, process
from shared.config import Config
from shared.logging_setup import configure_logging
from shared.worker import Worker, run_worker_process

LOGGER = logging.getLogger(__name__)

# Argos packages the API installs or removes reach the catalog this soon (one listing of the directory).
CATALOG_RECHECK_SECONDS = 2.0


def serve(config: Config) -> None:
    """Consume the translate queue with warm Apertium pipelines and the installed Argos packages."""
    configure_logging()
    translator = default_translator()
    LOGGER.info("translate worker serves %d language pairs", len(translator.supported_pairs()))
    Worker("translate", process, config, capabilities=lambda: {"pairs": translator.supported_pairs()},
           recheck_capabilities_every=CATALOG_RECHECK_SECONDS).run()


def main() -> None:
    run_worker_process("translate-worker", serve)


if __name__ == "__main__":
    main()
