"""Audio passthrough: the audio of a source range, trimmed to the sample, into an output.

Strategy (decided here, used by ``Writer``): the source audio is **decoded**, trimmed
sample-accurately to ``[start_seconds, start_seconds + duration_seconds)`` and
**re-encoded**, never stream-copied, because compressed audio packets (AAC: 1024 samples)
cannot be cut on a video frame boundary. Output codec by container:

- ``.mov`` / ``.mkv``: PCM, 16-bit when the source is 8/16-bit, else 24-bit (lossless for
  every common source, including AAC decoded to float);
- ``.mp4``: AAC at 192 kbit/s per stereo pair (what delivery players expect);
- image sequences: a sidecar WAV (PCM as above) next to the folder or files
  (``scans/`` → ``scans.wav``; ``scans/reel_%06d.dpx`` → ``scans/reel.wav``).

Times are seconds on the source's video timeline: ``start_seconds = 0`` is the
presentation time of the source's frame 0 (audio-only sources: the file start). Where the
source has no audio for part of the range (it starts late or ends early), silence fills
in, so the output audio always lasts exactly ``duration_seconds`` (to the sample) and stays
in sync. Sample rate and channel layout are kept, except where the container takes one
rate only (MXF: 48 kHz), for which the feed resamples (swresample; its filter delays the
sound by well under a millisecond).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioSource:
    """Audio of ``path`` from ``start_seconds`` for ``duration_seconds`` (seconds, on the
    source's video timeline); ``stream`` picks an audio stream by its order among the
    file's audio streams (0 = first)."""

    path: str | Path
    start_seconds: float
    duration_seconds: float
    stream: int = 0
    speed: float = 1.0
    """How fast the sound plays against the source (a picture conformed from 25 to 24 fps
    frame for frame: 0.96): it lasts duration_seconds / speed, its pitch moving with it,
    as a film's sound does on a projector run at another speed."""


_INT_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9.223372036854776e18}


def _to_float(frame: av.AudioFrame) -> np.ndarray:
    """(channels, samples) float64, levels −1…1, from any decoded sample format."""
    arr = frame.to_ndarray()
    name = frame.format.name
    base = name.rstrip("p")
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        arr = arr.reshape(-1, channels).T
    out = arr.astype(np.float64)
    if base == "u8":
        out = (out - 128.0) / 128.0
    elif base in _INT_SCALE:
        out /= _INT_SCALE[base]
    return out


def pcm_codec_for(source_format: str) -> str:
    """PCM encoder keeping a source sample format's precision (pcm_s16le / pcm_s24le)."""
    return "pcm_s16le" if source_format.rstrip("p") in ("u8", "s16") else "pcm_s24le"


RESAMPLED_SLACK_SAMPLES = 64
"""How far (samples) a resampled frame may land from where the last one ended and still be
taken as following it: the resampler holds back a few samples of each frame (its filter's
delay), so its output does not line up with the source's timestamps to the sample."""


