"""Readers: frame-accurate random access by index into video files and image sequences.

``open_reader(path)`` returns a ``VideoReader`` (any file FFmpeg demuxes) or a
``SequenceReader`` (folder, printf pattern or one numbered image file). Both yield float32
RGB (H, W, 3) frames, levels 0-1 (see ``engine.media.convert`` for colour handling).

Video random access: frame index → pts through ``FrameIndex`` (the one mapping), seek to
the keyframe at or before it, decode forward to that exact pts. A read of a later frame
with no keyframe in between (or within ``FORWARD_DECODE_LIMIT`` frames) continues decoding
without seeking, so ``frames()`` and playback never seek. The last ``RECENT_FRAMES_BYTES``
of decoded frames (all of them: on the way to a seek target too) are kept, still in the
codec's pixel format, so reading one again costs its conversion to float, not a seek: an
export's analysis reads run ahead of its full-size reads, and a preview window reads
neighbours it decoded a moment before. A damaged packet is skipped with
a warning; a frame that cannot be decoded at all is replaced by the nearest earlier
decoded frame (concealment, logged as a warning) rather than failing an export.

Decoder threads: ``DECODER_THREADS`` (2, the target machines' core count) with FFmpeg's
AUTO threading (frame threads for H.264/H.265/ProRes, slices where frames cannot be
split). Frame threading adds a frame of latency per thread after each seek; with two
threads that costs less than single-threaded decoding of a GOP, so seeks use it too.

Rotation metadata is reported in ``MediaInfo.rotation`` and not applied: restoration
works on the stored raster, and the Writer does not rotate either.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from engine.errors import MediaError
from engine.media.convert import component_bits, frame_to_rgb
from engine.media.frame_index import FrameIndex, by_packet_scan, from_container_index
from engine.media.info import MAX_PIXELS, MAX_SIDE, AudioStreamInfo, MediaInfo
from engine.media.sequence import (
    SequenceFiles,
    check_sizes,
    decode_file,
    find_files,
    header_size,
    is_sequence_path,
)
from engine.media.tags import primaries_name, range_name, space_name, trc_name

log = logging.getLogger(__name__)

DECODER_THREADS = 2
"""Decoder threads per Reader (the 2-core target; the Evaluator runs in the same process)."""
FORWARD_DECODE_LIMIT = 12
"""Frames a Reader decodes forward instead of seeking when it knows no keyframes."""
DEFAULT_SEQUENCE_FPS = Fraction(24)
"""Rate given to image sequences, which store none (frames per second)."""
RECENT_FRAMES_BYTES = 384 << 20
"""Bytes of decoded (not yet converted) frames a VideoReader keeps, most recent first:
about 120 frames of 1080p 4:2:0, so the neighbours of a window and frames read ahead for
analysis cost a conversion, not a second seek."""

# FFmpeg's own log stays off (PyAV's default): routing it into Python logging from the
# decoder's threads deadlocks once a logging handler is configured (the CLI hung in probe).
# Problems reach the user as MediaError messages written here instead.
av.logging.set_level(None)


def check_dimensions(path: Path, width: int, height: int) -> None:
    """MediaError when a frame size is zero or beyond MAX_SIDE / MAX_PIXELS (pixels)."""
    if width <= 0 or height <= 0:
        raise MediaError(path, f"not a video or image sequence (frame size {width}x{height})")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise MediaError(
            path,
            f"dimensions {width}x{height} exceed the limit ({MAX_SIDE} pixels per side, "
            f"{MAX_PIXELS} pixels in all)",
        )


class Reader:
    """Frames of one clip by 0-based index. Not thread-safe: one Reader per thread."""

    info: MediaInfo

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as float32 (height, width, 3) RGB, levels 0-1."""
        raise NotImplementedError

    def prefetch(self, start: int, stop: int) -> None:
        """Hint: frames ``start`` … ``stop - 1`` are about to be read, in any order. Readers
        that can decode them ahead in one pass do; others ignore it."""

    def read_scaled(self, index: int, size: tuple[int, int]) -> np.ndarray:
        """Frame ``index`` reduced to ``size`` (width, height) pixels, float32 RGB levels
        0-1: previews and analysis frames. Readers of decoded frames scale during the
        colour conversion, which costs a fraction of converting the full frame."""
        frame = self.read(index)
        if (frame.shape[1], frame.shape[0]) == tuple(size):
            return frame
        return cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames ``start`` … ``stop - 1`` in order (stop defaults to the end)."""
        stop = self.info.frame_count if stop is None else stop
        self._check_index(start)
        if stop > self.info.frame_count or stop < start:
            raise MediaError(self.info.path, f"frame range {start}-{stop} is outside "
                             f"0-{self.info.frame_count}")
        for i in range(start, stop):
            yield self.read(i)

    def close(self) -> None:
        """Release the file; further reads fail."""

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.info.frame_count:
            raise MediaError(self.info.path, f"frame {index} is outside the clip "
                             f"(0-{self.info.frame_count - 1})")

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _timecode_of(container: av.container.InputContainer, stream: Any) -> str | None:
    # MOV keeps it in a tmcd track, Matroska as a TIMECODE tag: look everywhere, any case.
    for owner in [stream, container, *container.streams]:
        meta = _metadata(owner)
        for key, value in meta.items():
            if key.lower() == "timecode" and value:
                return str(value)
    return None


def _metadata(owner: Any) -> dict[str, str]:
    """`owner.metadata`, or {} when its text is not valid UTF-8 (damaged or foreign tags
    must not stop a file from opening; the fuzzer found DPX headers that did)."""
    try:
        return dict(owner.metadata or {})
    except (UnicodeDecodeError, ValueError):
        return {}


class VideoReader(Reader):
    """Random access into a video file through PyAV (see the module docstring)."""

    def __init__(self, path: Path, recent_frames_bytes: int = RECENT_FRAMES_BYTES) -> None:
        """``recent_frames_bytes``: bytes of decoded frames kept for re-reads (0: none)."""
        self._path = path
        self._recent = _RecentFrames(recent_frames_bytes)
        try:
            self._container = av.open(str(path), "r")
        except av.FFmpegError as exc:
            raise MediaError(path, _open_problem(path, exc)) from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise MediaError(path, f"not a video or image sequence ({exc})") from None
        try:
            self._setup()
        except BaseException:
            self._container.close()
            raise

    def _setup(self) -> None:
        path, container = self._path, self._container
        videos = [s for s in container.streams.video
                  if not s.disposition & av.stream.Disposition.attached_pic]
        if not videos:
            what = " (audio only)" if container.streams.audio else ""
            raise MediaError(path, f"no video stream{what}")
        stream = self._stream = videos[0]
        ctx = stream.codec_context
        if ctx is None:  # FFmpeg has no decoder for it (or its codec tag is damaged)
            raise MediaError(path, "unsupported or damaged video codec (no decoder)")
        check_dimensions(path, ctx.width, ctx.height)
        # Container-level tags, read before decoding: some decoders (ProRes) overwrite the
        # context with the frame header's, which may be unspecified.
        self._tags = tuple(int(v or 0) for v in (ctx.color_range, ctx.colorspace,
                                                 ctx.color_primaries, ctx.color_trc))
        ctx.thread_type = "AUTO"
        ctx.thread_count = DECODER_THREADS
        self._index = self._build_index()
        self._decoded: Iterator[av.VideoFrame] | None = None
        self._pos = -1  # index of the last frame pulled from the decoder
        self._last: tuple[int, av.VideoFrame] | None = None
        self._closed = False
        first = self._first_frame()
        self.info = self._describe(first)
        self._warn_if_truncated()

    def _warn_if_truncated(self) -> None:
        """Say how much of a cut-off file is usable: the header announces a duration, the
        index found fewer frames (a copy that stopped early, a recording that crashed)."""
        s, c = self._stream, self._container
        announced = None
        if s.duration and s.time_base:
            announced = float(s.duration * s.time_base)
        elif c.duration:
            announced = c.duration / av.time_base
        have = self.info.duration
        if announced and announced - have > max(2 / float(self.info.fps), 0.05 * announced):
            log.warning("%s: truncated? the header announces %.2f s but only %d frames "
                        "(%.2f s) are readable; using those", self._path, announced,
                        self.info.frame_count, have)

    def _build_index(self) -> FrameIndex:
        idx = from_container_index(self._stream, self._path.stat().st_size)
        if idx is None:
            idx = by_packet_scan(self._container, self._stream, self._path)
        if idx.count == 0:
            raise MediaError(self._path, "no video frames (0-frame file)")
        return idx

    def _first_frame(self) -> av.VideoFrame:
        # Decoding frame 0 at open proves the stream decodes and gives the real pixel format.
        self.info = _placeholder_info(self._path, self._index.count)
        try:
            return self._goto_checked(0)
        except MediaError as exc:
            raise MediaError(self._path, "no video frames could be decoded (damaged data)"
                             ) from exc

    def _describe(self, first: av.VideoFrame) -> MediaInfo:
        s, c, idx = self._stream, self._container, self._index
        ctx = s.codec_context
        rate = s.average_rate or s.guessed_rate
        if idx.step is not None and s.time_base:
            fps = 1 / (idx.step * Fraction(s.time_base))
        elif rate:
            fps = Fraction(rate)
        else:
            fps = Fraction(25)
        if idx.variable_rate and idx.pts is not None and idx.count > 1 and s.time_base:
            span = (int(idx.pts[-1]) - int(idx.pts[0])) * Fraction(s.time_base)
            fps = Fraction(idx.count - 1) / span if span > 0 else fps
            fps = fps.limit_denominator(1001000)
        audio = tuple(
            AudioStreamInfo(
                index=a.index,
                codec=a.codec_context.name,
                sample_rate=int(a.codec_context.sample_rate or 0),
                channels=int(a.codec_context.channels or 0),
                duration=(float(a.duration * a.time_base) if a.duration and a.time_base
                          else (c.duration / av.time_base if c.duration else None)),
            )
            for a in c.streams.audio
        )
        fmt = first.format
        return MediaInfo(
            path=self._path, kind="video", width=first.width, height=first.height,
            fps=fps, frame_count=idx.count, duration=float(idx.count / fps),
            pix_fmt=fmt.name, bit_depth=component_bits(fmt), codec=ctx.name,
            color_range=range_name(_tag(self._tags[0], first.color_range, ctx.color_range,
                                        unknown=(0,))),
            color_space=space_name(_tag(self._tags[1], first.colorspace, ctx.colorspace)),
            color_primaries=primaries_name(_tag(self._tags[2], first.color_primaries,
                                                ctx.color_primaries)),
            color_trc=trc_name(_tag(self._tags[3], first.color_trc, ctx.color_trc)),
            timecode=_timecode_of(c, s), audio=audio,
            variable_frame_rate=idx.variable_rate,
            rotation=int(round(first.rotation)) % 360 if first.rotation else 0,
            first_number=0,
            field_order=_field_order(ctx, first),
            comment=next((str(v) for k, v in c.metadata.items()
                          if k.lower() in ("comment", "comment_provenance")), ""),
        )

    # -- decoding -------------------------------------------------------------------------

    def _packets_decoded(self, skip_before: int | None = None) -> Iterator[av.VideoFrame]:
        """Decoded frames in presentation order. With ``skip_before`` (a pts), frames no
        other frame refers to are not decoded until a packet at or after that pts arrives:
        after a seek they would be thrown away anyway (about half of a B-frame GOP)."""
        ctx = self._stream.codec_context
        skipping = skip_before is not None
        ctx.skip_frame = "NONREF" if skipping else "DEFAULT"
        try:
            for packet in self._container.demux(self._stream):
                if skipping and (packet.pts is None or packet.pts >= skip_before):
                    ctx.skip_frame = "DEFAULT"
                    skipping = False
                try:
                    yield from packet.decode()
                except (av.InvalidDataError, av.error.PatchWelcomeError) as exc:
                    log.warning("%s: skipped a damaged packet at pts %s (%s)",
                                self._path, packet.pts, exc)
        except av.FFmpegError as exc:
            log.warning("%s: demuxing stopped early (%s)", self._path, exc)

    def _next_decoded(self) -> tuple[int, av.VideoFrame] | None:
        """Next frame from the decoder with its index; None at the end of the data."""
        assert self._decoded is not None
        for frame in self._decoded:
            pts = frame.pts
            if pts is None:
                index: int | None = self._pos + 1
            else:
                index = self._index.index_of(pts)
            if index is None:
                if self._index.method != "packet scan":
                    raise _IndexMismatch(pts)
                log.warning("%s: decoded a frame with unindexed pts %s; skipped",
                            self._path, pts)
                continue
            self._pos = index
            self._recent.put(index, frame)
            return index, frame
        return None

    def _seek_and_decode(self, index: int) -> None:
        idx = self._index
        target = idx.pts_of(index)
        step = idx.step or max(1, int(np.median(np.diff(idx.pts)))) if idx.count > 1 else 1
        backoff = 0
        while True:
            seek_to = target - backoff
            self._seek(max(seek_to, idx.first))
            self._decoded = self._packets_decoded(skip_before=target)
            self._pos = -1
            self._last = None
            got = self._next_decoded()
            if got is not None and got[0] > index and seek_to > idx.first - step:
                # Landed after the wanted frame (decode-time index, open GOP): back off.
                backoff = max(step * 8, backoff * 2)
                continue
            if got is not None:
                self._last = got
                if got[0] < index:
                    self._decode_forward(index)
            return

    def _seek(self, pts: int) -> None:
        try:
            self._container.seek(pts, backward=True, any_frame=False, stream=self._stream)
        except av.FFmpegError:
            # Some demuxers refuse a timestamp before their first keyframe: go to the start.
            try:
                self._container.seek(self._index.first, backward=True, any_frame=True,
                                     stream=self._stream)
            except av.FFmpegError as exc:
                raise MediaError(self._path, f"cannot seek ({exc})") from None

    def _decode_forward(self, index: int) -> None:
        while self._last is None or self._last[0] < index:
            got = self._next_decoded()
            if got is None:
                break
            if got[0] > index and self._last is not None:
                log.warning("%s: frame %d is missing from the data; showing frame %d",
                            self._path, index, self._last[0])
                self._last = (index, self._last[1])
                self._decoded = None
                return
            self._last = got
        if self._last is not None and self._last[0] < index:
            log.warning("%s: frame %d is beyond the decodable data; showing frame %d",
                        self._path, index, self._last[0])
            self._last = (index, self._last[1])
            self._decoded = None

    def _goto(self, index: int) -> av.VideoFrame:
        last = self._last
        if last is not None and last[0] == index:
            return last[1]
        forward = (
            self._decoded is not None and last is not None and last[0] < index
            and self._pos == last[0]
        )
        if forward:
            assert last is not None
            key = self._index.keyframe_at_or_before(index)
            if key is not None:
                forward = key <= last[0] or index - last[0] <= 2
            else:
                forward = index - last[0] <= FORWARD_DECODE_LIMIT
        if forward:
            self._decode_forward(index)
        else:
            self._seek_and_decode(index)
        if self._last is None:
            raise MediaError(self._path, f"frame {index} cannot be decoded (damaged data)")
        return self._last[1]

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as float32 (height, width, 3) RGB, levels 0-1."""
        if self._closed:
            raise MediaError(self._path, "reader is closed")
        self._check_index(index)
        # A frame decoded recently (on the way to a seek target, or read ahead) is converted
        # again rather than decoded again; the decoder's position is left where it was.
        return frame_to_rgb(self._decoded_frame(index))

    def read_scaled(self, index: int, size: tuple[int, int]) -> np.ndarray:
        """Frame ``index`` reduced to ``size`` (width, height) pixels in the conversion."""
        if self._closed:
            raise MediaError(self._path, "reader is closed")
        self._check_index(index)
        return frame_to_rgb(self._decoded_frame(index), size)

    def decoded(self, index: int) -> av.VideoFrame:
        """Frame ``index`` as the decoder made it, in the codec's own pixel format (the
        frame ``read`` converts: same seek, same concealment), for the export's direct
        path. The frame may stay in the store of recent frames: read it, never change it."""
        if self._closed:
            raise MediaError(self._path, "reader is closed")
        self._check_index(index)
        return self._decoded_frame(index)

    def prefetch(self, start: int, stop: int) -> None:
        """Decode frames ``start`` … ``stop - 1`` (clamped to the clip) into the store of
        recent frames in one forward pass, so that the reads of a window that follow, in
        whatever order, do not seek again (an evaluator's analysis reads run back and forth
        over the window: without this a cold preview seeks three or four times). Frames
        already stored are skipped; no more than the store holds are decoded."""
        if self._closed:
            return
        start, stop = max(0, start), min(self.info.frame_count, stop)
        first = next((i for i in range(start, stop) if i not in self._recent), None)
        if first is None:
            return
        stop = min(stop, first + self._recent.capacity_frames())
        try:
            for i in range(first, stop):
                if i not in self._recent:
                    self._goto_checked(i)
        except MediaError:
            return  # damaged data: the read itself reports it

    def _decoded_frame(self, index: int) -> av.VideoFrame:
        # A frame decoded recently (on the way to a seek target, or read ahead) is converted
        # again rather than decoded again; the decoder's position is left where it was.
        decoded = self._recent.get(index)
        if decoded is None:
            decoded = self._goto_checked(index)
        return decoded

    def _goto_checked(self, index: int) -> av.VideoFrame:
        """``_goto`` that falls back to a packet-scan index if the constant-rate map is
        contradicted by a decoded timestamp (the verification of that map)."""
        try:
            return self._goto(index)
        except _IndexMismatch as exc:
            log.warning("%s: decoded pts %s is not on the constant-rate grid; "
                        "re-indexing by packet scan", self._path, exc.pts)
            self._index = by_packet_scan(self._container, self._stream, self._path)
            self._last = None
            self._decoded = None
            self._recent.clear()  # their indices came from the contradicted map
            if index >= self._index.count:
                raise MediaError(self._path, f"frame {index} does not exist (the file holds "
                                 f"{self._index.count} frames)") from None
            return self._goto(index)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if not getattr(self, "_closed", True):
            self._closed = True
            self._decoded = None
            self._last = None
            self._recent.clear()
            self._container.close()


