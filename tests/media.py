"""Real speech for tests, made at test time: espeak-ng speaks known text, ffmpeg re-encodes it.

Also the word error rate used to judge what a model heard against the text that was spoken.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import imageio_ffmpeg

ENGLISH_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "Practice makes perfect, and patience is a virtue.",
    "The early bird catches the worm.",
    "Every cloud has a silver lining.",
    "Actions speak louder than words.",
    "Knowledge is power, and time is money.",
    "Where there is a will, there is a way.",
    "Better late than never, but never late is better.",
    "The pen is mightier than the sword.",
    "Fortune favors the bold and the brave.",
    "Honesty is the best policy in every situation.",
]
KOREAN_SENTENCES = [
    "안녕하세요.",
    "오늘 날씨가 좋습니다.",
    "감사합니다.",
    "저는 학생입니다.",
    "이것은 사과입니다.",
    "내일 다시 만나요.",
    "물 한 잔 주세요.",
    "지하철역이 어디에 있어요?",
    "한국어를 공부하고 있어요.",
    "좋은 하루 보내세요.",
]


def have_espeak() -> bool:
    """Whether espeak-ng is installed (Debian package espeak-ng)."""
    return shutil.which("espeak-ng") is not None


def speak(text: str, path: Path, voice: str = "en-us", words_per_minute: int = 160) -> Path:
    """Write ``text`` spoken by espeak-ng to a WAV file at ``path``."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


def wav_seconds(path: Path) -> float:
    """Duration of a WAV file in seconds."""
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def ffmpeg(*args: str) -> None:
    """Run imageio-ffmpeg's ffmpeg quietly, overwriting its output; fail the test if it fails."""
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", *args],
                   check=True, capture_output=True)


def encode(source: Path, target: Path, *args: str) -> Path:
    """Re-encode ``source`` with ffmpeg into ``target`` (format from its suffix, extra ``args``)."""
    ffmpeg("-i", str(source), *args, str(target))
    return target


def with_video(audio: Path, target: Path) -> Path:
    """A small video file (test pattern) carrying ``audio`` as its sound track."""
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-i", str(audio), "-shortest", str(target))
    return target


def silent_video(target: Path, seconds: float = 1.0) -> Path:
    """A small video file with no sound track at all."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x64:rate=5:duration={seconds}", str(target))
    return target


def silence(target: Path, seconds: float) -> Path:
    """A WAV file of digital silence."""
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", f"{seconds}", str(target))
    return target


def normalized_words(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphens split words, as speech does not hear them."""
    return re.sub(r"[^\w\s']", " ", text.lower().replace("-", " ")).split()


def _edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, ref_item in enumerate(ref, start=1):
        current = [i]
        for j, hyp_item in enumerate(hyp, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_item != hyp_item))
            )
        previous = current
    return previous[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words), by word-level edit distance."""
    ref = normalized_words(reference)
    return _edit_distance(ref, normalized_words(hypothesis)), len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference``."""
    errors, words = word_errors(reference, hypothesis)
    return errors / max(words, 1)


def character_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """Character-level edit distance without spaces and punctuation, and the reference length."""
    ref = list("".join(normalized_words(reference)))
    return _edit_distance(ref, list("".join(normalized_words(hypothesis)))), len(ref)
