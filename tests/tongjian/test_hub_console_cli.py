"""``tongjian hub console-staff``: issue prints a password once (only its hash is kept), list shows
the people and roles, revoke removes them; bad input is one line and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.console.staff_directory import StaffDirectory
from hub.store import HubStore
from tongjian.cli import main


def test_issue_list_and_revoke_a_console_person(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    assert main(["hub", "migrate", "--database-url", url]) == 0
    capsys.readouterr()
    assert (
        main(["hub", "console-staff", "issue", "wang.fang", "--role", "reviewer", "--database-url", url]) == 0
    )
    password = capsys.readouterr().out.strip()
    assert len(password) >= 16
    store = HubStore(url)
    try:
        member = StaffDirectory(store.database).authenticate("wang.fang", password)
        assert member is not None and member.role.value == "reviewer"
    finally:
        store.dispose()
    assert main(["hub", "console-staff", "list", "--database-url", url]) == 0
    assert "wang.fang\treviewer" in capsys.readouterr().out
    assert main(["hub", "console-staff", "revoke", "wang.fang", "--database-url", url]) == 0
    assert main(["hub", "console-staff", "revoke", "wang.fang", "--database-url", url]) == 2
    assert "no console person 'wang.fang'" in capsys.readouterr().err
    assert main(["hub", "console-staff", "issue", "x y", "--role", "admin", "--database-url", url]) == 2
    with pytest.raises(SystemExit):
        main(["hub", "console-staff", "issue", "someone", "--role", "emperor", "--database-url", url])
