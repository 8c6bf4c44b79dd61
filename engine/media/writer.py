"""Writer: float32 RGB frames (levels 0-1) → a video file or an image sequence, with audio.
Frames no operator touched can also come as decoded (``prepare_decoded``: one swscale pass
from the codec's pixel format to the encoder's, the export's direct path).

Formats (``OutputFormat``; pick with ``output_format_for``):

| name        | encoder   | stored as                                     | audio        |
|-------------|-----------|-----------------------------------------------|--------------|
| prores_hq   | prores    | profile 3 (422 HQ), yuv422p10le, BT.709 tv    | PCM (.mov)   |
| prores_4444 | prores    | profile 4 (4444), yuv444p10le, BT.709 tv      | PCM (.mov)   |
| dnxhr_hqx   | dnxhd     | DNxHR HQX, yuv422p10le, BT.709 tv; ≥ 256×120  | PCM (.mov)   |

| ffv1        | ffv1      | lossless RGB: bgr0 / gbrp10le / gbrp16le      | PCM (.mkv)   |
| h264, h265  | libx264/5 | yuv420p, crf 18, BT.709 tv (delivery)         | AAC (.mp4)   |
| dpx         | dpx       | 10-bit (gbrp10le) or 16-bit (rgb48le) files   | sidecar WAV  |
| tiff        | tiff      | 16-bit RGB files (rgb48le)                    | sidecar WAV  |
| png         | png       | 16-bit where the source is deep, else 8-bit   | sidecar WAV  |

``.mxf`` (OP1a, the broadcast and Avid wrapper) holds DNxHR HQX (its default) or ProRes,
with 48 kHz PCM sound (other rates are resampled), at the SMPTE frame rates only
(``MXF_RATES``; another is refused before the file is created). Its provenance line is
the user comment "provenance" (``container_tags``).

Floats are quantised as ``round(clip(v, 0, 1) * (2**bits − 1))``; RGB formats are written
from those integers directly (no colour maths), so a 16-bit source read and written to
FFV1/TIFF/PNG, or a 10-bit DPX to DPX, comes back bit-exact. YUV formats use swscale's
BT.709 matrix, limited range. Frame rate and timecode are kept (timecode on the container
and video stream for .mov/.mkv/.mp4; image sequences carry none). Audio is interleaved:
after each video frame the audio up to that frame's end is muxed (see
``engine.media.audio`` for the strategy). The Writer writes exactly the path it is given;
atomic rename is ``engine.render``'s job.
"""

from __future__ import annotations

import errno
import logging
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from engine.errors import MediaError
from engine.media import timecode as tc
from engine.media.audio import AudioFeed, AudioSink, AudioSource, pcm_codec_for
from engine.media.convert import converts_directly, frame_to_rgb, yuv_interpretation
from engine.media.info import MAX_PIXELS, MAX_SIDE

log = logging.getLogger(__name__)

_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EROFS})

ENCODER_THREADS = 2
"""Encoder threads (the 2-core target)."""
CONVERT_THREADS = 1
"""swscale threads for the RGB → output pixel format conversion. One: the encoder's
threads already keep both cores busy, and slicing the conversion on top of them measured
15-30 % slower for ProRes at 1080p (9.0 against 10.3-12.3 fps)."""

# swscale's SWS_CS_ITU709 and FFmpeg's AVColorRange values, for reformat().
_SWS_BT709 = 1
_RANGE_MPEG, _RANGE_JPEG = 1, 2

_PRINTF = re.compile(r"%0?\d*d")
_CONTAINERS = {".mov": "prores_hq", ".mkv": "ffv1", ".mp4": "h264", ".mxf": "dnxhr_hqx"}
_SEQUENCE_EXT = {".dpx": "dpx", ".tif": "tiff", ".tiff": "tiff", ".png": "png"}
_ALLOWED_CONTAINERS = {
    "prores_hq": (".mov", ".mkv", ".mxf"),
    "prores_4444": (".mov", ".mkv", ".mxf"),
    "dnxhr_hqx": (".mov", ".mxf"),
    "ffv1": (".mkv", ".mov", ".avi"),
    "h264": (".mp4", ".mov", ".mkv"),
    "h265": (".mp4", ".mov", ".mkv"),
}
MXF_RATES: tuple[Fraction, ...] = tuple(Fraction(r) for r in (
    "24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60"))
