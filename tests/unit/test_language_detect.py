"""Language detection with lingua's packaged models, restricted to candidate languages."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shared.language_detect import detect, known_code

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = ["ca", "en", "es", "fr", "it", "pt"]


@pytest.mark.parametrize(("text", "language"), [
    ("Where is the train station?", "en"),
    ("¿Dónde está la estación de tren?", "es"),
    ("J'aime lire des livres le soir.", "fr"),
    ("Mi piace leggere libri la sera.", "it"),
    ("Eu adoro ler livros à noite.", "pt"),
    ("M'agrada llegir llibres al vespre.", "ca"),
])
def test_a_short_sentence_is_told_apart_from_its_neighbours(text, language):
    ranked = detect(text, CANDIDATES)
    assert ranked[0][0] == language
    assert ranked[0][1] > 0.5


def test_confidences_rank_every_candidate_and_sum_to_one():
    ranked = detect("The weather is nice today, is it not?", CANDIDATES)
    assert sorted(code for code, _ in ranked) == sorted(CANDIDATES)
    assert [c for _, c in ranked] == sorted((c for _, c in ranked), reverse=True)
    assert sum(c for _, c in ranked) == pytest.approx(1.0, abs=1e-6)


def test_text_without_letters_has_no_confident_language():
    assert all(confidence == 0.0 for _, confidence in detect("12345 67890 !!", CANDIDATES))


def test_candidates_without_a_model_are_left_out():
    assert not known_code("xx") and known_code("ca")
    ranked = detect("The cat is black.", ["en", "es", "xx", "eng"])
    assert {code for code, _ in ranked} == {"en", "es"}


def test_a_single_candidate_is_all_there_is_to_say():
    assert detect("Bonjour tout le monde", ["fr"]) == [("fr", 1.0)]
    assert detect("1234", ["fr"]) == [("fr", 0.0)]
    assert detect("Bonjour", []) == []


def test_threads_share_one_detector_and_agree():
    answers: list[str] = []

    def work():
        for _ in range(20):
            answers.append(detect("Muchas gracias por todo, amigo mío.", CANDIDATES)[0][0])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["es"] * 80


def test_the_api_imports_no_language_models_until_a_text_is_detected():
    # The models take ~160 MB per process: an API process that never detects never loads them.
    code = ("import sys, services.api, services.api.kinds.translate, "
            "services.api.compat.libretranslate; print('lingua' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
