"""Export: evaluate a job's frames and write them, atomically.

`render(job, cancel)` is a generator of Progress, so the CLI can draw a bar and the UI's
render queue can drive it from a worker thread. The output is written under a temporary
sibling name and renamed onto the final name only when every frame and the audio are
written; on an error or a cancel the temporary output is removed, so nothing half-made is
ever left under the final name.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from engine.errors import MediaError, RenderCancelled
from engine.media import AudioSource, OutputFormat, Writer, open_reader, output_format_for
from engine.media import timecode as tc
from engine.media.writer import sidecar_wav
from engine.pipeline import Evaluator, FrameCache, ShotPlan, total_radius
from engine.retime import METHODS as RETIME_METHODS
from engine.retime import RetimeMap, Retimer, retime_timecode

PARTIAL_TAG = ".nitrate-partial"


class CancelToken:
    """Set from any thread to stop a render at the next frame."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class RenderJob:
    """What to export.

    source: media path (video file, sequence folder or pattern).
    output: file, folder, or printf pattern; the format follows its extension unless codec.
    plan:   shots and recipes of the source clip (frame indices of the source).
    start, end: first and last source frame to export (inclusive); end None = last frame.
    cache_bytes: upper bound of the frame cache (bytes); the render uses only what its
                 recipe's temporal window needs, so memory stays flat in clip length.
    fps:    output frame rate (frames per second); None keeps the source's. A different
            rate keeps the duration (and so the audio's sync): in-betweens are made by
            `retime` ("motion" interpolation, "blend" cross-fades or "nearest" frame),
            never across a cut of `plan`.
    """

    source: Path
    output: Path
    plan: ShotPlan
    start: int = 0
    end: int | None = None
    codec: str | None = None
    audio: bool = True
    cache_bytes: int = 2 << 30
    fps: Fraction | None = None
    retime: str = "motion"


@dataclass(frozen=True)
class Progress:
    """done/total frames; fps of this render so far; eta in seconds (None until known)."""

    done: int
    total: int
    elapsed: float
    fps: float
    eta_seconds: float | None
    output: Path
    finished: bool = False

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def _sequence_unit(output: Path) -> tuple[Path, str | None]:
    """The folder that holds a sequence output, and the file pattern inside it (None for a
    bare folder, where the Writer picks the names)."""
    if "%" in output.name:
        return output.parent, output.name
    return output, None