def _tag(*candidates: int | None, unknown: tuple[int, ...] = (2,)) -> int:
    """First specified colour tag; ``unknown`` lists the "unspecified" values (range: 0;
    matrix, primaries, transfer: 2). Returns the first unknown value if none is set."""
    for value in candidates:
        if value is not None and int(value) not in unknown:
            return int(value)
    return unknown[0]


class _RecentFrames:
    """Decoded frames by index, least recently used dropped first, bounded in bytes.

    Holding an av.VideoFrame keeps its buffer alive (FFmpeg frames are reference counted),
    so the decoder carries on with fresh buffers and the held ones stay valid."""

    def __init__(self, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._frames: OrderedDict[int, tuple[av.VideoFrame, int]] = OrderedDict()
        self._bytes = 0
        self._frame_bytes = 0  # size of the last frame stored

    def __contains__(self, index: int) -> bool:
        return index in self._frames

    def capacity_frames(self) -> int:
        """Frames of the last stored size that fit in the budget (at least 1)."""
        return max(1, self._budget // max(1, self._frame_bytes))

    def get(self, index: int) -> av.VideoFrame | None:
        item = self._frames.get(index)
        if item is None:
            return None
        self._frames.move_to_end(index)
        return item[0]

    def put(self, index: int, frame: av.VideoFrame) -> None:
        size = sum(plane.buffer_size for plane in frame.planes)
        self._frame_bytes = size
        old = self._frames.pop(index, None)
        if old is not None:
            self._bytes -= old[1]
        if size > self._budget:
            return
        self._frames[index] = (frame, size)
        self._bytes += size
        while self._bytes > self._budget:
            _, (_, dropped) = self._frames.popitem(last=False)
            self._bytes -= dropped

    def clear(self) -> None:
        self._frames.clear()
        self._bytes = 0


class _IndexMismatch(Exception):
    def __init__(self, pts: int | None) -> None:
        super().__init__(pts)
        self.pts = pts


_FIELD_ORDERS = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}


def _field_order(ctx: Any, first: av.VideoFrame) -> str:
    """The stream's field order (FFmpeg's AVFieldOrder), else what the first frame says."""
    order = _FIELD_ORDERS.get(int(getattr(ctx, "field_order", 0) or 0))
    if order is not None:
        return order
    return "unknown" if first.interlaced_frame else "progressive"


def _placeholder_info(path: Path, count: int) -> MediaInfo:
    return MediaInfo(path, "video", 0, 0, Fraction(1), count, 0.0, "", 8, "", "unknown",
                     "unknown", "unknown", "unknown", None, (), False, 0, 0)


def _open_problem(path: Path, exc: av.FFmpegError) -> str:
    detail = getattr(exc, "strerror", None) or str(exc)
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        head = b""
    container_magic = head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") or head[
        :4] in (b"\x1a\x45\xdf\xa3", b"RIFF")
    if container_magic:
        return f"truncated or damaged: the file starts like a video but cannot be opened ({detail})"
    return f"not a video or image sequence ({detail})"


