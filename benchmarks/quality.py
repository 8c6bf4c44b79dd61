"""Restoration quality: Nitrate's operators and ffmpeg peers on synthetically damaged footage.

    python -m benchmarks.quality [--quick] [--only dust,grain] [--size 1280x720] [--frames 24]

Clean footage (generated scenes, and /work/shared/footage/bikes.mp4 and bigbuckbunny.mp4
when present, decoded with PyAV and scaled/cropped to --size) is damaged with
engine.synth.damage, one class of damage at a time and all together. Each Nitrate operator
that is registered (and the `film` preset, when resources/presets/film.json exists) is run
through the real engine (Recipe → ShotPlan → Evaluator), and each ffmpeg filter a user would
pick instead through benchmarks.peers (lossless rgb48 pipes). The ffmpeg CLI comes from
`apt-get install ffmpeg`; missing filters are skipped with the reason.

Columns (all against the clean frames, after removing any global shift where the damage
includes weave, so a stabiliser's displacement is not scored as damage):
  PSNR dB, SSIM      fidelity (engine.metrics.psnr / ssim, luma SSIM)
  still dmg %        share of clearly damaged pixels (changed by > 2*TOL by the defect)
                     that are not back within TOL of clean (dust and scratch cases)
  collat %           share of undamaged pixels (defect masks grown by GROW px) the filter
                     changed by more than TOL (dust and scratch cases)
  flicker            residual flicker, std over time of the mean-luma error (levels)
  jitter px          residual weave (engine.metrics.residual_jitter)
  cam lost px        how far the output's slow path left the camera's (camera_motion_lost)
  fps                frames per second of the whole run (all passes, pipes included)
Then each target of the issue is checked: PASS / FAIL / SKIP with the reason.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from benchmarks import peers as peer_mod
from engine import metrics
from engine.errors import NitrateError
from engine.synth.damage import DamageSpec, apply_damage
from engine.synth.scenes import moving_scene

ROOT = Path(__file__).resolve().parent.parent
FOOTAGE = ROOT.parent / "shared" / "footage"
FILM_PRESET = ROOT / "resources" / "presets" / "film.json"

TOL = 0.05   # levels 0-1 (~13 of 255): "back to clean" / "changed"
GROW = 3     # pixels: operators may repaint a defect's soft rim; that is not collateral
SEED = 2024
CAM_KEPT_PX = 2.0  # pixels: see the stabilize target


# --- footage ------------------------------------------------------------------------------

def present_footage(names: Sequence[str]) -> Iterator[tuple[str, Path]]:
    """(name, path) of each of `names` under ../shared/footage that is there; a line
    saying so for each that is not (a table's row, skipped)."""
    for name in names:
        path = FOOTAGE / name
        if path.exists():
            yield name, path
        else:
            print(f"{name:<32} skipped: {path} absent")


def _fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover width x height (pixels) and crop the centre, keeping the aspect."""
    h, w = frame.shape[:2]
    s = max(width / w, height / h)
    size = (max(width, round(w * s)), max(height, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    big = cv2.resize(frame, size, interpolation=interp)
    y0, x0 = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(np.clip(big[y0:y0 + height, x0:x0 + width], 0.0, 1.0))


def _decode(path: Path, start: int, n: int, width: int, height: int) -> list[np.ndarray]:
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i < start:
                continue
            rgb = frame.to_ndarray(format="rgb24").astype(np.float32) / np.float32(255.0)
            frames.append(_fit(rgb, width, height))
            if len(frames) == n:
                break
    return frames


@dataclass(frozen=True)
class Source:
    name: str
    load: Callable[[int, int, int], list[np.ndarray]]  # (frames, width, height)
    missing: str | None = None


def sources(names: Sequence[str]) -> list[Source]:
    out = []
    for name in names:
        if name == "generated":
            out.append(Source("generated", lambda n, w, h: moving_scene(n, w, h, seed=SEED)))
        elif name in ("bikes", "bunny"):
            file, start = {"bikes": ("bikes.mp4", 0), "bunny": ("bigbuckbunny.mp4", 40)}[name]
            path = FOOTAGE / file
            why = None if path.is_file() else f"{path} absent"
            out.append(Source(name, lambda n, w, h, p=path, s=start: _decode(p, s, n, w, h), why))
        else:
            raise SystemExit(f"unknown source {name!r} (generated, bikes, bunny)")
    return out


# --- candidates ---------------------------------------------------------------------------

class _ListSource:
    """The evaluator's FrameSource over frames held in memory."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self.frames = frames

    def read(self, index: int) -> np.ndarray:
        return self.frames[index]


def run_recipe(recipe: object, frames: Sequence[np.ndarray]) -> tuple[list[np.ndarray], float]:
    """Evaluate `recipe` over `frames` as one shot with the real engine, on the export's
    evaluating threads; (frames, seconds).

    Uses engine.pipeline's Evaluator; where the pipeline cannot be imported (it is being
    built), each operator's `process` is called on Windows directly, stage by stage.
    """
    try:
        from engine.pipeline.cache import FrameCache
        from engine.pipeline.evaluator import Evaluator
        from engine.pipeline.shot_plan import ShotPlan
        from engine.render.export import EVALUATION_THREADS
        from engine.runtime import side_by_side
    except ImportError:
        return _run_windows(recipe, frames)

    plan = ShotPlan.single(len(frames), recipe)  # type: ignore[arg-type]
    # Enough for every stage of every frame of these short clips: each stage computed once.
    budget = int(sum(f.nbytes for f in frames) * (len(recipe.active) + 2) * 1.5)  # type: ignore[attr-defined]
    evaluator = Evaluator(_ListSource(frames), FrameCache(budget), source_key="bench")
    start = time.perf_counter()
    # Consecutive frames evaluated side by side on the export's threads, as an export does.
    with ThreadPoolExecutor(EVALUATION_THREADS, thread_name_prefix="bench-evaluate") as pool:
        evaluate = side_by_side(evaluator.evaluate)
        pending = [pool.submit(evaluate, i, plan) for i in range(len(frames))]
        out = [p.result().restored for p in pending]
    return out, time.perf_counter() - start


def _run_windows(recipe: object, frames: Sequence[np.ndarray]) -> tuple[list[np.ndarray], float]:
    from engine.ops.base import Window

    n = len(frames)
    start = time.perf_counter()
    stage = list(frames)
    for k, step in enumerate(recipe.active):  # type: ignore[attr-defined]
        op = step.build()
        r = op.temporal_radius
        prev = stage
        stage = []
        for i in range(n):
            lo, hi = max(0, i - r), min(n - 1, i + r)
            window = Window(frames=tuple(prev[lo:hi + 1]), indices=tuple(range(lo, hi + 1)),
                            center=i - lo, shot=(0, n - 1), scale=1.0, key=f"bench-{k}",
                            fetch=prev.__getitem__)
            stage.append(op.process(window).frame)
    return stage, time.perf_counter() - start


def nitrate_label(what: str) -> str:
    return f"nitrate {what[7:]} preset" if what.startswith("preset:") else f"nitrate {what}"


def nitrate_recipe(what: str, values: dict | None = None) -> tuple[object | None, str]:
    """(Recipe, label) for an operator id (with parameter `values`) or "preset:film";
    (None, reason) when unavailable."""
    from engine.errors import OperatorError

    try:
        from engine.project.recipe import Recipe, Step
    except ImportError as exc:  # the engine is being edited in parallel
        return None, f"engine import failed: {exc}"

    if what.startswith("preset:"):
        name = what.split(":", 1)[1]
        path = ROOT / "resources" / "presets" / f"{name}.json"
        if not path.is_file():
            return None, f"no {path.relative_to(ROOT)} yet"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Recipe.from_json(data["steps"]), nitrate_label(what)
        except (NitrateError, ValueError, KeyError, TypeError) as exc:
            return None, f"preset {name} unusable: {exc}"
    try:
        return Recipe.of([Step.create(what, values or {})]), nitrate_label(what)
    except OperatorError as exc:
        if "no such operator" in str(exc):
            return None, f"operator {what!r} not registered yet"
        return None, str(exc)


# --- damage cases -------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    spec: DamageSpec
    nitrate: str                 # operator id or "preset:<name>"
    peers: tuple[str, ...]
    defect: str | None = None    # ground-truth mask for repaired/collateral
    weave: bool = False          # align global shifts; measure jitter
    values: dict = field(default_factory=dict)  # parameters of the Nitrate operator


CASES: tuple[Case, ...] = (
    Case("dust", DamageSpec(dust=60, seed=SEED), "dust", ("tmedian", "removegrain"), "dust"),
    Case("scratch", DamageSpec(scratches=3, seed=SEED), "scratch", ("tmedian", "removegrain"),
         "scratch"),
    Case("flicker", DamageSpec(flicker=0.12, local_flicker=0.04, seed=SEED), "deflicker",
         ("deflicker",)),
    Case("grain", DamageSpec(grain=0.03, seed=SEED), "degrain",
         ("hqdn3d", "atadenoise", "nlmeans")),
    Case("weave", DamageSpec(weave=2.5, seed=SEED), "stabilize", ("vidstab", "deshake"),
         weave=True),
    # The colour operator's automatic per-shot levels and balance are what undo a fade.
    Case("fade", DamageSpec(fade=0.5, seed=SEED), "color", (),
         values={"auto_levels": True, "auto_balance": True}),
    Case("all", DamageSpec(dust=60, scratches=2, flicker=0.1, local_flicker=0.03, grain=0.025,
                           weave=2.0, fade=0.4, seed=SEED), "preset:film", ("chain",),
         weave=True),
)


@dataclass
class Row:
    source: str
    case: str
    label: str
    psnr: float = math.nan
    ssim: float = math.nan
    still: float = math.nan
    collateral: float = math.nan
    flicker: float = math.nan
    jitter: float = math.nan
    cam_lost: float = math.nan
    fps: float = math.nan
    note: str = ""
    kind: str = "peer"  # "input" | "nitrate" | "peer"


def measure(row: Row, out: Sequence[np.ndarray], clean: Sequence[np.ndarray],
            inp: Sequence[np.ndarray], case: Case, masks: dict[str, list[np.ndarray]]) -> Row:
    """Fill `row`'s quality columns for output `out` of input `inp`."""
    psnrs, ssims = [], []
    for o, c in zip(out, clean, strict=True):
        if case.weave:
            o, c, _ = metrics.align_to(o, c)
        p = metrics.psnr(o, c)
        psnrs.append(min(p, 99.0))
        ssims.append(metrics.ssim(o, c))
    row.psnr, row.ssim = float(np.mean(psnrs)), float(np.mean(ssims))
    row.flicker = metrics.residual_flicker(out, clean)
    if case.defect is not None:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * GROW + 1, 2 * GROW + 1))
        clear, undamaged = [], []
        for i, (x, c) in enumerate(zip(inp, clean, strict=True)):
            m = masks[case.defect][i]
            big = cv2.absdiff(x, c).max(axis=2) > 2 * TOL
            clear.append(m & big)
            any_defect = (masks["dust"][i] | masks["scratch"][i]).astype(np.uint8)
            undamaged.append(cv2.dilate(any_defect, kernel) == 0)
        row.still = 1.0 - metrics.repaired_fraction(out, clean, clear, TOL)
        row.collateral = metrics.collateral_fraction(out, inp, undamaged, TOL)
    if case.weave:
        row.jitter = metrics.residual_jitter(out, clean)
        row.cam_lost = metrics.camera_motion_lost(out, clean)
    return row


