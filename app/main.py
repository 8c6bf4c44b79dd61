"""Entry point of the `nitrate` command: a CLI command, or the workstation."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from app.cli import COMMANDS, run_cli


def _wants_cli(argv: Sequence[str]) -> bool:
    return bool(argv) and (argv[0] in COMMANDS or argv[0].startswith("-"))


def main(argv: Sequence[str] | None = None) -> int:
    """`nitrate COMMAND …` runs the CLI; `nitrate [PATH]` opens the workstation."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(os.environ.get("NITRATE_DEBUG"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="nitrate: %(levelname)s: %(message)s",
    )
    try:
        if _wants_cli(argv):
            return run_cli(argv)
        if len(argv) > 1:
            print("nitrate: give at most one PATH to open (see nitrate --help)", file=sys.stderr)
            return 2
        from app.gui import run_gui

        return run_gui(argv[0] if argv else None)
    except KeyboardInterrupt:
        print("nitrate: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # a bug: still one line, details on request
        if debug:
            raise
        print(f"nitrate: internal error: {type(exc).__name__}: {exc} "
              "(set NITRATE_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
