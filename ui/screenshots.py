"""Screenshots of the real window on the sample reel, for the README.

    python -m ui.screenshots [OUT_DIR]        (default docs/screenshots)

Runs offscreen (QT_QPA_PLATFORM=offscreen unless a display platform is set, e.g. under
Xvfb), opens the bundled sample reel, detects its shots, builds a recipe from the operators
that are registered and grabs the window in several compare modes. Settings and autosaves
go to a temporary folder, never the user's.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WIDTH, HEIGHT = 1600, 960
# Operators shown in the screenshots when registered (others are skipped), with settings
# that make their effect visible on the reel.
_SHOWCASE: tuple[tuple[str, dict[str, object]], ...] = (
    ("dust", {}),
    ("deflicker", {}),
    ("scratch", {}),
    ("color", {"contrast": 1.15, "saturation": 1.1}),
    ("sharpen", {"amount": 0.6}),
)


def _wait(until: Callable[[], bool], timeout_s: float, pump: Callable[[], None]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pump()
        if until():
            return True
    return until()


def take(out_dir: Path) -> list[Path]:
    """Render the screenshots into `out_dir`; returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = Path(tempfile.mkdtemp(prefix="nitrate-shots-"))
    for key in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[key] = str(scratch / key.lower())
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from engine.errors import NitrateError
    from engine.framing import Framing
    from engine.ops import registry
    from engine.project import Recipe, Step
    from engine.project.model import Repair
    from engine.synth.sample_reel import sample_reel_path
    from ui.document import Target
    from ui.main_window import REPAIRS_OVERLAY, MainWindow
    from ui.theme import apply_theme

    # ui never imports app: the same identity and theme as app.gui, set up here.
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName("Nitrate")
    app.setApplicationName("Nitrate")
    apply_theme(app)  # type: ignore[arg-type]
    sample = sample_reel_path()
    if not sample.exists():
        raise SystemExit("ui.screenshots: the sample reel is missing (python -m "
                         "engine.synth.sample_reel resources/sample_reel/sample_reel.mp4)")
    settings = QSettings(str(scratch / "nitrate.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(WIDTH, HEIGHT)
    window.show()

    def pump() -> None:
        app.processEvents()
        window.bridge.wait_until_idle(0.05)

    def settled() -> bool:
        return (not window.detector.running and not window.bridge.busy
                and not window._preview_timer.isActive()
                and window.viewer.shown_index == window.playback.playhead)

    detected: list[bool] = []
    window.detector.finished.connect(lambda *_args: detected.append(True))
    if not window.open_path(sample):
        raise SystemExit(f"ui.screenshots: cannot open {sample}")
    # The shots are in the document once the detector's result reached the GUI thread.
    _wait(lambda: bool(detected) and window.viewer.shown_index is not None, 120, pump)
    steps = []
    for op_id, values in _SHOWCASE:
        if op_id in registry.operator_ids():
            try:
                steps.append(Step.create(op_id, values))
            except NitrateError:
                steps.append(Step.create(op_id))
    window.document.edit_recipe(Target(0, None), Recipe.of(steps), "Showcase recipe")
    shots = window.document.shots()
    frame = shots[1].start + shots[1].length // 2 if len(shots) > 1 else 10
    window.playback.seek(frame)
    window.inspector.set_current_shot(1 if len(shots) > 1 else 0)
    window.timeline.set_in_out(shots[0].start, shots[min(2, len(shots) - 1)].end)
    _wait(settled, 300, pump)

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def grab(name: str) -> None:
        _wait(settled, 300, pump)
        # JPEG: the noisy film pictures make PNGs of a megabyte each for the README.
        path = out_dir / f"{name}.jpg"
        window.grab().save(str(path), "JPEG", 88)
        written.append(path)

    grab("main_window")
    window.set_compare_mode("split")
    grab("split_wipe")
    window.set_compare_mode("difference")
    grab("difference")
    window.set_compare_mode("side_by_side")
    # The scopes of the scan and of the restored frame side by side, in the right column.
    window.toggle_scopes()
    window.scopes.set_kind("parade")
    window.scopes.set_source("both")
    window.resizeDocks([window.inspector_dock, window.render_dock, window.scopes_dock],
                       [300, 90, 500], Qt.Orientation.Vertical)
    window.resizeDocks([window.inspector_dock], [560], Qt.Orientation.Horizontal)
    grab("scopes")
    window.toggle_scopes()
    window.resizeDocks([window.inspector_dock, window.render_dock], [620, 200],
                       Qt.Orientation.Vertical)
    window.resizeDocks([window.inspector_dock], [380], Qt.Orientation.Horizontal)
    if steps and steps[0].op == "dust":
        window.set_mask_step(0)
        grab("dust_mask")
        window.set_mask_step(None)
    size = window.repair_tool.source_size()
    if size is not None:
        # Framing: the scan's edges cropped and the picture delivered as 2.39:1 scope,
        # filling it; the viewer darkens what the export leaves out.
        w, h = size
        edge = max(2, w // 40)
        window.set_output_framing(Framing(crop=(edge, edge, edge, edge), size=(2048, 858),
                                          fit="fill"))
        grab("framing")
        window.document.undo_stack.undo()
    if size is not None:
        # A repair region on the frame shown and a protection over the shot's frames that
        # follows the picture (tracked from the frame shown), both outlined on the viewer
        # and listed in the Repairs dock.
        w, h = size
        shot = shots[1] if len(shots) > 1 else shots[0]
        marks = [Repair(frame, frame, (w // 10, h // 6, w // 5, h // 4), "blotch"),
                 Repair(shot.start, shot.end, (w // 2, h // 2, w * 2 // 5, h // 3),
                        "water: left as scanned", protect=True)]
        window.document.edit_repairs(marks, "Showcase repairs")
        window.repair_tool.track(1)
        _wait(lambda: bool(window.document.repairs()[1].track), 60, pump)
        window.repair_list.list.setCurrentRow(1)
        window.repairs_dock.raise_()
        window.set_mask_step(REPAIRS_OVERLAY)
        grab("repairs_and_protections")
        window.set_mask_step(None)
    # The frame check on a copy of the reel's first shots with three faults put in: a
    # corner torn off, a frame printed too light and a frame repeated; the torn frame is
    # rebuilt from its neighbours.
    faulty = _faulty_copy(sample, scratch / "faulty_reel.mkv")
    if window.add_reel(faulty):
        _wait(lambda: window.timeline.frame_count == FAULTY_FRAMES and settled(), 120, pump)
        window.check_frames()
        _wait(lambda: window.frame_check.result() is not None, 120, pump)
        event = window.frame_check.result().events[0]  # type: ignore[union-attr]
        window.playback.seek(event.frame)
        window.frame_check.list.setCurrentRow(0)
        window.frame_check.rebuild_selected()  # After: the torn frame rebuilt
        grab("frame_check")
    window.document.undo_stack.setClean()
    window._ask_unsaved = lambda: None  # type: ignore[method-assign,assignment,return-value]
    window.shutdown()
    window.close()
    return written


FAULTY_FRAMES = 60
"""Frames of the sample reel copied for the frame check's screenshot."""


def _faulty_copy(sample: Path, target: Path) -> Path:
    """The sample reel's first FAULTY_FRAMES frames with a torn corner (frame 14), a frame
    printed too light (29) and a repeated frame (44), written losslessly to `target`."""
    import cv2
    import numpy as np

    from engine.media import open_reader
    from engine.synth.clip_file import write_frames

    with open_reader(sample) as reader:
        frames = [reader.read(i) for i in range(FAULTY_FRAMES)]
        fps = reader.info.fps
    h, w = frames[0].shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.int32([[w, 0], [w, h // 2], [w * 4 // 5, h // 3], [w * 2 // 3, 0]])],
                 255)
    frames[14] = frames[14].copy()
    frames[14][mask > 0] = 0.96
    frames[29] = np.clip(frames[29] * 1.7, 0, 1)
    frames[44] = frames[43].copy()
    return write_frames(target, frames, fps)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "docs" / "screenshots"
    for path in take(out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