"""Frame rates (frames per second) an MXF file (SMPTE 377, OP1a) may have; broadcast
servers and Avid refuse others, and FFmpeg writes them only when told not to be strict."""

MXF_AUDIO_RATE = 48000
"""The only sample rate (Hz) of an MXF file's sound; other sources are resampled."""

MXF_COMMENT_PREFIX = "comment_"
"""MXF keeps free text as named user comments: FFmpeg writes a tag "comment_NAME" as the
comment NAME and reads it back under the same key."""

CODECS: tuple[str, ...] = ("prores_hq", "prores_4444", "dnxhr_hqx", "ffv1", "h264", "h265",
                           "dpx", "tiff", "png")
"""Codec names ``output_format_for`` accepts."""


DTS_REACH = 1 << 24
"""Ticks (of any video time base) beyond which a decode timestamp cannot be an encoder's:
further than this before its packet's pts, or after the previous packet's dts."""

@dataclass(frozen=True)
class OutputFormat:
    """How frames are stored: ``name`` (one of CODECS), ``kind`` ("video" | "sequence"),
    FFmpeg ``encoder`` and ``pix_fmt``, ``bit_depth`` (bits per component written),
    encoder ``options``, file ``extension`` (with dot), ``audio_codec`` (None: a
    sidecar WAV for sequences, chosen from the source audio), ``min_size``, the
    smallest (width, height) in pixels the encoder takes (None: any), and ``audio_rate``."""

    name: str
    kind: str
    encoder: str
    pix_fmt: str
    bit_depth: int
    extension: str
    audio_codec: str | None
    options: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    min_size: tuple[int, int] | None = None
    audio_rate: int | None = None
    """The sample rate (Hz) the container takes for sound; None keeps the source's."""

    @property
    def is_rgb(self) -> bool:
        """Stored as RGB (no YUV matrix): FFV1 and the image formats."""
        return not self.pix_fmt.startswith("yuv")


def _format(name: str, extension: str, bits: int) -> OutputFormat:
    yuv709 = {"color_range": "tv"}
    # FFmpeg's "prores" encoder (prores_aw), not prores_ks: 3-4x faster at 720p on two
    # cores (about 45 against 190 ms a frame), and closer to the source at the same
    # profile (luma RMS error 2.9 against 4.4 10-bit codes), for about 25 % more bytes.
    if name == "prores_hq":
        return OutputFormat(name, "video", "prores", "yuv422p10le", 10, extension, "pcm",
                            {"profile": "3", "vendor": "apl0", **yuv709})
    if name == "prores_4444":
        return OutputFormat(name, "video", "prores", "yuv444p10le", 10, extension, "pcm",
                            {"profile": "4", "vendor": "apl0", **yuv709})
    if name == "dnxhr_hqx":
        # Avid's resolution-independent DNxHR, the 10-bit 4:2:2 profile: the master
        # broadcasters and Avid editors ask for. FFmpeg's encoder refuses pictures smaller
        # than 256x120.
        return OutputFormat(name, "video", "dnxhd", "yuv422p10le", 10, extension, "pcm",
                            {"profile": "dnxhr_hqx", **yuv709}, min_size=(256, 120))
    if name == "ffv1":
        pix = {8: "bgr0", 10: "gbrp10le", 16: "gbrp16le"}[8 if bits <= 8 else 10 if bits <= 10
                                                          else 16]
        depth = 8 if bits <= 8 else 10 if bits <= 10 else 16
        return OutputFormat(name, "video", "ffv1", pix, depth, extension, "pcm",
                            {"level": "3", "slices": "4", "slicecrc": "1", "g": "1"})
    if name in ("h264", "h265"):
        enc = "libx264" if name == "h264" else "libx265"
        opts = {"crf": "18", "preset": "medium"}
        if name == "h265":
            opts["x265-params"] = "log-level=error"
        audio = "aac" if extension == ".mp4" else "pcm"
        return OutputFormat(name, "video", enc, "yuv420p", 8, extension, audio, opts)
    if name == "dpx":
        deep = bits > 10
        return OutputFormat(name, "sequence", "dpx", "rgb48le" if deep else "gbrp10le",
                            16 if deep else 10, extension, None)
    if name == "tiff":
        return OutputFormat(name, "sequence", "tiff", "rgb48le", 16, extension, None)
    if name == "png":
        deep = bits > 8
        return OutputFormat(name, "sequence", "png", "rgb48be" if deep else "rgb24",
                            16 if deep else 8, extension, None)
    raise AssertionError(name)


