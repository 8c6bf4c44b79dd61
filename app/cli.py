"""The `nitrate` command line.

Contract (other tools and the tests rely on it):
  nitrate probe PATH [--json]
  nitrate still INPUT --frame N [--ops a,b | --preset P] [--set op.param=value …]
                  [--crop L,T,R,B|auto] [--size WxH [--fit fit|fill|stretch]]
                  [--before-after] -o OUT        (INPUT may be a PROJECT.nitrate)
  nitrate restore INPUT -o OUTPUT [--ops … | --preset P] [--set …] [--start N] [--end M]
                  [--codec C] [--no-audio | --audio-offset T]
                  [--fps R [--retime motion|blend|nearest]]
                  [--crop L,T,R,B|auto] [--size WxH [--fit fit|fill|stretch]] [--burn-in]
                  [--repair FRAMES[@X,Y,W,H] …] [--protect FRAMES[@X,Y,W,H] …] [--track]
                  [--resume]
                  [--workers N | --cluster ADDRESS [--chunk-frames K]]
  nitrate render PROJECT.nitrate [-o OUTPUT] [--burn-in] [--resume]
                  [--workers N | --cluster ADDRESS [--chunk-frames K]]
  nitrate repair PROJECT.nitrate --frames FRAMES [--to LAST] [--region X,Y,W,H | --spot X,Y]
                  [--note T] [--protect] [--track [KEY]]
  nitrate repair PROJECT.nitrate --list
  nitrate report PROJECT.nitrate [-o REPORT.html] [--scale S] [--samples N]
  nitrate shots INPUT|PROJECT [--json] [--edl OUT.edl]
                                   JSON {"shots": [{"start": first, "end": last}, …]};
                                   a project's own shots; --edl a CMX 3600 list
  nitrate ops [--json]
  nitrate presets [--json]
FRAMES is one frame (120) or an inclusive range (300-302), 0-based; a region is in source
pixels; without one the whole frame is rebuilt from its neighbours (manual repair). A
protection (--protect) marks the region, or the whole frame, as picture the spot repairs
(dust, scratch) must leave as scanned: water, fire, smoke they would take for dirt.
--crop cuts pixels from the left, top, right and bottom edges of the source (auto: its
uniform dark or clear surround, found on frames across the clip); --size scales the
cropped picture to the output size, fitted inside with black bars (fit), filling it
(fill) or stretched to it (stretch). A project brings its own framing.
--track makes the region follow the picture (the region is where it lies on frame KEY,
default the first of FRAMES; for `restore`, on the first frame of each).
Exit codes: 0 done, 2 bad usage, 1 bad input or failure (one line on stderr naming the file
and the problem; no traceback; no output left under the final name).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.errors import NitrateError, RenderCancelled


class UsageError(Exception):
    """Bad command-line usage (exit code 2)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nitrate",
        description="Nitrate film restoration. Without a command, opens the workstation "
        "(on PATH if given, else on the bundled sample reel).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("probe", help="describe a video file or image sequence")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    def recipe_args(p: argparse.ArgumentParser) -> None:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--ops", help="comma-separated operators, in order (see `nitrate ops`)")
        group.add_argument("--preset", help="a named preset (see `nitrate presets`)")
        p.add_argument("--set", action="append", default=[], metavar="OP.PARAM=VALUE",
                       help="set an operator parameter (repeatable)")
        device_arg(p)

    def device_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None,
                       help="where neural operators run (default auto: CUDA, then MPS, "
                       "else CPU); the classical operators use OpenCV on the CPU")

    def framing_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--crop", default=None, metavar="L,T,R,B|auto",
                       help="pixels cut from the left, top, right and bottom edges of the "
                       "source (the gate's surround, perforations, a soundtrack); auto: the "
                       "uniform dark or clear surround found across the clip")
        p.add_argument("--size", default=None, metavar="WxH",
                       help="output size in pixels (1920x1080, 2048x1556 …); default the "
                       "cropped picture's")
        p.add_argument("--fit", choices=("fit", "fill", "stretch"), default="fit",
                       help="with --size: fit inside with black bars (default), fill and "
                       "cut the excess, or stretch (an anamorphic desqueeze)")

    def reel_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--reel", type=int, default=None, metavar="N",
                       help="with a project of several reels: reel N (1-based; default 1)")

    p = sub.add_parser("still", help="write one (restored) frame as PNG or TIFF")
    p.add_argument("input", help="footage, or a .nitrate project (its shots, recipes, "
                   "repairs, protections and framing)")
    p.add_argument("--frame", type=int, required=True, help="frame index, 0-based")
    recipe_args(p)
    framing_args(p)
    p.add_argument("--before-after", action="store_true",
                   help="the scan and the restored frame side by side")
    reel_arg(p)
    p.add_argument("-o", "--output", required=True, help="OUT.png or OUT.tif")

    def export_args(p: argparse.ArgumentParser, project: bool) -> None:
        """What `restore` and `render` both ask of an export: a review copy's burn-in,
        view LUT and before/after, and the checksums. `project`: `--view-lut` alone takes
        the clip's display LUT."""
        p.add_argument("--burn-in", action="store_true",
                       help="write the timecode, source frame and shot into the picture (a "
                       "review copy)")
        optional = {"nargs": "?", "const": ""} if project else {}
        p.add_argument("--view-lut", default=None, metavar="LUT", **optional,  # type: ignore[arg-type]
                       help="a review copy seen through a LUT (a bundled one's name, such as "
                       "cineon-to-rec709, or a .cube file), after the framing and before a "
                       "burn-in" + ("; alone: the clip's display LUT" if project else ""))
        p.add_argument("--compare", choices=("side-by-side", "split"), default=None,
                       help="a review copy showing the scan with the restored frame, "
                       "labelled Before and After: side by side (twice as wide) or split "
                       "down the middle")
        p.add_argument("--checksum", choices=("md5", "sha256"), default=None,
                       help="once written, read the output's files back and list their "
                       "checksums beside it (OUTPUT.md5, in md5sum -c format), for an "
                       "archive's fixity checks; check them later with `nitrate verify`")

    def resume_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--resume", action="store_true",
                       help="crash-safe export: write closed segments into a hidden work "
                       "folder beside the output and continue an interrupted run of the "
                       "same job from its last complete segment")

    def cluster_args(p: argparse.ArgumentParser) -> None:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--workers", type=int, default=None, metavar="N",
                           help="render on N local worker processes (Dask), started and "
                           "stopped by this command")
        group.add_argument("--cluster", default=None, metavar="ADDRESS",
                           help="render on the workers of a running Dask scheduler "
                           "(tcp://host:8786); paths must be the same on every node "
                           "(docs/DISTRIBUTED.md)")
        p.add_argument("--chunk-frames", type=int, default=None, metavar="K",
                       help="with --workers/--cluster: frames per chunk at most (chunks are "
                       "cut at shot boundaries; default 144)")

    p = sub.add_parser("restore", help="restore (or transcode) a clip into a new file")
    p.add_argument("input")
    p.add_argument("-o", "--output", required=True,
                   help=".mov ProRes 422 HQ, .mkv FFV1, .mp4 H.264, .mxf DNxHR HQX (OP1a, "
                   "48 kHz sound), or a folder/pattern for an image sequence")
    recipe_args(p)
    p.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    p.add_argument("--end", type=int, default=None, help="last frame, inclusive")
    p.add_argument("--codec", default=None,
                   help="prores_hq, prores_4444, dnxhr_hqx, ffv1, h264, h265, dpx, tiff, png")
    p.add_argument("--no-audio", action="store_true", help="leave the audio out")
    p.add_argument("--audio-offset", default=None, metavar="T",
                   help="move the sound later against the picture (negative: earlier) to "
                   "put it back in sync: 40ms, 0.5s, 2f (frames); a plain number is ms; "
                   "write a negative one with '=': --audio-offset=-2f")
    p.add_argument("--shots", choices=("auto", "none"), default="auto",
                   help="auto (default): find the cuts first so temporal operators never "
                   "mix frames of two shots; none: treat the range as one shot")
    p.add_argument("--fps", default=None, metavar="R",
                   help="output frame rate (24, 23.976, 24000/1001, 48 …); the duration and "
                   "the audio stay, in-between frames are interpolated (never across a cut)")
    p.add_argument("--retime", choices=("motion", "blend", "nearest", "conform"),
                   default="motion",
                   help="with --fps: motion-compensated in-betweens (default), cross-fades, "
                   "the nearest frame repeated/dropped, or conform: every frame kept and "
                   "played at the new rate, the sound at the same new speed (a film "
                   "transferred to PAL at 25 back to 24 fps)")
    framing_args(p)
    export_args(p, project=False)
    resume_arg(p)
    cluster_args(p)
    p.add_argument("--repair", action="append", default=[], metavar="FRAMES[@X,Y,W,H]",
                   help="rebuild destroyed frames (120, 300-302) or a region of them "
                   "(300-302@40,60,80,50: x,y,width,height px) from their neighbours "
                   "(repeatable)")
    p.add_argument("--protect", action="append", default=[], metavar="FRAMES[@X,Y,W,H]",
                   help="leave a region of these frames (or whole frames) as scanned by "
                   "dust and scratch: water, fire, smoke they would take for dirt "
                   "(repeatable)")
    p.add_argument("--track", action="store_true",
                   help="the --repair and --protect regions follow the picture through "
                   "their frames (a pan over water), each placed as on its first frame")

    p = sub.add_parser("render", help="export a project (every reel, one file each)")
    p.add_argument("project")
    p.add_argument("-o", "--output", default=None, help="overrides the project's output; "
                   "with several reels, each file is named OUTPUT_reelN")
    p.add_argument("--reel", type=int, default=None, metavar="N",
                   help="only reel N (1-based) of a project of several")
    p.add_argument("--codec", default=None)
    export_args(p, project=True)
    device_arg(p)
    resume_arg(p)
    cluster_args(p)

    p = sub.add_parser("verify", help="check an export against the checksums listed beside "
                       "it (OUTPUT.md5 or .sha256, written with --checksum)")
    p.add_argument("path", help="the checksum list, or the export (file or sequence folder) "
                   "it sits beside")

    p = sub.add_parser("repair", help="mark frames or regions of a project's clip for manual "
                       "repair (saved in the project)")
    p.add_argument("project")
    p.add_argument("--frames", metavar="FRAMES",
                   help="one frame (120) or an inclusive range (120-125), 0-based")
    p.add_argument("--to", type=int, default=None, metavar="LAST",
                   help="last frame of the range (--frames 120 --to 125 = --frames 120-125)")
    p.add_argument("--region", metavar="X,Y,W,H", default=None,
                   help="the damaged rectangle in source pixels; default: the whole frame is "
                   "rebuilt from its neighbours")
    p.add_argument("--spot", metavar="X,Y", default=None,
                   help="instead of --region: the speck of dirt at this point (source "
                   "pixels) of the one frame given, boxed as the repair tool's click does")
    p.add_argument("--note", default="", help="why (kept for the processing report)")
    p.add_argument("--protect", action="store_true",
                   help="mark the region (or whole frames) as picture dust and scratch must "
                   "leave as scanned (water, fire, smoke), instead of rebuilding it")
    p.add_argument("--track", nargs="?", type=int, const=-1, default=None, metavar="KEY",
                   help="make the region follow the picture through its frames (a pan over "
                   "water); the region is where it lies on frame KEY, default the first")
    p.add_argument("--list", action="store_true",
                   help="list the project's repairs and protections")
    reel_arg(p)

    p = sub.add_parser("report", help="write a printable HTML report of what a project does "
                       "to each shot")
    p.add_argument("project")
    p.add_argument("-o", "--output", default=None,
                   help="REPORT.html (default: next to the project, PROJECT.report.html)")
    p.add_argument("--scale", type=float, default=0.5,
                   help="evaluation scale for the measurements and thumbnails (0-1]")
    p.add_argument("--samples", type=int, default=3, help="frames measured per shot")

    p = sub.add_parser("pulldown", help="remove 3:2 pulldown: the film frames (23.976 fps) "
                       "back from a telecined video transfer (29.97 fps), into a new file")
    p.add_argument("input")
    p.add_argument("-o", "--output", default=None,
                   help="the film frames' file (default: INPUT_film.mkv, FFV1, lossless)")
    p.add_argument("--codec", default=None)
    p.add_argument("--check", action="store_true",
                   help="only say whether the clip is telecined (from its first frames)")
    p.add_argument("--force", action="store_true",
                   help="remove it even from a clip that does not look telecined (drops "
                   "one frame in five)")

    p = sub.add_parser("repeats", help="remove a transfer's regularly repeated frames (a "
                       "film stretched to a higher rate): its own frames at its own rate, "
                       "the duration kept, into a new file")
    p.add_argument("input")
    p.add_argument("-o", "--output", default=None,
                   help="the film frames' file (default: INPUT_film.mkv, FFV1, lossless)")
    p.add_argument("--codec", default=None)
    p.add_argument("--fps", default=None, metavar="R",
                   help="the film frames' rate (e.g. 18 for a silent film); default: the "
                   "rate that keeps the duration, so the sound stays in step")
    p.add_argument("--force", action="store_true",
                   help="remove repeats that come at no regular cadence too (the picture "
                   "then ends before its sound)")

    p = sub.add_parser("check", help="frame check: the repeated, flash, damaged and blank "
                       "frames to look at before restoring")
    p.add_argument("input", help="footage, or a .nitrate project (its reel's media)")
    p.add_argument("--start", type=int, default=0, help="first frame (0-based)")
    p.add_argument("--end", type=int, default=None, help="last frame, inclusive")
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", default=None, metavar="OUT.csv",
                   help="also write the findings as a table (reel, media, frame, timecode, "
                   "kind, measure, finding, done), for a spreadsheet or a QC report")
    p.add_argument("--mark", action="store_true",
                   help="with a project: mark the damaged and blank frames found to be "
                   "rebuilt from their neighbours (saved in the project). Flashes and "
                   "repeats are listed only: deflicker evens out a flash, and a repeat may "
                   "be an extra frame or stand in for a lost one")
    reel_arg(p)

    p = sub.add_parser("shots", help="find the cuts (shots are 0-based, inclusive), or list "
                       "a project's shots")
    p.add_argument("input", help="footage (its cuts are found) or a .nitrate project (its "
                   "shots as set, with notes)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--edl", default=None, metavar="OUT.edl",
                   help="also write the shots as a CMX 3600 edit decision list (source "
                   "timecode; for Resolve, Avid, Premiere)")
    p.add_argument("--sensitivity", type=float, default=0.5, help="0-1; higher finds subtler cuts")
    reel_arg(p)

    p = sub.add_parser("ops", help="list operators and their parameters")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("presets", help="list presets")
    p.add_argument("--json", action="store_true")
    return parser