class SequenceReader(Reader):
    """Frames of an image sequence, one file per frame (see ``engine.media.sequence``)."""

    def __init__(self, path: Path, fps: Fraction = DEFAULT_SEQUENCE_FPS) -> None:
        self._path = path
        self._seq: SequenceFiles = find_files(path)
        files = self._seq.files
        announced = header_size(files[0])
        if announced is not None:  # refuse absurd sizes before allocating a decode
            check_dimensions(files[0], *announced)
        first = decode_file(files[0], self._seq.codec)
        check_dimensions(files[0], first.width, first.height)
        self._size = (first.width, first.height)
        if len(files) > 1:
            last = decode_file(files[-1], self._seq.codec)
            if (last.width, last.height) != self._size:
                raise MediaError(files[-1], f"frames have different sizes: "
                                 f"{last.width}x{last.height}, first frame {files[0].name} "
                                 f"is {first.width}x{first.height}")
        check_sizes(self._seq, first.width, first.height)
        fmt = first.format
        self._closed = False
        tc = _metadata(first).get("timecode")
        self.info = MediaInfo(
            path=path, kind="sequence", width=first.width, height=first.height, fps=fps,
            frame_count=len(files), duration=float(len(files) / fps), pix_fmt=fmt.name,
            bit_depth=component_bits(fmt), codec=self._seq.codec,
            color_range=range_name(first.color_range), color_space=space_name(first.colorspace),
            color_primaries="unknown", color_trc="unknown", timecode=tc or None, audio=(),
            variable_frame_rate=False, rotation=0, first_number=self._seq.first_number,
        )

    @property
    def files(self) -> tuple[Path, ...]:
        """The sequence's files in frame order."""
        return self._seq.files

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (file ``first_number + index``) as float32 RGB, levels 0-1."""
        return frame_to_rgb(self._decode(index))

    def read_scaled(self, index: int, size: tuple[int, int]) -> np.ndarray:
        """Frame ``index`` reduced to ``size`` (width, height) pixels in the conversion."""
        return frame_to_rgb(self._decode(index), size)

    def _decode(self, index: int) -> av.VideoFrame:
        if self._closed:
            raise MediaError(self._path, "reader is closed")
        self._check_index(index)
        file = self._seq.files[index]
        frame = decode_file(file, self._seq.codec)
        if (frame.width, frame.height) != self._size:
            raise MediaError(file, f"frames have different sizes: {frame.width}x{frame.height}, "
                             f"first frame is {self._size[0]}x{self._size[1]}")
        return frame

    def close(self) -> None:
        """Mark closed (no file stays open between reads)."""
        self._closed = True


def open_reader(path: str | Path, sequence_fps: Fraction = DEFAULT_SEQUENCE_FPS,
                recent_frames_bytes: int = RECENT_FRAMES_BYTES) -> Reader:
    """A Reader for a video file, an image-sequence folder, a printf pattern or one file
    of a numbered sequence. ``sequence_fps`` (frames per second) is used for sequences,
    which store no rate. ``recent_frames_bytes`` bounds the store of decoded frames that
    spares re-seeks when scrubbing back (an export, reading forward, needs little).
    MediaError(path, problem) with a one-line problem when the input cannot be used."""
    p = Path(path)
    if "%" in p.name or p.is_dir() or (is_sequence_path(p) and p.exists()):
        return SequenceReader(p, sequence_fps)
    if not p.exists():
        raise MediaError(p, "file not found")
    if not p.is_file():
        raise MediaError(p, "not a video or image sequence (not a regular file)")
    if p.stat().st_size == 0:
        raise MediaError(p, "file is empty (0 bytes)")
    return VideoReader(p, recent_frames_bytes)


def probe(path: str | Path, sequence_fps: Fraction = DEFAULT_SEQUENCE_FPS) -> MediaInfo:
    """Describe a video file or image sequence (opens it, indexes it, decodes frame 0)."""
    with open_reader(path, sequence_fps) as reader:
        return reader.info
