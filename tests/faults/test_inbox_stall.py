"""The inbox watcher hands each settled camera folder on in its own thread (issue 22,
stalls): a folder whose handling hangs (a card reader's FUSE helper stuck on stat, which
`Daemon.on_folder` does first) holds only itself, never the other inbox folders."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from docks.detect import InboxWatcher


def test_a_hanging_folder_does_not_hold_the_others(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "frozen").mkdir(parents=True)
    release = threading.Event()
    handed: list[str] = []
    good_seen = threading.Event()

    def on_folder(path: Path) -> None:
        handed.append(path.name)
        if path.name == "frozen":
            release.wait(60)  # what a stat on a hung FUSE mount does
        else:
            good_seen.set()

    watcher = InboxWatcher([inbox], on_folder, settle_seconds=0.2)
    watcher.start()
    try:
        deadline = time.monotonic() + 30
        while "frozen" not in handed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "frozen" in handed
        (inbox / "good").mkdir()
        (inbox / "good" / "CLIP.MP4").write_bytes(b"x")
        assert good_seen.wait(30), handed  # handed on while "frozen" still hangs
        assert not release.is_set()
    finally:
        release.set()
        watcher.stop()
