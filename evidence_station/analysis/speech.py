"""Speech to text for the spoken start statement, behind a small pluggable interface.

The default model is the multilingual Whisper base, assembled from the ``speech-zh``
extra's packages into the data dir and pinned by hash (:mod:`.models`); a unit may point
``analysis.speech_model_dir`` at a larger faster-whisper (CTranslate2) model with its
SHA-256. Everything runs offline (``local_files_only``). Without a model, clips go to the
review queue as "statement time needed" instead of being guessed.

Word timestamps are kept so the statement can be located in the first seconds (its
offset is added to the camera's start time before comparing clocks). Silence is cut by
the VAD that ships with faster-whisper before decoding: on the silence after a short
statement the model otherwise invents text ("寂寞寄寞…"). There is no initial prompt by
default: measured here (benchmarks/bench_speech.py), a prompt in the style of a start
statement was copied into the transcript of unclear speech and lowered recovery; a unit
may set ``analysis.speech_prompt`` (never with a date or time in it: the model copies
numbers from a prompt, which would be a confident wrong time).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import av

from evidence_station.analysis.models import ModelChoice, verify_model

if TYPE_CHECKING:  # numpy is imported where audio is decoded: the daemon imports this
    # module at start even with analysis off, and numpy's import (and OpenBLAS's threads,
    # 2 % of the daemon's CPU in a 24-dock profile) is not needed for docking.
    import numpy as np

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Word:
    """One recognised word (a character or two in Chinese) and where it was spoken."""

    text: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    backend: str
    words: tuple[Word, ...] = ()
    model_sha256: str | None = None


class SpeechBackend(Protocol):
    name: str

    def transcribe(self, samples: np.ndarray[Any, np.dtype[np.float32]]) -> Transcript: ...


def first_seconds_of_audio(path: Path, seconds: float) -> np.ndarray[Any, np.dtype[np.float32]] | None:
    """The first ``seconds`` of the clip's audio as 16 kHz mono float32; ``None`` if none."""
    import numpy as np

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
    """faster-whisper on CPU, int8, loaded once and shared (thread-safe transcription).
    The model directory is hashed before it is loaded and refused if it changed."""

    def __init__(self, model_dir: Path, *, language: str | None, sha256: str,
                 prompt: str | None = None, threads: int = 2, beam_size: int = 5,
                 options: dict[str, Any] | None = None) -> None:
        self.model_dir = model_dir
        self.language = language
        self.sha256 = sha256
        self.prompt = prompt or None
        self.threads = threads
        self.beam_size = beam_size
        # a statement is a few dozen tokens: a cap and no 4-gram repeats stop the loops
        # ("我认识了我认识了…") that cost 20–40 s a clip on unclear speech (measured here)
        self.options = {"vad_filter": True, "max_new_tokens": 96, "no_repeat_ngram_size": 4,
                        **(options or {})}
        self.name = f"faster-whisper:{model_dir.name}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                verify_model(self.model_dir, self.sha256)  # never a model whose hash changed
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from faster_whisper import WhisperModel

                self._model = WhisperModel(str(self.model_dir), device="cpu", compute_type="int8",
                                           cpu_threads=self.threads, local_files_only=True)
            return self._model

    def transcribe(self, samples: np.ndarray[Any, np.dtype[np.float32]]) -> Transcript:
        model = self._load()
        # temperature 0 only: the fallback re-decodes unclear speech up to five times
        # (20 s per clip measured here) and only ever adds invented text.
        segments, info = model.transcribe(samples, language=self.language, beam_size=self.beam_size,
                                          temperature=0.0, initial_prompt=self.prompt,
                                          word_timestamps=True, condition_on_previous_text=False,
                                          **self.options)
        words: list[Word] = []
        texts: list[str] = []
        for segment in segments:
            texts.append(segment.text.strip())
            words.extend(Word(word.word, float(word.start), float(word.end), float(word.probability))
                         for word in segment.words or ())
        text = " ".join(texts).strip()
        return Transcript(text, getattr(info, "language", self.language), self.name, tuple(words),
                          self.sha256)


def load_backend(choice: ModelChoice | None, language: str | None,
                 prompt: str | None = None) -> SpeechBackend | None:
    """The backend for the chosen model, or ``None`` when there is none."""
    if choice is None:
        return None
    if not (choice.model_dir / "model.bin").exists():
        raise FileNotFoundError(
            f"analysis.speech_model_dir = {choice.model_dir}: no faster-whisper model there (model.bin "
            "missing). Point it at a CTranslate2 Whisper model directory, or remove the key.")
    return WhisperBackend(choice.model_dir, language=language, sha256=choice.sha256, prompt=prompt)
