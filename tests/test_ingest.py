"""The ingest pipeline against real files: happy path, resume, and every bad input."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from evidence_station.check import check_station
from evidence_station.errors import StoreFullError
from evidence_station.ingest.model import SessionResult, SilentReporter
from evidence_station.ingest.pipeline import ingest_source
from evidence_station.station import Station
from tests.conftest import tree_snapshot

Opener = Callable[..., Station]


def run(open_station: Opener, source: Path, **kwargs: object) -> SessionResult:
    with open_station() as station:
        return ingest_source(station, source, actor="tester", **kwargs)  # type: ignore[arg-type]


def events_of(open_station: Opener, kind: str) -> list[dict[str, object]]:
    with open_station(writable=False) as station:
        return [dict(e.fields) for e in station.ledger.events() if e.type == kind]


def assert_check_passes(open_station: Opener, verify_data: bool = True) -> None:
    with open_station(writable=False) as station:
        report = check_station(station, verify_data=verify_data)
    assert report.ok, [str(f) for f in report.findings]


def test_ingest_camera_then_resume_without_duplicates(open_station: Opener, camera: Path) -> None:
    before = tree_snapshot(camera)
    result = run(open_station, camera)
    assert result.safe_to_unplug and result.count("committed") == 3
    assert result.device_id == "CAM12345" and result.officer_id == "654321"  # from the names
    assert tree_snapshot(camera) == before  # the source is never written to
    with open_station(writable=False) as station:
        clips = station.catalog.footage.clips()
        for clip in clips:
            stored = station.store.path_for(clip["sha256"])
            assert stored.stat().st_mode & 0o777 == 0o444
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == clip["sha256"]
        assert clips[0]["recorded_at"] == "2026-11-21T08:30:00+08:00"
    again = run(open_station, camera)
    assert again.count("already") == 3 and again.count("committed") == 0
    assert len(events_of(open_station, "ingest")) == 3
    assert_check_passes(open_station)


def test_duplicate_content_and_duplicate_names(open_station: Opener, tmp_path: Path,
                                               media_cache: Path) -> None:
    root = tmp_path / "cam"
    for folder in ("DCIM/100MEDIA", "DCIM/101MEDIA"):
        (root / folder).mkdir(parents=True)
    shutil.copyfile(media_cache / "clip0.mp4", root / "DCIM/100MEDIA/REC0001.MP4")
    shutil.copyfile(media_cache / "clip0.mp4", root / "DCIM/100MEDIA/REC0002.MP4")  # same bytes
    shutil.copyfile(media_cache / "clip1.mp4", root / "DCIM/101MEDIA/REC0001.MP4")  # same name
    result = run(open_station, root, device_id="DEV1")
    assert sorted(o.status for o in result.outcomes) == ["committed", "committed", "duplicate"]
    with open_station(writable=False) as station:
        assert len(station.catalog.footage.clips()) == 2
        assert len(list(station.store.iter_objects())) == 2  # stored once
        clip = station.catalog.footage.find_clip(hashlib.sha256(
            (media_cache / "clip0.mp4").read_bytes()).hexdigest())[0]
        paths = [s["source_path"] for s in station.catalog.footage.sources_of(clip["id"])]
        assert paths == ["DCIM/100MEDIA/REC0001.MP4", "DCIM/100MEDIA/REC0002.MP4"]
    assert_check_passes(open_station)


def test_zero_length_and_truncated_media_flagged_and_kept(open_station: Opener, tmp_path: Path,
                                                          media_cache: Path) -> None:
    root = tmp_path / "cam"
    root.mkdir()
    (root / "EMPTY.MP4").write_bytes(b"")
    whole = (media_cache / "clip2.mp4").read_bytes()
    (root / "CUT.MP4").write_bytes(whole[: len(whole) // 2])
    (root / "NOMOOV.MP4").write_bytes(whole[:32])  # only ftyp survived
    result = run(open_station, root, device_id="DEV1")
    flags = {o.item.display: {f.kind for f in o.flags} for o in result.outcomes}
    assert flags["EMPTY.MP4"] == {"empty_file"}
    assert "media_truncated" in flags["CUT.MP4"]
    assert "media_truncated" in flags["NOMOOV.MP4"]
    with open_station(writable=False) as station:  # preserved exactly, flags in the catalog
        cut = hashlib.sha256(whole[: len(whole) // 2]).hexdigest()
        assert station.store.path_for(cut).read_bytes() == whole[: len(whole) // 2]
        flagged = station.catalog.footage.clips(flagged=True)
        assert len(flagged) == 3
        assert any("moov" in f["detail"] for c in flagged for f in c["flags"])


def test_symlinks_and_path_tricks_are_never_followed(open_station: Opener, tmp_path: Path,
                                                     media_cache: Path) -> None:
    secret = tmp_path / "outside-secret.MP4"
    secret.write_bytes(b"not camera data")
    root = tmp_path / "cam"
    (root / "DCIM").mkdir(parents=True)
    shutil.copyfile(media_cache / "clip0.mp4", root / "DCIM/REAL.MP4")
    os.symlink("/etc/passwd", root / "DCIM/PASSWD.MP4")
    os.symlink("../../outside-secret.MP4", root / "DCIM/UP.MP4")
    os.symlink("/", root / "DCIM/ROOTDIR")
    os.symlink("..", root / "DCIM/PARENT")
    before = tree_snapshot(root)
    result = run(open_station, root, device_id="DEV1")
    assert [o.item.display for o in result.outcomes] == ["DCIM/REAL.MP4"]
    reasons = {p.path: p.reason for p in result.skipped}
    assert reasons == {"DCIM/PASSWD.MP4": "symlink", "DCIM/UP.MP4": "symlink",
                       "DCIM/ROOTDIR": "symlink", "DCIM/PARENT": "symlink"}
    with open_station(writable=False) as station:
        stored = {p.name for p in station.store.iter_objects()}
    assert hashlib.sha256(secret.read_bytes()).hexdigest() not in stored
    assert tree_snapshot(root) == before
    end = events_of(open_station, "session.end")[-1]
    assert {p["reason"] for p in end["problems"]} == {"symlink"}  # type: ignore[index, union-attr]


def test_gbk_file_names_kept_exactly_and_shown_readably(open_station: Opener, tmp_path: Path,
                                                        media_cache: Path) -> None:
    raw_name = "执法记录_张三.MP4".encode("gbk")
    root = tmp_path / "cam"
    root.mkdir()
    raw_path = os.path.join(os.fsencode(root), raw_name)
    shutil.copyfile(media_cache / "clip1.mp4", raw_path)
    result = run(open_station, root, device_id="DEV1")
    assert result.count("committed") == 1
    event = events_of(open_station, "ingest")[0]
    assert base64.b64decode(str(event["source_path_b64"])) == raw_name
    assert event["source_path"] == "执法记录_张三.MP4"
    assert event["source_encoding"] == "gbk"
    assert {f["kind"] for f in event["flags"]} == {"non_utf8_name"}  # type: ignore[index, union-attr]
    assert run(open_station, root, device_id="DEV1").count("already") == 1


@pytest.mark.parametrize(("mtime", "kind"), [(0, "file_time_too_early"),
                                             (4102444800, "file_time_in_future")])
def test_clock_in_1970_or_future_recorded_and_flagged(open_station: Opener, tmp_path: Path,
                                                      media_cache: Path, mtime: int,
                                                      kind: str) -> None:
    root = tmp_path / "cam"
    root.mkdir()
    shutil.copyfile(media_cache / "clip3.mp4", root / "19700101_000005.MP4")
    os.utime(root / "19700101_000005.MP4", (mtime, mtime))
    result = run(open_station, root, device_id="DEV1")
    kinds = {f.kind for f in result.outcomes[0].flags}
    assert kinds == {kind, "name_time_too_early"}
    event = events_of(open_station, "ingest")[0]
    assert event["mtime_ns"] == mtime * 10**9  # recorded as found
    assert str(event["recorded_at"]).startswith("1970-01-01T00:00:05")


@pytest.mark.root
def test_store_full_before_copy_refuses_cleanly(tmp_path: Path, tmpfs: Callable[[int], Path],
                                                media_cache: Path) -> None:
    from evidence_station.config import Config
    from evidence_station.station import init_station

    # a station fits (its catalog is ~0.3 MiB, more while its WAL is written), the clip does not
    data = tmpfs(2 * 1024 * 1024) / "data"
    init_station(data, "small", "tester")
    root = tmp_path / "cam"
    root.mkdir()
    (root / "BIG.MP4").write_bytes(os.urandom(3 * 1024 * 1024))
    before = tree_snapshot(root)
    with Station.open(data, Config.model_validate({"ingest": {"reserve_mib": 0}}),
                      writable=True) as station:
        result = ingest_source(station, root, device_id="DEV1", actor="tester")
        assert isinstance(result.error, StoreFullError)
        assert "BIG.MP4" in result.error.render("en")
        assert result.state == "interrupted" and not result.safe_to_unplug
        assert list(station.store.tmp.iterdir()) == []
        assert station.catalog.footage.clips() == []
        report = check_station(station)
    assert report.ok
    assert tree_snapshot(root) == before


@pytest.mark.root
def test_disk_full_mid_write_leaves_nothing_half_written(tmp_path: Path,
                                                         tmpfs: Callable[[int], Path]) -> None:
    """Another writer fills the disk while we copy: a real ENOSPC from write()."""
    from evidence_station.config import Config
    from evidence_station.station import init_station

    mount = tmpfs(24 * 1024 * 1024)
    data = mount / "data"
    init_station(data, "small", "tester")
    root = tmp_path / "cam"
    root.mkdir()
    (root / "A.MP4").write_bytes(os.urandom(16 * 1024 * 1024))
    before = tree_snapshot(root)

    class FillDiskReporter(SilentReporter):
        filled = False

        def advanced(self, count: int) -> None:
            if not self.filled:  # after the first chunk, someone else takes the space
                self.filled = True
                with open(mount / "filler", "wb") as handle:
                    try:
                        while True:
                            handle.write(b"\0" * 1024 * 1024)
                    except OSError:
                        pass

    with Station.open(data, Config.model_validate({"ingest": {"reserve_mib": 0}}),
                      writable=True) as station:
        result = ingest_source(station, root, device_id="DEV1", actor="tester",
                               reporter=FillDiskReporter())
        os.unlink(mount / "filler")
        assert isinstance(result.error, StoreFullError)
        assert list(station.store.tmp.iterdir()) == []  # temp removed
        assert list(station.store.iter_objects()) == []
        assert station.catalog.footage.clips() == []  # nothing committed
        assert result.outcomes[0].problem is not None
        report = check_station(station)
    assert report.ok
    assert tree_snapshot(root) == before


@pytest.mark.slow
def test_unreadable_sectors_fail_that_file_only(open_station: Opener, camera: Path,
                                                fuse_mount: Callable[..., tuple[Path, object]]
                                                ) -> None:
    names = sorted(p.name for p in (camera / "DCIM/100MEDIA").iterdir())
    bad = f"DCIM/100MEDIA/{names[1]}"
    mounted, _ = fuse_mount(camera, "--eio", f"{bad}:4096:8192")
    result = run(open_station, mounted, device_id="CAM12345")
    statuses = {o.item.display: o.status for o in result.outcomes}
    assert statuses[bad] == "failed"
    assert [s for s in statuses.values() if s == "committed"] == ["committed", "committed"]
    problem = next(o.problem for o in result.outcomes if o.problem)
    assert problem is not None and problem.reason == "unreadable"
    assert "byte 0" in problem.detail or "byte 4096" in problem.detail
    assert "Input/output error" in problem.detail and "card reader" in problem.detail
    assert not result.safe_to_unplug
    with open_station(writable=False) as station:
        assert list(station.store.tmp.iterdir()) == []
    end = events_of(open_station, "session.end")[-1]
    assert end["counts"]["failed"] == 1  # type: ignore[index]
    assert_check_passes(open_station)


@pytest.mark.slow
def test_source_disappearing_mid_copy_interrupts_then_resumes(
        open_station: Opener, tmp_path: Path, media_cache: Path,
        fuse_mount: Callable[..., tuple[Path, object]]) -> None:
    root = tmp_path / "cam"
    root.mkdir()
    sizes = []
    for number in range(4):
        data = os.urandom(600_000)
        (root / f"REC{number:04d}.MP4").write_bytes(data)
        sizes.append(len(data))
    # The FUSE process exits after serving ~2.5 files: like pulling the cable.
    mounted, _ = fuse_mount(root, "--die-after", str(sizes[0] + sizes[1] + 300_000))
    first = run(open_station, mounted, device_id="DEV9")
    assert first.state == "interrupted"
    assert first.count("committed") == 2
    assert "disappeared" in (first.reason or "")
    with open_station(writable=False) as station:
        assert list(station.store.tmp.iterdir()) == []
        assert station.catalog.docking.sessions()[-1]["state"] == "interrupted"
    second = run(open_station, root, device_id="DEV9")  # docked again
    assert second.count("already") == 2 and second.count("committed") == 2
    assert len(events_of(open_station, "ingest")) == 4
    assert_check_passes(open_station)
