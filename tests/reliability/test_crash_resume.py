"""Crashes, resumes and write failures during an export.

A real `nitrate` process is killed with SIGKILL while it writes (found by polling what it
has written, never by sleeping); nothing may appear under the final name, and
`--resume` must then give exactly the frames of an uninterrupted export."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from relhelp import ROOT, nitrate_process

from engine.errors import MediaError, RenderCancelled
from engine.framing import Framing
from engine.media import open_reader, output_format_for
from engine.pipeline import ShotPlan
from engine.project.recipe import Recipe
from engine.render import CancelToken, RenderJob, render
from engine.render.resume import SEGMENT_FRAMES, render_resumable, work_folder
from engine.synth.index_clip import read_index, write_index_clip

FRAMES = 240


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough (240 frames at 320x180) that an export runs for a few seconds."""
    folder = tmp_path_factory.mktemp("crash")
    return write_index_clip(folder / "reel.mp4", "h264", width=320, height=180,
                            frames=FRAMES, gop=24, audio=True)


def _hashes(path: Path) -> list[str]:
    with open_reader(path) as reader:
        return [hashlib.sha1(f.tobytes()).hexdigest() for f in reader.frames()]


def _start(*args: str | Path) -> subprocess.Popen[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen([sys.executable, "-m", "app.main", *map(str, args)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool],
               timeout: float = 90) -> None:
    """SIGKILL `proc` as soon as `ready()` holds; fail if it ends or times out first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"export ended before it could be killed: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("export never started writing")
        time.sleep(0.005)  # polling interval, not a wait for the race to settle
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


def test_kill_during_export_leaves_nothing_under_the_final_name(long_clip: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    proc = _start("restore", long_clip, "-o", out, "--shots", "none", "--ops", "sharpen")

    def writing() -> bool:
        # The temporary output grows while frames are written (ProRes: ~10 KB a frame).
        return any(p.stat().st_size > 200_000 for p in tmp_path.glob(".out.nitrate-partial*"))

    _kill_when(proc, writing)
    assert not out.exists()
    # The next export of the same output works and removes the killed run's leftover.
    result = nitrate_process("restore", long_clip, "-o", out, "--end", "9", "--shots", "none")
    assert result.returncode == 0, result.stderr
    with open_reader(out) as reader:
        assert [read_index(f) for f in reader.frames()] == list(range(10))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mov"]


@pytest.mark.parametrize("name", ["out.mp4"])  # long-GOP: the hardest to join
def test_resume_after_kill_gives_the_uninterrupted_frames(long_clip: Path, tmp_path: Path,
                                                          name: str) -> None:
    out = tmp_path / name
    work = work_folder(out, output_format_for(out))
    args = ("restore", long_clip, "-o", out, "--shots", "none", "--ops", "sharpen", "--resume")
    proc = _start(*args)
    _kill_when(proc, lambda: (work / f"seg_00001{out.suffix}").exists())
    assert not out.exists()
    kept = len(list(work.glob("seg_?????" + out.suffix)))
    assert kept >= 2

    result = nitrate_process(*args)
    assert result.returncode == 0, result.stderr
    assert f"resuming {out}: {kept * SEGMENT_FRAMES} of {FRAMES} frames" in result.stderr
    assert not work.exists()

    reference = tmp_path / f"reference{out.suffix}"
    plan = ShotPlan.single(FRAMES, Recipe.from_ops(["sharpen"]))
    for _ in render_resumable(RenderJob(long_clip, reference, plan)):
        pass
    assert _hashes(out) == _hashes(reference)
    with open_reader(out) as reader:
        assert reader.info.frame_count == FRAMES and len(reader.info.audio) == 1
        assert abs(reader.info.audio[0].duration - FRAMES / 25) < 0.05


def test_resume_of_a_different_job_is_refused(long_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    plan = ShotPlan.single(FRAMES, Recipe())
    cancel = CancelToken()
    with pytest.raises(RenderCancelled, match="run again with --resume"):
        for progress in render_resumable(RenderJob(long_clip, out, plan, end=99), cancel):
            if progress.done == SEGMENT_FRAMES + 3:
                cancel.cancel()
    other = ShotPlan.single(FRAMES, Recipe.from_ops(["sharpen"]))
    with pytest.raises(MediaError, match="partial export of a different job"):
        next(iter(render_resumable(RenderJob(long_clip, out, other, end=99))))
    with pytest.raises(MediaError, match="partial export of a different job"):
        next(iter(render_resumable(RenderJob(long_clip, out, plan, end=98))))
    framed = RenderJob(long_clip, out, plan, end=99, framing=Framing(crop=(4, 4, 4, 4)))
    with pytest.raises(MediaError, match="partial export of a different job"):
        next(iter(render_resumable(framed)))
    with pytest.raises(MediaError, match="partial export of a different job"):
        next(iter(render_resumable(RenderJob(long_clip, out, plan, end=99, burn_in=True))))
    assert not out.exists()
    # The same job continues where it stopped.
    progress = list(render_resumable(RenderJob(long_clip, out, plan, end=99)))
    assert progress[0].done == SEGMENT_FRAMES and progress[-1].finished
    assert [read_index(f) for f in open_reader(out).frames()] == list(range(100))


@pytest.mark.parametrize("target", ["frames", "scan_%04d.png"])
def test_image_sequence_resume_skips_finished_frames(long_clip: Path, tmp_path: Path,
                                                     target: str) -> None:
    out = tmp_path / target
    plan = ShotPlan.single(FRAMES, Recipe())
    cancel = CancelToken()
    with pytest.raises(RenderCancelled):
        for progress in render_resumable(RenderJob(long_clip, out, plan, end=11, codec="png"),
                                         cancel):
            if progress.done == 5:
                cancel.cancel()
    folder = out if "%" not in target else out.parent
    assert not (folder / "frame_000000.png").exists() and not (tmp_path / "scan_0000.png").exists()
    progress = list(render_resumable(RenderJob(long_clip, out, plan, end=11, codec="png")))
    assert progress[0].done == 5
    with open_reader(out) as reader:
        assert [read_index(f) for f in reader.frames()] == list(range(12))
    sidecar = tmp_path / ("frames.wav" if target == "frames" else "scan.wav")
    assert sidecar.exists()
    assert [p.name for p in tmp_path.iterdir() if "nitrate-partial" in p.name] == []


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # Without root there is no tiny filesystem; RLIMIT_FSIZE makes writes past `limit`
        # bytes fail with EFBIG, as a full disk fails them with ENOSPC (Python ignores
        # SIGXFSZ, so the write returns the error instead of killing the process).
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_write_failure_mid_export_is_one_line_and_cleans_up(long_clip: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "full.mov"
    result = nitrate_process("restore", long_clip, "-o", out, "--shots", "none",
                             preexec_fn=_limit_file_size(400_000))
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(out) in lines[0] and "File too large" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no final, no temporary file


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_write_failure_of_a_resumable_export_keeps_segments_for_later(long_clip: Path,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "full.mov"
    args = ("restore", long_clip, "-o", out, "--shots", "none", "--end", "119", "--resume")
    # Each 48-frame ProRes segment is about 0.72 MB at 320x180: the segments can be
    # written, the joined file cannot.
    failed = nitrate_process(*args, preexec_fn=_limit_file_size(800_000))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert "frames kept" in failed.stderr and "--resume" in failed.stderr
    assert not out.exists()
    work = work_folder(out, output_format_for(out))
    assert not list(work.glob("*.part.*"))  # the segment being written was removed
    done = nitrate_process(*args)  # "space was freed"
    assert done.returncode == 0, done.stderr
    assert [read_index(f) for f in open_reader(out).frames()] == list(range(120))


def test_plain_export_equals_segmented_export_for_lossless_codecs(long_clip: Path,
                                                                  tmp_path: Path) -> None:
    plan = ShotPlan.single(FRAMES, Recipe())
    plain, segmented = tmp_path / "plain.mkv", tmp_path / "segmented.mkv"
    for _ in render(RenderJob(long_clip, plain, plan, end=59)):
        pass
    for _ in render_resumable(RenderJob(long_clip, segmented, plan, end=59)):
        pass
    assert _hashes(plain) == _hashes(segmented)
