"""Proxies: made in the background (cancellable), keyed by the source's identity, the
same frames as the source at half size, and used only at preview scales up to 0.5."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine.media import open_reader, probe
from engine.media.proxy import PROXY_SCALE, find_proxy, make_proxy, open_proxy
from engine.synth.index_clip import read_index, write_index_clip


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return write_index_clip(tmp_path / "reel.mp4", "h264", width=160, height=120, frames=30,
                            gop=30)


def test_proxy_has_every_frame_at_half_size(source: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    proxy = make_proxy(source, tmp_path / "cache", progress=lambda done, total: seen.append(done))
    assert proxy is not None and find_proxy(source, tmp_path / "cache") == proxy
    assert seen[-1] == 30
    info = probe(source)
    with open_proxy(source, 0.5, info, tmp_path / "cache") as reader:
        assert (reader.info.width, reader.info.height) == (80, 60)
        for i in (29, 3, 17, 0):  # random access by the source's indices
            assert read_index(reader.read(i)) == i
        with open_reader(source) as full:
            import cv2

            want = cv2.resize(full.read(17), (80, 60), interpolation=cv2.INTER_AREA)
        assert np.abs(reader.read(17) - want).mean() < 0.03
    assert open_proxy(source, 1.0, info, tmp_path / "cache") is None  # needs more pixels
    assert PROXY_SCALE == 0.5


def test_cancelled_proxy_leaves_nothing(source: Path, tmp_path: Path) -> None:
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    assert make_proxy(source, tmp_path / "cache", cancel=cancel) is None
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_changed_source_does_not_use_the_old_proxy(source: Path, tmp_path: Path) -> None:
    assert make_proxy(source, tmp_path / "cache") is not None
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert find_proxy(source, tmp_path / "cache") is None