# -- recipes from the command line ------------------------------------------------------
def _parse_sets(items: Iterable[str]) -> list[tuple[str, str, str]]:
    out = []
    for item in items:
        name, sep, value = item.partition("=")
        op, dot, param = name.partition(".")
        if not (sep and dot and op and param):
            raise UsageError(f"--set expects OP.PARAM=VALUE, got '{item}'")
        out.append((op.strip(), param.strip(), value.strip()))
    return out


def recipe_from_args(args: argparse.Namespace):  # -> Recipe
    from engine.presets import get_preset
    from engine.project.recipe import Recipe

    if args.preset:
        recipe = get_preset(args.preset).recipe
    elif args.ops:
        recipe = Recipe.from_ops([o.strip() for o in args.ops.split(",") if o.strip()])
    else:
        recipe = Recipe()
    for op, param, value in _parse_sets(args.set):
        recipe = recipe.with_values(op, **{param: value})
    return recipe


# -- commands -----------------------------------------------------------------------------
def info_json(info) -> dict:  # info: engine.media.MediaInfo
    """probe's JSON: `fps` as a number for scripts, `fps_rational` exact ("30000/1001")."""
    data = dataclasses.asdict(info)
    data["path"] = str(info.path)
    data["fps"] = float(info.fps)
    data["fps_rational"] = f"{info.fps.numerator}/{info.fps.denominator}"
    data["audio"] = [dataclasses.asdict(a) for a in info.audio]
    return data


