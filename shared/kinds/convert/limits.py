"""The operator's limits on conversions, taken from Config (CONVEYOR_MAX_MEDIA_*, CONVEYOR_CONVERT_*)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from shared.config import Config, settings_of


@dataclass(frozen=True)
class ConvertLimits:
    """Bounds that keep one untrusted upload from holding a worker for long or filling its disk."""

    max_seconds: float = 4 * 3600.0          # input duration
    max_pixels: int = 3840 * 2160            # input or output frame area
    max_image_pixels: int = 40_000_000       # a still image's area (in or out), one frame only
    max_output_bytes: int = 2 * 1024 ** 3
    timeout_base_seconds: float = 120.0      # wall clock = base + factor * media seconds produced
    timeout_factor: float = 10.0

    @classmethod
    def from_config(cls, config: Config | Mapping[str, Any]) -> "ConvertLimits":
        """Limits from a Config or a Flask app.config (CONVEYOR_MAX_MEDIA_*, CONVEYOR_CONVERT_*)."""
        settings = settings_of(config)
        return cls(max_seconds=settings["MAX_MEDIA_SECONDS"], max_pixels=settings["MAX_MEDIA_PIXELS"],
                   max_image_pixels=settings["MAX_IMAGE_PIXELS"],
                   max_output_bytes=settings["CONVERT_MAX_OUTPUT_BYTES"],
                   timeout_base_seconds=settings["CONVERT_TIMEOUT_BASE_SECONDS"],
                   timeout_factor=settings["CONVERT_TIMEOUT_FACTOR"])

    def timeout_for(self, media_seconds: float) -> float:
        """Wall-clock budget for producing this many seconds of output."""
        return self.timeout_base_seconds + self.timeout_factor * media_seconds