def run_case(source: str, case: Case, clean: list[np.ndarray], fps: float) -> list[Row]:
    damaged = apply_damage(clean, case.spec)
    inp = damaged.frames
    rows = [measure(Row(source, case.name, "input (damaged)", kind="input"), inp, clean, inp,
                    case, damaged.masks)]
    recipe, label = nitrate_recipe(case.nitrate, case.values)
    if recipe is None:
        rows.append(Row(source, case.name, nitrate_label(case.nitrate), note=label,
                        kind="nitrate"))
    else:
        try:
            out, seconds = run_recipe(recipe, inp)
        except NitrateError as exc:
            rows.append(Row(source, case.name, label, note=f"error: {exc}", kind="nitrate"))
        except Exception as exc:  # noqa: BLE001 - one broken operator must not end the run
            rows.append(Row(source, case.name, label, kind="nitrate",
                            note=f"crashed: {type(exc).__name__}: {exc}"[:160]))
        else:
            row = measure(Row(source, case.name, label, kind="nitrate"), out, clean, inp, case,
                          damaged.masks)
            row.fps = len(inp) / seconds
            rows.append(row)
    for key in case.peers:
        peer = peer_mod.PEERS[key]
        why = peer_mod.missing(peer)
        if why is not None:
            rows.append(Row(source, case.name, peer.name, note=why))
            continue
        try:
            out, seconds = peer_mod.run_peer(peer, inp, fps)
        except RuntimeError as exc:
            rows.append(Row(source, case.name, peer.name, note=str(exc)))
            continue
        row = measure(Row(source, case.name, peer.name), out, clean, inp, case, damaged.masks)
        row.fps = len(inp) / seconds
        rows.append(row)
    return rows