def cmd_probe(args: argparse.Namespace) -> int:
    from engine.media import probe

    info = probe(args.path)
    data = info_json(info)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    audio = ", ".join(f"{a['codec']} {a['sample_rate']} Hz {a['channels']} ch"
                      for a in data["audio"]) or "none"
    print(f"{data['path']}")
    print(f"  {data['width']}x{data['height']}  {data['fps_rational']} fps  {data['frame_count']} frames"
          f"  {data['duration']:.3f} s")
    print(f"  {data['codec']}  {data['pix_fmt']}  {data['bit_depth']}-bit"
          f"  timecode {data.get('timecode') or '-'}")
    print(f"  audio: {audio}")
    if data.get("comment"):
        print(f"  comment: {data['comment']}")
    return 0


def cmd_still(args: argparse.Namespace) -> int:
    from engine.media import open_reader
    from engine.pipeline import Evaluator, ShotPlan
    from engine.project import load_project
    from engine.project.io import SUFFIX
    from engine.render.still import still_picture, write_still

    framing = None
    if Path(args.input).suffix.lower() == SUFFIX:
        if args.ops or args.preset or args.set:
            raise UsageError("a project brings its own recipes: no --ops, --preset or --set")
        if args.crop or args.size:
            raise UsageError("a project brings its own framing: no --crop or --size")
        project = load_project(args.input)
        clip = _reel(project, args)
        project_plan, media = clip.plan(), project.media(clip)
        framing = project.output.framing
    else:
        project_plan, media = None, Path(args.input)
    with open_reader(media) as reader:
        info = reader.info
        if not 0 <= args.frame < info.frame_count:
            raise NitrateError(
                f"{args.input}: frame {args.frame} is outside the clip (0-{info.frame_count - 1})"
            )
        framing = framing or framing_from_args(args, reader)
        problem = framing.problem(info.width, info.height)
        if problem is not None:
            raise NitrateError(f"{args.input}: cannot frame the {info.width}x{info.height} "
                               f"source: {problem}")
        plan = project_plan or ShotPlan.single(info.frame_count, recipe_from_args(args))
        evaluated = Evaluator(reader).evaluate(args.frame, plan)
        frame = still_picture(evaluated.original, evaluated.restored, framing,
                              compare=args.before_after)
        write_still(Path(args.output), frame, info.bit_depth)
    return 0


