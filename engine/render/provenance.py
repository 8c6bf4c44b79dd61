"""What an export says about itself: a line of provenance stored in the file.

Archives keep a master's processing history with the master. Video exports (every mode:
plain, resumable, distributed) carry one line in the container's ``comment`` tag (MOV
``©cmt``, Matroska ``COMMENT``, MP4 ``©cmt``): the Nitrate version, the source and its
frame range, each run of shots with the operators that ran on it (with the LUT or model
file that decides what one does; their parameters are in the processing report), manual
repairs and protections, the frame rate, the framing, the sound's sync and a review copy's
view LUT.
Image sequences have no container to carry it; their processing report is their record.
"""

from __future__ import annotations

import importlib.metadata
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.media.sound_sync import describe_sound_offset

if TYPE_CHECKING:
    from engine.project.recipe import Step
    from engine.render.export import RenderJob

COMMENT = "comment"
"""The container tag that carries the line."""


def export_metadata(job: RenderJob, end: int, info: Any) -> dict[str, str]:
    """The container tags of `job`'s output (frames job.start..`end` of the source
    `info` describes: a MediaInfo)."""
    return {COMMENT: provenance(job, end, Fraction(info.fps), (info.width, info.height))}


def nitrate_version() -> str:
    """The installed Nitrate's version, or "unknown" when it runs uninstalled."""
    try:
        return importlib.metadata.version("nitrate")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _step_label(step: Step) -> str:
    """An operator's id, with the files that decide what it does (a LUT, a model) by name:
    "lut (cineon-to-rec709.cube)"."""
    files = [Path(str(getattr(step.params, s.name))).name for s in step.params.specs()
             if s.kind == "path" and str(getattr(step.params, s.name)).strip()]
    return f"{step.op} ({', '.join(files)})" if files else step.op


def provenance(job: RenderJob, end: int, source_fps: Fraction,
               source_size: tuple[int, int]) -> str:
    """One line on how `job` (frames job.start..`end` of a `source_size` (width, height)
    source at `source_fps`) was made, e.g. "Exported by Nitrate 0.1.0 from reel.mov,
    frames 0-239; frames 0-35: deflicker, dust, lut (cineon-to-rec709); frames 36-239: no
    operator; framing: crop 40,0,40,0 px → 1920x1080 (fit)"."""
    runs: list[tuple[int, int, str]] = []
    repairs = protections = 0
    for shot in job.plan.shots:
        if shot.end < job.start or shot.start > end:
            continue
        first, last = max(shot.start, job.start), min(shot.end, end)
        ops = ", ".join(_step_label(step) for step in shot.recipe.active) or "no operator"
        if runs and runs[-1][2] == ops and runs[-1][1] == first - 1:
            runs[-1] = (runs[-1][0], last, ops)
        else:
            runs.append((first, last, ops))
        repairs += sum(1 for r in shot.repairs if not r.protect)
        protections += sum(1 for r in shot.repairs if r.protect)
    parts = [f"Exported by Nitrate {nitrate_version()} from {job.source.name}, "
             f"frames {job.start}-{end}"]
    parts += [f"frames {a}-{b}: {ops}" for a, b, ops in runs]
    if repairs or protections:
        parts.append(f"manual repairs: {repairs}, protections: {protections}")
    if job.fps is not None and job.fps != source_fps and job.retime == "conform":
        longer = float(source_fps / Fraction(job.fps)) - 1.0
        parts.append(f"conformed from {float(source_fps):g} to {float(job.fps):g} fps frame "
                     f"for frame, the sound with it ({longer:+.1%} in length)")
    elif job.fps is not None and job.fps != source_fps:
        parts.append(f"retimed from {float(source_fps):g} to {float(job.fps):g} fps "
                     f"({job.retime})")
    if not job.framing.identity:
        parts.append(f"framing: {job.framing.describe(*source_size)}")
    if job.audio and job.audio_offset:
        parts.append(describe_sound_offset(job.audio_offset, source_fps))
    if job.compare:
        way = "side by side" if job.compare == "side-by-side" else "split down the middle"
        parts.append(f"the scan and the restored frame {way} (a review copy)")
    if job.view_lut:
        parts.append(f"viewed through the LUT {Path(job.view_lut).name} (a review copy)")
    if job.burn_in:
        parts.append("timecode, frame and shot burnt in (a review copy)")
    return "; ".join(parts)
