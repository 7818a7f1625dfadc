"""Whole-file writes: a reader sees the old file or the new one, and a failed write leaves no trace."""

from __future__ import annotations

import os
import threading

import pytest

from imgkit._files import write_atomically


def test_readers_never_see_a_partial_file_while_writers_race(tmp_path):
    path = tmp_path / "index.html"
    contents = [(f"<p>{i}</p>" * 20_000).encode() for i in range(4)]  # 4 distinct ~200 kB documents
    write_atomically(path, contents[0])
    seen, stop = set(), threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(path.read_bytes())

    def write(data: bytes) -> None:
        for _ in range(25):
            write_atomically(path, data)

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(c,)) for c in contents]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert seen <= set(contents) and path.read_bytes() in contents
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]  # no temporary file left behind


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path, monkeypatch):
    path = write_atomically(tmp_path / "run.json", '{"status": "ok"}\n', fsync=True)

    def broken_write(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", broken_write)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, '{"status": "failed"}\n')
    monkeypatch.undo()
    assert path.read_text() == '{"status": "ok"}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