def framing_from_args(args: argparse.Namespace, reader: Any) -> Any:  # -> Framing
    """The Framing of --crop, --size and --fit; --crop auto reads frames of `reader`
    (an engine Reader) and says on stderr what it found."""
    from engine.framing import Framing, detect_clip_crop

    crop: tuple[int, ...] = (0, 0, 0, 0)
    if args.crop == "auto":
        crop = detect_clip_crop(reader)
        print(f"nitrate: --crop auto: {','.join(map(str, crop))} (left, top, right, bottom)",
              file=sys.stderr)
    elif args.crop is not None:
        try:
            crop = tuple(int(v) for v in args.crop.split(","))
        except ValueError:
            crop = ()
        if len(crop) != 4 or min(crop) < 0:
            raise UsageError(f"--crop must be L,T,R,B (pixels, 0 or more) or auto, "
                             f"got {args.crop!r}")
    size = None
    if args.size is not None:
        try:
            size = tuple(int(v) for v in args.size.lower().split("x"))
        except ValueError:
            size = ()
        if len(size) != 2:
            raise UsageError(f"--size must be WIDTHxHEIGHT in pixels, got {args.size!r}")
    elif args.fit != "fit":
        raise UsageError("--fit needs --size")
    framing = Framing(crop=crop, size=size, fit=args.fit)  # type: ignore[arg-type]
    invalid = framing.invalid()
    if invalid is not None:
        raise UsageError(f"--crop/--size: {invalid}")
    return framing


class _Bar:
    """A one-line progress bar on a terminal; silent when stderr is not a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def update(self, p) -> None:  # p: engine.render.Progress
        now = time.monotonic()
        if not self.tty or (now - self._last < 0.1 and not p.finished):
            return
        self._last = now
        if p.checking is not None:
            sys.stderr.write(f"\r{self.label} checksums {p.checking[0]}/{p.checking[1]} "
                             "files" + " " * 30)
            sys.stderr.flush()
            return
        width = 30
        filled = int(width * p.fraction)
        eta = "--:--" if p.eta_seconds is None else time.strftime("%M:%S", time.gmtime(p.eta_seconds))
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'-' * (width - filled)}] {p.done}/{p.total}"
            f"  {p.fps:5.1f} fps  ETA {eta} "
        )
        sys.stderr.flush()

    def close(self, p) -> None:
        if self.tty:
            sys.stderr.write("\n")
        if p is not None:
            # Said after the fact, on stdout: stderr carries only the one-line errors.
            how = ("; no operator touches them: converted straight to the output format "
                   "(direct path)" if p.route == "direct" else "")
            print(f"{p.output}: {p.total} frames in {p.elapsed:.1f} s ({p.fps:.1f} fps){how}")
            if p.manifest is not None:
                print(f"{p.manifest}: checksums of the written files")


def _run_job(job, resume: bool = False, args: argparse.Namespace | None = None) -> int:
    """Export `job` plainly, resumably (--resume) or on Dask workers (--workers/--cluster),
    through the same entry point as the render queue, with one progress bar."""
    from engine.render import CancelToken
    from engine.render.modes import ExportMode, run_export

    workers = getattr(args, "workers", None)
    cluster = getattr(args, "cluster", None)
    chunk_frames = getattr(args, "chunk_frames", None)
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if chunk_frames is not None and chunk_frames < 1:
        raise UsageError(f"--chunk-frames must be at least 1, got {chunk_frames}")
    mode = ExportMode(resumable=resume, workers=workers or 0, cluster=cluster,
                      chunk_frames=chunk_frames)
    if mode.distributed and resume:
        raise UsageError("--resume cannot be combined with --workers/--cluster")
    if chunk_frames is not None and not mode.distributed:
        raise UsageError("--chunk-frames needs --workers or --cluster")
    cancel = CancelToken()
    bar = _Bar(Path(job.output).name)
    last = None
    try:
        # closing(): a Ctrl+C in the loop body still runs the export's clean-up (workers
        # stopped, work folder and temporary output removed).
        with contextlib.closing(run_export(job, cancel, mode)) as steps:
            for progress in steps:
                if last is None and mode.distributed:  # connected: say where it runs
                    print(f"nitrate: rendering {mode.describe()}", file=sys.stderr)
                if last is None and progress.done and not progress.elapsed:
                    print(f"nitrate: resuming {job.output}: {progress.done} of "
                          f"{progress.total} frames were already exported", file=sys.stderr)
                last = progress
                bar.update(progress)
    except KeyboardInterrupt:
        cancel.cancel()
        raise RenderCancelled(f"{job.output}: export cancelled") from None
    finally:
        if bar.tty:
            sys.stderr.write("\n")
            bar.tty = False
    bar.close(last)
    return 0


@contextlib.contextmanager
def _progress_line(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress(done, total) callback writing 'label done/total' over one line of
    stderr when it is a terminal (nothing otherwise: logs stay clean)."""
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            sys.stderr.write(f"\r{label} {done}/{total} ")
            sys.stderr.flush()

    try:
        yield progress
    finally:
        if tty:
            sys.stderr.write("\n")


