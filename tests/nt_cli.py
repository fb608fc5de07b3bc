"""``nt ARGS`` run in the test's own process: the exit code the console script would exit with."""

from __future__ import annotations

from naturalthoughts.cli import main


def nt(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
