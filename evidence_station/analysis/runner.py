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
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from evidence_station.analysis import rules
from evidence_station.analysis.probe import MediaFacts, probe_media
from evidence_station.analysis.speech import SpeechBackend, Transcript, first_seconds_of_audio, load_backend
from evidence_station.analysis.statement import parse_statement
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


@dataclass
class Analyser:
    station: Station
    backend: SpeechBackend | None
    calendar: WorkdayCalendar
    actor: str = "analysis"

    @classmethod
    def for_station(cls, station: Station, actor: str = "analysis") -> Analyser:
        config = station.config.analysis
        return cls(station, load_backend(config.speech_model_dir, config.speech_language or None),
                   WorkdayCalendar.load([DATA_DIR, *config.calendar_dirs]), actor)

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
        on = (name_time or ingested
              or station.clock.now().astimezone(self.zone).replace(tzinfo=None)).date()
        spoken = parse_statement(transcript.text, on) if transcript else None
        flags = [
            *rules.media_flags(clip_id, facts.problems),
            *(rules.statement_flags(clip_id, name_time=name_time,
                                    spoken=spoken.when if spoken else None,
                                    backend=self.backend is not None,
                                    transcript=transcript.text if transcript else None,
                                    threshold_s=config.drift_threshold_s)
              if facts.kind in ("video", "audio") else []),
        ]
        if name_time is not None and ingested is not None:
            flags += rules.late_storage_flag(clip_id, recorded_at=name_time, ingested_at=ingested,
                                             rule=DeadlineRule.parse(config.storage_deadline),
                                             calendar=self.calendar, returned_at=returned_at,
                                             remote_rule=DeadlineRule.parse(config.remote_storage_deadline))
            if session is not None:
                end = rules.TimedClip(clip_id, name_time, facts.duration_s, False).end
                flags += rules.clock_ahead_flag(clip_id, end=end, docked_at=session,
                                                tolerance_s=config.drift_threshold_s)
        drift = int((name_time - spoken.when).total_seconds()) if name_time and spoken else None
        return station.record(Draft("analysis", self.actor, {
            "clip_id": clip_id, "sha256": clip["sha256"], "media": facts.as_dict(),
            "transcript": transcript.text if transcript else None,
            "transcript_backend": transcript.backend if transcript else None,
            "spoken_time": spoken.isoformat() if spoken else None,
            "spoken_words": spoken.matched if spoken else None,
            "drift_s": drift, "flags": [_flag_record(flag) for flag in flags],
        }))

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