def _detect_shots(path: str, start: int = 0, end: int | None = None,
                  sensitivity: float = 0.5, repairs: Sequence = ()) -> list:
    """Cuts of frames start..end (inclusive) of `path`, with a progress bar on a terminal.
    Frames destroyed per `repairs` are hidden from the detector (they look like cuts)."""
    from engine.media import open_reader
    from engine.ops.repair import WithoutDestroyed
    from engine.shots import detect_cuts

    with _progress_line("finding shots") as progress, open_reader(path) as reader:
        stop = None if end is None else end + 1
        source = WithoutDestroyed(reader, repairs) if repairs else reader
        return detect_cuts(source, start=start, end=stop, progress=progress,
                           sensitivity=sensitivity)


def cmd_pulldown(args: argparse.Namespace) -> int:
    """Remove 3:2 pulldown into a new file, or (--check) say whether a clip has it."""
    from engine.media import open_reader
    from engine.media.pulldown import analyse_pulldown
    from engine.media.writer import clip_stem
    from engine.render.pulldown import remove_pulldown

    source = Path(args.input)
    if args.check:
        with open_reader(source) as reader:
            report = analyse_pulldown(reader)
        print(f"{source}: {report.describe()}")
        return 0
    output = (Path(args.output) if args.output
              else source.with_name(f"{clip_stem(source, 'film')}_film.mkv"))
    with _progress_line("pulldown") as progress:
        plan = remove_pulldown(source, output, args.codec, progress, force=args.force)
    print(f"{output}: {plan.describe()}")
    return 0


@dataclasses.dataclass(frozen=True)
class ReelCheck:
    """One reel's frame check on the command line: its number (1-based; None for footage
    or a project of one reel), media, FrameCheck, the frames --mark marked, and its clip
    (None for footage)."""

    reel: int | None
    media: Path
    result: Any  # engine.qc.FrameCheck
    marked: list[int]
    clip: Any = None  # engine.project.Clip


def cmd_check(args: argparse.Namespace) -> int:
    """List the frames a frame check reports (every reel of a project of several, unless
    --reel); --mark: mark the damaged and blank ones for rebuilding."""
    from engine.project import load_project, save_project
    from engine.project.io import SUFFIX

    if args.csv and not Path(args.csv).parent.is_dir():  # before minutes of checking
        raise NitrateError(f"{args.csv}: the folder {Path(args.csv).parent} does not exist")
    # (reel number, 1-based, or None for footage or a project of one reel; clip; media)
    targets: list[tuple[int | None, Any, Path]]
    if Path(args.input).suffix.lower() == SUFFIX:
        project = load_project(args.input)
        _reel(project, args)  # a --reel outside the project: one line, exit 2
        several = len(project.clips) > 1
        chosen = [args.reel] if args.reel else range(1, len(project.clips) + 1)
        targets = [(n if several else None, project.clips[n - 1],
                    project.media(project.clips[n - 1])) for n in chosen]
    elif args.mark:
        raise UsageError("--mark needs a .nitrate project to keep the repairs in")
    else:
        project, targets = None, [(None, None, Path(args.input))]
    checks = []
    for reel, clip, media in targets:
        result = _check_one(media, args, f"reel {reel}" if reel else "")
        marked = _mark_checked(clip, result.events) if args.mark and clip is not None else []
        checks.append(ReelCheck(reel, media, result, marked, clip))
    if project is not None and any(c.marked for c in checks):
        save_project(project, project.path or args.input)  # atomic: old or new, never half
    if args.csv:
        _write_check_csv(Path(args.csv), checks)
    if args.json:
        data = [_check_json(c) for c in checks]
        print(json.dumps(data[0] if len(data) == 1 else {"reels": data}, indent=2))
        return 0
    for c in checks:
        _print_check(c)
        if args.mark:
            print(f"{args.input}: {len(c.marked)} frames marked to be rebuilt"
                  + (f" on reel {c.reel}" if c.reel else ""))
    return 0


def _check_one(media: Path, args: argparse.Namespace, label: str) -> Any:  # -> FrameCheck
    """The frame check of frames --start … --end of `media`, kept for the workstation."""
    from engine.media import open_reader
    from engine.qc import check_frames
    from engine.qc.store import store_check

    with _progress_line(f"checking frames {label}".strip()) as progress, \
            open_reader(media) as reader:
        count = reader.info.frame_count
        end = count - 1 if args.end is None else args.end
        if not 0 <= args.start <= end < count:
            raise UsageError(f"--start {args.start} --end {end}: {media} has frames "
                             f"0-{count - 1}")
        result = check_frames(reader, args.start, end + 1, progress=progress)
    store_check(media, result)  # the workstation shows the findings when the reel opens
    return result


def _write_check_csv(path: Path, checks: list[ReelCheck]) -> None:
    """The findings of `checks` as CSV, written atomically; "done" says whether a
    whole-frame repair rebuilds the frame."""
    import csv
    import io

    from engine.atomic_file import atomic_write_text
    from engine.project.model import rebuilt_frames

    text = io.StringIO()
    table = csv.writer(text, lineterminator="\n")
    table.writerow(["reel", "media", "frame", "timecode", "kind", "measure", "finding", "done"])
    for c in checks:
        rebuilt = set() if c.clip is None else rebuilt_frames(c.clip.repairs)
        for e in c.result.events:
            table.writerow([c.reel or 1, c.media, e.frame, c.result.timecode_of(e.frame),
                            e.kind, f"{e.measure:.4f}", e.describe(),
                            "rebuilt" if e.frame in rebuilt else ""])
    try:
        atomic_write_text(path, text.getvalue())
    except OSError as exc:
        raise NitrateError(f"{path}: cannot be written ({exc.strerror or exc})") from None