class AudioFeed:
    """Decoded, trimmed samples of an AudioSource, pulled in order by the Writer (or the
    workstation's sound); `sample_rate` (Hz) resamples them to that rate and `layout`
    ("stereo", "mono") mixes their channels to it (None keeps the source's)."""

    def __init__(self, source: AudioSource, sample_rate: int | None = None,
                 layout: str | None = None) -> None:
        path = Path(source.path)
        self.source = source
        if source.duration_seconds < 0:
            raise MediaError(path, f"audio duration must be at least 0 s, got "
                             f"{source.duration_seconds}")
        try:
            self._container = av.open(str(path), "r")
        except (av.FFmpegError, OSError) as exc:
            raise MediaError(path, f"audio cannot be opened ({exc})") from None
        streams = self._container.streams.audio
        if len(streams) <= source.stream:
            self._container.close()
            raise MediaError(path, "no audio stream" if not streams
                             else f"no audio stream {source.stream} (it has {len(streams)})")
        self._stream = streams[source.stream]
        ctx = self._stream.codec_context
        ctx.thread_type = "AUTO"
        if source.speed <= 0:
            raise MediaError(path, f"audio speed must be positive, got {source.speed}")
        self.sample_rate = int(sample_rate or ctx.sample_rate)
        self.layout = layout or ctx.layout.name
        self._speed = float(source.speed)
        # Played at another speed, the decoded samples are read as if taken at that many
        # times their rate, then resampled: the length and the pitch change together.
        self._tagged_rate = (round(int(ctx.sample_rate) * self._speed)
                             if self._speed != 1.0 else None)
        self._resampler = (av.AudioResampler(format="dblp", layout=self.layout,
                                             rate=self.sample_rate)
                           if (self.sample_rate, self.layout, self._speed)
                           != (int(ctx.sample_rate), ctx.layout.name, 1.0) else None)
        self.channels = len(av.AudioLayout(self.layout).channels)
        self.source_format = ctx.format.name if ctx.format else "fltp"
        self.total_samples = round(source.duration_seconds / self._speed * self.sample_rate)
        video = self._container.streams.video
        origin = 0.0
        if video and video[0].start_time is not None and video[0].time_base:
            origin = float(video[0].start_time * video[0].time_base)
        self._start = origin + source.start_seconds  # source seconds of output sample 0
        if self._start > 1.0:
            # Seek a second early: decoders need some preroll and seeks are not exact.
            seek_ts = int((self._start - 1.0) / float(self._stream.time_base))
            try:
                self._container.seek(seek_ts, stream=self._stream, backward=True)
            except av.FFmpegError as exc:
                log.warning("%s: audio seek failed (%s); decoding from the start", path, exc)
        self._frames = self._decode()
        self._pending: list[np.ndarray] = []
        self._pending_len = 0
        self._next_pos: int | None = None  # output position right after the last frame
        self._emitted = 0
        self._exhausted = False

    def _decode(self) -> Iterator[av.AudioFrame]:
        try:
            for packet in self._container.demux(self._stream):
                try:
                    yield from packet.decode()
                except av.InvalidDataError as exc:
                    log.warning("%s: skipped a damaged audio packet (%s)", self.source.path, exc)
        except av.FFmpegError as exc:
            log.warning("%s: audio ended early (%s)", self.source.path, exc)

    def _resampled(self, frame: av.AudioFrame | None) -> np.ndarray:
        """The samples the resampler gives for `frame` (None: what it still holds), as
        (channels, n) float64."""
        assert self._resampler is not None
        if frame is not None and self._tagged_rate is not None:
            frame.sample_rate = self._tagged_rate
        blocks = [_to_float(f) for f in self._resampler.resample(frame)]
        return (np.concatenate(blocks, axis=1) if blocks
                else np.zeros((self.channels, 0)))

    def _fill(self, upto: int) -> None:
        """Decode until ``upto`` output samples are buffered or the source ends."""
        slack = 2 if self._resampler is None else RESAMPLED_SLACK_SAMPLES
        while self._emitted + self._pending_len < upto and not self._exhausted:
            frame = next(self._frames, None)
            if frame is None:
                self._exhausted = True
                if self._resampler is not None and self._next_pos is not None:
                    self._place(self._next_pos, self._resampled(None))
                break
            data = _to_float(frame) if self._resampler is None else self._resampled(frame)
            if frame.pts is not None and frame.time_base is not None:
                seconds = (float(frame.pts * frame.time_base) - self._start) / self._speed
                pos = round(seconds * self.sample_rate)
            else:
                pos = self._next_pos if self._next_pos is not None else 0
            # Trust the running position unless the timestamp says there is a real jump:
            # rounding of timestamps must not add or drop single samples.
            if self._next_pos is not None and abs(pos - self._next_pos) <= slack:
                pos = self._next_pos
            self._place(pos, data)

    def _place(self, pos: int, data: np.ndarray) -> None:
        """Buffer `data`, which starts at output sample `pos`: silence before it where
        there is a gap, its start dropped where it overlaps what is buffered."""
        self._next_pos = pos + data.shape[1]
        end_written = self._emitted + self._pending_len
        if pos > end_written:  # a gap (or the source starts late): silence
            gap = pos - end_written
            self._pending.append(np.zeros((self.channels, gap)))
            self._pending_len += gap
        elif pos < end_written:  # overlap (preroll before the range, or repeated data)
            data = data[:, end_written - pos :]
        if data.shape[1]:
            self._pending.append(data)
            self._pending_len += data.shape[1]

    def take(self, upto: int) -> np.ndarray:
        """Samples from the current position up to output sample ``upto`` (capped at the
        range's length), as (channels, n) float64; silence where the source has none."""
        upto = min(upto, self.total_samples)
        n = upto - self._emitted
        if n <= 0:
            return np.zeros((self.channels, 0))
        self._fill(upto)
        joined = (np.concatenate(self._pending, axis=1) if self._pending
                  else np.zeros((self.channels, 0)))
        out, rest = joined[:, :n], joined[:, n:]
        if out.shape[1] < n:
            out = np.concatenate([out, np.zeros((self.channels, n - out.shape[1]))], axis=1)
        self._pending = [rest] if rest.shape[1] else []
        self._pending_len = rest.shape[1]
        self._emitted = upto
        return out

    def read(self, n: int) -> np.ndarray:
        """The next `n` samples (fewer at the range's end), as `take` gives them."""
        return self.take(self._emitted + n)

    def close(self) -> None:
        """Close the source file."""
        self._frames = iter(())
        self._container.close()


