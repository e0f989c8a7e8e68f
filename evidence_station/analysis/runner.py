"""Run the analysis for committed clips and record what it found.

Per clip: probe the stored file (read-only), transcribe the first seconds, parse the
stated time, and apply the per-clip rules; one ``analysis`` ledger event holds the facts,
the transcript and the flags. Per device: interruptions, overlaps and gaps in the file
numbering across all its clips, as ``review.flag`` events; a device flag that no longer
applies (the missing file arrived at a later docking) is resolved by a ``review.resolve``
event, so the queue shows what is still wrong and the ledger shows everything.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from evidence_station.analysis import rules
from evidence_station.analysis.models import ModelHashMismatch, choose_model, verify_model
from evidence_station.analysis.probe import MediaFacts, probe_media
from evidence_station.analysis.speech import SpeechBackend, Transcript, first_seconds_of_audio, load_backend
from evidence_station.analysis.statement import StatedTime, parse_statement
from evidence_station.station import Station
from hashing.canonical import canonical_json
from hashing.ledger import Draft, Event
from retention.workdays import DATA_DIR, DeadlineRule, WorkdayCalendar

log = logging.getLogger(__name__)
DEVICE_KINDS = ("interruption_unexplained", "overlap", "missing_files")


def flag_id(flag: rules.Flag) -> str:
    """Stable id: the same finding raised twice is one flag."""
    body = canonical_json({"kind": flag.kind, "clip_id": flag.clip_id, "figures": flag.figures})
    return hashlib.sha256(body).hexdigest()[:16]


def _flag_record(flag: rules.Flag) -> dict[str, Any]:
    return {"flag_id": flag_id(flag), **flag.as_dict()}


def _local(value: str | None, zone: ZoneInfo) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(zone).replace(tzinfo=None)


def _container_time(facts: MediaFacts, zone: ZoneInfo) -> datetime | None:
    """MP4/MOV creation times are UTC (ISO/IEC 14496-12); a value without a zone is read so."""
    if not facts.creation_time:
        return None
    try:
        value = datetime.fromisoformat(facts.creation_time.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    if value.year < 1980:  # 1904/1970 epochs: the camera never set it
        return None
    return value.astimezone(zone).replace(tzinfo=None)


@dataclass(frozen=True)
class FoundStatement:
    stated: StatedTime
    offset_s: float  # seconds into the recording where the stated time was spoken


def locate_statement(transcript: Transcript, on: date) -> FoundStatement | None:
    """The stated time and where in the first seconds it was said: the first prefix of
    the recognised words that states the same time ends at the statement (word
    timestamps), so the camera's clock is compared at that moment, not at the start."""
    stated = parse_statement(transcript.text, on)
    if stated is None:
        return None
    if not transcript.words:
        return FoundStatement(stated, 0.0)
    prefix = ""
    for word in transcript.words:
        prefix += word.text
        early = parse_statement(prefix, on)
        if early is not None and early.when == stated.when:
            return FoundStatement(stated, round(word.end, 2))
    return FoundStatement(stated, 0.0)


