"""Run a media-conversion worker: ``python -m services.convert_worker``."""
from __future__ import annotations

import functools
import logging
import subprocess

from services.convert_worker.convert import process
from shared.config import Config
from shared.kinds.convert.subtitles import SOFT_CODECS
from shared.kinds.convert.targets import catalog
from shared.logging_setup import configure_logging
from shared.media_probe import ffmpeg_exe
from shared.worker import Worker, run_worker_process

LOGGER = logging.getLogger(__name__)


def capabilities() -> dict:
    """What this worker reports to the API: the targets it makes, each one's options and inputs.

    ``models`` repeats the targets as a list with ids, the shape GET /api/v1/models lists per kind.
    """
    targets = catalog()
    return {"targets": targets, "models": [{"id": name, **entry} for name, entry in targets.items()],
            "subtitles": {"soft": sorted(SOFT_CODECS), "burn_in": can_burn_in()}}


@functools.lru_cache(maxsize=1)
def can_burn_in(ffmpeg: str | None = None) -> bool:
    """Whether this worker's ffmpeg has the ``subtitles`` filter (built with libass) to burn subtitles in."""
    listed = subprocess.run([ffmpeg or ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True,
                            text=True, timeout=30, check=False).stdout
    return any(line.split()[1:2] == ["subtitles"] for line in listed.splitlines())


def serve(config: Config) -> None:
    """Consume the convert queue, running ffmpeg for each job."""
    configure_logging()
    # Resolving the binary now makes a missing ffmpeg fail at start, not on the first job.
    LOGGER.info("convert worker uses %s for %d targets", ffmpeg_exe(), len(catalog()))
    Worker("convert", process, config, capabilities=capabilities).run()


def main() -> None:
    run_worker_process("convert-worker", serve)


if __name__ == "__main__":
    main()
