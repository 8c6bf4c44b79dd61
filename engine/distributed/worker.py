"""What a worker does with one chunk: open the source, evaluate the chunk's frames with the
job's full shot plan, write them into the job's work folder in the final codec.

Why a chunk alone gives the frames a single process gives: the Evaluator computes frame n
from the ShotPlan and the source only. Each window (full-size neighbours of
``temporal_radius``, small analysis frames of ``analysis_radius``) is clamped to the shot
and read on demand, whatever was evaluated before, so a fresh Evaluator starting at a
chunk's first frame decodes and processes the neighbours before it that it needs: the
margins happen implicitly, at the cost of evaluating them once more (tested by frame
hashes in tests/engine/test_distributed.py).

This module imports Dask only inside a worker (to report progress and to see a cancel),
so `render_chunk` also runs in a plain process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from engine.distributed.chunks import Chunk
from engine.errors import NitrateError, RenderCancelled
from engine.media import OutputFormat, Writer, open_reader
from engine.render.export import (
    EXPORT_READER_STORE_BYTES,
    ExportFrames,
    RenderJob,
    _retime_map,
    frame_size,
)
from engine.render.resume import _fsync
from engine.runtime import configure_threads

THREADS_ENV = "NITRATE_THREADS"
"""Environment variable of a worker process: CPU threads for OpenCV/torch in that process
(default: all cores; set it to cores / worker processes when a node runs several)."""


def _build_fingerprint() -> str:
    """A hash of this process's engine source files and the versions of the libraries
    that compute pixels: a node with another Nitrate or OpenCV would render other frames,
    silently. Taken once, when this module is imported (about when the operators are)."""
    import av
    import cv2
    import numpy as np

    digest = hashlib.sha1()
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    digest.update(f"{np.__version__} {cv2.__version__} {av.__version__}".encode())
    return digest.hexdigest()[:16]


BUILD = _build_fingerprint()
"""This process's build fingerprint (see _build_fingerprint)."""

