"""Exports waiting in the render queue, kept so that quitting does not lose them.

A restorer queues a night's exports and closes the workstation, or it is closed for them.
Each queued export is kept as a `PendingExport`: the project as it was when the export was
queued (its JSON, so later edits do not change what was asked for), which reel and frames,
the options of the render dialog and how to run it. `load_pending` and `store_pending`
keep the list in a JSON file, written atomically; the window offers them again when it
next starts (a resumable one then continues after its last complete segment).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic_file import atomic_write_text
from engine.errors import NitrateError
from engine.project import Project
from engine.project.io import project_from_json, project_to_json
from engine.render.export import RenderJob
from engine.render.jobs import job_for_project
from engine.render.modes import ExportMode

log = logging.getLogger(__name__)

FORMAT = "nitrate-render-queue"
VERSION = 1


@dataclass(frozen=True)
class PendingExport:
    """One queued export, enough to queue it again.

    project:      the project's JSON when the export was queued (`project_to_json`)
    project_path: the path it was written against (media paths relative to its folder)
    clip:         the reel (0-based); start/end: the frames (None: the reel's ends)
    output:       the output file or sequence, absolute
    options:      job_for_project's keywords (codec, audio, burn_in, checksum, view_lut,
                  compare)
    mode:         how it runs (`ExportMode`'s fields); title: the queue's row title
    """

    project: dict[str, Any]
    project_path: str
    clip: int
    start: int | None
    end: int | None
    output: str
    options: dict[str, Any] = field(default_factory=dict)
    mode: dict[str, Any] = field(default_factory=dict)
    title: str = ""

    @classmethod
    def of(cls, project: Project, job: RenderJob, clip: int, start: int | None,
           end: int | None, options: dict[str, Any], mode: ExportMode,
           title: str = "") -> PendingExport:
        """What to keep of `job`, queued from `project` with job_for_project's `options`."""
        where = project.path or Path(job.output).with_name("unsaved.nitrate")
        return cls(project_to_json(project, Path(where)), str(where), clip, start, end,
                   str(job.output), dict(options), asdict(mode), title)

    def job(self) -> RenderJob:
        """The export queued again, as it was asked for. NitrateError when its project
        no longer makes one (its media gone, say)."""
        project = project_from_json(self.project, Path(self.project_path))
        return job_for_project(project, self.output, clip_index=self.clip, start=self.start,
                               end=self.end, **self.options)

    def export_mode(self) -> ExportMode:
        return ExportMode(**self.mode)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def store_pending(path: Path, exports: list[PendingExport]) -> None:
    """Keep `exports` at `path` (atomically; none: the file is removed). A file that cannot
    be written is logged: the queue itself goes on."""
    try:
        if not exports:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": FORMAT, "version": VERSION,
                           "exports": [e.to_json() for e in exports]}, indent=1)
        atomic_write_text(path, text)
    except OSError as exc:
        log.warning("%s: cannot keep the render queue (%s)", path, exc)


def load_pending(path: Path) -> list[PendingExport]:
    """The exports kept at `path` (none when the file is absent). A file that is not one
    raises NitrateError naming it."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or int(data.get("version", 0)) > VERSION:
            raise ValueError("not a render queue Nitrate can read")
        return [PendingExport(**e) for e in data["exports"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise NitrateError(f"{path}: the kept render queue cannot be read ({exc})") from None
