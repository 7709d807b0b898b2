"""The operator's limits on conversions, read from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ConvertLimits:
    """Bounds that keep one untrusted upload from holding a worker for long or filling its disk."""

    max_seconds: float = 4 * 3600.0          # input duration
    max_pixels: int = 3840 * 2160            # input or output frame area
    max_output_bytes: int = 2 * 1024 ** 3
    timeout_base_seconds: float = 120.0      # wall clock = base + factor * media seconds produced
    timeout_factor: float = 10.0

    @classmethod
    def from_env(cls) -> "ConvertLimits":
        """Limits from CONVEYOR_MAX_MEDIA_SECONDS, CONVEYOR_MAX_MEDIA_PIXELS, CONVEYOR_CONVERT_*."""
        env = os.environ
        default = cls()
        return cls(
            max_seconds=float(env.get("CONVEYOR_MAX_MEDIA_SECONDS", default.max_seconds)),
            max_pixels=int(env.get("CONVEYOR_MAX_MEDIA_PIXELS", default.max_pixels)),
            max_output_bytes=int(env.get("CONVEYOR_CONVERT_MAX_OUTPUT_BYTES",
                                         default.max_output_bytes)),
            timeout_base_seconds=float(env.get("CONVEYOR_CONVERT_TIMEOUT_BASE",
                                               default.timeout_base_seconds)),
            timeout_factor=float(env.get("CONVEYOR_CONVERT_TIMEOUT_FACTOR",
                                         default.timeout_factor)),
        )

    def timeout_for(self, media_seconds: float) -> float:
        """Wall-clock budget for producing this many seconds of output."""
        return self.timeout_base_seconds + self.timeout_factor * media_seconds
