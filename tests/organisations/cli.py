"""Running management commands in tests as an operator would, exit status included."""

from django.core.management import ManagementUtility
from django.db import connections


def run_command(monkeypatch, capsys, *argv: str) -> tuple[int, list[str], str]:
    """`manage.py <argv>` in-process: (exit status, stdout lines, stderr)."""
    # run_from_argv closes all connections at the end, which would break the test
    # transaction; the test database is rolled back by pytest-django anyway.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    try:
        ManagementUtility(["manage.py", *argv]).execute()
        status = 0
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out.splitlines(), err
