"""Fixtures for the speech-to-text surfaces (seeds 000 and 003): real speech, a registered and a real worker."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from services.asr_worker.__main__ import capabilities
from services.asr_worker.transcribe import process
from shared import jobflow
from shared.db import db as handle
from shared.jobflow import utcnow
from shared.models import Job, WorkerRecord
from shared.states import ACTIVE
from tests.media import ENGLISH_SENTENCES, encode, have_espeak, speak

SPOKEN = " ".join(ENGLISH_SENTENCES[:4])  # about 12 s at espeak's 160 words per minute


@pytest.fixture(scope="session")
def spoken_text() -> str:
    """What the speech fixtures say."""
    return SPOKEN


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory) -> Path:
    if not have_espeak():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def speech_mp3(speech_dir) -> bytes:
    """About 12 s of English speech as a small mono MP3."""
    wav = speak(SPOKEN, speech_dir / "speech.wav")
    return encode(wav, speech_dir / "speech.mp3", "-ac", "1", "-b:a", "32k").read_bytes()


@pytest.fixture(scope="session")
def speech_wav(speech_dir, speech_mp3) -> bytes:
    return (speech_dir / "speech.wav").read_bytes()


@pytest.fixture(scope="session")
def short_mp3(speech_dir) -> bytes:
    """Three seconds of speech: too short for seed 003, fine for the native bounds."""
    wav = speak("Three seconds of speech.", speech_dir / "short.wav")
    return encode(wav, speech_dir / "short.mp3", "-ac", "1", "-b:a", "32k").read_bytes()


@pytest.fixture
def asr_registered(app):
    """An asr worker's registration, as a running worker leaves it: submits are checked against it."""
    with app.app_context():
        handle.session.merge(WorkerRecord(id="asr-registered-in-test", kind="asr", capabilities=capabilities(),
                                          last_seen_at=utcnow()))
        handle.session.commit()
    yield
    with app.app_context():
        # Queued jobs left by a test would keep a later test's real worker busy: end them here.
        active = select(Job).where(Job.kind == "asr", Job.status.in_([status.value for status in ACTIVE]))
        for job in handle.session.scalars(active):
            jobflow.cancel(job)
        handle.session.commit()


@pytest.fixture
def asr_worker(start_worker):
    """A real asr worker (faster-whisper, the installed tiny.en model) consuming this run's queue."""
    return start_worker(handler=process, kind="asr", capabilities=capabilities)
