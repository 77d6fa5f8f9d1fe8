"""Outputs written whole or not at all, refused before any work when they cannot be."""

from __future__ import annotations

from pathlib import Path

import pytest

from panne.output_file import OutputError, PendingFile


def test_a_pending_file_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "labels.json"
    out.write_text("old")
    with PendingFile(out, "--labels") as pending:
        assert out.read_text() == "old"  # untouched until the end
        pending.commit([b"ne", b"w"])
    assert out.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.json"]
    with pytest.raises(KeyboardInterrupt), PendingFile(out, "--labels"):
        assert len(list(tmp_path.iterdir())) == 2  # the temporary, beside it
        raise KeyboardInterrupt
    assert out.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["labels.json"]


def test_a_pending_file_that_cannot_be_written_is_refused_on_entering(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"^--labels: is a directory, not a file$"):
        PendingFile(tmp_path, "--labels").__enter__()
    missing = tmp_path / "no" / "labels.json"
    with pytest.raises(OutputError, match=r"cannot be written \(No such file or directory\)$"):
        PendingFile(missing).__enter__()
    assert list(tmp_path.iterdir()) == []