@dataclass
class Analyser:
    station: Station
    backend: SpeechBackend | None
    calendar: WorkdayCalendar
    actor: str = "analysis"

    no_backend_reason: str = "no speech backend configured"

    @classmethod
    def for_station(cls, station: Station, actor: str = "analysis") -> Analyser:
        config = station.config.analysis
        reason = "no speech model installed (pip install 'evidence-station[speech-zh]')"
        try:
            choice = choose_model(configured_dir=config.speech_model_dir,
                                  configured_sha256=config.speech_model_sha256,
                                  auto=config.speech_auto, data_dir=station.layout.root)
            if choice is not None:
                verify_model(choice.model_dir, choice.sha256)  # checked again when it loads
        except ModelHashMismatch as err:
            # never a model whose hash changed: the check is off, loudly, until fixed
            log.critical("%s", err)
            choice, reason = None, f"speech model changed (sha256 {err.found}, pinned {err.expected})"
        backend = load_backend(choice, config.speech_language or None, config.speech_prompt)
        return cls(station, backend, WorkdayCalendar.load([DATA_DIR, *config.calendar_dirs]), actor,
                   reason)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.station.config.station.timezone)

    # -- one clip ---------------------------------------------------------------------
    def analyse_clip(self, clip_id: str) -> Event:
        station, config = self.station, self.station.config.analysis
        with station.lock:
            clip = station.catalog.footage.find_clip(clip_id)[0]
            session, returned_at = self._docking(clip_id)
        path = station.store.path_for(clip["sha256"])
        facts = probe_media(path)
        # The camera's start time: its file name, else the container's creation time.
        name_time = _local(clip["recorded_at"], self.zone) or _container_time(facts, self.zone)
        ingested = _local(clip["ingested_at"], self.zone)
        transcript = self._transcribe(path, facts, config.statement_seconds)
        on = (name_time or ingested or self.station.clock.now().astimezone(self.zone).replace(
            tzinfo=None)).date()
        found = locate_statement(transcript, on) if transcript else None
        spoken = found.stated if found else None
        # R1/R13: the officer states the time *when speaking*, seconds into the recording
        camera_at_statement = name_time + timedelta(seconds=found.offset_s) \
            if name_time is not None and found is not None else name_time
        statement = rules.statement_flags(
            clip_id, name_time=camera_at_statement, spoken=spoken.when if spoken else None,
            backend=self.backend is not None, transcript=transcript.text if transcript else None,
            threshold_s=config.drift_threshold_s,
            alternatives=spoken.alternatives if spoken else (),
            confidence=spoken.confidence if spoken else 1.0,
            min_confidence=config.min_statement_confidence, notes=spoken.notes if spoken else (),
            no_backend_reason=self.no_backend_reason) if facts.kind in ("video", "audio") else []
        flags = [*rules.media_flags(clip_id, facts.problems), *statement]
        if name_time is not None and ingested is not None:
            flags += rules.late_storage_flag(clip_id, recorded_at=name_time, ingested_at=ingested,
                                             rule=DeadlineRule.parse(config.storage_deadline),
                                             calendar=self.calendar, returned_at=returned_at,
                                             remote_rule=DeadlineRule.parse(config.remote_storage_deadline))
            if session is not None:
                end = rules.TimedClip(clip_id, name_time, facts.duration_s, False).end
                flags += rules.clock_ahead_flag(clip_id, end=end, docked_at=session,
                                                tolerance_s=config.drift_threshold_s)
        drift = None
        if camera_at_statement is not None and spoken is not None:
            drift = int(min(((camera_at_statement - reading).total_seconds() for reading in spoken.readings),
                            key=abs))
        body: dict[str, Any] = {
            "clip_id": clip_id, "sha256": clip["sha256"], "media": facts.as_dict(),
            "transcript": transcript.text if transcript else None,
            "transcript_backend": transcript.backend if transcript else None,
            "spoken_time": spoken.isoformat() if spoken else None,
            "spoken_words": spoken.matched if spoken else None,
            "drift_s": drift, "flags": [_flag_record(flag) for flag in flags],
        }
        if transcript is not None:
            # which model wrote the transcript, exactly (its pinned hash), and how sure the reading is
            body["speech_model_sha256"] = transcript.model_sha256
            body["statement"] = {
                "status": rules.statement_status(statement, spoken=spoken.when if spoken else None,
                                                 has_camera_time=name_time is not None),
                # ledger events hold no floats (canonical JSON): per cent and milliseconds
                "confidence_pct": round(spoken.confidence * 100) if spoken else None,
                "readings": [reading.isoformat() for reading in spoken.readings] if spoken else [],
                "notes": list(spoken.notes) if spoken else [],
                "offset_ms": round(found.offset_s * 1000) if found else None,
            }
        return station.record(Draft("analysis", self.actor, body))

    def _docking(self, clip_id: str) -> tuple[datetime | None, datetime | None]:
        """(docked at, returned from remote work at) of the session that first brought it."""
        docking = self.station.catalog.footage.first_docking(clip_id)
        if docking is None:
            return None, None
        return _local(docking["started_at"], self.zone), _local(docking["returned_at"], self.zone)

    def _transcribe(self, path: Any, facts: MediaFacts, seconds: int) -> Transcript | None:
        if self.backend is None or facts.kind not in ("video", "audio") or not facts.audio_codec:
            return None
        try:
            samples = first_seconds_of_audio(path, seconds)
        except Exception as err:  # damaged audio: flagged by the probe already
            log.warning("%s: audio could not be decoded for the statement: %s", path.name, err)
            return None
        return self.backend.transcribe(samples) if samples is not None else None

    # -- one device -------------------------------------------------------------------
    def analyse_device(self, device_id: str) -> list[Event]:
        station, config = self.station, self.station.config.analysis
        with station.lock:
            rows = station.catalog.footage.device_clips(device_id)
            open_flags = [flag for flag in station.catalog.flags.review()
                          if flag["kind"] in DEVICE_KINDS]
        clips = [rules.TimedClip(row["clip_id"], start, row["duration_s"],
                                 row["spoken_time"] is not None, row["file_seq"])
                 for row in rows if (start := _local(row["recorded_at"], self.zone)) is not None]
        found = [*rules.interruption_flags(clips, restart_window_s=config.restart_window_s,
                                           overlap_tolerance_s=config.overlap_tolerance_s),
                 *rules.sequence_flags(clips)]
        events = []
        with station.lock:
            new = [_flag_record(f) for f in found if not station.catalog.flags.has_flag(flag_id(f))]
        if new:
            events.append(station.record(Draft("review.flag", self.actor,
                                               {"device_id": device_id, "flags": new})))
        current = {flag_id(f) for f in found}
        device_clips = {clip.clip_id for clip in clips}
        for stale in open_flags:
            if stale["clip_id"] in device_clips and stale["flag_id"] not in current:
                events.append(station.record(Draft("review.resolve", self.actor, {
                    "flag_id": stale["flag_id"],
                    "resolution": "no longer applies after a later docking (re-analysed)"})))
        return events

    def analyse_pending(self, before_each: Callable[[], None] = lambda: None) -> int:
        """Analyse every clip without an analysis, then the devices they came from.
        ``before_each`` runs before every clip (the daemon waits there while a dock copies)."""
        with self.station.lock:
            pending = self.station.catalog.footage.unanalysed_clips()
        devices: set[str] = set()
        for clip_id in pending:
            before_each()
            self.analyse_clip(clip_id)
            with self.station.lock:
                sources = self.station.catalog.footage.sources_of(clip_id)
                devices.update(source["device_id"] for source in sources)
        for device_id in sorted(devices):
            self.analyse_device(device_id)
        return len(pending)