def output_format_for(path: str | Path, codec: str | None = None,
                      source_bit_depth: int = 8) -> OutputFormat:
    """The OutputFormat for ``path``: ``.mov`` → ProRes 422 HQ, ``.mkv`` → FFV1 (depth
    follows the source: 8 → 8, 9-10 → 10, deeper → 16), ``.mp4`` → H.264; a printf pattern
    with .dpx/.tif/.tiff/.png → that sequence; an existing folder (or a path without an
    extension) → a DPX sequence unless ``codec`` says otherwise. ``codec`` (one of CODECS)
    overrides the default; unknown names or a codec the container cannot hold raise
    MediaError."""
    p = Path(path)
    bits = max(8, int(source_bit_depth))
    if codec is not None and codec not in CODECS:
        raise MediaError(p, f"unknown codec {codec!r} (choose from {', '.join(CODECS)})")
    name_suffix = Path(_PRINTF.sub("", p.name)).suffix.lower()
    is_pattern = _PRINTF.search(p.name) is not None
    is_folder = not is_pattern and (p.is_dir() or name_suffix == "")
    if is_pattern or is_folder:
        if is_pattern and name_suffix not in _SEQUENCE_EXT:
            raise MediaError(p, f"unknown image-sequence type {name_suffix or '(none)'!r} "
                             "(use .dpx, .tif, .tiff or .png)")
        default = _SEQUENCE_EXT.get(name_suffix, "dpx")
        chosen = codec or default
        if chosen not in ("dpx", "tiff", "png"):
            raise MediaError(p, f"codec {chosen!r} cannot write an image sequence "
                             "(use dpx, tiff or png)")
        if is_pattern and _SEQUENCE_EXT[name_suffix] != chosen:
            raise MediaError(p, f"codec {chosen!r} does not match the extension {name_suffix}")
        ext = name_suffix if is_pattern else {"dpx": ".dpx", "tiff": ".tif", "png": ".png"}[
            chosen]
        return _format(chosen, ext, bits)
    if name_suffix in _SEQUENCE_EXT:
        raise MediaError(p, "an image sequence needs a folder or a printf pattern "
                         f"such as name_%06d{name_suffix}")
    if codec is None:
        if name_suffix not in _CONTAINERS:
            raise MediaError(p, f"unknown output type {name_suffix!r} (use .mov, .mkv, .mp4, "
                             "a folder or an image-sequence pattern)")
        codec = _CONTAINERS[name_suffix]
    if codec in ("dpx", "tiff", "png"):
        raise MediaError(p, f"codec {codec!r} writes image sequences: give a folder or a "
                         "printf pattern")
    if name_suffix not in _ALLOWED_CONTAINERS[codec]:
        raise MediaError(p, f"codec {codec!r} cannot be stored in a {name_suffix or 'bare'} "
                         f"file (use {', '.join(_ALLOWED_CONTAINERS[codec])})")
    fmt = _format(codec, name_suffix, bits)
    if name_suffix == ".mxf":
        fmt = replace(fmt, audio_rate=MXF_AUDIO_RATE)
    return fmt


def container_tags(fmt: OutputFormat, metadata: dict[str, str]) -> dict[str, str]:
    """`metadata` as the container of `fmt` stores it: MXF keeps a "comment" as the user
    comment "comment_provenance" (what `engine.media.reader` reads back as the comment)."""
    if fmt.extension != ".mxf":
        return dict(metadata)
    return {(f"{MXF_COMMENT_PREFIX}provenance" if key == "comment" else key): value
            for key, value in metadata.items()}


def check_rate(path: Path, fmt: OutputFormat, fps: Fraction) -> None:
    """MediaError when a file of `fmt` cannot have `fps` frames per second."""
    if fmt.extension == ".mxf" and fps not in MXF_RATES:
        raise MediaError(path, f"an MXF file is 23.976, 24, 25, 29.97, 30, 50, 59.94 or 60 "
                         f"fps, not {float(fps):g}: give the export one of those (--fps 24 "
                         "or Output frame rate…), or write a .mov")


