"""Run a speech-to-text worker: ``python -m services.asr_worker``."""

from __future__ import annotations

import logging
import time
from typing import Any

from services.asr_worker.catalog import ModelInfo, installed_models
from services.asr_worker.engines import SAMPLE_RATE, ModelLoadError, load_engine, load_failed
from services.asr_worker.transcribe import process
from shared.config import Config
from shared.logging_setup import configure_logging
from shared.worker import Worker, run_worker_process

LOGGER = logging.getLogger(__name__)

# One second of silence: enough for each engine to build what it creates on its first call.
_WARM_PCM = bytes(SAMPLE_RATE * 2)


def models_to_warm(models: list[ModelInfo], preload: tuple[str, ...]) -> list[ModelInfo]:
    """The default model of each engine, plus the ids in ``preload`` ("all": every model)."""
    if "all" in preload:
        return list(models)
    unknown = set(preload) - {m.id for m in models}
    if unknown:
        LOGGER.warning("CONVEYOR_ASR_PRELOAD names models not installed: %s", sorted(unknown))
    return [m for m in models if (m.default and m.engine == "whisper") or m.id in preload]


def warm(models: list[ModelInfo]) -> list[ModelInfo]:
    """Load and exercise each model once for this process; return those that loaded."""
    ready = []
    for model in models:
        started = time.perf_counter()
        try:
            engine = load_engine(model.engine, model.path)
        except ModelLoadError as exc:
            # The worker still serves its other models; capabilities() leaves this one out, so
            # the API refuses it unless another worker offers it.
            LOGGER.error("%s", exc)
            continue
        language = None if model.detects_language else (model.languages or (None,))[0]
        engine.transcribe(_WARM_PCM, language)
        LOGGER.info("warmed %s in %.2f s", model.id, time.perf_counter() - started)
        ready.append(model)
    return ready


def capabilities() -> dict[str, Any]:
    """The installed models (rescanned each call) but those that failed to load in this process."""
    return {
        "models": [m.as_dict() for m in installed_models() if not load_failed(m.engine, m.path)]
    }


def serve(config: Config) -> None:
    """Consume the asr queue with the default model loaded before the first job."""
    configure_logging()
    warm(models_to_warm(installed_models(), config.ASR_PRELOAD))
    offered = capabilities()["models"]
    LOGGER.info("asr worker offers %d model(s): %s", len(offered),
                ", ".join(m["id"] for m in offered))
    Worker("asr", process, config, capabilities=capabilities).run()


def main() -> None:
    run_worker_process("asr-worker", serve)


if __name__ == "__main__":
    main()