def _check_json(c: ReelCheck) -> dict[str, Any]:
    result = c.result
    cadence = result.repeat_cadence()
    return {
        **({"reel": c.reel} if c.reel else {}),
        "media": str(c.media),
        "frames": [result.start, result.end - 1],
        "events": [{"frame": e.frame, "kind": e.kind, "measure": round(e.measure, 4),
                    "text": e.describe()} for e in result.events],
        "counts": result.counts(),
        "repeat_cadence": None if cadence is None else round(cadence, 3),
        "marked": c.marked,
    }


def _print_check(c: ReelCheck) -> None:
    result = c.result
    if c.reel:
        print(f"reel {c.reel}: {c.media}")
    for e in result.events:
        print(f"frame {e.frame:>6}  {result.timecode_of(e.frame)}  {e.describe()}")
    print(f"{c.media}: frames {result.start}-{result.end - 1} checked, "
          f"{result.describe_counts()}")
    cadence = result.describe_cadence()
    if cadence:
        print(f"{c.media}: {cadence} (nitrate repeats gives back the film's own frames)")


MARKED_KINDS = ("damaged", "blank")
"""What `nitrate check --mark` marks to be rebuilt: deflicker evens out a flash, and a
repeat needs a judgement (an extra frame, or one standing in for a lost one)."""


def _mark_checked(clip: Any, events: Sequence) -> list[int]:
    """Add to `clip` a whole-frame repair for each damaged or blank frame in `events` not
    yet repaired or protected; the frames marked (the caller saves the project)."""
    from engine.project.model import Repair

    marked = []
    for e in events:
        if e.kind not in MARKED_KINDS or any(r.covers(e.frame) and r.whole_frame
                                             for r in clip.repairs):
            continue
        clip.repairs.append(Repair(e.frame, e.frame, note=f"frame check: {e.describe()}"))
        marked.append(e.frame)
    return marked


def cmd_repeats(args: argparse.Namespace) -> int:
    """Remove a transfer's regularly repeated frames into a new file."""
    from engine.media.writer import clip_stem
    from engine.render.repeats import remove_repeats

    source = Path(args.input)
    output = (Path(args.output) if args.output
              else source.with_name(f"{clip_stem(source, 'film')}_film.mkv"))
    rate = _parse_fps(args.fps) if args.fps else None
    with _progress_line("repeats") as progress:
        plan = remove_repeats(source, output, args.codec, progress, force=args.force,
                              rate=rate)
    print(f"{output}: {plan.describe()}")
    return 0


def cmd_shots(args: argparse.Namespace) -> int:
    from engine.media import probe
    from engine.project import load_project
    from engine.project.io import SUFFIX
    from engine.shots import shots_from_cuts
    from engine.shots.edl import ListedShot

    if args.edl and not Path(args.edl).parent.is_dir():  # before minutes of detection
        raise NitrateError(f"{args.edl}: the folder {Path(args.edl).parent} does not exist")
    cuts = None
    if Path(args.input).suffix.lower() == SUFFIX:
        project = load_project(args.input)
        clip = _reel(project, args)
        media = project.media(clip)
        listed = [ListedShot(s.start, s.end, s.note, s.reviewed) for s in clip.shots]
    else:
        media = Path(args.input)
        count = probe(media).frame_count
        cuts = _detect_shots(args.input, sensitivity=args.sensitivity)
        listed = [ListedShot(a, b) for a, b in shots_from_cuts(count, cuts)]
    shots = [(s.start, s.end) for s in listed]
    if args.edl:
        _write_edl(Path(args.edl), listed, media)
    if args.json:
        data: dict[str, Any] = {"shots": [{"start": a, "end": b} for a, b in shots]}
        if cuts is not None:
            data["cuts"] = [{"frame": c.frame, "kind": c.kind,
                             "confidence": round(c.confidence, 3)} for c in cuts]
        print(json.dumps(data, indent=2))
        return 0
    for n, (a, b) in enumerate(shots, start=1):
        print(f"shot {n:>3}: frames {a:>6}-{b:<6} ({b - a + 1} frames)")
    return 0


def _write_edl(path: Path, listed: list, media: Path) -> None:  # listed: [ListedShot]
    from engine.media import probe
    from engine.media.writer import clip_stem
    from engine.shots.edl import edl_text, write_edl

    info = probe(media)
    try:
        text = edl_text(listed, info.fps, media.name, clip_stem(media, "film"), info.timecode)
    except ValueError as exc:
        raise NitrateError(f"{path}: {exc}") from None
    write_edl(path, text)


