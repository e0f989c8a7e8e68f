"""What a stored clip is: duration, codecs, resolution, container creation time, vendor
tags — and whether it is whole. Truncated or malformed media is flagged, never touched:
the store keeps the bytes exactly as the camera had them.

Two independent readers: MediaInfo (pymediainfo, its wheel bundles libmediainfo) for
the container's own description, FFmpeg (PyAV) for whether it actually decodes.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
from pymediainfo import MediaInfo

DECODE_CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class MediaFacts:
    kind: str  # video | audio | image | unknown
    container: str | None = None
    duration_ms: int | None = None  # integers only: the facts go into the ledger (no floats)
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: str | None = None  # as the container states it, e.g. "29.970"
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    creation_time: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        return self.duration_ms / 1000 if self.duration_ms is not None else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _mediainfo(path: Path) -> dict[str, Any]:
    tracks: dict[str, Any] = {}
    for track in MediaInfo.parse(str(path)).tracks:
        tracks.setdefault(track.track_type, track.to_data())
    return tracks


def _decode_problems(path: Path) -> tuple[list[str], dict[str, str], str | None]:
    """Open with FFmpeg, decode the first seconds and the last packets."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as err:
        return [f"FFmpeg cannot open it ({err}); missing index or not media"], {}, None
    problems: list[str] = []
    with container:
        tags = {str(k): str(v) for k, v in container.metadata.items()}
        creation = tags.get("creation_time")
        streams = [s for s in container.streams if s.type in ("video", "audio")]
        if not streams:
            return ["no audio or video stream"], tags, creation
        try:
            for frame in container.decode(*streams):
                when = getattr(frame, "time", None)
                if when is not None and when > DECODE_CHECK_SECONDS:
                    break
        except (av.FFmpegError, ValueError) as err:
            problems.append(f"decode error near the start: {err}")
        duration = container.duration
        if duration and duration > DECODE_CHECK_SECONDS * av.time_base:
            try:
                container.seek(max(0, duration - int(av.time_base)), any_frame=False)
                for packet in container.demux(*streams):
                    for _frame in packet.decode():
                        pass
            except (av.FFmpegError, ValueError) as err:
                problems.append(f"decode error near the end: {err}")
    return problems, tags, creation


def probe_media(path: Path) -> MediaFacts:
    info = _mediainfo(path)
    general = info.get("General", {})
    video, audio, image = info.get("Video"), info.get("Audio"), info.get("Image")
    kind = "video" if video else "audio" if audio else "image" if image else "unknown"
    problems: list[str] = []
    if str(general.get("istruncated", "")).lower() == "yes":
        problems.append("the container says it is truncated (its size is less than it declares)")
    tags: dict[str, str] = {}
    creation = None
    if kind in ("video", "audio"):
        decode_problems, tags, creation = _decode_problems(path)
        problems += decode_problems
    elif kind == "unknown":
        problems.append("not recognised as audio, video or image")
    duration_ms = _number(general.get("duration"))
    for key in ("encoded_date", "tagged_date", "recorded_date"):
        if creation is None and general.get(key):
            creation = str(general[key]).replace("UTC ", "").replace(" UTC", "")
    for key in ("writing_application", "encoded_library_name", "comapplequicktimemake",
                "comapplequicktimemodel", "performer", "description", "comment"):
        if general.get(key):
            tags.setdefault(key, str(general[key]))
    with contextlib.suppress(KeyError):
        del tags["creation_time"]
    return MediaFacts(
        kind=kind, container=general.get("format"),
        duration_ms=int(duration_ms) if duration_ms is not None else None,
        video_codec=(video or {}).get("format"), width=(video or image or {}).get("width"),
        height=(video or image or {}).get("height"),
        frame_rate=str((video or {}).get("frame_rate")) if (video or {}).get("frame_rate") else None,
        audio_codec=(audio or {}).get("format"),
        sample_rate=int(_number((audio or {}).get("sampling_rate")) or 0) or None,
        channels=int(_number((audio or {}).get("channel_s")) or 0) or None,
        creation_time=creation, tags=tags, problems=problems)
