"""Language detection among the translate languages: lingua's high-accuracy mode (what
shared.language_detect uses) vs its low-accuracy mode, side by side, each in a fresh process.

Prints model load time, resident memory, accuracy on short everyday sentences and time per call.
Run from the repo root: python -m bench.bench_language_detect
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

CANDIDATES = ["ca", "en", "es", "fr", "it", "pt"]
SENTENCES = {
    "en": ["Hello, how are you today?", "The weather is nice.", "Where is the train station?",
           "I love reading books in the evening.", "Thank you very much."],
    "es": ["Hola, ¿cómo estás hoy?", "El tiempo es agradable.", "¿Dónde está la estación de tren?",
           "Me encanta leer libros por la noche.", "Muchas gracias."],
    "fr": ["Bonjour, comment allez-vous ?", "Il fait beau.", "Où est la gare ?",
           "J'aime lire des livres le soir.", "Merci beaucoup."],
    "it": ["Ciao, come stai oggi?", "Il tempo è bello.", "Dov'è la stazione dei treni?",
           "Mi piace leggere libri la sera.", "Grazie mille."],
    "pt": ["Olá, como você está hoje?", "O tempo está bom.", "Onde fica a estação de trem?",
           "Eu adoro ler livros à noite.", "Muito obrigado."],
    "ca": ["Hola, com estàs avui?", "Fa bon temps.", "On és l'estació de tren?",
           "M'agrada llegir llibres al vespre.", "Moltes gràcies."],
}
ROUNDS = 20


def measure(mode: str) -> dict:
    """Load, then detect every sentence ROUNDS times, in this process; returns the figures."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    start = time.perf_counter()
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*(IsoCode639_1.from_str(c) for c in CANDIDATES))
    if mode == "low":
        builder = builder.with_low_accuracy_mode()
    detector = builder.with_preloaded_language_models().build()
    load = time.perf_counter() - start
    correct = 0
    start = time.perf_counter()
    for _ in range(ROUNDS):
        for language, sentences in SENTENCES.items():
            for sentence in sentences:
                best = detector.compute_language_confidence_values(sentence)[0]
                correct += best.language.iso_code_639_1.name.lower() == language
    calls = ROUNDS * sum(len(s) for s in SENTENCES.values())
    per_call = (time.perf_counter() - start) / calls * 1000
    with open("/proc/self/status") as status:
        rss = int(status.read().split("VmRSS:")[1].split()[0]) // 1024
    return {"load_s": load, "rss_mb": rss, "correct": correct // ROUNDS,
            "total": calls // ROUNDS, "ms_per_call": per_call}


def main() -> None:
    """Run both modes in child processes (models are process-wide) and print them side by side."""
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2])))
        return
    figures = {}
    for mode in ("high", "low"):
        out = subprocess.run([sys.executable, "-m", "bench.bench_language_detect", "--child", mode],
                             capture_output=True, text=True, check=True).stdout
        figures[mode] = json.loads(out)
    print(f"{'mode':<6} {'load s':>7} {'RSS MB':>7} {'correct':>8} {'ms/call':>8}")
    for mode, f in figures.items():
        print(f"{mode:<6} {f['load_s']:7.2f} {f['rss_mb']:7d} {f['correct']:>4}/{f['total']:<3} "
              f"{f['ms_per_call']:8.3f}")
    high, low = figures["high"], figures["low"]
    print(f"high vs low: load x{high['load_s'] / low['load_s']:.1f}, memory x{high['rss_mb'] / low['rss_mb']:.1f}, "
          f"time per call x{high['ms_per_call'] / low['ms_per_call']:.2f}, "
          f"{high['correct'] - low['correct']:+d} sentences right")


if __name__ == "__main__":
    main()