def cmd_restore(args: argparse.Namespace) -> int:
    from engine.media import open_reader, probe
    from engine.media.sound_sync import parse_sound_offset
    from engine.pipeline import ShotPlan
    from engine.render import RenderJob

    recipe = recipe_from_args(args)
    fps = _parse_fps(args.fps) if args.fps is not None else None
    repairs = _parse_repairs(args.repair) + _parse_repairs(args.protect, protect=True)
    framing = framing_from_args(args, None) if args.crop != "auto" else None
    info = probe(args.input)
    _check_repairs(args.input, repairs, info.frame_count)
    audio_offset = 0.0
    if args.audio_offset is not None:
        if args.no_audio:
            raise UsageError("--audio-offset: the export has no sound (--no-audio)")
        try:
            audio_offset = parse_sound_offset(args.audio_offset, info.fps)
        except ValueError as exc:
            raise UsageError(f"--audio-offset: {exc}") from None
    if framing is None:
        with open_reader(args.input) as reader:
            framing = framing_from_args(args, reader)
    if args.track:
        if not any(r.region is not None for r in repairs):
            raise UsageError("--track: no --repair or --protect region to follow")
        repairs = [_tracked(r, Path(args.input), r.start) if r.region is not None else r
                   for r in repairs]
    plan = ShotPlan.single(info.frame_count, recipe)
    reach = max((s.build().temporal_radius + s.build().analysis_radius for s in recipe.active),
                default=0)
    # In-betweens mix neighbouring frames, so they need the cuts as much as temporal operators.
    mixing = fps is not None and fps != info.fps and args.retime != "nearest"
    # Repairs read the neighbouring frames too, and must never read across a cut.
    if args.shots == "auto" and (reach > 0 or mixing or repairs) and \
            0 <= args.start < info.frame_count:
        # Look a little beyond the range: a cut just outside it still bounds the windows
        # of its first and last frames (the detector ignores the edges of what it sees).
        last = info.frame_count - 1 if args.end is None else min(args.end, info.frame_count - 1)
        margin = reach + 8
        cuts = _detect_shots(args.input, max(0, args.start - margin),
                             min(info.frame_count - 1, last + margin), repairs=repairs)
        plan = ShotPlan.from_cuts(info.frame_count, [c.frame for c in cuts], recipe)
    plan = plan.with_repairs(repairs)
    job = RenderJob(
        source=Path(args.input),
        output=Path(args.output),
        plan=plan,
        start=args.start,
        end=args.end,
        codec=args.codec,
        audio=not args.no_audio,
        fps=fps,
        retime=args.retime,
        framing=framing,
        burn_in=args.burn_in,
        audio_offset=audio_offset,
        checksum=args.checksum,
        view_lut=args.view_lut or "",
        compare=args.compare or "",
    )
    return _run_job(job, resume=args.resume, args=args)


def _parse_fps(text: str):  # -> Fraction
    from engine.retime import parse_fps

    try:
        return parse_fps(text)
    except ValueError as exc:
        raise UsageError(f"--fps: {exc}") from None


def _parse_repairs(items: Iterable[str], protect: bool = False) -> list:  # -> list[Repair]
    from engine.project.model import Repair

    try:
        return [Repair.parse(item, protect=protect) for item in items]
    except ValueError as exc:
        raise UsageError(f"--{'protect' if protect else 'repair'}: {exc}") from None


def _check_repairs(path: str, repairs: list, frame_count: int) -> None:
    for r in repairs:
        if r.end >= frame_count:
            raise NitrateError(f"{path}: {r.kind} of {r.describe()} lies beyond the clip's "
                               f"last frame {frame_count - 1}")


def _reel(project: Any, args: argparse.Namespace) -> Any:  # -> Clip
    """The project's clip `--reel N` names (1-based; reel 1 by default)."""
    n = args.reel or 1
    if not 1 <= n <= len(project.clips):
        raise UsageError(f"--reel {n}: the project has reels 1-{len(project.clips)}")
    return project.clips[n - 1]


def cmd_repair(args: argparse.Namespace) -> int:
    from engine.project import load_project, save_project
    from engine.project.model import Repair

    project = load_project(args.project)
    clip = _reel(project, args)
    if args.list:
        if args.frames or args.region or args.spot or args.track is not None:
            raise UsageError("--list takes no --frames, --region, --spot or --track")
        for n, r in enumerate(clip.repairs, start=1):
            note = f"  ({r.note})" if r.note else ""
            print(f"{'protect' if r.protect else 'repair':<7} {n:>3}: {r.describe()}{note}")
        return 0
    if not args.frames:
        raise UsageError("give --frames N or --frames FIRST-LAST (or --list)")
    text = args.frames
    if args.to is not None:
        if "-" in text.strip().lstrip("-"):
            raise UsageError("give the range either as --frames FIRST-LAST or with --to")
        text = f"{text}-{args.to}"
    if args.region is not None:
        text = f"{text}@{args.region}"
    try:
        repair = Repair.parse(text, args.note, protect=args.protect)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _check_repairs(args.project, [repair], clip.frame_count)
    if args.spot is not None:
        repair = _spotted(repair, args, project.media(clip))
    if args.track is not None:
        repair = _tracked(repair, project.media(clip),
                          repair.start if args.track == -1 else args.track)
    clip.repairs.append(repair)
    save_project(project, project.path or args.project)  # atomic: old or new, never half
    print(f"{args.project}: added {repair.kind} of {repair.describe()} "
          f"({len(clip.repairs)} repairs and protections in the project)")
    return 0


def _spotted(repair: Any, args: argparse.Namespace, media: Path) -> Any:  # Repair -> Repair
    """`repair` (one frame, no region yet) with the region of the speck at `args.spot`."""
    from engine.media import open_reader
    from engine.ops.region import spot_region

    if args.region is not None or args.protect or repair.start != repair.end:
        raise UsageError("--spot marks one speck on one frame: no --region, --protect or "
                         "range of frames")
    try:
        x, y = (float(v) for v in args.spot.split(","))
    except ValueError:
        raise UsageError(f"--spot must be X,Y (source pixels), got {args.spot!r}") from None
    with open_reader(media) as reader:
        region = spot_region(reader.read(repair.start), x, y)
    if region is None:
        raise NitrateError(f"{media}: no spot of dirt stands out at {x:g},{y:g} on frame "
                           f"{repair.start} (give --region instead)")
    return dataclasses.replace(repair, region=region)