# --- targets ------------------------------------------------------------------------------

@dataclass
class Verdict:
    source: str
    case: str
    target: str
    measured: str
    verdict: str  # PASS | FAIL | SKIP


def _ok(v: bool) -> str:
    return "PASS" if v else "FAIL"


def check_targets(rows: list[Row], size: tuple[int, int]) -> list[Verdict]:
    """The issue's targets, per source and damage class."""
    by: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        by.setdefault((r.source, r.case), []).append(r)
    out: list[Verdict] = []
    for (source, case), group in by.items():
        out.extend(_check_group(source, case, group, size))
    return out


def _check_group(source: str, case: str, group: list[Row], size: tuple[int, int]
                 ) -> list[Verdict]:
    out: list[Verdict] = []
    nit = next((r for r in group if r.kind == "nitrate"), None)
    peer_rows = {r.label: r for r in group if r.kind == "peer"}

    def add(target: str, measured: str, verdict: str) -> None:
        out.append(Verdict(source, case, target, measured, verdict))

    def skip_nitrate(target: str) -> bool:
        if nit is None or math.isnan(nit.psnr):
            add(target, "-", f"SKIP ({nit.note if nit else 'no operator'})")
            return True
        return False

    def peer_or_skip(name: str, target: str) -> Row | None:
        r = peer_rows.get(name)
        if r is None or math.isnan(r.psnr):
            add(target, "-", f"SKIP ({r.note if r else 'no peer'})")
            return None
        return r

    if case in ("dust", "scratch"):
        need = 0.95 if case == "dust" else 0.85
        t = f"{case}: >= {need:.0%} repaired"
        if not skip_nitrate(t):
            add(t, f"{1 - nit.still:.1%}", _ok(1 - nit.still >= need))
        t = f"{case}: <= 0.5% collateral"
        if not skip_nitrate(t):
            add(t, f"{nit.collateral:.2%}", _ok(nit.collateral <= 0.005))
        if case == "dust":
            t = "dust: PSNR above every peer"
            if not skip_nitrate(t):
                best = max((r.psnr for r in peer_rows.values() if not math.isnan(r.psnr)),
                           default=math.nan)
                if math.isnan(best):
                    add(t, "-", "SKIP (no peer ran)")
                else:
                    add(t, f"{nit.psnr:.2f} vs best peer {best:.2f} dB", _ok(nit.psnr > best))
    elif case == "flicker":
        t = "deflicker: residual flicker <= 1/5 of ffmpeg deflicker's"
        if not skip_nitrate(t):
            p = peer_or_skip("ffmpeg deflicker", t)
            if p is not None:
                add(t, f"{nit.flicker:.4f} vs {p.flicker:.4f}", _ok(nit.flicker <= p.flicker / 5))
    elif case == "grain":
        t = "degrain: PSNR above nlmeans at >= 5x its speed"
        if not skip_nitrate(t):
            p = peer_or_skip("ffmpeg nlmeans", t)
            if p is not None:
                add(t, f"{nit.psnr:.2f} vs {p.psnr:.2f} dB, {nit.fps:.1f} vs {p.fps:.2f} fps",
                    _ok(nit.psnr > p.psnr and nit.fps >= 5 * p.fps))
    elif case == "weave":
        # "Camera motion kept": the output's slow path stays within CAM_KEPT_PX of the
        # camera's. The weave's own slow sway scores ~0.9 px on the input; a stabiliser
        # that locks a pan scores tens of pixels (the pan moves ~3 px/frame at 720p).
        t = (f"stabilize: residual jitter <= 0.3 px, camera motion kept "
             f"(<= {CAM_KEPT_PX:g} px lost)")
        if not skip_nitrate(t):
            add(t, f"{nit.jitter:.3f} px jitter, {nit.cam_lost:.2f} px lost",
                _ok(nit.jitter <= 0.3 and nit.cam_lost <= CAM_KEPT_PX))
    elif case == "all":
        t = "film preset: SSIM above the ffmpeg chain's"
        if not skip_nitrate(t):
            p = peer_or_skip("ffmpeg chain", t)
            if p is not None:
                add(t, f"{nit.ssim:.4f} vs {p.ssim:.4f}", _ok(nit.ssim > p.ssim))
        t = "film preset: >= 4 fps at 1280x720"
        if not skip_nitrate(t):
            if size != (1280, 720):
                add(t, f"{nit.fps:.2f} fps at {size[0]}x{size[1]}", "SKIP (not 720p)")
            else:
                add(t, f"{nit.fps:.2f} fps", _ok(nit.fps >= 4.0))
    return out


