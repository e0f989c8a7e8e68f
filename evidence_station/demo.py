"""A demo camera of real media, so a newcomer sees the whole flow without hardware,
and the media factory the tests use (PyAV: H.264 video + AAC audio in MP4).

The footage is a moving colour bar with a tone: small, quick to make, and real enough
that container checks, probing and hashing see what they would see from a camera.
"""

from __future__ import annotations

import math
import os
import tempfile
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
                     zone: str = "Asia/Shanghai", spoken: bool = False) -> Path:
    """Create (once) a camera folder ``root`` with ``count`` recordings in DCIM/100MEDIA.
    ``spoken``: each opens with a Mandarin start statement (needs espeak-ng and pypinyin)."""
    folder = root / "DCIM" / "100MEDIA"
    if folder.exists() and any(folder.iterdir()):
        return root
    # Camera names carry local time in the camera's zone; the file time is the same instant.
    start = start or datetime.now(ZoneInfo(zone)).replace(microsecond=0) - timedelta(hours=3)
    speaking = spoken and can_speak_mandarin()
    for number in range(count):
        when = start + timedelta(minutes=10 * number)
        path = folder / recording_name(device_id, officer_id, when, number + 1)
        if speaking:
            # R2: each recording opens with the officer stating the time (in Mandarin), so
            # the statement check (R1, R13) has something to compare the camera clock with.
            with tempfile.TemporaryDirectory() as scratch:
                wav = speak(zh_statement(when.replace(tzinfo=None), 1), Path(scratch) / "statement.wav")
                folder.mkdir(parents=True, exist_ok=True)
                write_statement_mp4(path, wav, seconds=max(seconds, 6.0), seed=number)
        else:
            write_mp4(path, seconds=seconds, seed=number)
        stamp = when.timestamp()
        os.utime(path, (stamp, stamp))
    return root


def can_speak_mandarin() -> bool:
    """espeak-ng and pypinyin (the speech-zh extra) are there to speak a statement."""
    import importlib.util
    import shutil

    return shutil.which("espeak-ng") is not None and importlib.util.find_spec("pypinyin") is not None


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


# -- spoken statements (语音说明, R2) for the demo camera, tests and benchmarks --------------
_ZH_DIGIT = "零一二三四五六七八九"


def zh_number(value: int, *, hour: bool = False) -> str:
    """0–59 as spoken: 14 → 十四, 2 → 两 (for an hour), 30 → 三十, 5 → 五."""
    if value == 2 and hour:
        return "两"
    if value < 10:
        return _ZH_DIGIT[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else _ZH_DIGIT[tens]) + "十" + (_ZH_DIGIT[ones] if ones else "")


def zh_period(hour: int) -> tuple[str, int]:
    """(上午/下午 …, the hour on a 12-hour dial) as an officer says it."""
    for last, word in ((5, "凌晨"), (8, "早上"), (11, "上午"), (12, "中午"), (17, "下午"), (23, "晚上")):
        if hour <= last:
            return word, hour if hour <= 12 else hour - 12
    raise ValueError(hour)


def zh_statement(when: datetime, style: int = 0, place: str = "人民路") -> str:
    """A start statement in Mandarin stating ``when``, in one of several phrasings
    (``style`` 0–5): with or without the date, 12-hour with 上午/下午 or 24-hour, 半/整."""
    period, dial = zh_period(when.hour)
    minute = ("整" if style % 2 else "") if when.minute == 0 else \
        "半" if when.minute == 30 and style in (1, 3) else \
        ("零" + _ZH_DIGIT[when.minute] if when.minute < 10 else zh_number(when.minute)) + "分"
    clock12 = f"{period}{zh_number(dial, hour=True)}点{minute}"
    clock24 = f"{zh_number(when.hour, hour=True) if when.hour else '零'}点{minute}"
    year = "".join("零一二三四五六七八九"[int(d)] for d in f"{when.year}")
    day = f"{zh_number(when.month)}月{zh_number(when.day)}日"
    phrasings = [
        f"现在是{year}年{day}{clock12}，地点{place}，我是执法人员。",
        f"现在时间，{clock12}。我是执法人员，现在开始记录。",
        f"今天是{day}，现在是{clock24}，地点{place}。",
        f"执法记录开始。现在是{clock12}，地点{place}。",
        f"现在是{year}年{day}，{clock24}，开始执法记录。",
        f"我是执法人员，现在时间{clock12}。",
    ]
    return phrasings[style % len(phrasings)]


def espeak_pinyin(text: str) -> str:
    """Mandarin text as tone-numbered pinyin for espeak-ng's ``cmn-Latn-pinyin`` voice
    (Debian's espeak-ng has no Mandarin character dictionary: it reads hanzi as letters)."""
    from pypinyin import Style, lazy_pinyin

    syllables = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    return " ".join(syllable if syllable.strip("，。：、") else "," for syllable in syllables)


def speak(text: str, wav: Path, *, language: str = "zh", speed: int = 130, gap: int = 8) -> Path:
    """Speak ``text`` into ``wav`` with espeak-ng: Mandarin through pinyin, else English.
    ``gap`` (10 ms units between words) keeps espeak's Mandarin syllables apart: run
    together they are far harder to recognise than a person speaking (measured here)."""
    import subprocess

    if language == "zh":
        command = ["espeak-ng", "-v", "cmn-Latn-pinyin", "-s", str(speed), "-g", str(gap), "-w", str(wav),
                   espeak_pinyin(text)]
    else:
        command = ["espeak-ng", "-s", str(speed), "-w", str(wav), text]
    subprocess.run(command, check=True, capture_output=True)
    return wav
