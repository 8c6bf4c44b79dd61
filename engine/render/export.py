"""Export: evaluate a job's frames and write them, atomically.

`render(job, cancel)` is a generator of Progress, so the CLI can draw a bar and the UI's
render queue can drive it from a worker thread. The output is written under a temporary
sibling name and renamed onto the final name only when every frame and the audio are
written; on an error or a cancel the temporary output is removed, so nothing half-made is
ever left under the final name.

Every mode (plain, resumable, distributed) takes its frames from `ExportFrames`, which
decides once per export, in `choose_route`, how they are made:

- the float path: each frame is evaluated (decoded to float32 RGB, the shot's operators,
  the retimer when the rate changes, the framing (`engine.framing`), a review copy's view
  LUT, its burn-in, padding to the codec's even size) and the Writer converts it to the encoder's pixel format
  (`Writer.prepare`);
- the direct path, for frames nothing touches (no enabled operator and no manual repair
  in the shots of the range, the rate kept, no framing, a size the codec takes as it is,
  a video file in and out): each decoded frame goes from the codec's own pixel format to the encoder's
  in one swscale conversion (`Writer.prepare_decoded`), as the ffmpeg CLI transcodes. It
  spares two full-frame conversions (at 1080p about 9 ms into float and 15 ms out of it)
  and changes the picture less (no round trip through RGB).

The route is logged and carried in every Progress (`route`).
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import NoReturn

import av
import numpy as np

from engine.errors import MediaError, RenderCancelled
from engine.framing import Framing, apply_framing
from engine.lut import Lut, apply_lut, load_lut
from engine.media import (
    AudioSource,
    MediaInfo,
    OutputFormat,
    Writer,
    open_reader,
    output_format_for,
)
from engine.media import timecode as tc
from engine.media.convert import converts_directly
from engine.media.read_ahead import ReadAhead
from engine.media.reader import Reader, VideoReader
from engine.media.sequence import IMAGE_EXTENSIONS
from engine.media.writer import sidecar_wav
from engine.ops.base import ANALYSIS_WIDTH
from engine.pipeline import Evaluator, FrameCache, ShotPlan
from engine.pipeline.evaluator import Evaluated, step_analysis_radius, step_radius
from engine.render.burn_in import burn_in
from engine.render.provenance import export_metadata
from engine.render.still import COMPARE_MODES, compare_picture
from engine.retime import METHODS as RETIME_METHODS
from engine.retime import RetimeMap, Retimer, retime_timecode
from engine.runtime import cpu_count, side_by_side

log = logging.getLogger(__name__)

EVALUATION_THREADS = 2
"""Threads evaluating consecutive output frames side by side on a multi-core machine. The
evaluator's stage locks make them a pipeline: one runs the late operators of frame n while
the other runs the early ones of frame n + 1. One frame's operators alone leave a core idle
between their parallel parts (the film preset's export kept 1.57 of 2 cores busy; two
threads keep 1.78: 720p +8-27 %, 1080p +13 %; three measured the same as two). The
operators' own `parallel_map` runs inline in these threads while both work
(`engine.runtime.side_by_side`): with the cores busy, handing pieces to the pool only
cost its overhead (720p +8-14 % more, 1080p the same). The frames are the same whatever
the timing: each stage's frame is computed once, from the same inputs."""