_REPORT_SECONDS = 0.25
"""How often a worker reports progress and looks for a cancel (seconds): each is a message
to the scheduler, so not every frame."""


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs for one chunk (pickled to it).

    work:   the job's work folder (shared storage, same path on every node).
    fmt:    the output format (codec and encoder settings: identical for every chunk).
    end:    the job's last source frame, resolved (inclusive).
    fps:    output frame rate (frames per second).
    cancel_event, progress_topic: names of the Dask Event a cancel sets and of the event
            topic progress is logged to; None outside a cluster.
    build:  the client's BUILD; a worker with another one refuses the chunk.
    """

    job: RenderJob
    chunk: Chunk
    work: Path
    fmt: OutputFormat
    end: int
    fps: Fraction
    cancel_event: str | None = None
    progress_topic: str | None = None
    build: str = BUILD


@dataclass(frozen=True)
class ChunkResult:
    """What a chunk produced: `path` the closed video file (None for image sequences),
    frame size in pixels, `seconds` spent (wall clock, opening the source included),
    `where` the worker's host:pid, `error` a one-line NitrateError message (not retried:
    bad input fails the same way everywhere)."""

    chunk: Chunk
    path: Path | None
    width: int
    height: int
    seconds: float
    where: str
    error: str | None = None


def chunk_path(work: Path, chunk: Chunk, fmt: OutputFormat) -> Path:
    """The closed video file of `chunk` in the work folder."""
    return work / f"chunk_{chunk.index:05d}{fmt.extension}"


def frame_name(fmt: OutputFormat, number: int) -> str:
    """The name of output frame `number` of a sequence in the work folder (the Writer's
    bare-folder name, as resumable exports use)."""
    return f"frame_{number:06d}{fmt.extension}"


class _Link:
    """Progress and cancel through the cluster, at most every _REPORT_SECONDS."""

    def __init__(self, task: ChunkTask) -> None:
        self.task = task
        self.attempt = uuid.uuid4().hex[:8]  # a retried chunk restarts its count
        self._worker: Any = None
        self._event: Any = None
        self._last = 0.0
        self._cancelled = False
        if task.cancel_event is None and task.progress_topic is None:
            return
        try:
            from distributed import Event, get_worker
            self._worker = get_worker()
        except (ImportError, ValueError):
            return  # not inside a Dask worker: nothing to report to
        if task.cancel_event is not None:
            self._event = Event(task.cancel_event)

    def report(self, done: int, force: bool = False) -> None:
        """Tell the client `done` frames of this chunk are written; raise RenderCancelled
        when the job was cancelled."""
        now = time.monotonic()
        if self._worker is None or (not force and now - self._last < _REPORT_SECONDS):
            return
        self._last = now
        if self.task.progress_topic is not None:
            self._worker.log_event(self.task.progress_topic, {
                "chunk": self.task.chunk.index, "attempt": self.attempt, "done": done})
        if self._event is not None and self._event.is_set():
            raise RenderCancelled(f"{self.task.job.output}: export cancelled")


def render_chunk(task: ChunkTask) -> ChunkResult:
    """Render one chunk into the work folder (runs on a worker). A video chunk is written
    under a temporary name and renamed when closed; a sequence's frames are each renamed
    into ``work/frames`` when complete, so a chunk killed halfway leaves nothing a retry or
    the final assembly could mistake for finished work."""
    threads = os.environ.get(THREADS_ENV, "")
    configure_threads(int(threads) if threads.isdigit() and int(threads) > 0 else None)
    started = time.perf_counter()
    where = f"{socket.gethostname()}:{os.getpid()}"
    if task.build != BUILD:
        return ChunkResult(task.chunk, None, 0, 0, 0.0, where, (
            f"worker {where} runs another build of Nitrate or its libraries (fingerprint "
            f"{BUILD}, this client {task.build}): install the same version on every node"))
    link = _Link(task)
    try:
        with open_reader(task.job.source, recent_frames_bytes=EXPORT_READER_STORE_BYTES) as reader:
            info = reader.info
            rmap = _retime_map(task.job, task.end, info.fps)
            frames = ExportFrames(task.job, reader, task.fmt, task.end, rmap)
            try:
                if task.fmt.kind == "sequence":
                    size = _write_frames(task, frames, link)
                    path = None
                else:
                    path, size = _write_video(task, frames, link)
            finally:
                frames.close()
    except NitrateError as exc:
        if isinstance(exc, RenderCancelled):
            raise
        return ChunkResult(task.chunk, None, 0, 0, time.perf_counter() - started, where,
                           str(exc))
    link.report(task.chunk.frames, force=True)
    return ChunkResult(task.chunk, path, size[0], size[1], time.perf_counter() - started,
                       where)


def _write_video(task: ChunkTask, frames: ExportFrames, link: _Link) -> tuple[Path, tuple[int, int]]:
    chunk, fmt = task.chunk, task.fmt
    final = chunk_path(task.work, chunk, fmt)
    # A name of its own per attempt: a chunk running twice (a worker presumed dead but
    # alive) must not write into the other attempt's file.
    part = task.work / f"chunk_{chunk.index:05d}.part-{link.attempt}{fmt.extension}"
    writer: Writer | None = None
    size = (0, 0)
    try:
        for k in range(chunk.first, chunk.last + 1):
            frame = frames(k)
            size = frame_size(task.job.output, frames.source_index(k), frame,
                              size if writer else None)
            if writer is None:
                writer = Writer(part, fmt, size[0], size[1], task.fps)
            writer.write(frames.prepare(writer, frame))
            link.report(k - chunk.first + 1)
        assert writer is not None
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        part.unlink(missing_ok=True)
        raise
    _fsync(part)
    os.replace(part, final)
    return final, size


def _write_frames(task: ChunkTask, frames: ExportFrames, link: _Link) -> tuple[int, int]:
    chunk, fmt = task.chunk, task.fmt
    folder = task.work / "frames"
    staging = task.work / f"staging-{chunk.index:05d}-{link.attempt}"
    folder.mkdir(exist_ok=True)
    staging.mkdir()
    size = (0, 0)
    try:
        for k in range(chunk.first, chunk.last + 1):
            frame = frames(k)
            size = frame_size(task.job.output, frames.source_index(k), frame, None)
            # A Writer per frame: image encoders start afresh for every file anyway.
            with Writer(staging / f"frame_%06d{fmt.extension}", fmt, size[0], size[1],
                        task.fps, first_number=k) as writer:
                writer.write(frames.prepare(writer, frame))
            written = staging / frame_name(fmt, k)
            _fsync(written)
            os.replace(written, folder / frame_name(fmt, k))
            link.report(k - chunk.first + 1)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return size