def interleaved_pcm16(block: np.ndarray) -> np.ndarray:
    """(channels, n) float samples, levels −1…1 (clipped) → interleaved 16-bit PCM
    samples, (n × channels) int16: what a WAV file or a sound device takes."""
    ints = np.rint(np.clip(block, -1.0, 1.0) * 32767.0).astype(np.int16)
    return np.ascontiguousarray(ints.T).reshape(-1)


class AudioSink:
    """Encodes samples from an AudioFeed into one audio stream of an output container."""

    def __init__(self, container: av.container.OutputContainer, codec: str,
                 feed: AudioFeed) -> None:
        self.feed = feed
        self._container = container
        options = {"b": str(96000 * max(feed.channels, 1))} if codec == "aac" else {}
        self._stream = container.add_stream(codec, rate=feed.sample_rate, options=options)
        self._stream.layout = feed.layout
        # Each encoder's default sample format: s16 (pcm_s16le), s32 (pcm_s24le), fltp (aac).
        self._format = self._stream.codec_context.format.name
        self._stream.time_base = Fraction(1, feed.sample_rate)
        self._written = 0

    def _frame(self, block: np.ndarray) -> av.AudioFrame:
        clipped = np.clip(block, -1.0, 1.0)
        if self._format == "s16":
            data = interleaved_pcm16(clipped).reshape(1, -1)
        elif self._format == "s32":
            # 24-bit PCM is carried in the top bits of 32-bit samples.
            ints24 = np.rint(clipped * 8388607.0).astype(np.int32) << 8
            data = np.ascontiguousarray(ints24.T).reshape(1, -1)
        elif self._format == "fltp":
            data = np.ascontiguousarray(clipped.astype(np.float32))
        else:
            raise MediaError(self.feed.source.path, f"unsupported audio sample format "
                             f"{self._format}")
        frame = av.AudioFrame.from_ndarray(data, format=self._format, layout=self.feed.layout)
        frame.sample_rate = self.feed.sample_rate
        frame.pts = self._written
        frame.time_base = Fraction(1, self.feed.sample_rate)
        return frame

    def write_until(self, seconds: Fraction | float) -> None:
        """Encode and mux the range's audio up to ``seconds`` into the output."""
        upto = int(Fraction(seconds) * self.feed.sample_rate)
        block = self.feed.take(upto)
        if block.shape[1]:
            for packet in self._stream.encode(self._frame(block)):
                self._container.mux(packet)
            self._written += block.shape[1]

    def finish(self) -> None:
        """Write the rest of the range (to exactly its duration) and flush the encoder."""
        self.write_until(Fraction(self.feed.total_samples, self.feed.sample_rate))
        for packet in self._stream.encode(None):
            self._container.mux(packet)