PARTIAL_TAG = ".nitrate-partial"
EXPORT_READER_STORE_BYTES = 48 << 20
"""Decoded-frame store of an export's Reader (bytes): an export reads forward and the
evaluator's cache keeps its windows, so a big store would only make memory grow with
clip length until full."""


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
    framing: the picture area kept and the output size (`engine.framing`), applied
            to every restored frame; the default keeps the frame as it is.
    burn_in: write the timecode, source frame and shot into every frame (a review copy,
            `engine.render.burn_in`).
    audio_offset: seconds the sound is moved later against the picture (negative:
            earlier), to put right sound that was scanned or transferred out of sync (an
            optical print's sound advance, a separate magnetic track); the gap it opens
            is silence.
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
    framing: Framing = Framing()
    burn_in: bool = False
    audio_offset: float = 0.0
    view_lut: str = ""
    """A LUT (a bundled one's name or a .cube file) the finished pictures go through after
    the framing, before a burn-in: a review copy of a log scan shown as video, as the
    workstation's display LUT shows it, while the master stays in log. "" applies none."""
    compare: str = ""
    """"side-by-side" or "split" (`engine.render.still.COMPARE_MODES`): a review copy
    showing the scan with the restored frame, labelled Before and After; "" shows the
    restored frame alone."""
    checksum: str | None = None
    """"md5" or "sha256": once written, the output's files are read back and their
    checksums listed beside it (`engine.render.fixity`); None writes no list."""


def audio_source(job: RenderJob, info: MediaInfo, end: int) -> AudioSource | None:
    """The sound of `job`'s frames job.start..`end` of the source `info` describes, moved
    by `job.audio_offset` (and, conformed to another rate, played at that speed); None
    when the export has none."""
    if not (job.audio and info.audio):
        return None
    speed = 1.0
    if job.fps is not None and job.retime == CONFORM:
        speed = float(Fraction(job.fps) / Fraction(info.fps))
    return AudioSource(job.source, job.start / info.fps - job.audio_offset,
                       (end - job.start + 1) / info.fps, speed=speed)


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
    route: str = ""
    """How the frames are made: "direct" or "float" (see `choose_route`); "" if unsaid."""
    checking: tuple[int, int] | None = None
    """(files done, files) while the written files are read back for their checksums."""
    manifest: Path | None = None
    """The checksum list written beside the output (on the finished Progress), if any."""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def _sequence_unit(output: Path) -> tuple[Path, str | None]:
    """The folder that holds a sequence output, and the file pattern inside it (None for a
    bare folder, where the Writer picks the names)."""
    if "%" in output.name:
        return output.parent, output.name
    return output, None


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def remove_stale_partials(final: Path, sequence: bool = False) -> None:
    """Remove temporary outputs for `final` left by exports that were killed before they
    could clean up (kill -9, power loss): same name, a process id no longer running."""
    prefix = f".{final.name if sequence else final.stem}{PARTIAL_TAG}-"
    try:
        siblings = [p for p in final.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for path in siblings:
        rest = path.name[len(prefix):].removeprefix("join-")
        pid = rest.split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_running(int(pid)):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


class OutputTarget:
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
        remove_stale_partials(self.final, self.sequence)

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

    def complete(self, writer: Writer, background: BackgroundWriter) -> None:
        """Every frame handed over: let `background` encode the last ones, close the file
        and rename it onto the final name."""
        background.finish()
        writer.close()
        self.commit()

    def abandon(self, writer: Writer | None, exc: BaseException, output: Path,
                background: BackgroundWriter | None = None) -> NoReturn:
        """After `exc` stopped the export: stop `background`, abort `writer`, remove what
        was written, and raise `exc` again, as a MediaError naming `output` (not the
        temporary file) when it is a write error."""
        if background is not None:
            background.stop()  # harmless when it had finished
        if writer is not None:
            try:
                writer.abort()
            except Exception:  # noqa: BLE001 - cleanup must not hide the real error
                pass
        self.discard()
        if isinstance(exc, MediaError) and exc.path.startswith(str(self.temp)):
            problem = exc.problem.replace("cannot be written (", "write failed (")
            raise MediaError(output, problem) from None
        if isinstance(exc, OSError):
            raise MediaError(output, f"write failed: {exc.strerror or exc}") from None
        raise exc

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


class BackgroundWriter:
    """Converts frames to the encoder's pixel format (`prepare`) and runs Writer.write on
    its own thread, so that both overlap processing (the encoder and the operators then
    share the two cores; the evaluating threads, the export's bottleneck, only compute).
    Frames handed over are read, never changed. Errors surface on the next call."""

    _QUEUE_FRAMES = 3

    def __init__(self, writer: Writer,
                 prepare: Callable[[np.ndarray | av.VideoFrame], av.VideoFrame]) -> None:
        self.writer = writer
        self._prepare = prepare
        self._queue: queue.Queue[np.ndarray | av.VideoFrame | None] = queue.Queue(
            self._QUEUE_FRAMES)
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
                self.writer.write(self._prepare(frame))
            except BaseException as exc:  # re-raised on the producer's thread
                self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, frame: np.ndarray | av.VideoFrame) -> None:
        """Queue an `ExportFrames` frame (blocks while 3 are waiting)."""
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
    """Bytes the evaluator needs for a sequential pass (width, height in pixels).

    Stage j's frames are needed from n − D_j to n + D_j around the output frame n, D_j being
    the temporal radii of the stages after it added up; each frame comes with a mask. The
    analysis chain (frames at most ANALYSIS_WIDTH wide, `Window.analyse`) reaches further:
    by the temporal and analysis radii of the later stages. A budget below this working set
    makes the LRU drop frames a later window still needs, and a sequential export then
    computes (and decodes, with a seek) them again; a budget far above it only holds memory,
    and memory the process touches for the first time costs page faults (the cache fills
    over an export's first dozen frames). The working set is exact for windows that slide
    frame by frame (a test fails at 0.8 of it), so the margin is two frames, for the
    evaluating threads' timing: the film preset's 720p export then peaks at 1.84 GB
    instead of 2.10 GB with a 25 % margin, each stage frame still computed once.
    """
    frame_bytes = width * height * 4 * 4  # RGB float32 + a mask
    small_width = min(width, ANALYSIS_WIDTH)
    small_bytes = small_width * max(1, round(height * small_width / width)) * 4 * 4
    need = 0
    for shot in job.plan.shots:
        steps = shot.recipe.active
        temporal = [step_radius(s) for s in steps]
        reach = [t + step_analysis_radius(s) for s, t in zip(steps, temporal, strict=True)]
        full = sum(2 * sum(temporal[j:]) + 1 for j in range(len(steps) + 1))
        small = sum(2 * sum(reach[j:]) + 1 for j in range(len(steps) + 1)) if any(
            r > t for r, t in zip(reach, temporal, strict=True)) else 0
        # Frames evaluated side by side reach that many frames further at every stage.
        ahead = (EVALUATION_THREADS - 1) * (len(steps) + 1)
        need = max(need, (full + ahead) * frame_bytes + small * small_bytes)
    return min(job.cache_bytes, need + 2 * frame_bytes)


CONFORM = "conform"
"""The `RenderJob.retime` that changes the rate without making frames: each source frame
is one output frame, so the duration changes (a film transferred to PAL 4 % fast, played
again at 24 fps), and the sound is played at the same new speed (`audio_source`)."""


def _retime_map(job: RenderJob, end: int, source_fps: Fraction) -> RetimeMap | None:
    """The frame-rate conversion of the job, or None when there are no frames to make (the
    rate stays, or it is conformed frame for frame)."""
    if job.fps is None:
        return None
    if job.retime not in (*RETIME_METHODS, CONFORM):
        raise MediaError(job.output, f"retime method must be one of "
                         f"{', '.join((*RETIME_METHODS, CONFORM))}, got {job.retime!r}")
    fps = Fraction(job.fps)
    if fps <= 0:
        raise MediaError(job.output, f"frame rate must be positive, got {job.fps}")
    if fps == source_fps or job.retime == CONFORM:
        return None
    return RetimeMap(job.start, end, source_fps, fps)


def output_fps(job: RenderJob, source_fps: Fraction, rmap: RetimeMap | None) -> Fraction:
    """The export's frame rate (frames per second): the retimed rate, the conformed one,
    or the source's."""
    if rmap is not None:
        return rmap.out_fps
    if job.fps is not None and job.retime == CONFORM:
        return Fraction(job.fps)
    return Fraction(source_fps)


def frame_size(output: Path, index: int, frame: np.ndarray | av.VideoFrame,
               expected: tuple[int, int] | None) -> tuple[int, int]:
    """(width, height) of an output frame (float RGB, or decoded on the direct path), which
    must match the export's `expected` size (pixels) once the first frame has set it:
    shots of one export cannot differ in size."""
    if isinstance(frame, av.VideoFrame):
        size = (frame.width, frame.height)
    else:
        size = (frame.shape[1], frame.shape[0])
    if expected is not None and size != expected:
        raise MediaError(output, f"frame {index} is {size[0]}x{size[1]}, but the export is "
                         f"{expected[0]}x{expected[1]}: every shot must give the same size")
    return size


def fit_to_format(frame: np.ndarray, fmt: OutputFormat) -> np.ndarray:
    """`frame` padded to the even width (4:2:2, 4:2:0, any ProRes) and height (4:2:0) its
    codec needs, by repeating the last column/row: an odd-sized scan keeps every pixel
    (cropping would lose picture); FFV1 and image sequences keep the size exactly."""
    height, width = frame.shape[:2]
    pad_w, pad_h = _padding(width, height, fmt)
    if not (pad_w or pad_h):
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _padding(width: int, height: int, fmt: OutputFormat) -> tuple[int, int]:
    """Columns and rows (pixels, 0 or 1) `fit_to_format` adds to a width x height frame."""
    # FFmpeg's "prores" encoder (prores_aw) wants an even width in 4:4:4 too.
    even_width = fmt.pix_fmt.startswith(("yuv420", "yuv422")) or fmt.encoder == "prores"
    pad_w = width % 2 if even_width else 0
    pad_h = height % 2 if fmt.pix_fmt.startswith("yuv420") else 0
    return pad_w, pad_h


def direct_obstacle(info: MediaInfo, fmt: OutputFormat) -> str | None:
    """Why decoded frames of the clip `info` describes cannot go to a `fmt` encoder in one
    conversion (`Writer.prepare_decoded`), or None when they can."""
    if not converts_directly(info.pix_fmt):
        return f"source pixel format {info.pix_fmt}"
    if any(_padding(info.width, info.height, fmt)):
        return f"{info.width}x{info.height} is padded for {fmt.name}"
    return None


@dataclass(frozen=True)
class Route:
    """How an export's frames are made: `name` "direct" or "float" (module docstring),
    `reason` one line saying why, for the log."""

    name: str
    reason: str

    @property
    def direct(self) -> bool:
        return self.name == "direct"


def choose_route(job: RenderJob, reader: Reader, fmt: OutputFormat, end: int,
                 rmap: RetimeMap | None) -> Route:
    """The one decision between the direct and the float path for frames job.start … end
    (inclusive) written in `fmt`; `rmap` is the job's frame-rate conversion (None: kept).
    Every export mode asks here (through `ExportFrames`), so a job takes the same path
    whether it runs plain, resumable or distributed; and so here a framing the source
    cannot take is refused (MediaError), before anything is written."""
    def float_path(why: str) -> Route:
        return Route("float", why)

    info = reader.info
    problem = job.framing.problem(info.width, info.height)
    if problem is not None:
        raise MediaError(job.output, f"cannot frame the {info.width}x{info.height} source: "
                         f"{problem}")
    if not job.framing.identity:
        return float_path(f"framed: {job.framing.describe(info.width, info.height)}")
    if job.burn_in:
        return float_path("timecode burnt in")
    if job.view_lut:
        return float_path(f"through the LUT {job.view_lut}")
    if job.compare:
        return float_path(f"before and after, {job.compare}")
    if rmap is not None:
        return float_path("the frame rate changes")
    if not isinstance(reader, VideoReader):
        return float_path("image-sequence source")
    if fmt.kind != "video":
        return float_path("image-sequence output")
    for shot in job.plan.shots:
        if shot.end < job.start or shot.start > end:
            continue  # frames outside the range do not reach it: shots never mix
        if shot.recipe.active:
            return float_path(f"shot {shot.start}-{shot.end} has operators")
        if shot.rebuilds:  # protections alone change nothing where no operator runs
            return float_path(f"shot {shot.start}-{shot.end} has manual repairs")
    why_not = direct_obstacle(info, fmt)
    if why_not is not None:
        return float_path(why_not)
    return Route("direct", f"frames {job.start}-{end} are untouched: {info.pix_fmt} → "
                 f"{fmt.pix_fmt} in one conversion")


class ExportFrames:
    """Output frames k = 0 … total − 1 of `job` (source frames job.start … `end`, or with
    `rmap` the frames of the new rate), made the way `choose_route` decides: on the float
    path restored (and retimed) float32 RGB frames padded to `fmt`, on the direct path the
    decoded frames as they are. `prepare` turns either into the encoder's input."""

    def __init__(self, job: RenderJob, reader: Reader, fmt: OutputFormat, end: int,
                 rmap: RetimeMap | None) -> None:
        self.job, self.reader, self.fmt, self.rmap = job, reader, fmt, rmap
        self.route = choose_route(job, reader, fmt, end, rmap)
        log.info("%s: %s path (%s)", job.output, self.route.name, self.route.reason)
        self._evaluator: Evaluator | None = None
        self._retimer: Retimer | None = None
        self._read_ahead: ReadAhead | None = None
        self._end = end
        self._timecode: str | None = None  # of output frame 0, for burn-ins
        if job.compare and job.compare not in COMPARE_MODES:
            raise MediaError(job.output, f"compare {job.compare!r}: choose "
                             f"{' or '.join(COMPARE_MODES)}")
        # Read now: a LUT that cannot be read stops the export before its first frame.
        self._view_lut: Lut | None = load_lut(job.view_lut) if job.view_lut else None
        # Consecutive frames evaluated side by side (EVALUATION_THREADS).
        self._workers: ThreadPoolExecutor | None = None
        self._pending: dict[int, Future[Evaluated]] = {}
        if not self.route.direct:
            info = reader.info
            source: Reader = reader
            if isinstance(reader, VideoReader):
                # Decoding moves off the evaluating threads: the operators keep them busy.
                source = self._read_ahead = ReadAhead(reader)
            self._evaluator = Evaluator(source, FrameCache(_cache_budget(job, info.width,
                                                                        info.height)))
            if rmap is not None:
                self._retimer = Retimer(rmap, self._restored, job.plan, job.retime)
            if cpu_count() > 1:
                self._workers = ThreadPoolExecutor(EVALUATION_THREADS,
                                                   thread_name_prefix="nitrate-evaluate")

    def close(self) -> None:
        """Stop the background evaluation and decoding (before the reader is closed);
        idempotent. Waits for the frames being evaluated, if any."""
        workers, self._workers = self._workers, None
        if workers is not None:
            workers.shutdown(wait=True, cancel_futures=True)
            self._pending.clear()
        if self._read_ahead is not None:
            self._read_ahead.close()

    def _restored(self, index: int) -> np.ndarray:
        return self._evaluated(index).restored

    def _evaluated(self, index: int) -> Evaluated:
        evaluator = self._evaluator
        assert evaluator is not None
        if self._workers is None or not self.job.start <= index <= self._end:
            return evaluator.evaluate(index, self.job.plan)
        for i in range(index, index + EVALUATION_THREADS):
            if i not in self._pending and self.job.start <= i <= self._end:
                self._pending[i] = self._workers.submit(side_by_side(evaluator.evaluate), i,
                                                        self.job.plan)
        # Frames asked for out of order (a retimer going back) are dropped from the queue.
        for i in [i for i in self._pending if i < index]:
            self._pending.pop(i).cancel()
        return self._pending.pop(index).result()

    def source_index(self, k: int) -> int:
        """The source frame output frame k shows (retimed: the one at or before it)."""
        return self.job.start + k if self.rmap is None else self.rmap.sample(k).frame

    def __call__(self, k: int) -> np.ndarray | av.VideoFrame:
        """Output frame k: decoded (direct path; the Reader's, not to be changed) or
        float32 (height, width, 3) RGB, levels 0-1, framed and padded to the format
        (float path)."""
        if self.route.direct:
            assert isinstance(self.reader, VideoReader)
            return self.reader.decoded(self.job.start + k)
        scan: np.ndarray | None = None
        if self._retimer is not None:
            assert self.rmap is not None
            frame = self._retimer.frame(self.rmap.sample(k))
        else:
            evaluated = self._evaluated(self.job.start + k)
            frame, scan = evaluated.restored, evaluated.original
        info = self.reader.info
        if self.job.compare:
            if scan is None:  # retimed: the scan of the frame it shows
                assert self._evaluator is not None
                scan = self._evaluator.evaluate(self.source_index(k), self.job.plan).original
            frame = compare_picture(scan, frame, self.job.framing, self.job.compare)
        elif not self.job.framing.identity:
            frame = apply_framing(frame, self.job.framing, (info.width, info.height))
        if self._view_lut is not None:
            frame = apply_lut(frame, self._view_lut)
        if self.job.compare:
            frame = burn_in(frame, "Before", "After", top=True)
        if self.job.burn_in:
            frame = self._burnt_in(frame, k)
        return fit_to_format(frame, self.fmt)

    def _burnt_in(self, frame: np.ndarray, k: int) -> np.ndarray:
        """Output frame k with its timecode, source frame and shot written in."""
        info = self.reader.info
        fps = output_fps(self.job, info.fps, self.rmap)
        if self._timecode is None:
            self._timecode = start_timecode(self.job, info, fps, from_zero=True)
        index = self.source_index(k)
        shot = self.job.plan.shots.index(self.job.plan.shot_at(index)) + 1
        return burn_in(frame, f"{tc.add_frames(self._timecode, k, fps)}  #{index}",
                       f"shot {shot}")

    def prepare(self, writer: Writer, frame: np.ndarray | av.VideoFrame) -> av.VideoFrame:
        """A frame of this export converted to `writer`'s encoder input."""
        if self.route.direct:
            assert isinstance(frame, av.VideoFrame)
            return writer.prepare_decoded(frame)
        assert isinstance(frame, np.ndarray)
        return writer.prepare(frame)


def start_timecode(job: RenderJob, info: MediaInfo, fps: Fraction,
                   from_zero: bool = False) -> str | None:
    """The timecode of the export's first frame: the source's (`info`, a MediaInfo) at
    job.start, converted to the export's rate `fps` when it differs. A source without one
    gives None, or with `from_zero` (a burn-in must say something) counts from
    00:00:00:00 at its frame 0. Every export mode writes it."""
    origin = info.timecode or ("00:00:00:00" if from_zero else None)
    if origin is None:
        return None
    timecode = tc.add_frames(origin, job.start, info.fps)
    return retime_timecode(timecode, info.fps, fps) if fps != info.fps else timecode


def check_output_is_not_source(source: Path, output: Path) -> None:
    """MediaError when an export would replace its own source: the original is never
    overwritten (the rename at the end would destroy it)."""
    def unit(p: Path) -> Path:
        p = Path(p)
        if "%" in p.name or (p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir()):
            return p.parent  # a sequence is its folder
        return p
    src, out = unit(source).resolve(), unit(output).resolve()
    if src == out or (src.exists() and out.exists() and os.path.samefile(src, out)):
        raise MediaError(output, "is the source of the export; choose another output "
                         "(the original is never overwritten)")


def render(job: RenderJob, cancel: CancelToken | None = None) -> Iterator[Progress]:
    """Export `job`, yielding Progress after every frame; raises NitrateError on failure
    and RenderCancelled when `cancel` is set (in both cases nothing is left behind)."""
    cancel = cancel or CancelToken()
    with open_reader(job.source, recent_frames_bytes=EXPORT_READER_STORE_BYTES) as reader:
        info = reader.info
        end = info.frame_count - 1 if job.end is None else job.end
        if not 0 <= job.start <= end < info.frame_count:
            raise MediaError(
                job.source,
                f"frame range {job.start}-{end} is outside the clip (0-{info.frame_count - 1})",
            )
        fmt = output_format_for(job.output, job.codec, info.bit_depth)
        check_output_is_not_source(job.source, job.output)
        target = OutputTarget(job.output, fmt)
        audio = audio_source(job, info, end)
        rmap = _retime_map(job, end, info.fps)
        fps = output_fps(job, info.fps, rmap)
        timecode = start_timecode(job, info, fps)
        frames = ExportFrames(job, reader, fmt, end, rmap)
        route = frames.route.name
        total = end - job.start + 1 if rmap is None else rmap.count
        started = time.perf_counter()
        background: BackgroundWriter | None = None
        writer: Writer | None = None
        size: tuple[int, int] | None = None  # (width, height) px, set by the first frame
        try:
            for done in range(1, total + 1):
                if cancel.cancelled:
                    raise RenderCancelled(f"{job.output}: export cancelled")
                frame = frames(done - 1)
                size = frame_size(job.output, frames.source_index(done - 1), frame, size)
                if writer is None:
                    # Sized by the first restored frame: an upscaling recipe changes it.
                    writer = Writer(target.write_path, fmt, size[0], size[1], fps,
                                    timecode=timecode, audio=audio,
                                    metadata=export_metadata(job, end, info))
                    background = BackgroundWriter(writer, partial(frames.prepare, writer))
                assert background is not None
                background.write(frame)
                elapsed = time.perf_counter() - started
                rate = done / elapsed if elapsed > 0 else 0.0
                eta = (total - done) / rate if rate > 0 else None
                yield Progress(done, total, elapsed, rate, eta, job.output, route=route)
            assert writer is not None and background is not None
            target.complete(writer, background)
        except BaseException as exc:
            target.abandon(writer, exc, job.output, background)
        finally:
            frames.close()
        elapsed = time.perf_counter() - started
        yield Progress(total, total, elapsed, total / elapsed if elapsed else 0.0, 0.0,
                       job.output, finished=True, route=route)
