"""Writing a telecined clip's film frames to a new file (`nitrate pulldown`, Clip ▸ Remove
3:2 pulldown…): the intermediate a restoration of a video transfer starts from.

The frames are found by `engine.media.pulldown` and written as an export is: under a
temporary name, renamed when complete. By default the intermediate is FFV1, lossless, so
it holds exactly the pixels of the transfer. Its sound is the source's whole length. Its
timecode is the source's start, counted at the film rate. Its comment tag says what was
done.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.errors import MediaError, RenderCancelled
from engine.media import AudioSource, Writer, open_reader, output_format_for
from engine.media.pulldown import PulldownPlan, analyse_pulldown, film_frames, plan_pulldown
from engine.render.export import BackgroundWriter, OutputTarget, check_output_is_not_source
from engine.render.provenance import COMMENT, nitrate_version
from engine.retime import retime_timecode


def remove_pulldown(source: Path, output: Path, codec: str | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] = lambda: False,
                    force: bool = False) -> PulldownPlan:
    """Write the film frames of the telecined clip `source` to `output` (format by its
    extension, or `codec`); `progress(done, total)` counts the frames analysed, then those
    written. RenderCancelled when `cancelled()` turns true (nothing is left behind).

    A clip that does not look telecined (`analyse_pulldown`) is refused with a MediaError
    unless `force`: removing pulldown from progressive video drops one frame in five."""
    source, output = Path(source), Path(output)
    with open_reader(source) as reader:
        info = reader.info
        n = info.frame_count
        fmt = output_format_for(output, codec, info.bit_depth)
        check_output_is_not_source(source, output)
        if not force:
            report = analyse_pulldown(reader)
            if not report.telecined:
                raise MediaError(source, f"{report.describe()}; nothing was written")

        def analysed(done: int, _total: int) -> None:
            if progress is not None:
                progress(done, n + n * 4 // 5)

        try:
            plan = plan_pulldown(reader, analysed, cancelled)
        except InterruptedError:
            raise RenderCancelled(f"{output}: pulldown removal cancelled") from None
        total = n + len(plan.frames)
        target = OutputTarget(output, fmt)
        timecode = retime_timecode(info.timecode, info.fps, plan.fps) if info.timecode else None
        audio = (AudioSource(source, 0.0, float(len(plan.frames) / plan.fps))
                 if info.audio else None)
        note = (f"Made by Nitrate {nitrate_version()} from {source.name}: {plan.describe()}")
        writer: Writer | None = None
        background: BackgroundWriter | None = None  # encodes while the next frame is read
        try:
            for k, frame in enumerate(film_frames(reader, plan)):
                if cancelled():
                    raise RenderCancelled(f"{output}: pulldown removal cancelled")
                if writer is None:
                    writer = Writer(target.write_path, fmt, frame.shape[1], frame.shape[0],
                                    plan.fps, timecode=timecode, audio=audio,
                                    metadata={COMMENT: note})
                    background = BackgroundWriter(writer, writer.prepare)
                assert background is not None
                background.write(frame)
                if progress is not None:
                    progress(n + k + 1, total)
            if writer is None or background is None:
                raise MediaError(source, "has no frames")
            target.complete(writer, background)
        except BaseException as exc:
            target.abandon(writer, exc, output, background)
    return plan
