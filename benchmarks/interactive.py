"""Interactive responsiveness of the workstation (offscreen Qt): seek latency, GUI stalls,
playback rate.

    python -m benchmarks.interactive [--seconds 10] [--seeks 8] [--scrub 10] [--play 5]
                                     [--scopes waveform|parade|histogram|vectorscope]
                                     [--levels] [--cached-playback SECONDS]

On a generated 1080p H.264 clip (GOP 48 with B-frames, made once with PyAV and kept in the
temp folder) with the `film` preset (all registered operators while it does not exist), at
half-resolution preview, through the real EngineBridge / PlaybackController / CompareViewer:

- the shot analysis the window runs in the background once a clip and recipe are set
  (flicker levels, weave motion and colour statistics of every frame), seconds;
- restored frame after a seek, cold (never computed; the shot analysed) and cached: time
  from `seek()` to the first restored picture on screen (the draft at the analysis scale,
  `draft_shown`, or the final frame when it was cached) and to the final frame at the
  preview scale (`frame_shown`), p50 / p95 (milliseconds);
- original frame after a seek (recipe off), p50 / p95;
- longest GUI event-loop stall during a scripted scrub (a 5 ms QTimer heartbeat: the
  largest gap between beats, milliseconds) while the playhead is dragged across the clip;
- achieved playback rate of originals (frames per second) against the clip's rate;
- with `--levels`, all of the above while the timeline's levels graph is measured on a
  thread of its own from the start of the seeks (as the window does when a project
  opens), and how long that took;
- with `--cached-playback SECONDS`, restored playback of a range of that length twice:
  as it is computed (the recipe's own speed), then after Render ▸ Cache for playback kept
  it (`EngineBridge.render_for_playback`, timed): achieved frames per second of each;
- with `--scopes KIND`, all of the above with the Scopes panel open on that scope of the
  scan and the restored frame side by side (as the window wires it), and what one redraw
  of the scopes costs the GUI thread (milliseconds).

Targets on the 2-core development CPU: restored p50 ≤ 250 ms cold and ≤ 30 ms cached;
original p50 ≤ 150 ms; stall ≤ 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import av  # noqa: E402
import numpy as np  # noqa: E402

WIDTH, HEIGHT, FPS, GOP = 1920, 1080, Fraction(24), 48


def make_clip(path: Path, seconds: float) -> Path:
    """A 1080p H.264 clip with texture and motion (so decoding and operators do real work)."""
    if path.exists():
        return path
    partial = path.with_suffix(".partial.mp4")
    frames = round(seconds * FPS)
    rng = np.random.default_rng(7)
    grain = rng.integers(0, 24, (HEIGHT // 2, WIDTH // 2), dtype=np.uint8)
    grain = np.repeat(np.repeat(grain, 2, 0), 2, 1)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    with av.open(str(partial), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={
            "preset": "ultrafast", "crf": "18",
            "x264-params": f"keyint={GOP}:min-keyint={GOP}:bframes=2:scenecut=0",
        })
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(frames):
            shift = 6 * i
            base = ((xx + shift) // 64 + yy // 64) % 2 * 90 + 60
            rgb = np.empty((HEIGHT, WIDTH, 3), np.uint8)
            rgb[..., 0] = base + grain
            rgb[..., 1] = (base * 0.8 + grain).astype(np.uint8)
            rgb[..., 2] = ((yy * 200) // HEIGHT).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    partial.replace(path)
    return path


def film_recipe():
    from engine import presets
    from engine.ops import registry
    from engine.project.recipe import Recipe

    try:
        return "film", presets.get_preset("film").recipe
    except Exception:  # no film preset yet: every registered operator with defaults
        return "all operators", Recipe.from_ops(registry.operator_ids())


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (s)")
    parser.add_argument("--seeks", type=int, default=8, help="seeks per latency figure")
    parser.add_argument("--scrub", type=float, default=10.0, help="scripted scrub (s)")
    parser.add_argument("--play", type=float, default=5.0, help="playback measured (s)")
    parser.add_argument("--scale", type=float, default=0.5, help="preview scale")
    parser.add_argument("--scopes", choices=("waveform", "parade", "histogram", "vectorscope"),
                        help="with the Scopes panel open on this scope of before and after")
    parser.add_argument("--levels", action="store_true",
                        help="measure the timeline's levels graph on a thread of its own "
                             "during the seeks, as the window does when a project opens")
    parser.add_argument("--cached-playback", type=float, default=0.0, metavar="SECONDS",
                        help="also play this many seconds restored, before and after "
                             "caching them for playback")
    parser.add_argument("--no-prepare", action="store_true",
                        help="measure cold seeks without the background shot analysis")
    args = parser.parse_args(argv)

    # Threads and allocator as the workstation sets them at startup (app.gui).
    from engine.runtime import configure_threads
    configure_threads()

    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

    from engine.pipeline import ShotPlan
    from ui.compare_viewer import CompareViewer
    from ui.engine_bridge import EngineBridge
    from ui.playback import PlaybackController
    from ui.scopes import ScopesPanel
    from ui.timeline import Timeline

    folder = Path(tempfile.gettempdir()) / "nitrate-bench"
    folder.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    clip = make_clip(folder / f"interactive_1080p_{args.seconds:g}s.mp4", args.seconds)
    made_s = time.perf_counter() - t0
    preset, recipe = film_recipe()

    app = QApplication.instance() or QApplication([])
    window = QWidget()
    layout = QVBoxLayout(window)
    bridge = EngineBridge(cache_bytes=2 << 30)
    viewer, timeline = CompareViewer(), Timeline()
    layout.addWidget(viewer)
    layout.addWidget(timeline)
    scopes = None
    if args.scopes:  # as the main window wires its Scopes dock
        scopes = ScopesPanel()
        scopes.set_kind(args.scopes)
        scopes.set_source("both")
        layout.addWidget(scopes)
        scopes.set_active(True)
        viewer.frames_changed.connect(
            lambda: scopes.set_frames(viewer.before_array(), viewer.after_array()))
    window.resize(1280, 800 + (360 if scopes else 0))
    window.show()
    plan_box: list[ShotPlan | None] = [None]
    playback = PlaybackController(bridge, viewer, timeline, lambda: plan_box[0])
    playback.set_preview_scale(args.scale)
    shown_at: dict[int, float] = {}
    playback.frame_shown.connect(lambda i: shown_at.__setitem__(i, time.perf_counter()))
    first_at: dict[int, float] = {}  # first restored picture (draft or final)
    playback.draft_shown.connect(lambda i: first_at.setdefault(i, time.perf_counter()))
    playback.frame_shown.connect(lambda i: first_at.setdefault(i, time.perf_counter()))
    errors: list[str] = []
    bridge.error.connect(errors.append)

    opened: list[object] = []
    bridge.clip_opened.connect(opened.append)
    bridge.open_clip(clip)
    bridge.wait_until_idle(60)
    if not opened:
        raise SystemExit(f"could not open {clip}: {errors}")
    info = opened[0]
    count = info.frame_count
    plan_box[0] = ShotPlan.single(count, recipe)
    # The bench takes the timeline's thumbnails out of the picture: build them first.
    bridge.wait_until_idle(120)
    prepare_s = float("nan")
    if not args.no_prepare:  # what the main window does once a clip and recipe are set
        t0 = time.perf_counter()
        bridge.prepare_shots(plan_box[0], args.scale, 0)
        bridge.wait_until_idle(600)
        prepare_s = time.perf_counter() - t0

    levels_s: list[float] = []
    if args.levels:  # as the window's LevelsMeter, started with the clip
        import threading

        from engine.media import open_reader
        from engine.media.levels import frame_levels

        def measure_levels() -> None:
            t0 = time.perf_counter()
            with open_reader(clip) as reader:
                frame_levels(reader)
            levels_s.append(time.perf_counter() - t0)

        threading.Thread(target=measure_levels, name="bench-levels", daemon=True).start()

    firsts: list[float] = []

    def seek_latency(index: int) -> float:
        shown_at.pop(index, None)
        first_at.pop(index, None)
        start = time.perf_counter()
        playback.seek(index)
        while index not in shown_at:
            app.processEvents()
            bridge.wait_until_idle(0.005)
            if time.perf_counter() - start > 120:
                raise SystemExit(f"frame {index} never shown ({errors[-1:]})")
        latency = (shown_at[index] - start) * 1000.0
        firsts.append((first_at[index] - start) * 1000.0)
        bridge.wait_until_idle(120)  # the restorer looks at it; prefetch settles
        return latency

    rng = random.Random(3)
    margin = 24
    picks = rng.sample(range(margin, count - margin), min(count - 2 * margin, 3 * args.seeks))
    restored_frames, original_frames = picks[: args.seeks], picks[args.seeks : 2 * args.seeks]

    playback.show_restored(True)
    bridge.wait_until_idle(120)
    # Cached: back to the frame seen two seeks ago (A/B-ing between frames), which any
    # cache holding two seeks' worth of work keeps; cold: a frame never computed.
    cold: list[float] = []
    cached: list[float] = []
    cold_first: list[float] = []
    for k, index in enumerate(restored_frames):
        cold.append(seek_latency(index))
        cold_first.append(firsts[-1])
        if k >= 1:
            cached.append(seek_latency(restored_frames[k - 1]))
    playback.show_restored(False)
    bridge.wait_until_idle(120)
    originals = [seek_latency(i) for i in original_frames]

    # Scripted scrub with the recipe on: a 25 Hz drag across the clip, heartbeat at 5 ms.
    playback.show_restored(True)
    bridge.wait_until_idle(120)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def beat() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)
    drag = QTimer()
    drag.setInterval(40)
    position = [0]

    def move() -> None:
        position[0] = (position[0] + 3) % count
        playback.seek(position[0])

    drag.timeout.connect(move)
    heartbeat.start()
    drag.start()
    end = time.perf_counter() + args.scrub
    scrub_shown = len(shown_at)
    while time.perf_counter() < end:
        app.processEvents()
        bridge.wait_until_idle(0.002)
    drag.stop()
    heartbeat.stop()
    scrub_shown = len(shown_at) - scrub_shown
    bridge.wait_until_idle(120)
    stall = max(gaps) if gaps else float("nan")

    # Playback of originals.
    playback.show_restored(False)
    playback.seek(0)
    bridge.wait_until_idle(60)
    frames: list[int] = []
    playback.frame_shown.connect(frames.append)
    start = time.perf_counter()
    playback.play()
    while time.perf_counter() - start < args.play and playback.playing:
        app.processEvents()
        bridge.wait_until_idle(0.002)
    elapsed = time.perf_counter() - start
    playback.pause()
    bridge.wait_until_idle(60)
    play_fps = len(frames) / elapsed if elapsed > 0 else 0.0
    skipped = (max(frames) - min(frames) + 1 - len(frames)) if frames else 0

    cached_play: tuple[float, float, float, int] | None = None
    if args.cached_playback > 0:
        cached_play = _cached_playback(app, bridge, playback, timeline, plan_box[0],
                                       args.scale, count, args.cached_playback)

    redraw: list[float] = []
    if scopes is not None:  # what one redraw of the scopes costs the GUI thread
        for _ in range(20):
            t0 = time.perf_counter()
            scopes.refresh()
            app.processEvents()  # the repaint
            redraw.append((time.perf_counter() - t0) * 1000.0)

    bridge.close()
    window.close()
    scrub_note = "" if scrub_shown else "; the recipe is slower than the drag, so latest-wins "
    scrub_note += "" if scrub_shown else "showed no restored frame until the drag stopped"

    print(f"Interactive: {WIDTH}x{HEIGHT} H.264 GOP {GOP} (B-frames), {count} frames at "
          f"{float(FPS):g} fps; recipe '{preset}' ({', '.join(s.op for s in recipe.active)}); "
          f"preview scale {args.scale:g}; clip made in {made_s:.1f} s")
    if args.no_prepare:
        print("shot analysis: not run (--no-prepare)")
    else:
        print(f"shot analysis in the background: {prepare_s:.1f} s for {count} frames "
              f"(before the seeks below)")
    rows = [
        ("restored, cold: first picture", pct(cold_first, 50), pct(cold_first, 95),
         "p50 <= 250 ms"),
        ("restored, cold: final frame", pct(cold, 50), pct(cold, 95), ""),
        ("restored after seek, cached", pct(cached, 50), pct(cached, 95), "p50 <= 30 ms"),
        ("original after seek", pct(originals, 50), pct(originals, 95), "p50 <= 150 ms"),
    ]
    print(f"frame cache: {bridge.cache_budget / 2**30:.1f} GiB budget")
    print(f"{'measure':<34}{'p50 ms':>10}{'p95 ms':>10}   target")
    for name, p50, p95, target in rows:
        print(f"{name:<34}{p50:>10.1f}{p95:>10.1f}   {target}")
    print(f"{'GUI stall during scrub (max gap)':<34}{stall:>10.1f}{'':>10}   <= 50 ms  "
          f"({args.scrub:g} s scrub, {scrub_shown} frames shown, 5 ms heartbeat{scrub_note})")
    print(f"{'playback of originals (fps)':<34}{play_fps:>10.1f}{'':>10}   clip "
          f"{float(FPS):g} fps ({len(frames)} frames shown, {skipped} skipped)")
    if cached_play is not None:
        live, cache_s, cached_fps, frames_n = cached_play
        print(f"{'playback restored, computed (fps)':<34}{live:>10.1f}{'':>10}   "
              f"({frames_n} frames)")
        print(f"{'playback restored, cached (fps)':<34}{cached_fps:>10.1f}{'':>10}   clip "
              f"{float(FPS):g} fps (cached in {cache_s:.1f} s in the background)")
    if args.levels:
        done = f"{levels_s[0]:.1f} s" if levels_s else "still running at the end"
        print(f"levels graph measured beside the seeks: {done} for {count} frames")
    if scopes is not None:
        print(f"{'scopes redraw (' + args.scopes + ', both)':<34}{pct(redraw, 50):>10.1f}"
              f"{pct(redraw, 95):>10.1f}   (on the GUI thread; {scopes.refreshes} redraws "
              f"in the run)")
    if errors:
        print(f"errors: {len(errors)}; first: {errors[0]}")


def _play(app, bridge, playback, first: int, last: int, limit_s: float) -> float:
    """Play restored frames first..last (the in/out range set by the caller) and return
    the frames per second shown."""
    playback.show_restored(True)
    playback.seek(first)
    bridge.wait_until_idle(120)
    frames: list[int] = []
    playback.frame_shown.connect(frames.append)
    start = time.perf_counter()
    playback.play()
    while time.perf_counter() - start < limit_s and playback.playing:
        app.processEvents()
        bridge.wait_until_idle(0.002)
    elapsed = time.perf_counter() - start
    playback.pause()
    playback.frame_shown.disconnect(frames.append)
    bridge.wait_until_idle(120)
    return len(frames) / elapsed if elapsed > 0 else 0.0


def _cached_playback(app, bridge, playback, timeline, plan, scale: float, count: int,
                     seconds: float) -> tuple[float, float, float, int]:
    """(fps computed, seconds to cache, fps cached, frames) for a range of `seconds` in
    the clip's second half (frames no seek above computed)."""
    frames_n = min(count // 2, round(seconds * float(FPS)))
    first = count - frames_n
    last = count - 1
    timeline.set_in_out(first, last)
    live = _play(app, bridge, playback, first, last, 60.0)
    done: list[int] = []
    bridge.render_progress.connect(lambda d, t, _e: done.append(d) if d == t else None)
    t0 = time.perf_counter()
    kept = bridge.render_for_playback(plan, scale, first, last)
    assert kept is not None and kept == (first, last), f"the cache holds only {kept}"
    while not done and time.perf_counter() - t0 < 600:
        app.processEvents()
        bridge.wait_until_idle(0.05)
    cache_s = time.perf_counter() - t0
    cached = _play(app, bridge, playback, first, last, 60.0)
    timeline.set_in_out(None, None)
    return live, cache_s, cached, frames_n


if __name__ == "__main__":
    main()