class _Target:
    """Temporary and final locations of one export."""

    def __init__(self, output: Path, fmt: OutputFormat) -> None:
        self.sequence = fmt.kind == "sequence"
        if self.sequence:
            self.final, pattern = _sequence_unit(output)
            self.temp = self.final.parent / f".{self.final.name}{PARTIAL_TAG}-{os.getpid()}"
            self.write_path = self.temp / pattern if pattern else self.temp
        else:
            self.final = output
            self.temp = output.parent / f".{output.stem}{PARTIAL_TAG}-{os.getpid()}{output.suffix}"
            self.write_path = self.temp
        if not self.final.parent.is_dir():
            raise MediaError(output, f"the folder {self.final.parent} does not exist")
        self.discard()

    def _sidecars(self) -> tuple[Path, Path] | None:
        """(temporary, final) sidecar WAV of a bare-folder sequence: it sits beside the
        folder, so it is renamed with it (a pattern's sidecar sits inside the folder)."""
        if self.sequence and self.write_path == self.temp:
            return sidecar_wav(self.temp), sidecar_wav(self.final)
        return None

    def discard(self) -> None:
        if self.temp.is_dir():
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            self.temp.unlink(missing_ok=True)
        sidecars = self._sidecars()
        if sidecars:
            sidecars[0].unlink(missing_ok=True)

    def commit(self) -> None:
        if not self.sequence:
            os.replace(self.temp, self.final)
            return
        old = None
        if self.final.exists():
            old = self.final.parent / f".{self.final.name}.nitrate-old-{os.getpid()}"
            os.replace(self.final, old)
        os.replace(self.temp, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        sidecars = self._sidecars()
        if sidecars and sidecars[0].exists():
            os.replace(*sidecars)


class _BackgroundWriter:
    """Runs Writer.write on its own thread so encoding overlaps processing (the encoder
    and the operators then share the two cores). Errors surface on the next call."""

    _QUEUE_FRAMES = 3

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(self._QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="nitrate-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._error is not None:
                continue  # drain so the producer never blocks
            try:
                self.writer.write(frame)
            except BaseException as exc:  # re-raised on the producer's thread
                self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, frame: np.ndarray) -> None:
        self._check()
        self._queue.put(frame)

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._check()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()


def _cache_budget(job: RenderJob, width: int, height: int) -> int:
    """Bytes the evaluator needs for a sequential pass: each stage keeps its temporal
    window of frames (and masks), plus slack."""
    stages = max(len(s.recipe.active) for s in job.plan.shots) + 1
    radius = max(total_radius(s.recipe) for s in job.plan.shots)
    frame_bytes = width * height * 4 * 4  # RGB float32 + a mask
    frames = stages * (2 * radius + 3) + 4
    return min(job.cache_bytes, int(frames * frame_bytes * 1.25))


def _output_frames(
    job: RenderJob, evaluator: Evaluator, end: int, rmap: RetimeMap | None
) -> Iterator[tuple[int, np.ndarray]]:
    """(source frame index, output frame) in output order: the restored frames start..end,
    or with `rmap` the frames of the new rate (the index names the source frame at or
    before the output frame's instant)."""
    def restored(index: int) -> np.ndarray:
        return evaluator.evaluate(index, job.plan).restored

    if rmap is None:
        for index in range(job.start, end + 1):
            yield index, restored(index)
        return
    for sample, frame in Retimer(rmap, restored, job.plan, job.retime):
        yield sample.frame, frame


def _retime_map(job: RenderJob, end: int, source_fps: Fraction) -> RetimeMap | None:
    """The frame-rate conversion of the job, or None when the rate stays."""
    if job.fps is None:
        return None
    if job.retime not in RETIME_METHODS:
        raise MediaError(job.output, f"retime method must be one of {', '.join(RETIME_METHODS)}"
                         f", got {job.retime!r}")
    fps = Fraction(job.fps)
    if fps <= 0:
        raise MediaError(job.output, f"frame rate must be positive, got {job.fps}")
    if fps == source_fps:
        return None
    return RetimeMap(job.start, end, source_fps, fps)


def render(job: RenderJob, cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Export `job`, yielding Progress after every frame; raises NitrateError on failure
    and RenderCancelled when `cancel` is set (in both cases nothing is left behind)."""
    cancel = cancel or CancelToken()
    with open_reader(job.source) as reader:
        info = reader.info
        end = info.frame_count - 1 if job.end is None else job.end
        if not 0 <= job.start <= end < info.frame_count:
            raise MediaError(
                job.source,
                f"frame range {job.start}-{end} is outside the clip (0-{info.frame_count - 1})",
            )
        fmt = output_format_for(job.output, job.codec, info.bit_depth)
        target = _Target(job.output, fmt)
        audio = None
        if job.audio and info.audio:
            audio = AudioSource(job.source, job.start / info.fps, (end - job.start + 1) / info.fps)
        rmap = _retime_map(job, end, info.fps)
        fps = info.fps if rmap is None else rmap.out_fps
        timecode = tc.add_frames(info.timecode, job.start, info.fps) if info.timecode else None
        if timecode is not None and rmap is not None:
            timecode = retime_timecode(timecode, info.fps, fps)
        evaluator = Evaluator(reader, FrameCache(_cache_budget(job, info.width, info.height)))
        total = end - job.start + 1 if rmap is None else rmap.count
        started = time.perf_counter()
        background: _BackgroundWriter | None = None
        writer: Writer | None = None
        try:
            frames = _output_frames(job, evaluator, end, rmap)
            for done in range(1, total + 1):
                if cancel.cancelled:
                    raise RenderCancelled(f"{job.output}: export cancelled")
                index, frame = next(frames)
                if writer is None:
                    # Sized by the first restored frame: an upscaling recipe changes it.
                    height, width = frame.shape[:2]
                    writer = Writer(target.write_path, fmt, width, height, fps,
                                    timecode=timecode, audio=audio)
                    background = _BackgroundWriter(writer)
                elif frame.shape[:2] != (height, width):
                    raise MediaError(job.output, f"frame {index} is {frame.shape[1]}x"
                                     f"{frame.shape[0]}, but the export is {width}x{height}: "
                                     "every shot must give the same size")
                assert background is not None
                background.write(frame)
                elapsed = time.perf_counter() - started
                fps = done / elapsed if elapsed > 0 else 0.0
                eta = (total - done) / fps if fps > 0 else None
                yield Progress(done, total, elapsed, fps, eta, job.output)
            assert writer is not None and background is not None
            background.finish()
            background = None
            writer.close()
            target.commit()
        except BaseException as exc:
            if background is not None:
                background.stop()
            if writer is not None:
                try:
                    writer.abort()
                except Exception:  # noqa: BLE001 - cleanup must not hide the real error
                    pass
            target.discard()
            if isinstance(exc, OSError):
                raise MediaError(job.output, f"write failed: {exc.strerror or exc}") from None
            raise
        elapsed = time.perf_counter() - started
        yield Progress(total, total, elapsed, total / elapsed if elapsed else 0.0, 0.0,
                       job.output, finished=True)
