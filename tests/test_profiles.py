"""Vendor profiles: name parsing table-tested on realistic and odd names, and matching."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from docks.profiles import ProfileError, Seen, choose_profile, load_profiles, parse_profile

ZONE = "Asia/Shanghai"
PROFILES = {profile.name: profile for profile in load_profiles()}


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(ZONE))  # type: ignore[misc]


# (profile, relative path, recorded_at, device, officer, seq)
NAMES = [
    ("gat947", b"DCIM/100MEDIA/3301234_010203_20261123143000_0001.MP4",
     at(2026, 11, 23, 14, 30, 0), "3301234", "010203", 1),
    ("gat947", b"RECORD/DSJ0A1B2C_123456_20261123080102_0027.mp4",
     at(2026, 11, 23, 8, 1, 2), "DSJ0A1B2C", "123456", 27),
    ("gat947", b"AUDIO/3301234_010203_20261123_235959_0003.WAV",
     at(2026, 11, 23, 23, 59, 59), "3301234", "010203", 3),
    ("gat947", b"PHOTO/3301234_J12345_20261124000000.JPG",  # 执法证号 with a letter, no seq
     at(2026, 11, 24, 0, 0, 0), "3301234", "J12345", None),
    ("gat947", b"VIDEO/3301234_010203_20261123143000_0004_IMP.MP4",  # 重要 mark suffix
     at(2026, 11, 23, 14, 30, 0), "3301234", "010203", 4),
    ("gat947", b"DCIM/3301234_010203_20261345143000_0001.MP4",  # month 13: no time
     None, "3301234", "010203", 1),
    ("gat947", b"DCIM/3301234_010203_19700101000012_0001.MP4",  # clock reset: parsed, flagged later
     at(1970, 1, 1, 0, 0, 12), "3301234", "010203", 1),
    ("gat947", "DCIM/3301234_010203_20261123143000_0001(复制).MP4".encode(), None, None, None, None),
    ("gat947", b"DCIM/notes.txt", None, None, None, None),
    ("novatek", b"CarDV/Movie/2026_1123_143000_001.MP4", at(2026, 11, 23, 14, 30, 0), None, None, 1),
    ("novatek", b"CarDV/RO/2026_1123_143500_002A.MP4", at(2026, 11, 23, 14, 35, 0), None, None, 2),
    ("novatek", b"Movie/2026_1123_143500_1024B.mov", at(2026, 11, 23, 14, 35, 0), None, None, 1024),
    ("novatek", b"Photo/2026_0229_120000_003.JPG", None, None, None, 3),  # 2026 is no leap year
    ("novatek", b"Movie/2028_0229_120000_003.JPG", at(2028, 2, 29, 12, 0, 0), None, None, 3),
    ("generic-dcim", b"DCIM/100MEDIA/20261123_143000.MP4", at(2026, 11, 23, 14, 30, 0), None, None, None),
    ("generic-dcim", b"DCIM/Camera/VID_20261123_143000_0001.mp4", at(2026, 11, 23, 14, 30, 0), None, None, 1),
    ("generic-dcim", b"DCIM/Camera/IMG20261123143000.jpg", at(2026, 11, 23, 14, 30, 0), None, None, None),
    ("generic-dcim", b"DCIM/100MEDIA/2026-11-23 14-30-00.mp4", at(2026, 11, 23, 14, 30, 0), None, None, None),
    ("generic-dcim", b"DCIM/100MEDIA/DSCF0001.MOV", None, None, None, None),
    ("generic-dcim", b"DCIM/100MEDIA/\xc2\xbc\xcf\xf1_20261123_143000.MP4", None, None, None, None),  # GBK
    ("generic-record", b"RECORD/20261123/143000_0001.MP4", at(2026, 11, 23, 14, 30, 0), None, None, 1),
    ("generic-record", b"RECORD/2026-11-23/235900.WAV", at(2026, 11, 23, 23, 59, 0), None, None, None),
    ("generic-record", b"REC/20261123143000.MP4", at(2026, 11, 23, 14, 30, 0), None, None, None),
    ("generic-record", b"RECORD/20261123_143000_0002_L.MP4", at(2026, 11, 23, 14, 30, 0), None, None, 2),
    ("generic-record", b"RECORD/20261123/256000.MP4", None, None, None, None),  # hour 25
]


@pytest.mark.parametrize(("profile", "path", "recorded_at", "device", "officer", "seq"), NAMES,
                         ids=[f"{row[0]}:{row[1]!r}" for row in NAMES])
def test_profile_name_parsing(profile: str, path: bytes, recorded_at: datetime | None,
                              device: str | None, officer: str | None, seq: int | None) -> None:
    info = PROFILES[profile].parse(path, ZONE)
    assert (info.recorded_at, info.device_id, info.officer_id, info.seq) == (
        recorded_at, device, officer, seq)


def test_every_profile_cites_its_source_and_has_patterns() -> None:
    assert set(PROFILES) == {"gat947", "novatek", "generic-dcim", "generic-record"}
    for profile in PROFILES.values():
        assert len(profile.source) > 40 and profile.patterns and profile.extensions


@pytest.mark.parametrize(("top", "files", "label", "expected"), [
    (("DCIM",), [b"DCIM/100MEDIA/3301234_010203_20261123143000_0001.MP4"], None, "gat947"),
    (("DCIM", "MISC"), [b"DCIM/100MEDIA/20261123_143000.MP4"], None, "generic-dcim"),
    (("CarDV",), [b"CarDV/Movie/2026_1123_143000_001.MP4"], None, "novatek"),
    (("RECORD",), [b"RECORD/20261123/143000_0001.MP4"], "NO NAME", "generic-record"),
    # a USB stick with documents, or media whose names say nothing: no profile
    (("工作文件", "photos"), ["工作文件/报告.docx".encode(), b"photos/a.jpg"], "KINGSTON", None),
    (("DCIM",), [b"DCIM/100MEDIA/DSCF0001.MOV"], None, None),
    ((), [], None, None),
])
def test_choose_profile(top: tuple[str, ...], files: list[bytes], label: str | None,
                        expected: str | None) -> None:
    match = choose_profile(list(PROFILES.values()), Seen(top, tuple(files), label), ZONE)
    assert (match.profile.name if match else None) == expected


def test_usb_id_or_label_identifies_a_camera_by_itself(tmp_path: Path) -> None:
    path = tmp_path / "unit.toml"
    path.write_text(
        'name = "unit-x"\ntitle = "X"\nsource = "our own recorders, checked 2026-11"\n'
        '[match]\nusb_ids = ["1D6B:0104"]\nlabel_pattern = "^DSJ-"\n'
        '[layout]\nextensions = ["mp4"]\n[[names]]\npattern = \'(?P<seq>\\d+)\\.mp4\'\n')
    profiles = [*PROFILES.values(), parse_profile(path.read_text(), path)]
    by_id = choose_profile(profiles, Seen((), (b"0001.mp4",), None, "1d6b:0104"), ZONE)
    by_label = choose_profile(profiles, Seen((), (), "DSJ-7", None), ZONE)
    assert by_id is not None and by_id.profile.name == "unit-x"
    assert by_label is not None and by_label.profile.name == "unit-x"


@pytest.mark.parametrize(("text", "message"), [
    ('title = "x"\nsource = "y"\n', "`name`"),
    ('name = "x"\ntitle = "x"\nsource = "y"\n[[names]]\npattern = "(?P<bogus>a)"\n', "unknown groups"),
    ('name = "x"\ntitle = "x"\nsource = "y"\n[[names]]\npattern = "(unclosed"\n', "names[0].pattern"),
    ('name = "x"\ntitle = "x"\nsource = "y"\ncolour = "red"\n', "unknown key"),
    ('name = "x"\ntitle = "x"\nsource = "y"\n[layout]\nextensions = "mp4"\n', "`extensions`"),
    ("name = ", "not valid TOML"),
    ('name = "x"\ntitle = "x"\nsource = "y"\n[clock]\nfile = "../etc/x"\nformat = "%Y"\nsource = "z"\n',
     "plain file name"),
    ('name = "x"\ntitle = "x"\nsource = "y"\n[clock]\nfile = "TIMESET.TXT"\n', "`format`"),
])
def test_bad_profile_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, path)
    assert str(path) in str(caught.value) and message in str(caught.value)
