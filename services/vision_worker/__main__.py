"""Run a vision worker: ``python -m services.vision_worker``."""
from __future__ import annotations

import logging
import time
from typing import Any

from services.vision_worker import engines
from services.vision_worker.analyze import process
from services.vision_worker.catalog import list_models
from shared.config import Config
from shared.logging_setup import configure_logging
from shared.worker import Worker, run_worker_process

LOGGER = logging.getLogger(__name__)


def warm_capabilities() -> dict[str, Any]:
    """Load and warm every catalog model; the capabilities list those that run on this worker."""
    started = time.perf_counter()
    ready = engines.warm(list_models())
    LOGGER.info("vision worker warmed %d model(s) in %.2f s: %s", len(ready),
                time.perf_counter() - started, ", ".join(m.name for m in ready))
    return {"models": [model.as_dict() for model in ready]}


def serve(config: Config) -> None:
    """Consume the vision queue with every model loaded once, before the first job."""
    configure_logging()
    capabilities = warm_capabilities()
    Worker("vision", process, config, capabilities=lambda: capabilities).run()


def main() -> None:
    run_worker_process("vision-worker", serve)


if __name__ == "__main__":
    main()
