"""Fixtures of the reliability battery: the CLI run in-process (fast; an escaping
exception, which a user would see as a traceback, fails the test)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from relhelp import Outcome

from app.cli import run_cli


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Outcome]:
    """``cli("probe", path)``: run the `nitrate` CLI in this process. An exception escaping
    it (what a user would see as a traceback) fails the test."""

    def run(*args: str | Path) -> Outcome:
        capsys.readouterr()
        code = run_cli([str(a) for a in args])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run