def quantise(frame: np.ndarray, bits: int) -> np.ndarray:
    """Float levels 0-1 → unsigned ints of ``bits`` bits: rounded, clipped (uint8/uint16)."""
    top = (1 << bits) - 1
    src = np.ascontiguousarray(frame)
    # One OpenCV pass scales (in double precision), rounds half to even and saturates to
    # 0..255 or 0..65535, on both cores: about 3 ms at 1080p against 9 ms for numpy's four
    # passes. Every k / (2**bits − 1) still comes back as exactly k.
    # Viewed as one channel (H, W*C): OpenCV would apply a scalar to the first channel only.
    flat = src.reshape(src.shape[0], -1) if src.ndim > 1 else src.reshape(1, -1)
    # NaN (a failed computation upstream) must come out as 0, but OpenCV's saturating cast
    # sends it to 0 in 4.x and to the top code in 5.1. A sum (under 1 ms at 1080p) finds
    # one; the frame is patched on that rare path only.
    if not np.isfinite(cv2.sumElems(flat)[0]):
        flat = np.nan_to_num(flat, nan=0.0)
    out = cv2.multiply(flat, 1.0, scale=float(top), dtype=cv2.CV_8U if bits <= 8 else cv2.CV_16U)
    if bits not in (8, 16):
        np.minimum(out, top, out=out)  # 9-15 bits: saturation stopped at 16 bits
    return out.reshape(src.shape)


def _detached(frame: av.VideoFrame) -> av.VideoFrame:
    """A new frame holding a copy of `frame`'s pixels and nothing else (no timestamps,
    picture type, field flags or side data): about 0.6 ms at 1080p 4:2:2 10-bit."""
    out = av.VideoFrame(frame.width, frame.height, frame.format.name)
    for src, dst in zip(frame.planes, out.planes, strict=True):
        # Rows as (height, line_size) bytes; the padding at the end of a row may differ.
        row = min(src.line_size, dst.line_size)
        src_rows = np.frombuffer(src, np.uint8, count=src.height * src.line_size)
        dst_rows = np.frombuffer(dst, np.uint8, count=dst.height * dst.line_size)
        dst_rows.reshape(dst.height, -1)[:, :row] = src_rows.reshape(src.height, -1)[:, :row]
    return out


def clip_stem(path: Path, default: str = "audio") -> str:
    """A file's stem, or an image sequence pattern's without its frame number:
    ``reel.mov`` → ``reel``, ``reel_%06d.dpx`` → ``reel`` (`default` when nothing is left)."""
    if _PRINTF.search(path.name):
        return _PRINTF.split(Path(path.name).stem)[0].rstrip("_-. ") or default
    return path.stem


def sidecar_wav(path: Path) -> Path:
    """Where an image sequence's audio goes: ``scans/`` → ``scans.wav``;
    ``dir/reel_%06d.dpx`` → ``dir/reel.wav``."""
    if _PRINTF.search(path.name):
        return path.parent / f"{clip_stem(path)}.wav"
    return path.parent / f"{path.name}.wav"


