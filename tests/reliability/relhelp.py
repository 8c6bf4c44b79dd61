"""Helpers of the reliability battery: the CLI's outcome, a real `nitrate` process, and
the check that a refusal is one clear line and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    """Exit code and what the command printed."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def nitrate_process(*args: str | Path, timeout: float = 120,
                    **popen: object) -> subprocess.CompletedProcess[str]:
    """Run `python -m app.main ARGS` as its own process (raises TimeoutExpired on a hang)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "app.main", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
                          **popen)  # type: ignore[call-overload]


def assert_refused(result: Outcome, *needles: str, output: Path | None = None) -> None:
    """Exit code 1, exactly one line on stderr holding each needle, no traceback, and
    nothing under the output's name nor any temporary file beside it."""
    assert result.code == 1, (result.code, result.err)
    assert "Traceback" not in result.err
    assert len(result.err_lines) == 1, result.err
    for needle in needles:
        assert needle in result.err_lines[0], result.err
    if output is not None:
        assert not output.exists()
        assert [p.name for p in output.parent.iterdir() if "nitrate-partial" in p.name] == []
