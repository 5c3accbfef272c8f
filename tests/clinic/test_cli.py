"""``telerehab db upgrade|downgrade|current`` and ``telerehab clinic create-admin``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from services.cli import main


def test_db_commands_and_create_admin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///clinic.db")
    monkeypatch.setenv("TELEREHAB_STATE_DIR", str(tmp_path / "state"))
    assert main(["db", "current"]) == 0
    assert "base (empty)" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "revision 0009" in capsys.readouterr().out
    assert (tmp_path / "state" / "clinic.db").exists()  # relative path → the state dir

    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["clinic", "create-admin", "--email", "Boss@Clinic.test"]) == 0
    assert "admin 1 created" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["clinic", "create-admin", "--email", "boss@clinic.test"]) == 1
    assert "already has an account" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["clinic", "create-admin", "--email", "other@clinic.test"]) == 1
    assert "at least 10" in capsys.readouterr().err

    assert main(["db", "downgrade", "base"]) == 0
    assert "base (empty)" in capsys.readouterr().out