class Writer:
    """Writes frames to ``path`` in ``fmt``; a context manager (aborts on an exception).

    ``width``/``height`` in pixels, ``fps`` frames per second, ``timecode``
    "HH:MM:SS:FF" of the first frame, ``audio`` the source range to pass through,
    ``first_number`` the number of the first file for image sequences.
    """

    def __init__(self, path: str | Path, fmt: OutputFormat, width: int, height: int,
                 fps: Fraction | int | float, timecode: str | None = None,
                 audio: AudioSource | None = None, first_number: int = 0,
                 metadata: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.format = fmt
        self.width, self.height = int(width), int(height)
        self.fps = Fraction(fps).limit_denominator(1001000)
        self.frames_written = 0
        self._closed = False
        self._last_dts: int | None = None  # of the last video packet muxed (time base units)
        self._created: list[Path] = []
        self._made_dirs: list[Path] = []
        self._container: av.container.OutputContainer | None = None
        self._audio_container: av.container.OutputContainer | None = None
        self._sink: AudioSink | None = None
        self._feed: AudioFeed | None = None
        self._check_size()
        if self.fps <= 0:
            raise MediaError(self.path, f"frame rate must be positive, got {fps}")
        check_rate(self.path, fmt, self.fps)
        if timecode is not None:
            try:
                tc.parse(timecode, self.fps)
            except ValueError as exc:
                raise MediaError(self.path, str(exc)) from None
        self.timecode = timecode
        self.metadata = dict(metadata or {})
        try:
            if fmt.kind == "sequence":
                self._open_sequence(first_number)
            else:
                self._open_video()
            if audio is not None:
                self._open_audio(audio)
        except BaseException:
            self.abort()
            raise

    # -- setup ----------------------------------------------------------------------------

    def _check_size(self) -> None:
        w, h, fmt = self.width, self.height, self.format
        if w <= 0 or h <= 0 or w > MAX_SIDE or h > MAX_SIDE or w * h > MAX_PIXELS:
            raise MediaError(self.path, f"dimensions {w}x{h} are outside 1-{MAX_SIDE} per side "
                             f"/ {MAX_PIXELS} pixels")
        if fmt.min_size is not None and (w < fmt.min_size[0] or h < fmt.min_size[1]):
            raise MediaError(self.path, f"{fmt.name} needs a picture of at least "
                             f"{fmt.min_size[0]}x{fmt.min_size[1]} pixels, not {w}x{h} "
                             "(choose ProRes or FFV1, or frame it to a larger size)")
        if fmt.pix_fmt.startswith(("yuv420", "yuv422")) and w % 2:
            raise MediaError(self.path, f"{fmt.name} needs an even width, got {w}")
        if fmt.pix_fmt.startswith("yuv420") and h % 2:
            raise MediaError(self.path, f"{fmt.name} needs an even height, got {h}")

    def _open_video(self) -> None:
        fmt = self.format
        if self.path.exists() and self.path.is_dir():
            raise MediaError(self.path, "is a folder; a video file was expected")
        if not self.path.parent.is_dir():
            raise MediaError(self.path, "the output folder does not exist")
        try:
            self._container = av.open(str(self.path), "w")
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(self.path, f"cannot be created ({exc})") from None
        self._created.append(self.path)
        options = {k: v for k, v in fmt.options.items() if k != "color_range"}
        if fmt.encoder == "libx265" and "x265-params" in options:
            options["x265-params"] += f":pools={ENCODER_THREADS}"
        stream = self._container.add_stream(fmt.encoder, rate=self.fps, options=options)
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, fmt.pix_fmt
        ctx = stream.codec_context
        ctx.thread_count = ENCODER_THREADS
        # AUTO: frame threads where the encoder has only those (ProRes: PyAV's default,
        # slices, left it on one core), slices where it has them (FFV1).
        ctx.thread_type = "AUTO"
        if fmt.is_rgb:
            ctx.colorspace, ctx.color_range = 0, 2  # AVCOL_SPC_RGB, full range
        else:
            ctx.colorspace, ctx.color_range = 1, 1  # BT.709 matrix, limited range
        ctx.color_primaries, ctx.color_trc = 1, 1  # BT.709
        if self.timecode is not None:
            self._container.metadata["timecode"] = self.timecode
            stream.metadata["timecode"] = self.timecode
        for key, value in container_tags(fmt, self.metadata).items():
            self._container.metadata[key] = value
        self._stream = stream

    def _open_sequence(self, first_number: int) -> None:
        p = self.path
        if _PRINTF.search(p.name):
            folder, pattern = p.parent, p.name
        else:
            folder, pattern = p, f"frame_%06d{self.format.extension}"
        if folder.exists() and not folder.is_dir():
            raise MediaError(folder, "exists and is not a folder")
        if not folder.exists():
            if not folder.parent.is_dir():
                raise MediaError(p, "the output folder's parent does not exist")
            folder.mkdir()
            self._made_dirs.append(folder)
        regex = re.compile("^" + re.escape(_PRINTF.split(pattern)[0]) + r"\d+"
                           + re.escape(_PRINTF.split(pattern)[-1]) + "$")
        clash = next((e for e in folder.iterdir() if regex.match(e.name)), None)
        if clash is not None:
            raise MediaError(p, f"already holds frame files ({clash.name}); choose an empty "
                             "folder or another name")
        self._folder, self._pattern = folder, pattern
        self._next_number = int(first_number)

    def _open_audio(self, audio: AudioSource) -> None:
        self._feed = AudioFeed(audio, self.format.audio_rate)
        codec = self.format.audio_codec
        if codec in (None, "pcm"):
            codec = pcm_codec_for(self._feed.source_format)
        if self.format.kind == "sequence":
            wav = sidecar_wav(self.path)
            if wav.exists():
                raise MediaError(wav, "already exists; the sidecar audio would overwrite it")
            self._audio_container = av.open(str(wav), "w", format="wav")
            self._created.append(wav)
            self._sink = AudioSink(self._audio_container, codec, self._feed)
        else:
            assert self._container is not None
            self._sink = AudioSink(self._container, codec, self._feed)

    # -- writing --------------------------------------------------------------------------

    def _video_frame(self, frame: np.ndarray) -> av.VideoFrame:
        fmt = self.format
        pix = fmt.pix_fmt
        if pix.startswith("gbrp"):
            return av.VideoFrame.from_ndarray(quantise(frame, fmt.bit_depth), format=pix)
        if fmt.bit_depth <= 8:
            vf = av.VideoFrame.from_ndarray(quantise(frame, 8), format="rgb24")
        else:
            vf = av.VideoFrame.from_ndarray(quantise(frame, 16), format="rgb48le")
        if vf.format.name == pix:
            return vf
        if fmt.is_rgb:
            return vf.reformat(format=pix, threads=CONVERT_THREADS)
        return vf.reformat(format=pix, src_colorspace="ITU709", dst_colorspace="ITU709",
                           src_color_range="JPEG", dst_color_range="MPEG",
                           threads=CONVERT_THREADS)

    def prepare(self, frame: np.ndarray) -> av.VideoFrame:
        """Convert a frame (float32 (height, width, 3) RGB, levels 0-1, clipped) to what the
        encoder takes. Needs no state of the writer beyond its format and size, so an export
        runs it on the writer's thread, off the evaluator's."""
        if frame.ndim != 3 or frame.shape != (self.height, self.width, 3):
            raise MediaError(self.path, f"frame of shape {tuple(frame.shape)} does not match "
                             f"the output ({self.height}, {self.width}, 3)")
        return self._video_frame(frame)

    def prepare_decoded(self, frame: av.VideoFrame) -> av.VideoFrame:
        """Convert a decoded frame, in its codec's own pixel format (``VideoReader.decoded``),
        to what the encoder takes in one swscale pass, never through float: the export's
        direct path for frames no operator touches, as the ffmpeg CLI transcodes.

        The source is read as ``frame_to_rgb`` reads it (its YUV matrix and range, RGB as
        is) and written as ``prepare`` writes (BT.709 limited range for YUV formats, RGB
        unchanged), so the picture is the float path's within rounding, without its two
        full-frame conversions. The result is a frame of its own: none of the decoder's
        properties (picture type, duration, field flags, side data such as captions) reach
        the encoder, as none reach it from ``prepare``, and the decoded frame, which the
        Reader may still hold, is never handed to another thread."""
        if (frame.width, frame.height) != (self.width, self.height):
            raise MediaError(self.path, f"frame of {frame.width}x{frame.height} does not "
                             f"match the output ({self.width}x{self.height})")
        if not converts_directly(frame.format.name):
            # A stream that changed its pixel format midway: this frame goes through float.
            return self.prepare(frame_to_rgb(frame))
        fmt = self.format
        if frame.format.is_rgb:
            src_cs, src_range = _SWS_BT709, _RANGE_JPEG
        else:
            src_cs, src_range = yuv_interpretation(frame)
        if fmt.is_rgb:  # YUV → RGB with the source's matrix (RGB → RGB: a repack)
            dst_cs, dst_range = src_cs, _RANGE_JPEG
        else:
            dst_cs, dst_range = _SWS_BT709, _RANGE_MPEG
        converted = frame.reformat(format=fmt.pix_fmt, src_colorspace=src_cs,
                                   dst_colorspace=dst_cs, src_color_range=src_range,
                                   dst_color_range=dst_range, threads=CONVERT_THREADS)
        out = _detached(converted)
        if not fmt.is_rgb:  # tagged as the frames `prepare` makes are
            out.colorspace, out.color_range = 1, _RANGE_MPEG  # AVCOL_SPC_BT709
        return out

    def write(self, frame: np.ndarray | av.VideoFrame) -> None:
        """Append one frame: float32 (height, width, 3) RGB, levels 0-1 (clipped), or what
        `prepare` or `prepare_decoded` made of one."""
        if self._closed:
            raise MediaError(self.path, "writer is closed")
        vf = frame if isinstance(frame, av.VideoFrame) else self.prepare(frame)
        vf.pts = self.frames_written
        try:
            if self.format.kind == "sequence":
                self._write_image(vf)
            else:
                assert self._container is not None
                vf.time_base = Fraction(1) / self.fps
                for packet in self._stream.encode(vf):
                    self._mux_video(packet)
            self.frames_written += 1
            if self._sink is not None:
                self._sink.write_until(Fraction(self.frames_written) / self.fps)
        except av.FFmpegError as exc:
            if exc.errno in _WRITE_ERRNOS:  # the disk, not the encoder (full, quota, EIO)
                raise MediaError(self.path, f"cannot be written ({exc.strerror})") from None
            raise MediaError(self.path, f"cannot encode {self.format.name} ({exc})") from None
        except OSError as exc:
            raise MediaError(self.path, f"cannot be written ({exc.strerror or exc})") from None

    def _write_image(self, vf: av.VideoFrame) -> None:
        # A fresh context per file: image encoders end their stream at each flush.
        ctx = av.CodecContext.create(self.format.encoder, "w")
        ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, self.format.pix_fmt
        ctx.time_base = Fraction(1) / self.fps
        vf.pts = 0
        data = b"".join(bytes(p) for p in ctx.encode(vf))
        data += b"".join(bytes(p) for p in ctx.encode(None))
        out = self._folder / (self._pattern % self._next_number)
        self._created.append(out)
        out.write_bytes(data)
        self._next_number += 1

    def close(self) -> None:
        """Flush encoders, finish the audio to its full duration, close the file(s)."""
        if self._closed:
            return
        try:
            if self._sink is not None:
                self._sink.finish()
            if self._container is not None and self.format.kind == "video":
                for packet in self._stream.encode(None):
                    self._mux_video(packet)
        except av.FFmpegError as exc:
            self.abort()
            raise MediaError(self.path, f"cannot finish {self.format.name} ({exc})") from None
        self._closed = True
        try:
            self._close_containers()
        except (av.FFmpegError, OSError) as exc:
            # The end of a file (a MOV's index, buffered packets) is written on closing: a
            # full disk there leaves a file no player can open, so it is an error too.
            self.abort()
            raise MediaError(self.path, f"cannot be written ({exc.strerror or exc})") from None

    def _mux_video(self, packet: av.Packet) -> None:
        """Mux an encoded video packet, mending a decode timestamp the encoder left unset.

        libx265 hands out packets with an uninitialised dts when it is flushed with its
        frame threads idle, which happens on short clips: whatever the memory held, seen
        as -4.6e18, -9.4e13 and +4.9e18 (PyAV 18.1, libavcodec 62). The MP4 muxer may
        then refuse the file ("patches welcome": it also refuses a step between two dts
        beyond 2^31 ticks, so a garbage value of a mere 3e10 fails the file too). A dts that
        cannot be one — unset, far out of range, after the packet's pts or far before it,
        not after the previous packet's or far after it — is replaced by the next one in
        order, never above the packet's pts. "Far" is DTS_REACH ticks: more than any
        encoder's reordering delay or any real gap between two frames."""
        dts = packet.dts
        pts = packet.pts
        last = self._last_dts
        if (dts is None or abs(dts) > (1 << 40)
                or (pts is not None and not pts - DTS_REACH <= dts <= pts)
                or (last is not None and not last < dts <= last + DTS_REACH)):
            dts = 0 if self._last_dts is None else self._last_dts + 1
            if pts is not None:
                dts = min(dts, pts)
            packet.dts = dts
        self._last_dts = packet.dts
        assert self._container is not None
        self._container.mux(packet)

    def _close_containers(self, quiet: bool = False) -> None:
        """Close the file(s); the first error is raised once all are closed, unless
        `quiet` (an abort, which meets the error of a failed write again)."""
        error: av.FFmpegError | OSError | None = None
        for name in ("_container", "_audio_container"):
            container = getattr(self, name)
            if container is not None:
                setattr(self, name, None)
                try:
                    container.close()
                except (av.FFmpegError, OSError) as exc:
                    error = error or exc
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        if error is not None and not quiet:
            raise error

    def abort(self) -> None:
        """Stop and remove everything this Writer created (files, sidecar, new folder)."""
        self._closed = True
        self._close_containers(quiet=True)
        for created in reversed(self._created):
            created.unlink(missing_ok=True)
        self._created.clear()
        for folder in reversed(self._made_dirs):
            try:
                folder.rmdir()
            except OSError:
                log.warning("%s: folder not removed (not empty)", folder)
        self._made_dirs.clear()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