# --- output -------------------------------------------------------------------------------

def _f(v: float, fmt: str, pct: bool = False) -> str:
    if math.isnan(v):
        return "-"
    return format(v * 100 if pct else v, fmt)


def table(rows: list[Row]) -> str:
    head = ("| source | damage | candidate | PSNR dB | SSIM | still dmg % | collat % | flicker "
            "| jitter px | cam lost px | fps | note |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lines.append(
            f"| {r.source} | {r.case} | {r.label} | {_f(r.psnr, '.2f')} | {_f(r.ssim, '.4f')} "
            f"| {_f(r.still, '.1f', True)} | {_f(r.collateral, '.2f', True)} "
            f"| {_f(r.flicker, '.4f')} | {_f(r.jitter, '.3f')} | {_f(r.cam_lost, '.2f')} "
            f"| {_f(r.fps, '.2f')} | {r.note} |")
    return "\n".join(lines)


def verdict_table(verdicts: list[Verdict]) -> str:
    lines = ["| source | target | measured | result |", "|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v.source} | {v.target} | {v.measured} | {v.verdict} |")
    return "\n".join(lines)


@dataclass
class Options:
    size: tuple[int, int] = (1280, 720)
    frames: int = 24
    only: tuple[str, ...] = ()
    sources: tuple[str, ...] = ("generated", "bikes", "bunny")
    fps: float = 24.0
    extra: dict = field(default_factory=dict)


