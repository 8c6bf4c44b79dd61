"""Building render jobs from a project, the same way for the CLI and the render queue
(so the same job gives the same file from either)."""

from __future__ import annotations

from pathlib import Path

from engine.errors import ProjectError
from engine.project.model import Project
from engine.render.export import RenderJob


def reel_output(output: Path, reel: int) -> Path:
    """Where reel `reel` (0-based) of a project of several goes when they are exported
    together to `output`: ``master.mov`` → ``master_reel2.mov``; a sequence's folder is
    the one named: ``scans/r_%06d.dpx`` → ``scans_reel2/r_%06d.dpx``."""
    output = Path(output)
    tag = f"_reel{reel + 1}"
    if "%" in output.name:
        return output.parent.with_name(output.parent.name + tag) / output.name
    return output.with_name(output.stem + tag + output.suffix)


def job_for_project(
    project: Project,
    output: str | Path | None = None,
    *,
    clip_index: int = 0,
    start: int | None = None,
    end: int | None = None,
    codec: str | None = None,
    audio: bool | None = None,
    burn_in: bool = False,
    checksum: str | None = None,
    view_lut: str = "",
    compare: str = "",
) -> RenderJob:
    """The export of frames start..end (inclusive; default the whole clip) of one clip.

    `output` defaults to the project's output setting; relative paths resolve against the
    project's folder. `burn_in` writes timecode, frame and shot into the picture (a review
    copy); `checksum` ("md5", "sha256") lists the written files' checksums beside them;
    `view_lut` (a bundled LUT's name or a .cube file) shows the frames through it (a
    review copy, usually through the clip's display LUT); `compare` ("side-by-side",
    "split") shows the scan with the restored frame.
    """
    where = project.path or "project"
    if not project.clips:
        raise ProjectError(where, "the project has no clip to render")
    clip = project.clips[clip_index]
    target = output if output is not None else project.output.path
    if target is None:
        raise ProjectError(where, "no output path (give -o OUTPUT or set one in the project)")
    source = project.media(clip)
    fps = None
    if project.output.fps:
        from engine.retime import parse_fps

        try:
            fps = parse_fps(project.output.fps)
        except ValueError as exc:
            raise ProjectError(where, f"output frame rate: {exc}") from None
    return RenderJob(
        source=source,
        output=project.resolve(str(target)),
        plan=clip.plan(),
        start=0 if start is None else start,
        end=end,
        codec=codec if codec is not None else project.output.codec,
        audio=project.output.audio if audio is None else audio,
        fps=fps,
        retime=project.output.retime,
        framing=project.output.framing,
        burn_in=burn_in,
        audio_offset=clip.audio_offset,
        checksum=checksum,
        view_lut=view_lut,
        compare=compare,
    )