def _tracked(repair: Any, media: Path, key: int) -> Any:  # Repair -> Repair
    """`repair` with its region following the picture of `media` from frame `key`."""
    from engine.media import open_reader
    from engine.ops.track import track_region

    if repair.region is None:
        raise UsageError("--track needs a --region to follow")
    if not repair.start <= key <= repair.end:
        raise UsageError(f"--track {key}: the key frame must lie within frames "
                         f"{repair.start}-{repair.end}")
    with _progress_line("tracking") as progress, open_reader(media) as reader:
        track = track_region(reader, repair.region, repair.start, repair.end, key, progress)
    if track.unmeasured:
        print(f"{media}: the picture could not be followed on {len(track.unmeasured)} of "
              f"{len(repair.frames)} frames (first {track.unmeasured[0]}); the region is "
              "placed between its neighbours there")
    return dataclasses.replace(repair, track=track.offsets)


def cmd_report(args: argparse.Namespace) -> int:
    from engine.project import load_project
    from engine.report import build_report

    if not 0.0 < args.scale <= 1.0:
        raise UsageError(f"--scale must be within 0-1, got {args.scale:g}")
    if args.samples < 1:
        raise UsageError(f"--samples must be at least 1, got {args.samples}")
    project = load_project(args.project)
    assert project.path is not None
    output = Path(args.output) if args.output else \
        project.path.with_name(project.path.stem + ".report.html")
    with _progress_line("measuring shots") as progress:
        path = build_report(project, output, progress, scale=args.scale, samples=args.samples)
    print(f"{path}: report of {sum(len(c.shots) for c in project.clips)} shots")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from engine.errors import ProjectError
    from engine.project import load_project
    from engine.render import job_for_project
    from engine.render.jobs import reel_output

    project = load_project(args.project)
    reels = list(range(len(project.clips)))
    if args.reel is not None:
        if not 1 <= args.reel <= len(project.clips):
            raise UsageError(f"--reel {args.reel}: {args.project} has reels 1-"
                             f"{len(project.clips)}")
        reels = [args.reel - 1]
    for clip in reels:
        view_lut = args.view_lut or ""
        if args.view_lut == "":  # --view-lut alone: the clip's display LUT
            view_lut = project.display_lut(project.clips[clip])
            if not view_lut:
                raise UsageError("--view-lut without a LUT takes the clip's display LUT, "
                                 f"and {args.project} has none (View ▸ Display LUT)")
        output = args.output
        if len(project.clips) > 1:  # one file a reel: NAME_reel2.mov
            target = args.output if args.output is not None else project.output.path
            if target is None:
                raise ProjectError(args.project, "no output path (give -o OUTPUT or set one "
                                   "in the project)")
            output = reel_output(project.resolve(str(target)), clip)
        code = _run_job(job_for_project(project, output, clip_index=clip, codec=args.codec,
                                        burn_in=args.burn_in, checksum=args.checksum,
                                        view_lut=view_lut, compare=args.compare or ""),
                        resume=args.resume, args=args)
        if code:
            return code
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 0 when every listed file matches its checksum, 1 when one does not (each named
    on stderr), with one summary line."""
    from engine.render.fixity import verify

    with _progress_line("verify") as progress:
        result = verify(Path(args.path), progress)
    for label, names in (("changed", result.changed), ("missing", result.missing),
                         ("not in the list", result.unlisted)):
        for name in names:
            print(f"nitrate: {name}: {label}", file=sys.stderr)
    print(result.summary(), file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def cmd_ops(args: argparse.Namespace) -> int:
    from engine.ops import registry

    ops = []
    for op_id in registry.operator_ids():
        cls = registry.operator_class(op_id)
        ops.append({
            "id": op_id,
            "label": cls.label,
            "description": cls.description,
            "params": [s.to_json() for s in cls.Params.specs()],
        })
    if args.json:
        print(json.dumps({"operators": ops}, indent=2))
        return 0
    for op in ops:
        print(f"{op['id']:<18} {op['description']}")
        for s in op["params"]:
            rng = ""
            if s["choices"]:
                rng = " | ".join(s["choices"])
            elif s["minimum"] is not None:
                rng = f"{s['minimum']:g} … {s['maximum']:g}"
            unit = f" {s['unit']}" if s["unit"] else ""
            print(f"    {s['name']:<16} default {s['default']!s:<8}{unit:<8} {rng}  {s['label']}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from engine.presets import list_presets

    presets = list_presets()
    if args.json:
        print(json.dumps({"presets": [
            {"name": p.name, "description": p.description, "builtin": p.builtin,
             "steps": p.recipe.to_json()} for p in presets]}, indent=2))
        return 0
    for p in presets:
        ops = ", ".join(s.op for s in p.recipe.steps)
        print(f"{p.name:<16} {p.description}  [{ops}]")
    return 0


HANDLERS = {
    "probe": cmd_probe,
    "still": cmd_still,
    "restore": cmd_restore,
    "render": cmd_render,
    "verify": cmd_verify,
    "pulldown": cmd_pulldown,
    "repeats": cmd_repeats,
    "repair": cmd_repair,
    "report": cmd_report,
    "shots": cmd_shots,
    "check": cmd_check,
    "ops": cmd_ops,
    "presets": cmd_presets,
}
COMMANDS = tuple(HANDLERS)
"""The subcommands: a first argument that is not one of these is footage to open."""


def run_cli(argv: Sequence[str]) -> int:
    """Run a CLI command; returns the exit code (never raises for user errors)."""
    parser = _parser()
    args = parser.parse_args(list(argv))  # exits 2 on bad usage
    if args.command is None:
        parser.print_help()
        return 2
    from engine.runtime import configure_threads

    configure_threads()
    if getattr(args, "device", None):
        from engine.device import set_default_device

        try:
            set_default_device(args.device)
        except NitrateError as exc:
            print(f"nitrate: {exc}", file=sys.stderr)
            return 1
    try:
        return HANDLERS[args.command](args)
    except UsageError as exc:
        print(f"nitrate {args.command}: {exc}", file=sys.stderr)
        return 2
    except NitrateError as exc:
        print(f"nitrate: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("nitrate: out of memory (try a smaller range or preview scale)", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"nitrate: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
