"""Writing an intermediate: some of a clip's frames, as decoded, at a new frame rate.

Removing 3:2 pulldown (`engine.render.pulldown`) and removing a transfer's repeated frames
(`engine.render.repeats`) both give back a film's own frames, in a new file that a
restoration then starts from. Both write it as an export is: under a temporary name,
renamed when complete. By default the intermediate is FFV1, lossless, so it holds exactly
the pixels of the transfer. Its sound is the source's, as long as the new picture lasts;
its timecode is the source's start, counted at the new rate; its comment tag says what was
done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.errors import MediaError, RenderCancelled
from engine.media import AudioSource, MediaInfo, Reader, Writer, open_reader, output_format_for
from engine.media.writer import OutputFormat
from engine.render.export import BackgroundWriter, OutputTarget, check_output_is_not_source
from engine.render.provenance import COMMENT, nitrate_version
from engine.retime import retime_timecode


@contextmanager
def transfer(source: Path, output: Path,
             codec: str | None) -> Iterator[tuple[Reader, OutputFormat]]:
    """`source` open to have some of its frames written to `output` (format by its
    extension, or `codec`, at the source's bit depth): (reader, format). A MediaError when
    `output` would overwrite `source`, before anything is read."""
    with open_reader(source) as reader:
        fmt = output_format_for(output, codec, reader.info.bit_depth)
        check_output_is_not_source(source, output)
        yield reader, fmt


def write_intermediate(info: MediaInfo, output: Path, fmt: OutputFormat,
                       frames: Iterable[np.ndarray | av.VideoFrame], count: int,
                       fps: Fraction, what: str,
                       job: str, progress: Callable[[int], None] | None = None,
                       cancelled: Callable[[], bool] = lambda: False) -> None:
    """Write `frames` (`count` of them: float RGB, or frames as the Reader decoded them,
    converted in one pass as an export's direct path does) of the clip `info` describes to
    `output`
    at `fps`, with the clip's sound for as long as they last. `what` says what was done, for
    the comment tag ("3:2 pulldown removed: …"); `job` names the work in a cancel's message
    ("pulldown removal"). `progress(k)` after frame k is handed to the encoder.
    RenderCancelled when `cancelled()` turns true; after a failure or a cancel nothing is
    left under `output`."""
    source = Path(info.path)
    target = OutputTarget(output, fmt)
    timecode = retime_timecode(info.timecode, info.fps, fps) if info.timecode else None
    audio = AudioSource(source, 0.0, float(count / fps)) if info.audio else None
    note = f"Made by Nitrate {nitrate_version()} from {source.name}: {what}"
    writer: Writer | None = None
    background: BackgroundWriter | None = None  # encodes while the next frame is read
    try:
        for k, frame in enumerate(frames):
            if cancelled():
                raise RenderCancelled(f"{output}: {job} cancelled")
            if writer is None:
                decoded = isinstance(frame, av.VideoFrame)
                width, height = ((frame.width, frame.height) if decoded
                                 else (frame.shape[1], frame.shape[0]))
                writer = Writer(target.write_path, fmt, width, height, fps, timecode=timecode,
                                audio=audio, metadata={COMMENT: note})
                background = BackgroundWriter(
                    writer, writer.prepare_decoded if decoded else writer.prepare)
            assert background is not None
            background.write(frame)
            if progress is not None:
                progress(k)
        if writer is None or background is None:
            raise MediaError(source, "has no frames")
        target.complete(writer, background)
    except BaseException as exc:
        target.abandon(writer, exc, output, background)
