"""Export of the frame shown as a full-resolution still (File ▸ Export frame…).

The viewer shows a preview, often at half size or as a draft; a still for a client, a
catalogue or a QC sheet must be the frame exactly as an export would render it. The
`StillExporter` worker evaluates that frame with the clip's plan (shots, recipes, repairs
and protections) at full size on its own reader, frames it as the project's exports are
framed, and writes it as a PNG or TIFF (16-bit when the source is deeper than 8 bits;
atomically, like every output), either the restored frame alone or the scan and the
restored frame side by side.
"""

from __future__ import annotations

from pathlib import Path

from engine.framing import Framing
from engine.pipeline import ShotPlan
from ui.document import BackgroundTask, CancelFlag


class StillExporter(BackgroundTask):
    """`start(media, plan, index, path, compare, framing)`: frame `index` of `media`
    restored per `plan` and framed by `framing`, written to `path` (.png, .tif); with
    `compare`, the scan beside it.

    finished(path, error): the file written, or None with a one-line error.
    """

    thread_name = "nitrate-still"

    def _work(self, cancel: CancelFlag, media: Path, plan: ShotPlan,  # type: ignore[override]
              index: int, path: Path, compare: bool, framing: Framing) -> None:
        from engine.media import open_reader
        from engine.pipeline import Evaluator
        from engine.render.still import still_picture, write_still

        def export() -> str:
            with open_reader(media) as reader:
                evaluated = Evaluator(reader).evaluate(index, plan)
                frame = still_picture(evaluated.original, evaluated.restored, framing,
                                      compare=compare)
                write_still(path, frame, reader.info.bit_depth)
            return str(path)

        written = self._guarded(cancel, export, f"{path}: the still could not be made")
        if written is not None and not cancel.is_set():
            self._w_finished.emit(written, "")
