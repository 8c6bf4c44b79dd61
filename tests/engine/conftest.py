"""Shared fixtures for engine tests: generated index clips (cached per session), footage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.synth.index_clip import write_index_clip, write_index_sequence

FOOTAGE = Path(__file__).resolve().parents[2].parent / "shared" / "footage"


@pytest.fixture(scope="session")
def index_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``index_clip("clip.mp4", codec="h264", frames=30, …)`` → path of a clip
    whose frames encode their index (see engine.synth.index_clip). Clips with the same
    arguments are generated once per session."""
    folder = tmp_path_factory.mktemp("index_clips")
    made: dict[tuple[Any, ...], Path] = {}

    def make(name: str, **kwargs: Any) -> Path:
        key = (name, tuple(sorted(kwargs.items())))
        if key not in made:
            made[key] = write_index_clip(folder / f"{len(made)}_{name}", **kwargs)
        return made[key]

    return make


@pytest.fixture(scope="session")
def index_sequence(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``index_sequence("png16", frames=8, …)`` → folder of an index-encoded
    image sequence (files frame_000001.ext …), generated once per session."""
    folder = tmp_path_factory.mktemp("index_sequences")
    made: dict[tuple[Any, ...], Path] = {}

    def make(fmt: str, **kwargs: Any) -> Path:
        key = (fmt, tuple(sorted(kwargs.items())))
        if key not in made:
            target = folder / f"{len(made)}_{fmt}"
            write_index_sequence(target, fmt, **kwargs)
            made[key] = target
        return made[key]

    return make


@pytest.fixture(scope="session")
def footage() -> Path:
    """The shared footage folder; skips the test when it is absent (a fresh clone)."""
    if not FOOTAGE.is_dir():
        pytest.skip(f"shared footage not found at {FOOTAGE}")
    return FOOTAGE
