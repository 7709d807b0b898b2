"""Build a tiny but real Argos package (``.argosmodel``) at test time with the real tools.

No registry ships an Argos language package, so the tests make one: a SentencePiece model trained on
a few sentences (sentencepiece.SentencePieceTrainer), a one-layer Transformer with random weights
written by CTranslate2's own model specification (ctranslate2.specs.TransformerSpec, numpy weights,
``spec.save``), and Argos's metadata.json, zipped under one top folder as argospm packs them. What it
translates to is meaningless; that argostranslate loads it and produces text is the point.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

SENTENCES = [
    "The cat is black and the dog is white.",
    "Where is the railway station, please?",
    "I would like a cup of coffee with milk.",
    "The weather is nice today, let us go for a walk.",
    "My brother reads a book in the garden.",
    "We translate documents for the people at the desk.",
    "Every morning the baker opens his shop at six.",
    "The children play football in the park after school.",
]
MODEL_DIM = 16
FFN_DIM = 32
HEADS = 2
VOCAB_SIZE = 64
SEED = 7


def train_sentencepiece(workdir: Path) -> Path:
    """A SentencePiece unigram model of VOCAB_SIZE pieces trained on SENTENCES."""
    import sentencepiece as spm
    corpus = workdir / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 4) + "\n", encoding="utf-8")
    prefix = workdir / "sentencepiece"
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), vocab_size=VOCAB_SIZE,
                                   model_type="unigram", character_coverage=1.0, minloglevel=2,
                                   hard_vocab_limit=False)
    return prefix.with_suffix(".model")


def _shape(name: str, vocabulary: int) -> tuple[int, ...]:
    """The shape CTranslate2 expects for a variable of a Transformer of MODEL_DIM, by its name."""
    d = MODEL_DIM
    if name.endswith("/gamma") or name.endswith("/beta"):
        return (d,)
    if "embeddings" in name or name.startswith("decoder/projection"):
        return (vocabulary, d)
    if "/self_attention/linear_0" in name:
        return (3 * d, d)
    if "/attention/linear_1" in name:
        return (2 * d, d)
    if "/ffn/linear_0" in name:
        return (FFN_DIM, d)
    if "/ffn/linear_1" in name:
        return (d, FFN_DIM)
    return (d, d)


def write_ctranslate2_model(vocabulary: list[str], output_dir: Path) -> None:
    """A one-layer Transformer with random weights, saved as a CTranslate2 model directory."""
    from ctranslate2.specs import TransformerSpec
    spec = TransformerSpec.from_config(1, HEADS)
    generator = np.random.default_rng(SEED)

    def fill(layer, name, value):
        if value is None:
            attribute = name.rsplit("/", 1)[-1]
            if attribute == "gamma":
                setattr(layer, attribute, np.ones(MODEL_DIM, dtype=np.float32))
            elif attribute == "beta":
                setattr(layer, attribute, np.zeros(MODEL_DIM, dtype=np.float32))
            else:
                weights = generator.normal(0, 0.5, _shape(name, len(vocabulary))).astype(np.float32)
                setattr(layer, attribute, weights)

    spec._visit(fill)
    spec.register_source_vocabulary(vocabulary)
    spec.register_target_vocabulary(vocabulary)
    spec.validate()
    spec.optimize(quantization=None)
    output_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(output_dir))


def build_package(workdir: Path, from_code: str = "eo", to_code: str = "la",
                  version: str = "1.0") -> bytes:
    """The bytes of an ``.argosmodel`` translating ``from_code`` to ``to_code`` (meaninglessly)."""
    import sentencepiece as spm
    workdir.mkdir(parents=True, exist_ok=True)
    sp_model = train_sentencepiece(workdir)
    processor = spm.SentencePieceProcessor(model_file=str(sp_model))
    vocabulary = [processor.id_to_piece(index) for index in range(processor.get_piece_size())]
    model_dir = workdir / "model"
    write_ctranslate2_model(vocabulary, model_dir)
    top = f"translate-{from_code}_{to_code}-{version.replace('.', '_')}"
    metadata = {"package_version": version, "argos_version": "1.11.0", "from_code": from_code,
                "from_name": from_code, "to_code": to_code, "to_name": to_code, "type": "translate",
                "links": []}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{top}/metadata.json", json.dumps(metadata, indent=2))
        archive.write(sp_model, f"{top}/sentencepiece.model")
        for path in sorted(model_dir.iterdir()):
            archive.write(path, f"{top}/model/{path.name}")
        archive.writestr(f"{top}/README.md", "A test-built package: random weights, meaningless output.\n")
    return buffer.getvalue()


def cached_package(run_dir: Path, from_code: str = "la", to_code: str = "en") -> bytes:
    """The package for this pair, built once per test run and kept under the run's directory."""
    cached = run_dir / "argos-build" / f"translate-{from_code}_{to_code}.argosmodel"
    if not cached.exists():
        data = build_package(run_dir / "argos-build" / f"work-{from_code}-{to_code}", from_code, to_code)
        cached.write_bytes(data)
    return cached.read_bytes()
