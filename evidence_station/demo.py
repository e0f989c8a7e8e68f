"""A demo camera of real media, so a newcomer sees the whole flow without hardware,
and the media factory the tests use (PyAV: H.264 video + AAC audio in MP4).

The footage is a moving colour bar with a tone: small, quick to make, and real enough
that container checks, probing and hashing see what they would see from a camera.
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import av

DEMO_DEVICE = "DEMO0001"
DEMO_OFFICER = "010203"


def write_mp4(path: Path, *, seconds: float = 2.0, width: int = 320, height: int = 240,
              fps: int = 15, audio: bool = True, seed: int = 0) -> int:
    """Write a real MP4 and return its size. ``seed`` varies the picture (distinct hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast", "tune": "zerolatency"}
        sound = container.add_stream("aac", rate=16000, layout="mono") if audio else None
        frames = max(1, int(seconds * fps))
        for index in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            luma = bytearray(width * height)
            bar = (index * 7 + seed * 37) % width
            for row in range(height):
                start = row * width
                luma[start:start + width] = bytes(((col + bar + seed) * 3) % 256 for col in range(0, width))
            frame.planes[0].update(bytes(luma))
            chroma = bytes([(seed * 50 + index) % 256]) * (width * height // 4)
            frame.planes[1].update(chroma)
            frame.planes[2].update(bytes([128]) * (width * height // 4))
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            _write_tone(container, sound, seconds, 440 + seed * 20)
    return path.stat().st_size


def _write_tone(container: av.container.OutputContainer, stream: av.AudioStream, seconds: float,
                frequency: float) -> None:
    import array

    rate = 16000
    samples_total = int(seconds * rate)
    chunk = 1024
    pts = 0
    while pts < samples_total:
        count = min(chunk, samples_total - pts)
        values = array.array("h", (int(8000 * math.sin(2 * math.pi * frequency * (pts + i) / rate))
                                   for i in range(count)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=count)
        frame.planes[0].update(values.tobytes() + bytes(frame.planes[0].buffer_size - count * 2))
        frame.sample_rate = rate
        frame.pts = pts
        for packet in stream.encode(frame):
            container.mux(packet)
        pts += count
    for packet in stream.encode():
        container.mux(packet)


def recording_name(device_id: str, officer_id: str, start: datetime, number: int) -> str:
    """The common Chinese recorder style: 产品序号_警号_YYYYMMDDhhmmss_序号.MP4."""
    return f"{device_id}_{officer_id}_{start:%Y%m%d%H%M%S}_{number:04d}.MP4"


def make_demo_camera(root: Path, *, device_id: str = DEMO_DEVICE, officer_id: str = DEMO_OFFICER,
                     count: int = 3, seconds: float = 2.0, start: datetime | None = None,
                     zone: str = "Asia/Shanghai") -> Path:
    """Create (once) a camera folder ``root`` with ``count`` recordings in DCIM/100MEDIA."""
    folder = root / "DCIM" / "100MEDIA"
    if folder.exists() and any(folder.iterdir()):
        return root
    # Camera names carry local time in the camera's zone; the file time is the same instant.
    start = start or datetime.now(ZoneInfo(zone)).replace(microsecond=0) - timedelta(hours=3)
    for number in range(count):
        when = start + timedelta(minutes=10 * number)
        path = folder / recording_name(device_id, officer_id, when, number + 1)
        write_mp4(path, seconds=seconds, seed=number)
        stamp = when.timestamp()
        os.utime(path, (stamp, stamp))
    return root


def write_statement_mp4(path: Path, wav: Path, *, seconds: float | None = None,
                        extra_seconds: float = 1.0, width: int = 160, height: int = 120,
                        seed: int = 0) -> None:
    """An MP4 whose audio starts with the spoken ``wav`` (a statement made by espeak-ng in
    tests and benchmarks) followed by silence; ``seconds`` long, or the speech plus
    ``extra_seconds``. ``seed`` varies the picture, so clips differ in hash."""
    rate = 16000
    with av.open(str(wav)) as source:
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        speech = [out for frame in source.decode(audio=0) for out in resampler.resample(frame)]
    total = seconds if seconds is not None else sum(f.samples for f in speech) / rate + extra_seconds
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = container.add_stream("aac", rate=rate, layout="mono")
        for index in range(int(total * 10)):
            picture = av.VideoFrame(width, height, "yuv420p")
            for number, plane in enumerate(picture.planes):
                plane.update(bytes([(index * 3 + number * 40 + seed * 17) % 256]) * plane.buffer_size)
            picture.pts, picture.time_base = index, Fraction(1, 10)
            for packet in video.encode(picture):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        pts = 0
        for frame in speech:
            frame.pts = pts
            pts += frame.samples
            for packet in sound.encode(frame):
                container.mux(packet)
        while pts < int(total * rate):
            count = min(1024, int(total * rate) - pts)
            frame = av.AudioFrame(format="fltp", layout="mono", samples=count)
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            frame.sample_rate, frame.pts = rate, pts
            pts += count
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
