"""Asterisk on another host (or in a container) mounts the shared recordings storage under
its own path: ``HOTLINE_ASTERISK_RECORDINGS_DIR``. The prompts it plays, the messages it
records and the operator conversations it records (MixMonitor) are sent under that path;
the record keeps the path as the hotline host sees it."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

import pytest

from ivr.agi.channel import AGIChannel
from ivr.agi.protocol import AGIReply
from ivr.asterisk.chroot import held_by_a_session
from ivr.settings import Settings


class Session:
    """Records the commands; answers each like Asterisk would for a quiet caller."""

    hung_up = False

    def __init__(self) -> None:
        self.sent: list[tuple[str, ...]] = []

    async def command(self, cmd: str, *args: str, **kw: Any) -> AGIReply:
        self.sent.append((cmd, *args))
        if cmd == "RECORD FILE":
            return AGIReply(200, "0", "timeout", endpos=8000)
        return AGIReply(200, "0")


def settings(monkeypatch: pytest.MonkeyPatch, recordings: Path, remote: str | None) -> Settings:
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(recordings))
    if remote is None:
        monkeypatch.delenv("HOTLINE_ASTERISK_RECORDINGS_DIR", raising=False)
    else:
        monkeypatch.setenv("HOTLINE_ASTERISK_RECORDINGS_DIR", remote)
    return Settings.from_env()


async def test_paths_are_sent_as_asterisk_sees_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local = tmp_path / "recordings"
    s = settings(monkeypatch, local, "/srv/hotline/recordings")
    session = Session()
    ch = AGIChannel(  # type: ignore[arg-type]
        session, paths=s.for_asterisk, recordings=s.recording_for_asterisk
    )
    await ch.play(f"{local}/prompts/welcome")
    # recordings are named relative to the recordings root, as the records keep them
    result = await ch.record("messages/20261203/1.1", "wav", "#", 60, 5)
    await ch.start_recording("calls/20261203/1.1.wav")
    await ch.play("digits/5")  # Asterisk's own sounds stay as they are
    assert session.sent[0] == ("STREAM FILE", "/srv/hotline/recordings/prompts/welcome", "")
    assert session.sent[1][:2] == ("RECORD FILE", "/srv/hotline/recordings/messages/20261203/1.1")
    assert session.sent[2] == (
        "EXEC",
        "MixMonitor",
        "/srv/hotline/recordings/calls/20261203/1.1.wav,b",
    )
    assert session.sent[3] == ("STREAM FILE", "digits/5", "")
    assert result.path == "messages/20261203/1.1.wav"  # the record: relative to the root


def test_without_the_setting_paths_are_unchanged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s = settings(monkeypatch, tmp_path / "recordings", None)
    path = f"{tmp_path}/recordings/prompts/welcome"
    assert s.for_asterisk(path) == path
    other = settings(monkeypatch, tmp_path / "recordings", "/srv/r")
    assert other.for_asterisk(f"{tmp_path}/recordings-old/x") == f"{tmp_path}/recordings-old/x"


def test_a_recording_named_in_a_record_is_found_under_the_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    s = settings(monkeypatch, tmp_path / "recordings", None)
    root = (tmp_path / "recordings").resolve()
    assert s.recording_for_asterisk("calls/20261203/1.1.wav") == f"{root}/calls/20261203/1.1.wav"
    assert s.local_path("messages/20261203/1.1.wav") == f"{root}/messages/20261203/1.1.wav"
    remote = settings(monkeypatch, tmp_path / "recordings", "/srv/r")
    assert (
        remote.recording_for_asterisk("calls/20261203/1.1.wav") == "/srv/r/calls/20261203/1.1.wav"
    )


def test_a_recordings_day_folder_is_made_again_when_it_went(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The day's folder is made for RECORD FILE (which makes none); made once, it is only
    looked at, and made again should it be removed while the server runs."""
    s = settings(monkeypatch, tmp_path / "recordings", None)
    day = tmp_path / "recordings" / "messages" / "20261203"
    s.recording_for_asterisk("messages/20261203/1.1.wav")
    assert day.is_dir()
    s.recording_for_asterisk("messages/20261203/2.1.wav")
    day.rmdir()
    s.recording_for_asterisk("messages/20261203/3.1.wav")
    assert day.is_dir()


def test_recordings_are_filed_under_the_beijing_date(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from ivr.engine import record

    # 2026-12-03 23:30 UTC is 07:30 on 12-04 in Beijing, whatever the host's clock says
    at = dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(record, "_now", lambda tz=None: at.astimezone(tz))
    assert record.recording_name("calls", "1.1") == "calls/20261204/1.1"


def test_a_root_held_by_a_test_session(tmp_path: Path) -> None:
    """tests/e2e lock ``<root>.lock``: a root is held while a lock is taken on it, and only then."""
    root = tmp_path / "asterisk-root"
    assert not held_by_a_session(root)  # no lock file at all
    with open(f"{root}.lock", "w") as lock:
        assert not held_by_a_session(root)  # the file, nobody's lock
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert held_by_a_session(root)
        fcntl.flock(lock, fcntl.LOCK_UN)
        assert not held_by_a_session(root)