def parse(argv: list[str] | None) -> Options:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="12 frames at 640x360 of the generated scene only (a smoke run)")
    ap.add_argument("--only", default="", help="comma-separated damage classes: "
                    + ", ".join(c.name for c in CASES))
    ap.add_argument("--size", default=None, help="WxH in pixels (default 1280x720)")
    ap.add_argument("--frames", type=int, default=None, help="frames per clip (default 24)")
    ap.add_argument("--sources", default=None, help="comma-separated: generated, bikes, bunny")
    a = ap.parse_args(argv)
    opt = Options()
    if a.quick:
        opt.size, opt.frames, opt.sources = (640, 360), 12, ("generated",)
    if a.size:
        try:
            w, h = (int(v) for v in a.size.lower().split("x"))
        except ValueError:
            ap.error(f"--size must look like 1280x720, got {a.size!r}")
        if w < 64 or h < 64:
            ap.error("--size must be at least 64x64")
        opt.size = (w, h)
    if a.frames is not None:
        if a.frames < 3:
            ap.error("--frames must be at least 3")
        opt.frames = a.frames
    if a.sources:
        opt.sources = tuple(s.strip() for s in a.sources.split(",") if s.strip())
    if a.only:
        known = {c.name for c in CASES}
        opt.only = tuple(s.strip() for s in a.only.split(",") if s.strip())
        bad = [s for s in opt.only if s not in known]
        if bad:
            ap.error(f"--only: unknown damage class {', '.join(bad)} (known: {', '.join(sorted(known))})")
    return opt


def main(argv: list[str] | None = None) -> int:
    opt = parse(argv)
    try:
        from engine.runtime import configure_threads
        configure_threads()
    except ImportError:
        pass
    w, h = opt.size
    cases = [c for c in CASES if not opt.only or c.name in opt.only]
    print(f"Restoration quality at {w}x{h}, {opt.frames} frames per clip, tol {TOL} levels.")
    if peer_mod.FFMPEG is None:
        print("ffmpeg CLI not found: peers skipped (apt-get install ffmpeg).")
    rows: list[Row] = []
    t0 = time.perf_counter()
    for src in sources(opt.sources):
        if src.missing:
            print(f"skipping source {src.name}: {src.missing}")
            continue
        clean = src.load(opt.frames, w, h)
        if len(clean) < 3:
            print(f"skipping source {src.name}: only {len(clean)} frames decoded")
            continue
        for case in cases:
            t = time.perf_counter()
            got = run_case(src.name, case, clean, opt.fps)
            rows.extend(got)
            print(f"  {src.name:9s} {case.name:8s} done in {time.perf_counter() - t:5.1f} s",
                  file=sys.stderr, flush=True)
    print()
    print(table(rows))
    print()
    print(verdict_table(check_targets(rows, opt.size)))
    print(f"\n(total {time.perf_counter() - t0:.0f} s on {_cores()} cores)")
    return 0


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
