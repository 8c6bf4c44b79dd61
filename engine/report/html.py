"""The processing report: one self-contained, printable HTML file documenting what was done.

Archives need to know what a restoration changed. Per clip: the source and its technical
description; per shot: frame range and timecode, the recipe with every parameter, the
keyframes, the manual repairs with the restorer's notes, the share of pixels each operator
changed (measured on sample frames, see engine.report.measure), the levels of the scan and of
the result (clipping, black and white points, mean colour), with a warning where the recipe
clipped picture the scan kept, and a before/after thumbnail.
Thumbnails are JPEG embedded as base64, so the file travels alone. Written atomically.
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Callable
from fractions import Fraction
from html import escape
from pathlib import Path
from typing import Any

from engine.atomic_file import atomic_write_text
from engine.errors import NitrateError, ProjectError
from engine.framing import Framing
from engine.media import MediaInfo, open_reader
from engine.media import timecode as tc
from engine.media.sound_sync import describe_sound_offset
from engine.ops import registry
from engine.pipeline.evaluator import REPAIR_MASK_KEY, Evaluator
from engine.pipeline.shot_plan import PlannedShot
from engine.project.model import Clip, Project, Repair, Shot, rebuilt_frames
from engine.project.recipe import Recipe, Step
from engine.qc import FrameCheck
from engine.qc.store import cached_check
from engine.render.provenance import nitrate_version
from engine.report.measure import (
    CHANGE_LEVEL,
    MASK_LEVEL,
    ShotMeasure,
    ShotMeasurer,
    Thumbnail,
    measured_frames,
)
from engine.scopes import Levels

_CSS = """
body { font: 10.5pt/1.4 "Helvetica Neue", Arial, sans-serif; color: #111; margin: 2em; }
h1 { font-size: 18pt; margin: 0 0 .3em; } h2 { font-size: 14pt; border-bottom: 2px solid #333;
margin-top: 1.6em; } h3 { font-size: 11.5pt; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; margin: .4em 0 .8em; }
th, td { border: 1px solid #999; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta td:first-child { font-weight: bold; background: #f6f6f6; }
.shot { border: 1px solid #bbb; padding: .2em .9em .6em; margin: 1em 0; }
.thumbs figure { display: inline-block; margin: 0 .8em .4em 0; }
.thumbs img { display: block; border: 1px solid #666; }
figcaption { font-size: 8.5pt; color: #444; }
.note { font-style: italic; } .off { color: #888; text-decoration: line-through; }
.small { font-size: 8.5pt; color: #444; }
.warn { color: #8a1c00; font-weight: bold; }
@media print { body { margin: 0; } .shot { break-inside: avoid; } h2 { break-after: avoid; } }
"""


def timecode_at(info: MediaInfo, frame: int) -> str:
    """Timecode of clip frame `frame`: the source's start timecode plus `frame` frames."""
    return tc.clip_timecode(frame, Fraction(info.fps), info.timecode)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value == "":
        return "(none)"
    return str(value)


def _share(measure: ShotMeasure | None, position: int) -> str:
    if measure is None:
        return "—"
    for change in measure.changes:
        if change.position == position:
            if change.share is None:
                return "frame size changed"
            how = "" if change.from_mask else " (level change)"
            return f"{100.0 * change.share:.1f} %{how}"
    return "—"


def _measured(measure: ShotMeasure | None, position: int, op_cls: type) -> str:
    """What the operator at `position` measured and applied, one line a measure."""
    if measure is None:
        return "—"
    lines = []
    for change in measure.changes:
        if change.position != position:
            continue
        for name, mean, most in change.measures:
            what, unit = op_cls.MEASURES.get(name, (name, ""))
            lines.append(f"{what}: {mean:.2f} on average, {most:.2f} at most"
                         + (f" ({unit})" if unit else ""))
    return "<br>".join(_e(line) for line in lines) or "—"


def _img(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/jpeg;base64,{encoded}" alt="{_e(alt)}">'


def _thumbs(thumb: Thumbnail, info: MediaInfo, what: str) -> str:
    when = f"frame {thumb.frame} ({timecode_at(info, thumb.frame)})"
    return (f'<div class="thumbs"><figure>{_img(thumb.before, f"{what} before, {when}")}'
            f"<figcaption>before — {_e(when)}</figcaption></figure>"
            f'<figure>{_img(thumb.after, f"{what} after, {when}")}'
            f"<figcaption>after — {_e(what)}</figcaption></figure></div>")


def _params_cell(step: Step) -> str:
    op_cls = registry.operator_class(step.op)
    keyed = {name for name, _ in step.keyframes}
    parts = []
    for spec in op_cls.Params.specs():
        value = getattr(step.params, spec.name)
        unit = f" {spec.unit}" if spec.unit and spec.kind in ("int", "float") else ""
        text = f"{_e(spec.label)} = {_e(_fmt(value))}{_e(unit)}"
        if spec.name in keyed:
            text = f"{_e(spec.label)} = <i>keyframed</i>"
        elif value != spec.default:
            text = f"<b>{text}</b>"
        parts.append(text)
    return "<br>".join(parts) or "—"


def _keyframes_cell(step: Step) -> str:
    if not step.keyframes:
        return "—"
    op_cls = registry.operator_class(step.op)
    lines = []
    for name, keys in step.keyframes:
        spec = op_cls.Params.spec(name)
        unit = f" {spec.unit}" if spec.unit else ""
        keys_text = ", ".join(f"frame {k.frame}: {_fmt(k.value)}{unit} ({k.interpolation})"
                              for k in keys)
        lines.append(f"{_e(spec.label)}: {_e(keys_text)}")
    return "<br>".join(lines)


def _recipe_table(recipe: Recipe, measure: ShotMeasure | None) -> str:
    if not recipe.steps:
        return "<p>No operators: the frames pass through unchanged.</p>"
    rows = []
    for position, step in enumerate(recipe.steps):
        op_cls = registry.operator_class(step.op)
        cls = "" if step.enabled else ' class="off"'
        state = "on" if step.enabled else "off (not applied)"
        share = _share(measure, position) if step.enabled else "—"
        measured = _measured(measure, position, op_cls) if step.enabled else "—"
        rows.append(
            f"<tr{cls}><td class=num>{position + 1}</td><td>{_e(op_cls.label)}<br>"
            f'<span class="small">{_e(step.op)}, {state}</span></td>'
            f"<td>{_params_cell(step)}</td><td>{_keyframes_cell(step)}</td>"
            f"<td class=num>{_e(share)}</td><td>{measured}</td></tr>"
        )
    return ("<table><tr><th>#</th><th>Operator</th><th>Parameters (changed from the default "
            "in bold)</th><th>Keyframes</th><th>Pixels changed</th><th>Measured and "
            "applied</th></tr>" + "".join(rows) + "</table>")


def _marks_rows(marks: list[Repair], info: MediaInfo) -> str:
    """Table rows of manual repairs or protections: what, where, and the restorer's note."""
    return "".join(
        f"<tr><td>{_e(r.describe())}</td><td>{_e(timecode_at(info, r.start))}</td>"
        f'<td class="note">{_e(r.note) or "—"}</td></tr>'
        for r in marks
    )


def _repairs_table(repairs: list[Repair], info: MediaInfo, share: str) -> str:
    if not repairs:
        return ""
    rows = _marks_rows(repairs, info)
    return (f"<h3>Manual repairs</h3><p>Rebuilt from the motion-compensated neighbouring frames "
            f"of the shot (spatially where motion failed), before any operator. Pixels "
            f"changed on the repaired frames: {_e(share)}.</p>"
            f"<table><tr><th>Repair</th><th>Timecode</th><th>Note</th></tr>{rows}</table>")


def _protections_table(protections: list[Repair], info: MediaInfo) -> str:
    if not protections:
        return ""
    rows = _marks_rows(protections, info)
    return ("<h3>Protected from the spot repairs</h3><p>Marked by the restorer as picture, "
            "not damage: dust and scratch repair left these pixels exactly as scanned.</p>"
            f"<table><tr><th>Protection</th><th>Timecode</th><th>Note</th></tr>{rows}</table>")


def _frame_check_table(check: FrameCheck | None, clip: Clip, info: MediaInfo) -> str:
    """The frames the reel's kept frame check listed (`engine.qc.store`), and what became
    of each: rebuilt by a whole-frame repair, or left as scanned."""
    if check is None:
        return ("<h3>Frame check</h3><p>Not run on this file (Clip ▸ Check frames, or "
                "<code>nitrate check</code>).</p>")
    rebuilt = rebuilt_frames(clip.repairs)
    cadence = check.describe_cadence()
    rows = "".join(
        f"<tr><td class=num>{e.frame}</td><td>{_e(timecode_at(info, e.frame))}</td>"
        f"<td>{_e(e.describe())}</td>"
        f"<td>{'rebuilt' if e.frame in rebuilt else 'left as scanned'}</td></tr>"
        for e in check.events)
    table = ("<table><tr><th>Frame</th><th>Timecode</th><th>Found</th><th>Done</th></tr>"
             f"{rows}</table>") if rows else ""
    return (f"<h3>Frame check</h3><p>Frames {check.start}–{check.end - 1} checked: "
            f"{_e(check.describe_counts())}."
            f"{' ' + _e(cadence[0].upper() + cadence[1:]) + '.' if cadence else ''}</p>"
            f"{table}")


def _shot_section(number: int, shot: Shot, planned: PlannedShot, clip: Clip, info: MediaInfo,
                  measure: ShotMeasure | None) -> str:
    tc_in, tc_out = timecode_at(info, shot.start), timecode_at(info, shot.end)
    own = "its own recipe" if shot.recipe is not None else "the clip's default recipe"
    reviewed = "reviewed" if shot.reviewed else "not reviewed"
    marks = [r for r in clip.repairs if r.start <= shot.end and r.end >= shot.start]
    repairs = [r for r in marks if not r.protect]
    protections = [r for r in marks if r.protect]
    parts = [
        f'<section class="shot" id="shot-{number}"><h3>Shot {number}: frames '
        f"{shot.start}–{shot.end} ({shot.length} frames), {_e(tc_in)} – {_e(tc_out)}</h3>",
        f"<p>Processed with {own}; {reviewed}.</p>",
    ]
    if shot.note:
        parts.append(f'<p class="note">Note: {_e(shot.note)}</p>')
    parts.append(_recipe_table(planned.recipe, measure))
    parts.append(_repairs_table(repairs, info, _share(measure, REPAIR_MASK_KEY)))
    parts.append(_protections_table(protections, info))
    if measure is not None:
        parts.append(_levels_table(measure))
        if measure.thumbnail is not None:
            parts.append(_thumbs(measure.thumbnail, info, f"shot {number}"))
        for thumb in measure.repair_thumbnails:
            parts.append(_thumbs(thumb, info, f"repair at frame {thumb.frame}"))
        samples = ", ".join(str(i) for i in measure.samples)
        parts.append(f'<p class="small">Measured on frames {_e(samples)}.</p>')
    parts.append("</section>")
    return "".join(parts)


CLIP_WARNING = 0.005
"""A recipe that clips more than this share (0-1) of the picture beyond what the scan already
clipped, to black or to white, is flagged: detail the film holds is lost in the master."""


def _added_clipping(measure: ShotMeasure | None) -> list[tuple[str, float]]:
    """("black" | "white", share 0-1) the result clips beyond the scan, above CLIP_WARNING."""
    if measure is None:
        return []
    before, after = measure.levels_before, measure.levels_after
    added = [("black", after.black_clipped - before.black_clipped),
             ("white", after.white_clipped - before.white_clipped)]
    return [(end, share) for end, share in added if share > CLIP_WARNING]


def _pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def _clipping_cell(measure: ShotMeasure | None) -> str:
    added = _added_clipping(measure)
    if not added:
        return "—"
    return '<span class="warn">' + ", ".join(f"{end} +{_pct(v)}" for end, v in added) + "</span>"


def _levels_row(name: str, levels: Levels) -> str:
    r, g, b = (round(100 * v) for v in levels.mean_rgb)
    return (f"<tr><td>{name}</td><td class=num>{_pct(levels.black_clipped)}</td>"
            f"<td class=num>{_pct(levels.white_clipped)}</td>"
            f"<td class=num>{100 * levels.luma_low:.0f}–{100 * levels.luma_high:.0f} %</td>"
            f"<td class=num>{r} / {g} / {b} %</td></tr>")


def _levels_table(measure: ShotMeasure) -> str:
    warnings = "".join(
        f'<p class="warn">The result clips {_pct(share)} more of the picture to {end} than '
        f"the scan: detail the film holds is lost there.</p>"
        for end, share in _added_clipping(measure))
    return (
        "<table><tr><th>Levels</th><th>Clipped black</th><th>Clipped white</th>"
        "<th>Luma 0.5–99.5 %</th><th>Mean R / G / B</th></tr>"
        f"{_levels_row('Scan', measure.levels_before)}"
        f"{_levels_row('Restored', measure.levels_after)}</table>{warnings}"
    )


def _meta_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta">{body}</table>'


def _clip_section(n: int, clip: Clip, source: Path, info: MediaInfo,
                  measures: list[ShotMeasure], framing: Framing, reels: int = 1) -> str:
    """The report of clip `n` (1-based), "Reel n" in a project of several `reels`; what
    its exports do to it (the project's framing, its own sound sync) is in its table."""
    audio = "; ".join(f"{a.codec} {a.sample_rate} Hz {a.channels} ch" for a in info.audio)
    fps = Fraction(info.fps)
    rows = [
        ("Source", str(source)),
        ("Kind", info.kind),
        ("Picture", f"{info.width} x {info.height} px, {info.codec}, {info.pix_fmt}, "
                    f"{info.bit_depth}-bit"),
        ("Frame rate", f"{float(fps):.3f} fps ({fps.numerator}/{fps.denominator})"
                       + (", variable" if info.variable_frame_rate else "")),
        ("Length", f"{info.frame_count} frames, {info.duration:.3f} s"),
        ("Timecode of frame 0", info.timecode or "none (counted from 00:00:00:00)"),
        ("Colour", f"range {info.color_range}, matrix {info.color_space}, primaries "
                   f"{info.color_primaries}, transfer {info.color_trc}"),
        ("Audio", audio or "none"),
        ("Framing", framing.describe(info.width, info.height)),
        ("Sound", describe_sound_offset(clip.audio_offset, fps) if info.audio else "none"),
    ]
    plan = clip.plan()
    protected = sum(r.protect for r in clip.repairs)
    rebuilt = len(clip.repairs) - protected
    summary = "".join(
        f'<tr><td class=num><a href="#shot-{i}">{i}</a></td><td class=num>{s.start}–{s.end}'
        f"</td><td>{_e(timecode_at(info, s.start))}</td><td class=num>{s.length}</td>"
        f"<td>{_e(', '.join(st.op for st in p.recipe.active) or '—')}"
        f"{'' if s.recipe is None else ' (own)'}</td>"
        f"<td class=num>{len(p.rebuilds)}</td><td class=num>{len(p.protections)}</td>"
        f"<td>{'yes' if s.reviewed else 'no'}</td>"
        f"<td>{_clipping_cell(measures[i - 1] if measures else None)}</td></tr>"
        for i, (s, p) in enumerate(zip(clip.shots, plan.shots, strict=True), start=1)
    )
    shots = "".join(
        _shot_section(i, s, p, clip, info, measures[i - 1] if measures else None)
        for i, (s, p) in enumerate(zip(clip.shots, plan.shots, strict=True), start=1)
    )
    return (
        f"<h2>{'Reel' if reels > 1 else 'Clip'} {n}: {_e(source.name)}</h2>"
        f"{_meta_table(rows)}"
        f"<h3>Shots ({len(clip.shots)}; manual repairs: {rebuilt}; protections: {protected})"
        "</h3>"
        "<table><tr><th>Shot</th><th>Frames</th><th>Timecode in</th><th>Length</th>"
        "<th>Operators</th><th>Repairs</th><th>Protections</th><th>Reviewed</th>"
        "<th>Clipping added</th></tr>"
        f"{summary}</table>"
        f"{_frame_check_table(cached_check(source, info.frame_count), clip, info)}{shots}"
    )


def build_report(
    project: Project,
    path: str | Path,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    *,
    scale: float = 0.5,
    samples: int = 3,
) -> Path:
    """Write the processing report of `project` to `path` (HTML, atomically) and return it.

    Every shot is evaluated on `samples` frames spread over it (plus the first frame of each
    manual repair) at `scale` (0-1) of the source size. `progress(done, total)` counts
    evaluated frames; `cancel()` is polled before each and, when True, stops the report by
    raising RenderCancelled (nothing is written). Missing media raise ProjectError; an
    unwritable target raises NitrateError naming it.
    """
    path = Path(path)
    where = project.path or "project"
    if not project.clips:
        raise ProjectError(where, "the project has no clip to report on")
    if not path.parent.is_dir():
        raise NitrateError(f"{path}: the folder does not exist")
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"report scale must be within 0-1, got {scale}")
    sources = [project.media(clip) for clip in project.clips]

    sections = []
    done = 0
    total = sum(len(measured_frames(s, samples)) for c in project.clips for s in c.plan().shots)

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for n, (clip, source) in enumerate(zip(project.clips, sources, strict=True), start=1):
        with open_reader(source) as reader:
            info = reader.info
            plan = clip.plan()
            measurer = ShotMeasurer(Evaluator(reader, source_key=str(source)), plan,
                                    scale=scale, samples=samples)

            measures = [measurer.measure(s, tick, cancel) for s in plan.shots]
            sections.append(_clip_section(n, clip, source, info, measures,
                                          project.output.framing, len(project.clips)))

    now = _dt.datetime.now().astimezone()
    header = _meta_table([
        ("Project", str(project.path) if project.path else "(not saved)"),
        ("Nitrate", nitrate_version()),
        ("Date", now.strftime("%Y-%m-%d %H:%M %Z")),
        ("Output", project.output.path or "(not set)"),
        ("Measurement", f"{samples} frames per shot at {scale:g} of the source size; a pixel "
                        f"counts as changed where the operator's mask exceeds {MASK_LEVEL:g}, "
                        f"or (operators without a mask) where its level moved more than "
                        f"{CHANGE_LEVEL:g}; levels averaged over the same frames, a recipe "
                        f"flagged where it clips more than {100 * CLIP_WARNING:g} % of the "
                        f"picture beyond the scan"),
    ])
    title = f"Processing report — {project.path.stem if project.path else 'project'}"
    text = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>{header}{''.join(sections)}</body></html>\n"
    )
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise NitrateError(f"{path}: cannot write the report: {exc.strerror or exc}") from None
    return path
