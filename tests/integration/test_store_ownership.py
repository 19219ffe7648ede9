"""newswatch marks its SQLite files and refuses another program's, touching nothing."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from watchers.errors import StorageError
from watchers.store import APPLICATION_ID, SqliteStorage


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_a_new_database_is_marked_as_newswatch(tmp_path: Path) -> None:
    SqliteStorage(tmp_path / "nw.db").close()
    db = sqlite3.connect(tmp_path / "nw.db")
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    db.close()
    SqliteStorage(tmp_path / "nw.db").close()  # and opens again


def test_another_programs_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute("INSERT INTO notes (body) VALUES ('buy milk')")
    db.commit()
    db.close()
    before = _digest(path)

    with pytest.raises(StorageError) as e:
        SqliteStorage(path)
    assert "is not a newswatch database" in str(e.value)
    assert str(path) in str(e.value) and "notes" in str(e.value)
    assert _digest(path) == before
    assert _leftovers(path) == []  # no -wal or -shm file either


def test_a_database_marked_by_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id=1234")
    db.close()
    before = _digest(path)
    with pytest.raises(StorageError) as e:
        SqliteStorage(path)
    assert "belongs to another program" in str(e.value)
    assert _digest(path) == before


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newswatch.db"
    path.write_text("these are my notes, not a database\n" * 100)
    before = _digest(path)
    with pytest.raises(StorageError) as e:
        SqliteStorage(path)
    assert "not a newswatch database" in str(e.value) or "not a database" in str(e.value)
    assert _digest(path) == before


def test_a_database_of_an_earlier_newswatch_is_adopted(tmp_path: Path) -> None:
    """Files written before the mark existed carry newswatch's schema: they are stamped."""
    path = tmp_path / "nw.db"
    SqliteStorage(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id=0")
    db.close()
    SqliteStorage(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    db.close()
