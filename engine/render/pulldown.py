"""Writing a telecined clip's film frames to a new file (`nitrate pulldown`, Clip ▸ Remove
3:2 pulldown…): the intermediate a restoration of a video transfer starts from.

The frames are found by `engine.media.pulldown` and written by
`engine.render.intermediate` (atomically; FFV1 by default; the sound's whole length; the
timecode counted at the film rate; a comment saying what was done).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.errors import MediaError, RenderCancelled
from engine.media.pulldown import PulldownPlan, analyse_pulldown, film_frames, plan_pulldown
from engine.render.intermediate import transfer, write_intermediate


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
    with transfer(source, output, codec) as (reader, fmt):
        info = reader.info
        n = info.frame_count
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

        def written(k: int) -> None:
            if progress is not None:
                progress(n + k + 1, total)

        write_intermediate(info, output, fmt, film_frames(reader, plan), len(plan.frames),
                           plan.fps, plan.describe(), "pulldown removal", written, cancelled)
    return plan
