"""The workstation's main window: viewer in the centre, inspector on the right, timeline
below, render queue; menus, toolbar, status bar, settings, drag and drop.

The window wires the pieces together and owns no logic of its own beyond that: the project
and its undo history live in the Document, frames come through the EngineBridge, transport
is the PlaybackController's (the sound follows it: ui.sound), exports are the RenderQueue's.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from engine.device import DEVICE_CHOICES, set_default_device
from engine.errors import NitrateError
from engine.framing import Framing
from engine.lut import LutError, load_lut
from engine.media.sound_sync import describe_sound_offset
from engine.media.writer import clip_stem
from engine.ops.color import match_grade
from engine.presets import PresetError, list_presets
from engine.project import Shot, Step
from engine.render import job_for_project, render
from engine.render.jobs import reel_output
from engine.render.pending import PendingExport, load_pending, store_pending
from ui.compare_viewer import CompareViewer, on_picture
from ui.display_lut import DisplayLutMenu, lut_label
from ui.document import (
    AudioMeter,
    ChecksumVerifier,
    Document,
    FilmFramesWriter,
    LevelsMeter,
    ProxyMaker,
    PulldownChecker,
    Recovery,
    ReportWriter,
    ShotDetector,
    Target,
    default_queue_path,
    is_project_path,
)
from ui.engine_bridge import EngineBridge, default_cache_bytes
from ui.frame_check import FrameCheckPanel
from ui.inspector import Inspector, op_label
from ui.keyframes import KeyframeController
from ui.playback import PlaybackController
from ui.render_queue import RenderDialog, RenderFn, RenderQueue, RenderRequest
from ui.repair_tool import RepairList, RepairTool
from ui.scopes import ScopesPanel, pixel_readout
from ui.shot_list import ShotList
from ui.sound import ClipSound, SoundOutput, SoundPlayer
from ui.still_export import StillExporter
from ui.timeline import Timeline

APP_NAME = "Nitrate"
MAX_RECENT = 10
# Parameter edits are previewed once the user pauses this long (ms): a slider drag then
# costs one render per pause, not one per mouse move.
PREVIEW_DEBOUNCE_MS = 150
PULLDOWN_CHECK_FRAMES = 20
"""Frames a 29.97 fps clip needs before it is checked for 3:2 pulldown when opened."""

MEDIA_FILTER = ("Footage and projects (*.nitrate *.mp4 *.mov *.mkv *.avi *.mxf *.dpx *.tif "
                "*.tiff *.png *.exr);;Nitrate projects (*.nitrate);;All files (*)")
COMPARE_MODES = (
    ("side_by_side", "Side by side", "Ctrl+1"),
    ("split", "Split wipe", "Ctrl+2"),
    ("toggle", "A/B toggle", "Ctrl+3"),
    ("difference", "Difference", "Ctrl+4"),
)
PREVIEW_SCALES = ((1.0, "Full resolution"), (0.5, "Half resolution"), (0.25, "Quarter resolution"))
REPAIRS_OVERLAY = "repairs"
"""Mask combo entry that outlines the manual repairs and protections instead of a step's
mask."""


class TaskIndicator(QWidget):
    """Status-bar progress of a background job (cut detection, a report) with a Cancel
    button; hidden while the job is not running."""

    def __init__(self, name: str, cancel: Callable[[], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setMaximumWidth(110)
        self.bar.setMaximumHeight(12)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.clicked.connect(lambda: cancel())
        for widget in (self.label, self.bar, self.cancel_button):
            layout.addWidget(widget)
        self.hide()

    def start(self, text: str) -> None:
        self.label.setText(text)
        self.bar.setValue(0)
        self.show()

    def set_progress(self, done: int, total: int) -> None:
        self.bar.setValue(100 * done // max(1, total))


def _format_bytes(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    return f"{n / (1 << 20):.0f} MB"


class MainWindow(QMainWindow):
    """The Nitrate workstation window.

    settings:   where layout, recent files, preview scale and cache budget are remembered
                (tests pass their own file).
    render_fn:  the export generator (engine.render.render; tests may slow it down).
    sound_output: the device the clip's sound plays on (default: the system's; tests
                listen through a fake one).
    ask:        hooks replacing modal questions in tests: see `_ask_unsaved`.
    """

    def __init__(
        self,
        settings: QSettings | None = None,
        *,
        document: Document | None = None,
        render_fn: RenderFn = render,
        detect_shots: bool = True,
        sound_output: SoundOutput | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.resize(1500, 900)
        self.document = document if document is not None else Document(self)
        self.detect_shots = detect_shots
        self.selected_shots: list[int] = []
        # The range last cached for playback (Render ▸ Cache for playback), or None.
        self._cache_range: tuple[int, int] | None = None
        self._caching = False  # a playback render is running
        self.in_out: tuple[int | None, int | None] = (None, None)
        self._opening: str | None = None
        self._shut_down = False

        cache = int(self.settings.value("cache_budget_bytes", default_cache_bytes()))
        self.bridge = EngineBridge(self, cache_bytes=cache)
        self.viewer = CompareViewer()
        self.timeline = Timeline()
        self.playback = PlaybackController(self.bridge, self.viewer, self.timeline,
                                           self.document.plan, self)
        self.sound = SoundPlayer(self.playback, self._clip_sound, sound_output, self)
        self.playback.set_clock(self.sound.clock)
        self.inspector = Inspector(self.document)
        self.render_queue = RenderQueue(render_fn=render_fn, keep_path=default_queue_path())
        self.detector = ShotDetector(self)
        self.levels_meter = LevelsMeter(self)
        self.audio_meter = AudioMeter(self)
        self._levels: np.ndarray | None = None  # every frame's mean luma, once measured
        self.proxies = ProxyMaker(self)
        self.proxies.finished.connect(self._proxy_ready)
        self.report_writer = ReportWriter(self)
        self.checksum_verifier = ChecksumVerifier(self)
        self.film_frames_writer = FilmFramesWriter(self)
        self.pulldown_checker = PulldownChecker(self)
        self._detect_media: Path | None = None  # the footage shot detection runs on
        self.still_exporter = StillExporter(self)
        self.shot_list = ShotList(self.document, self.inspector.recipe)
        self.shot_list.set_bridge(self.bridge)
        self.keyframes = KeyframeController(self.document, self.inspector, self.timeline, self)
        self.repair_tool = RepairTool(self.document, self.viewer, self._shown_frame,
                                      lambda: self.in_out, self._source_size, self)
        self.repair_list = RepairList(self.document, self.repair_tool)
        self.frame_check = FrameCheckPanel(self.document)
        self.scopes = ScopesPanel()

        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self.playback.install_shortcuts(self)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._preview_timer.timeout.connect(self.playback.refresh)
        self._preview_timer.timeout.connect(self._prepare_shots)
        self._connect()
        self._restore_settings()
        self._update_title()
        self._update_enabled()

    # --- construction ---------------------------------------------------------------------

    def _build_central(self) -> None:
        self.empty_page = QWidget()
        self.empty_page.setObjectName("emptyPage")
        layout = QVBoxLayout(self.empty_page)
        layout.addStretch(2)
        title = QLabel("Nitrate")
        title.setObjectName("emptyTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel("Open a film scan, a video file or a Nitrate project — or drop it here.")
        hint.setObjectName("emptyHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_button = QPushButton("Open footage…")
        self.open_button.setObjectName("openFootage")
        self.open_button.clicked.connect(self.open_dialog)
        self.empty_status = QLabel("")
        self.empty_status.setObjectName("emptyHint")
        self.empty_status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_status.setWordWrap(True)
        for widget in (title, hint):
            layout.addWidget(widget)
        layout.addSpacing(16)
        layout.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addWidget(self.empty_status)
        layout.addStretch(3)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_page)
        self.stack.addWidget(self.viewer)
        self.setCentralWidget(self.stack)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # restoreState finds docks by object name
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.inspector_dock = self._dock("Inspector", "inspectorDock", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.timeline_dock = self._dock("Timeline", "timelineDock", self.timeline,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.render_dock = self._dock("Render queue", "renderDock", self.render_queue,
                                      Qt.DockWidgetArea.RightDockWidgetArea)
        self.shots_dock = self._dock("Shots", "shotsDock", self.shot_list,
                                     Qt.DockWidgetArea.LeftDockWidgetArea)
        self.repairs_dock = self._dock("Repairs", "repairsDock", self.repair_list,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.shots_dock, self.repairs_dock)
        self.check_dock = self._dock("Frame check", "frameCheckDock", self.frame_check,
                                     Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.repairs_dock, self.check_dock)
        self.shots_dock.raise_()
        self.resizeDocks([self.shots_dock], [360], Qt.Orientation.Horizontal)
        self.splitDockWidget(self.inspector_dock, self.render_dock, Qt.Orientation.Vertical)
        # Scopes open under the render queue when asked for (View ▸ Scopes): most of the
        # time the inspector needs the height. Not tabbed with the render queue: a second
        # group of tabbed docks built here leaves a stale tab bar drawn over it (Qt 6.x).
        self.scopes_dock = self._dock("Scopes", "scopesDock", self.scopes,
                                      Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.render_dock, self.scopes_dock, Qt.Orientation.Vertical)
        self.scopes_dock.visibilityChanged.connect(self.scopes.set_active)
        self.scopes_dock.hide()
        self.resizeDocks([self.inspector_dock, self.render_dock], [620, 200],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.inspector_dock], [380], Qt.Orientation.Horizontal)
        # The timeline spans the full width under the viewer and the inspector.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.frame_label = QLabel("—")
        self.frame_label.setObjectName("statusFrame")
        self.fps_label = QLabel("")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate: "working"
        self.busy_bar.setMaximumWidth(90)
        self.busy_bar.setMaximumHeight(12)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setToolTip("The engine is computing the frame")
        self.busy_bar.hide()
        self.shots_label = QLabel("")
        self.pixel_label = QLabel("")
        self.pixel_label.setObjectName("statusPixel")
        self.pixel_label.setToolTip(
            "Under the pointer: the source pixel, and the scan's and the restored frame's "
            "levels there as code values at the source's bit depth (read from the preview: "
            "exact at Full preview resolution, an average of the pixels it stands for below)")
        self.cache_label = QLabel("")
        self.scale_label = QLabel("")
        self.analysis_label = QLabel("")
        self.analysis_label.setToolTip(
            "Flicker, weave and colour analyses of the shots, computed in the background "
            "so that any frame you seek to is restored sooner")
        self.detect_task = TaskIndicator("detectTask", self.cancel_shot_detection)
        self.report_task = TaskIndicator("reportTask", self.report_writer.stop)
        self.verify_task = TaskIndicator("verifyTask", self.checksum_verifier.stop)
        self.film_frames_task = TaskIndicator("filmFramesTask", self.film_frames_writer.stop)
        self.cache_task = TaskIndicator("cacheTask", self.stop_playback_cache)
        bar.addPermanentWidget(self.detect_task)
        bar.addPermanentWidget(self.report_task)
        bar.addPermanentWidget(self.verify_task)
        bar.addPermanentWidget(self.film_frames_task)
        bar.addPermanentWidget(self.cache_task)
        bar.addPermanentWidget(self.busy_bar)
        for label in (self.pixel_label, self.analysis_label, self.shots_label,
                      self.scale_label, self.fps_label, self.cache_label, self.frame_label):
            bar.addPermanentWidget(label)

    def _action(self, text: str, slot: Callable[..., Any] | None = None,
                shortcut: str | QKeySequence | QKeySequence.StandardKey | None = None,
                tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        sk = QKeySequence.StandardKey
        self.act_open = self._action("&Open…", self.open_dialog, sk.Open,
                                     "Open footage or a Nitrate project")
        self.act_new = self._action("&New project from footage…", self.open_dialog, sk.New)
        self.act_next_reel = self._action(
            "&Next reel", lambda: self.step_reel(1), "Ctrl+PgDown",
            tip="Show the project's next reel")
        self.act_prev_reel = self._action(
            "&Previous reel", lambda: self.step_reel(-1), "Ctrl+PgUp",
            tip="Show the project's previous reel")
        self.act_remove_reel = self._action(
            "Re&move this reel", self.remove_reel,
            tip="Take the reel shown out of the project (its footage stays on disk)")
        self.act_add_reel = self._action(
            "&Add reel…", self.add_reel_dialog,
            tip="Add footage to the project as another reel (a feature's reels in one "
                "project); the toolbar then chooses the reel shown")
        self.act_save = self._action("&Save", self.save, sk.Save, "Save the project")
        self.act_save_as = self._action("Save &As…", self.save_as, sk.SaveAs)
        self.act_close = self._action("&Close project", self.close_project)
        self.act_quit = self._action("&Quit", self.close, sk.Quit)
        self.act_scopes = self._action("&Scopes", self.toggle_scopes, "Ctrl+Shift+W",
                                       "Show or hide the waveform, parade, histogram or "
                                       "vectorscope of the frame shown")
        self.act_clipping = self._action("Mark clipped &levels", None, "Ctrl+Shift+L",
                                         "Paint the pixels clipped to full scale red and "
                                         "those clipped to black blue, on both pictures",
                                         checkable=True)
        self.act_clipping.toggled.connect(self.viewer.set_show_clipping)
        self.scopes.add_toggle(self.act_clipping)
        self.act_grab_reference = self._action(
            "&Grab reference still", self.grab_reference, "Ctrl+Shift+G",
            "Keep the restored frame shown as a reference, to match other shots to it")
        self.act_reference = self._action(
            "Compare with &reference", None, "Ctrl+G",
            "Show the reference still in the Before picture's place (and on the scopes)",
            checkable=True)
        self.act_reference.toggled.connect(self.viewer.set_compare_reference)
        self.act_show_framing = self._action(
            "Show &framing", None, tip="Darken the picture the export's framing leaves out "
            "(Clip ▸ Framing…) and outline what it keeps", checkable=True)
        self.act_show_framing.setChecked(True)
        self.act_show_framing.toggled.connect(lambda _on: self.refresh_framing_guide())
        self.act_check_frames = self._action(
            "Check fra&mes", self.check_frames, "Ctrl+Shift+F",
            tip="Read the reel through and list its repeated, flash, damaged and blank "
                "frames (the Frame check dock), marked on the timeline")
        self.act_check_reels = self._action(
            "Check frames of every reel", self.check_every_reel,
            tip="Check each reel of the project not checked yet, one after another in the "
                "background, whichever reel is shown")
        self.act_next_flagged = self._action(
            "Next flagged frame", lambda: self.step_flagged(1), "Alt+Right",
            tip="Show the next frame the frame check listed")
        self.act_prev_flagged = self._action(
            "Previous flagged frame", lambda: self.step_flagged(-1), "Alt+Left",
            tip="Show the previous frame the frame check listed")
        self.act_repeats = self._action(
            "Remove &repeated frames…", self.repeats_dialog,
            tip="A film stretched to a higher rate by repeating frames (18 fps shown at 24): "
                "write its own frames at its own rate to a new file (lossless FFV1) and "
                "open it")
        self.act_pulldown = self._action(
            "Remove 3:2 &pulldown…", self.pulldown_dialog,
            tip="A film transferred to 29.97 fps video: write its 23.976 fps film frames "
                "to a new file (lossless FFV1) and open it")
        self.act_sound_sync = self._action(
            "&Sound sync…", self.sound_sync_dialog,
            tip="Move the clip's sound later or earlier against its picture, to put it "
                "back in sync (a print's sound advance, a separate track)")
        self.act_framing = self._action(
            "&Framing…", self.framing_dialog,
            tip="The picture area exports keep (the scan's surround cropped) and the size "
                "they are delivered at")
        self.act_match = self._action(
            "&Match shot to reference", self.match_to_reference, "Ctrl+Shift+M",
            "Grade the shot shown (its colour step's lift and gain) so that its black and "
            "white points match the reference still's, channel by channel")
        self.act_undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence(sk.Undo))
        self.act_redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.act_redo.setShortcut(QKeySequence(sk.Redo))
        self.act_copy_recipe = self._action("&Copy recipe", self.inspector.copy_recipe,
                                            "Ctrl+Shift+C")
        self.act_paste_recipe = self._action("&Paste recipe", self.paste_recipe, "Ctrl+Shift+V",
                                             "Paste onto the edited recipe, or onto every "
                                             "selected shot")
        self.act_prefs = self._action("Pr&eferences…", self.preferences_dialog, sk.Preferences)

        self.mode_group = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        for mode, label, key in COMPARE_MODES:
            action = self._action(label, lambda m=mode: self.set_compare_mode(m), key,
                                  checkable=True)
            self.mode_group.addAction(action)
            self.mode_actions[mode] = action
        self.mode_actions["side_by_side"].setChecked(True)
        self.act_fit = self._action("&Fit", self.viewer.fit, "F", "Fit the frame to the view")
        self.act_zoom100 = self._action("100 %", lambda: self.viewer.zoom_to(1.0), "Z",
                                        "One image pixel per screen pixel")
        self.act_zoom200 = self._action("200 %", lambda: self.viewer.zoom_to(2.0), "Shift+Z")
        self.scale_group = QActionGroup(self)
        self.scale_actions: dict[float, QAction] = {}
        for scale, label in PREVIEW_SCALES:
            action = self._action(label, lambda s=scale: self.set_preview_scale(s),
                                  checkable=True)
            self.scale_group.addAction(action)
            self.scale_actions[scale] = action
        self.act_show_restored = self._action("Show &restored", None, "R",
                                              "Run the recipe (off: originals only)",
                                              checkable=True)
        self.act_show_restored.setChecked(True)
        self.act_show_restored.toggled.connect(self.playback.show_restored)
        self.act_play = self._action("Play / pause", self.playback.toggle_play,
                                     tip="Play or pause (Space)")

        self.act_next_shot = self._action("Next shot", self.playback.next_shot,
                                          tip="Go to the next shot (↓)")
        self.act_prev_shot = self._action("Previous shot", self.playback.prev_shot,
                                          tip="Go to the previous shot (↑)")
        self.act_split = self._action("&Split shot at playhead", self.split_shot_at_playhead,
                                      "Ctrl+B", "Start a new shot at the current frame")
        self.act_split.setShortcuts([QKeySequence("Ctrl+B"), QKeySequence("S")])
        self.act_join = self._action("&Merge with next shot", self.join_with_next, "Ctrl+J",
                                     "Merge the current shot with the one after it")
        self.act_merge_prev = self._action("Merge with &previous shot", self.merge_with_previous,
                                           "Ctrl+Shift+J",
                                           "Merge the current shot with the one before it")
        self.act_reviewed = self._action("Mark shot &reviewed", self.toggle_reviewed, "Ctrl+R",
                                         checkable=True)
        self.act_detect = self._action("&Detect shots", self.start_shot_detection,
                                       tip="Find the cuts of the clip again")
        self.act_repair_tool = self._action("&Repair tool", None, "Ctrl+Shift+R",
                                            "Drag a rectangle over damage on the picture to "
                                            "rebuild it (the in/out range when set)",
                                            checkable=True)
        self.act_protect_tool = self._action("Pro&tect tool", None, "Ctrl+Shift+P",
                                             "Drag a rectangle over picture the dust and "
                                             "scratch repairs must leave as scanned (water, "
                                             "fire, rain, a flash; the in/out range when set)",
                                             checkable=True)
        # One drawing tool at a time; both may be off (a drag then pans).
        self.region_tools = QActionGroup(self)
        self.region_tools.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        for action in (self.act_repair_tool, self.act_protect_tool):
            self.region_tools.addAction(action)
            action.toggled.connect(lambda _on: self._region_tool_changed())
        self.act_protect_frame = self._action("Protect &whole frame",
                                              self.repair_tool.protect_frames,
                                              tip="Leave the whole frame (or the in/out range) "
                                                  "as scanned: no dust or scratch repair")
        self.act_track = self._action("Trac&k selected region", self.repair_list.track_selected,
                                      "Ctrl+T", "Make the region selected in the Repairs "
                                      "dock follow the picture, from the frame shown")
        self.act_mark_destroyed = self._action("Mark frame &destroyed",
                                               self.repair_tool.mark_destroyed, "Ctrl+D",
                                               "Rebuild the whole frame (or the in/out range) "
                                               "from its neighbours")
        self.act_report = self._action("Processing &report…", self.report_dialog,
                                       tip="Write an HTML report of what was done to each shot")
        self.act_export_frame = self._action(
            "Export &frame…", lambda: self.export_frame_dialog(compare=False), "Ctrl+Shift+E",
            "Save the frame shown, restored at full resolution, as a PNG or TIFF still")
        self.act_export_edl = self._action(
            "Export shot &list (EDL)…", self.export_edl_dialog,
            tip="Write the shots as a CMX 3600 edit decision list at the source's timecode, "
                "to bring the cuts into Resolve, Avid or Premiere")
        self.act_export_compare = self._action(
            "Export &before/after frame…", lambda: self.export_frame_dialog(compare=True),
            tip="Save the frame shown as a still of the scan and the restored frame side by "
                "side, at full resolution")
        self.act_own_recipe = self._action("Edit this shot's own recipe",
                                           lambda: self.inspector.set_scope(
                                               Inspector.SCOPE_SHOT))
        self.act_default_recipe = self._action("Edit the clip default recipe",
                                               lambda: self.inspector.set_scope(
                                                   Inspector.SCOPE_DEFAULT))

        self.act_cache_playback = self._action(
            "&Cache for playback", self.cache_for_playback, "Ctrl+Shift+K",
            "Restore the in/out range (or the shot shown) in the background and keep it, so "
            "that it plays at the clip's rate however slow the recipe")
        self.act_clear_cache = self._action(
            "C&lear playback cache", lambda: self.stop_playback_cache(forget=True),
            tip="Forget the frames kept for playback (their memory goes back to the cache)")
        self.act_render_clip = self._action("Add &whole clip…",
                                            lambda: self.render_dialog("clip"), "Ctrl+E")
        self.act_render_inout = self._action("Add &in/out range…",
                                             lambda: self.render_dialog("inout"))
        self.act_render_shots = self._action("Add &selected shots…",
                                             lambda: self.render_dialog("shots"))
        self.act_verify = self._action(
            "&Verify checksums…", self.verify_dialog,
            tip="Check an export against the checksum list written beside it (.md5 or "
                ".sha256): every file read again, and any changed, missing or added named")
        self.act_shortcuts = self._action("&Keyboard shortcuts", self.show_shortcuts, "F1")
        self.act_about = self._action("&About Nitrate", self.show_about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addActions([self.act_new, self.act_open])
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file.addSeparator()
        file.addActions([self.act_save, self.act_save_as, self.act_close])
        file.addSeparator()
        file.addActions([self.act_add_reel, self.act_remove_reel])
        file.addSeparator()
        file.addActions([self.act_export_frame, self.act_export_compare, self.act_export_edl,
                         self.act_report])
        file.addSeparator()
        file.addAction(self.act_quit)

        edit = bar.addMenu("&Edit")
        edit.addActions([self.act_undo, self.act_redo])
        edit.addSeparator()
        edit.addActions([self.act_copy_recipe, self.act_paste_recipe])
        edit.addSeparator()
        edit.addAction(self.act_prefs)

        view = bar.addMenu("&View")
        compare = view.addMenu("&Compare")
        compare.addActions(list(self.mode_actions.values()))
        view.addActions([self.act_fit, self.act_zoom100, self.act_zoom200])
        view.addSeparator()
        preview = view.addMenu("&Preview resolution")
        preview.addActions(list(self.scale_actions.values()))
        self.display_lut_menu = DisplayLutMenu("&Display LUT", self)
        self.display_lut_menu.setToolTip("Show the clip through a LUT (a Cineon log scan as "
                                         "video); exports, stills and scopes are unchanged")
        self.display_lut_menu.chosen.connect(self.set_display_lut)
        view.addMenu(self.display_lut_menu)
        self.mask_menu = view.addMenu("&Mask overlay")
        self.mask_menu.aboutToShow.connect(self._fill_mask_menu)
        view.addAction(self.act_show_restored)
        self.act_proxies = self._action("Use &proxies for scrubbing", checkable=True)
        self.act_proxies.triggered.connect(self.set_use_proxies)
        self.act_proxies.setToolTip("Scrub long-GOP footage from an all-intra half-size copy "
                                    "made in the background (never used for export)")
        view.addAction(self.act_proxies)
        self.act_sound = self._action("Play &sound", checkable=True,
                                      tip="Hear the clip's sound while the picture plays at "
                                          "its rate (moved by Clip ▸ Sound sync)")
        self.act_sound.triggered.connect(self.set_sound)
        view.addAction(self.act_sound)
        view.addAction(self._volume_action())
        view.addSeparator()
        for dock in (self.inspector_dock, self.timeline_dock, self.render_dock,
                     self.shots_dock, self.repairs_dock, self.check_dock):
            view.addAction(dock.toggleViewAction())
        view.addActions([self.act_scopes, self.act_clipping, self.act_show_framing])
        view.addSeparator()
        view.addActions([self.act_grab_reference, self.act_reference, self.act_match])

        shot = bar.addMenu("&Clip")
        shot.addActions([self.act_play, self.act_prev_shot, self.act_next_shot])
        shot.addSeparator()
        shot.addActions([self.act_split, self.act_join, self.act_merge_prev, self.act_detect])
        shot.addSeparator()
        shot.addActions([self.act_reviewed, self.act_own_recipe, self.act_default_recipe])
        self.presets_menu = shot.addMenu("Apply &preset")
        self.presets_menu.aboutToShow.connect(self._fill_presets_menu)
        self.shot_apply_menu = shot.addMenu("Apply recipe to &shots")
        self.shot_apply_menu.aboutToShow.connect(
            lambda: self.shot_list.fill_apply_menu(self.shot_apply_menu))
        shot.addSeparator()
        shot.addActions([self.act_repair_tool, self.act_mark_destroyed,
                         self.act_protect_tool, self.act_protect_frame, self.act_track])
        shot.addSeparator()
        shot.addActions([self.act_check_frames, self.act_check_reels, self.act_next_flagged,
                         self.act_prev_flagged])
        shot.addSeparator()
        shot.addAction(self._action("Output &frame rate…", self.frame_rate_dialog))
        shot.addAction(self.act_framing)
        shot.addAction(self.act_sound_sync)
        shot.addAction(self.act_pulldown)
        shot.addAction(self.act_repeats)
        shot.addSeparator()
        shot.addActions([self.act_next_reel, self.act_prev_reel])

        render_menu = bar.addMenu("&Render")
        render_menu.addActions([self.act_render_clip, self.act_render_inout,
                                self.act_render_shots])
        render_menu.addSeparator()
        render_menu.addActions([self.act_cache_playback, self.act_clear_cache])
        render_menu.addSeparator()
        render_menu.addAction(self.act_report)
        render_menu.addAction(self.act_verify)
        render_menu.addAction(self.render_dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.act_shortcuts, self.act_about])

    def _build_toolbar(self) -> None:
        tools = QToolBar("Main")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addToolBar(tools)
        tools.addActions([self.act_open, self.act_save])
        # The reel shown, for a project of several (File ▸ Add reel…); hidden with one.
        self.reel_combo = QComboBox()
        self.reel_combo.setToolTip("The reel shown and edited (File ▸ Add reel… adds one)")
        self.reel_combo.activated.connect(self.select_reel)
        self.reel_action = tools.addWidget(self.reel_combo)
        self.reel_action.setVisible(False)
        tools.addSeparator()
        # Short, fixed labels on the toolbar; the Edit menu shows what will be undone.
        self.tool_undo = self._action("Undo", self.document.undo_stack.undo,
                                      tip="Undo the last edit")
        self.tool_redo = self._action("Redo", self.document.undo_stack.redo,
                                      tip="Redo the edit just undone")
        stack = self.document.undo_stack
        stack.canUndoChanged.connect(self.tool_undo.setEnabled)
        stack.canRedoChanged.connect(self.tool_redo.setEnabled)
        stack.undoTextChanged.connect(lambda t: self.tool_undo.setToolTip(f"Undo {t}".strip()))
        stack.redoTextChanged.connect(lambda t: self.tool_redo.setToolTip(f"Redo {t}".strip()))
        self.tool_undo.setEnabled(stack.canUndo())
        self.tool_redo.setEnabled(stack.canRedo())
        tools.addActions([self.tool_undo, self.tool_redo])
        tools.addSeparator()
        tools.addActions(list(self.mode_actions.values()))
        tools.addSeparator()
        tools.addActions([self.act_fit, self.act_zoom100, self.act_zoom200])
        tools.addSeparator()
        self.scale_combo = QComboBox()
        self.scale_combo.setToolTip("Preview resolution: lower is faster (exports are always "
                                    "full resolution)")
        for scale, label in PREVIEW_SCALES:
            self.scale_combo.addItem(label.replace(" resolution", ""), scale)
        self.scale_combo.currentIndexChanged.connect(
            lambda i: self.set_preview_scale(self.scale_combo.itemData(i)))
        tools.addWidget(QLabel(" Preview "))
        tools.addWidget(self.scale_combo)
        self.mask_combo = QComboBox()
        self.mask_combo.setToolTip("Overlay what an operator detected (e.g. the dust it "
                                   "removed) on the after view, or the manual repairs "
                                   "(magenta) and protections (cyan)")
        self.mask_combo.setMinimumContentsLength(14)
        self.mask_combo.currentIndexChanged.connect(self._mask_combo_changed)
        tools.addWidget(QLabel("  Mask "))
        tools.addWidget(self.mask_combo)
        tools.addSeparator()
        tools.addAction(self.act_show_restored)
        tools.addAction(self.act_repair_tool)
        tools.addAction(self.act_protect_tool)
        self.toolbar = tools
        self._fill_mask_combo()

    def _connect(self) -> None:
        doc = self.document
        doc.project_replaced.connect(self._project_replaced)
        doc.project_replaced.connect(self._fill_reels)
        doc.reels_changed.connect(self._fill_reels)
        doc.modified.connect(self._preview_timer.start)
        doc.modified.connect(self._fill_mask_combo)
        doc.modified.connect(self._update_shot_status)
        doc.dirty_changed.connect(lambda _d: self._update_title())
        doc.path_changed.connect(self._update_title)
        doc.path_changed.connect(self._remember_path)
        self.bridge.clip_opened.connect(self._clip_opened)
        self.bridge.clip_opened.connect(lambda _info: self._preview_timer.start())
        self.bridge.analysis_progress.connect(self._analysis_progress)
        self.bridge.error.connect(self._engine_error)
        self.bridge.busy_changed.connect(self.busy_bar.setVisible)
        self.playback.frame_shown.connect(self._frame_shown)
        self.viewer.frames_changed.connect(
            lambda: self.scopes.set_frames(self.viewer.left_array(), self.viewer.after_array(),
                                           self.viewer.left_label))
        self.viewer.pointer_moved.connect(self._pointer_moved)
        self.viewer.frames_changed.connect(self.refresh_framing_guide)
        self.bridge.render_progress.connect(self._cache_progress)
        doc.modified.connect(self._stop_stale_cache)
        doc.modified.connect(self.refresh_cached_frames)
        self.playback.scale_changed.connect(lambda _s: self.refresh_cached_frames())
        doc.output_changed.connect(self.refresh_framing_guide)
        doc.project_replaced.connect(self.refresh_framing_guide)
        doc.clip_setting_changed.connect(self._clip_setting_changed)
        doc.project_replaced.connect(self.refresh_display_lut)
        self.playback.fps_changed.connect(
            lambda fps: self.fps_label.setText(f"{fps:.1f} fps" if fps > 0 else ""))
        self.playback.scale_changed.connect(self._scale_changed)
        self.timeline.shot_clicked.connect(self._shot_clicked)
        self.timeline.in_out_changed.connect(self._in_out_changed)
        self.inspector.message.connect(self.show_message)
        self.inspector.step_selected.connect(self._step_selected)
        self.render_queue.message.connect(self.show_message)
        self.sound.message.connect(self.show_message)
        self.detector.progress.connect(self._detect_progress)
        self.detector.finished.connect(self._detect_finished)
        self.detector.levels_ready.connect(self._levels_measured)
        self.levels_meter.finished.connect(self._levels_measured)
        self.audio_meter.finished.connect(self._audio_measured)
        self.report_writer.progress.connect(self.report_task.set_progress)
        self.report_writer.finished.connect(self._report_finished)
        self.checksum_verifier.progress.connect(self.verify_task.set_progress)
        self.checksum_verifier.finished.connect(self._verified)
        self.film_frames_writer.progress.connect(self.film_frames_task.set_progress)
        self.film_frames_writer.finished.connect(self._film_frames_written)
        self.pulldown_checker.finished.connect(self._pulldown_checked)
        self.still_exporter.finished.connect(self._still_finished)
        self.timeline.boundary_moved.connect(self.move_boundary)
        self.timeline.split_requested.connect(self.split_shot_at)
        self.timeline.merge_requested.connect(self.merge_shots)
        self.shot_list.seek_requested.connect(self._seek_paused)
        self.shot_list.selection_changed.connect(self._shot_list_selection)
        self.shot_list.message.connect(self.show_message)
        self.keyframes.message.connect(self.show_message)
        self.repair_tool.message.connect(self.show_message)
        self.repair_list.seek_requested.connect(self._seek_paused)
        self.frame_check.seek_requested.connect(self._seek_paused)
        self.frame_check.message.connect(self.show_message)
        self.frame_check.flagged_changed.connect(self.timeline.set_flagged)
        self.frame_check.flagged_changed.connect(self.shot_list.set_flagged)
        # The timeline shows a shot edit at once (the preview refresh is debounced).
        doc.shots_changed.connect(lambda _c: self.playback.refresh_shots())
        doc.repairs_changed.connect(lambda _c: self._repairs_changed())
        doc.project_replaced.connect(self._repairs_changed)

    # --- settings -------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(QByteArray(state))
        scale = float(self.settings.value("preview_scale", 0.5))
        self.set_preview_scale(scale if scale in dict(PREVIEW_SCALES) else 0.5)
        self._update_cache_label()
        self.act_proxies.setChecked(bool(self.settings.value("use_proxies", False, type=bool)))
        self.set_sound(bool(self.settings.value("sound", True, type=bool)), remember=False)
        self.set_volume(float(self.settings.value("sound_volume", 1.0, type=float)),
                        remember=False)
        if self.device_choice() != "auto":  # auto is the default; resolving it imports torch
            try:
                set_default_device(self.device_choice())
            except NitrateError as exc:  # e.g. a GPU chosen on another machine
                self.show_message(f"{exc}; using auto")

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("preview_scale", self.playback.preview_scale)
        self.settings.setValue("cache_budget_bytes", self.bridge.cache_budget)
        self.settings.sync()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        recent = [p for p in self.recent_files() if p != text]
        self.settings.setValue("recent_files", [text, *recent][:MAX_RECENT])

    def _remember_path(self) -> None:
        if self.document.path is not None:
            self._add_recent(self.document.path)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(Path(path).exists())
            action.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        if not recent:
            self.recent_menu.addAction("No recent files").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list",
                                       lambda: self.settings.setValue("recent_files", []))

    def set_cache_budget(self, budget_bytes: int) -> None:
        self.bridge.set_cache_budget(int(budget_bytes))
        self.settings.setValue("cache_budget_bytes", int(budget_bytes))
        self._update_cache_label()

    def _update_cache_label(self) -> None:
        self.cache_label.setText(f"Cache {_format_bytes(self.bridge.cache_budget)}")
        self.cache_label.setToolTip("Memory the engine may use for decoded and restored "
                                    "frames (Edit ▸ Preferences)")

    # --- opening and saving ---------------------------------------------------------------

    def open_path(self, path: str | Path) -> bool:
        """Open footage or a `.nitrate` project (asking about unsaved changes first).
        Errors are shown in the window; returns whether it opened."""
        if not self.maybe_save():
            return False
        path = Path(path).expanduser()
        try:
            self.document.open(path, relink=self.ask_relink)
        except NitrateError as exc:
            self.show_error("Cannot open", str(exc))
            return False
        except OSError as exc:
            self.show_error("Cannot open", f"{path}: {exc.strerror or exc}")
            return False
        self._add_recent(path)
        if not is_project_path(path) and self.detect_shots:
            self.start_shot_detection()
        self._update_proxy()
        return True

    # --- sound ----------------------------------------------------------------------------

    def _volume_action(self) -> QWidgetAction:
        """View ▸ Volume: a slider under Play sound (0-100 %, remembered)."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(28, 2, 8, 2)
        layout.addWidget(QLabel("Volume"))
        self.volume_slider = QSlider(Qt.Orientation.Horizontal)
        self.volume_slider.setRange(0, 100)
        self.volume_slider.setMinimumWidth(120)
        self.volume_slider.setToolTip("How loud the clip's sound plays (exports are not "
                                      "changed)")
        self.volume_slider.valueChanged.connect(lambda v: self.set_volume(v / 100))
        layout.addWidget(self.volume_slider)
        action = QWidgetAction(self)
        action.setDefaultWidget(row)
        return action

    def set_volume(self, volume: float, remember: bool = True) -> None:
        """How loud the sound plays, 0-1 (remembered); the slider follows."""
        volume = min(1.0, max(0.0, float(volume)))
        if remember:
            self.settings.setValue("sound_volume", volume)
        self.sound.set_volume(volume)
        self.volume_slider.blockSignals(True)
        self.volume_slider.setValue(round(volume * 100))
        self.volume_slider.blockSignals(False)

    def set_sound(self, on: bool, remember: bool = True) -> None:
        """Play the clip's sound with the picture, or not (remembered)."""
        if remember:
            self.settings.setValue("sound", bool(on))
        self.act_sound.setChecked(bool(on))
        self.sound.set_enabled(bool(on))

    def _clip_sound(self) -> ClipSound | None:
        """The open clip's sound for playback (None: it has none)."""
        info, media = self.bridge.info, self.document.media_path()
        if info is None or media is None or not getattr(info, "audio", ()):
            return None
        return ClipSound(media, Fraction(info.fps), self.document.audio_offset())

    # --- proxies --------------------------------------------------------------------------

    def set_use_proxies(self, on: bool) -> None:
        """Scrub originals from a background-made proxy (remembered)."""
        self.settings.setValue("use_proxies", bool(on))
        if self.act_proxies.isChecked() != bool(on):
            self.act_proxies.setChecked(bool(on))
        self._update_proxy()

    def _update_proxy(self) -> None:
        from engine.media.proxy import find_proxy

        media = self.document.media_path() if self.document.is_open else None
        on = bool(self.settings.value("use_proxies", False, type=bool))
        self.proxies.cancel()
        if not on or media is None or not Path(media).is_file():
            self.bridge.set_proxy(None)
            return
        existing = find_proxy(media)
        if existing is not None:
            self.bridge.set_proxy(existing)
        else:
            self.show_message(f"Making a scrubbing proxy of {Path(media).name}…")
            self.proxies.start(Path(media))

    def _proxy_ready(self, path: str, error: str) -> None:
        if error:
            self.show_message(error)
        elif path:
            self.bridge.set_proxy(path)
            self.show_message("Scrubbing from the proxy")

    def ask_relink(self, missing: Path) -> Path | None:
        """A project's media moved: ask the user where it is now (None: cancelled)."""
        start = missing.parent if missing.parent.is_dir() else Path.home()
        path, _ = QFileDialog.getOpenFileName(
            self, f"{missing.name} has moved: locate it", str(start), MEDIA_FILTER)
        return Path(path) if path else None

    # --- reels -----------------------------------------------------------------------------

    def add_reel_dialog(self) -> None:
        """File ▸ Add reel…: choose footage, add it as a reel and show it."""
        if not self.document.is_open:
            return
        media = self.document.media_path()
        path, _ = QFileDialog.getOpenFileName(
            self, "Add reel", str(media.parent if media else Path.home()), MEDIA_FILTER)
        if path:
            self.add_reel(Path(path))

    def add_reel(self, path: Path) -> bool:
        """Add the footage at `path` as the project's next reel (one undo step), show it,
        and find its shots. Errors are shown; returns whether it was added."""
        if is_project_path(path):
            self.show_error("Cannot add the reel", f"{path}: a project, not footage")
            return False
        try:
            index = self.document.add_clip(path)
        except NitrateError as exc:
            self.show_error("Cannot add the reel", str(exc))
            return False
        self.select_reel(index)
        if self.detect_shots:
            self.start_shot_detection()
        return True

    def remove_reel(self) -> None:
        """File ▸ Remove this reel: the reel shown leaves the project (one undo step)."""
        if not self.document.is_open:
            return
        try:
            self.document.remove_clip(self.document.current_clip)
        except NitrateError as exc:
            self.show_message(str(exc))

    def select_reel(self, index: int) -> None:
        """Show and edit reel `index` (0-based)."""
        if self.document.is_open and index != self.document.current_clip:
            self.detector.stop()  # the cuts being found are of the reel shown before
            self.detect_task.hide()
            self.document.select_clip(index)

    def step_reel(self, step: int) -> None:
        """Show the reel `step` places after the one shown (negative: before), if any."""
        reels = len(self.document.reel_names())
        target = self.document.current_clip + step
        if 0 <= target < reels:
            self.select_reel(target)

    def _fill_reels(self) -> None:
        names = self.document.reel_names()
        self.reel_combo.clear()
        self.reel_combo.addItems(names)
        if names:
            self.reel_combo.setCurrentIndex(self.document.current_clip)
        self.reel_action.setVisible(len(names) > 1)
        self.act_remove_reel.setEnabled(len(names) > 1)
        self.act_next_reel.setEnabled(self.document.current_clip < len(names) - 1)
        self.act_prev_reel.setEnabled(self.document.current_clip > 0)

    def open_dialog(self) -> None:
        start = self.recent_files()[0] if self.recent_files() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open footage or project",
                                              str(Path(start).parent), MEDIA_FILTER)
        if path:
            self.open_path(path)

    def save(self) -> bool:
        if not self.document.is_open:
            return False
        if self.document.path is None:
            return self.save_as()
        return self._save_to(None)

    def save_as(self) -> bool:
        if not self.document.is_open:
            return False
        suggestion = self.document.path or (self.document.media_path() or Path.home() / "x")
        suggestion = Path(suggestion).with_name(clip_stem(Path(suggestion), "film")
                                                + ".nitrate")
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(suggestion),
                                              "Nitrate projects (*.nitrate)")
        if not path:
            return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path | None) -> bool:
        try:
            saved = self.document.save(path)
        except NitrateError as exc:
            self.show_error("Cannot save", str(exc))
            return False
        self.show_message(f"Saved {saved}")
        return True

    def close_project(self) -> None:
        if self.maybe_save():
            self.detector.cancel()
            self.levels_meter.cancel()
            self.audio_meter.cancel()
            self.proxies.cancel()
            self.document.close()

    def _ask_unsaved(self) -> QMessageBox.StandardButton:
        """Save / Discard / Cancel for unsaved changes (tests monkeypatch QMessageBox)."""
        return QMessageBox.question(
            self, APP_NAME,
            f"Save the changes to {self.document.display_name()} before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current project (saved, discarded, or clean)."""
        if not self.document.is_dirty:
            return True
        answer = self._ask_unsaved()
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def offer_recovery(self) -> bool:
        """After a crash: offer to recover each autosave left behind. True if one was."""
        for recovery in self.document.find_recoveries():
            answer = QMessageBox.question(
                self, "Recover unsaved work?",
                f"Nitrate did not close cleanly. Recover the autosaved changes to "
                f"{recovery.describe()}?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Ignore,
                QMessageBox.StandardButton.Yes,
            )
            if answer == QMessageBox.StandardButton.Yes:
                return self.recover(recovery)
            if answer == QMessageBox.StandardButton.Discard:
                Document.discard_recovery(recovery)
        return False

    def offer_pending_exports(self) -> int:
        """Exports that were waiting in the render queue when Nitrate last closed: offer to
        queue them again (as they were asked for, from the project as it was then), or
        forget them. Returns how many were queued."""
        path = self.render_queue.keep_path
        if path is None:
            return 0
        try:
            waiting = load_pending(path)
        except NitrateError as exc:
            self.show_message(str(exc))
            return 0
        if not waiting:
            return 0
        names = ", ".join(Path(p.output).name for p in waiting[:3])
        more = f" and {len(waiting) - 3} more" if len(waiting) > 3 else ""
        answer = QMessageBox.question(
            self, "Queue the exports again?",
            f"{len(waiting)} export{'s were' if len(waiting) != 1 else ' was'} waiting when "
            f"Nitrate closed ({names}{more}). Queue {'them' if len(waiting) != 1 else 'it'} "
            "again?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
            QMessageBox.StandardButton.Yes)
        if answer != QMessageBox.StandardButton.Yes:
            store_pending(path, [])
            return 0
        queued, problems = 0, []
        for pending in waiting:
            try:
                job = pending.job()
            except NitrateError as exc:
                problems.append(str(exc))
                continue
            self.render_queue.add_job(job, pending.title or None, pending.export_mode(),
                                      pending)
            queued += 1
        if problems:
            self.show_error("Some exports cannot be queued again", "\n".join(problems))
        if queued:
            self.render_dock.show()
            self.render_dock.raise_()
        return queued

    def recover(self, recovery: Recovery) -> bool:
        try:
            self.document.recover(recovery)
        except NitrateError as exc:
            self.show_error("Cannot recover", str(exc))
            return False
        self.show_message(f"Recovered {recovery.describe()} — save to keep it")
        return True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if self._shut_down:  # already closed once (the question was answered then)
            event.accept()
            return
        if not self.maybe_save():
            event.ignore()
            return
        if self.render_queue.active_count():
            answer = QMessageBox.question(
                self, APP_NAME, "Exports are still running or waiting. Stop them and quit? "
                "They are offered again when Nitrate next starts (a resumable one goes on "
                "from its last complete segment).",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop every background activity (exports, detection, engine) and autosave."""
        self._shut_down = True
        self._preview_timer.stop()
        self.playback.pause()
        self.detector.cancel()
        self.levels_meter.cancel()
        self.audio_meter.cancel()
        self.proxies.cancel()
        self.report_writer.cancel()
        self.checksum_verifier.cancel()
        self.film_frames_writer.cancel()
        self.pulldown_checker.cancel()
        self.sound.close()
        self.still_exporter.cancel()
        self.repair_tool.tracker.cancel()
        self.frame_check.shutdown()
        self.render_queue.close_runner()
        self.bridge.close()
        self.document.shutdown()

    # --- drag and drop --------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if self._dropped_path(event.mimeData().urls()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        path = self._dropped_path(event.mimeData().urls())
        if path is not None:
            event.acceptProposedAction()
            # Open after the drop returns: a modal question inside a drop blocks the source.
            QTimer.singleShot(0, lambda: self.open_path(path))

    @staticmethod
    def _dropped_path(urls: list[QUrl]) -> Path | None:
        locals_ = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        return locals_[0] if len(locals_) == 1 else None

    # --- project → widgets ----------------------------------------------------------------

    def _project_replaced(self) -> None:
        self.selected_shots = []
        self.in_out = (None, None)
        self.audio_meter.stop()  # a waveform of the clip before is of no use
        self._cache_range = None  # another clip, another server: nothing is kept
        self._caching = False
        self.cache_task.hide()
        media = self.document.media_path()
        if media is None:
            self.bridge.close()
            self.viewer.clear()
            self.playback.close_clip()
            self.stack.setCurrentWidget(self.empty_page)
            self.frame_label.setText("—")
            self.fps_label.setText("")
            self._set_reference(None)
        else:
            self._opening = str(media)
            self.empty_status.setText(f"Opening {media.name}…")
            self.bridge.open_clip(str(media))
            # The levels graph: measured on its own pass, unless cut detection starts
            # now and measures them on its pass (start_shot_detection stops this one).
            self._levels = None
            self.levels_meter.start(media)
        self._update_enabled()
        self._update_shot_status()

    def _clip_opened(self, info: Any) -> None:
        self._opening = None
        self.empty_status.setText("")
        self.stack.setCurrentWidget(self.viewer)
        project = self.document.project
        clip = project.clips[self.document.current_clip] if project is not None else None
        if clip is not None and clip.frame_count != info.frame_count:
            self.show_message(
                f"{Path(clip.path).name}: the media has {info.frame_count} frames, "
                f"the project expects {clip.frame_count}")
        self.playback.refresh_shots()
        self.shot_list.set_fps(info.fps)
        self._show_levels()
        self._measure_audio()
        self._update_enabled()
        # A film transferred to NTSC video: say so, since restoring it needs film frames.
        media = self.document.media_path()
        if (media is not None and info.frame_count >= PULLDOWN_CHECK_FRAMES
                and round(float(info.fps), 2) in (29.97, 30.0)):
            self.pulldown_checker.start(media)

    def _engine_error(self, message: str) -> None:
        if self._opening is not None:
            # The clip could not be opened: say so where the picture would be.
            self.empty_status.setText(message)
            self.stack.setCurrentWidget(self.empty_page)
            self._opening = None
        self.show_message(message)

    def _frame_shown(self, index: int) -> None:
        tc = self.timeline.timecode(index) if self.timeline.frame_count else ""
        total = self.timeline.frame_count
        self.frame_label.setText(f"{tc}  ·  frame {index} / {max(0, total - 1)}")
        shots = self.document.shots()
        self.inspector.set_frame(index)
        for position, shot in enumerate(shots):
            if shot.start <= index <= shot.end:
                self.inspector.set_current_shot(position)
                self.shot_list.set_current_shot(position)
                break
        self.keyframes.refresh()  # another shot may mean another recipe's keys
        self.repair_tool.refresh_overlay()
        self._update_shot_status()

    def _update_shot_status(self) -> None:
        shots = self.document.shots()
        if not shots:
            self.shots_label.setText("")
            self.act_reviewed.setEnabled(False)
            return
        reviewed = sum(1 for s in shots if s.reviewed)
        current = self.inspector.current_shot
        text = f"{len(shots)} shots, {reviewed} reviewed"
        if current is not None and current < len(shots):
            text = f"Shot {current + 1} · " + text
            self.act_reviewed.setEnabled(True)
            was = self.act_reviewed.blockSignals(True)
            self.act_reviewed.setChecked(shots[current].reviewed)
            self.act_reviewed.blockSignals(was)
        self.shots_label.setText(text)

    def _update_title(self) -> None:
        name = self.document.display_name()
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(self.document.is_dirty)

    def _update_enabled(self) -> None:
        open_ = self.document.is_open
        for action in (self.act_save, self.act_save_as, self.act_close, self.act_copy_recipe,
                       self.act_paste_recipe, self.act_split, self.act_join, self.act_detect,
                       self.act_merge_prev, self.act_repair_tool, self.act_mark_destroyed,
                       self.act_protect_tool, self.act_protect_frame, self.act_track,
                       self.act_export_frame, self.act_export_compare, self.act_report,
                       self.act_render_clip, self.act_render_inout, self.act_render_shots,
                       self.act_own_recipe, self.act_default_recipe, self.act_reviewed,
                       self.act_grab_reference, self.act_sound_sync, self.act_check_frames,
                       self.act_next_flagged, self.act_prev_flagged, self.act_check_reels):
            action.setEnabled(open_)
        self.act_reference.setEnabled(open_ and bool(self.viewer.reference_label))
        self.act_match.setEnabled(open_ and bool(self.viewer.reference_label))

    def _prepare_shots(self) -> None:
        """Hand the engine the shot analyses of the current plan (after the frame on
        screen, the playhead's shot first), so later seeks find them done."""
        if self.bridge.is_open:
            self.bridge.prepare_shots(self.document.plan(), self.playback.preview_scale,
                                      self.playback.playhead)

    # --- playback cache ---------------------------------------------------------------------

    def cache_for_playback(self) -> bool:
        """Render ▸ Cache for playback: keep the in/out range (else the shot shown)
        restored at the preview scale, computed in the background; the timeline marks the
        frames kept in green. A range larger than the cache's share is cut, with a word."""
        plan = self.document.plan()
        if plan is None or not self.bridge.is_open:
            return False
        if None not in self.in_out:
            first, last = self.in_out  # type: ignore[misc]
        else:
            shot = plan.shot_at(self.playback.playhead)
            first, last = shot.start, shot.end
        scale = self.playback.preview_scale
        kept = self.bridge.render_for_playback(plan, scale, first, last)
        if kept is None:
            return False
        self._cache_range = kept
        self._caching = True
        self.cache_task.start(f"Caching frames {kept[0]}-{kept[1]}")
        self.timeline.set_cached([])
        if kept[1] < last:
            self.show_message(f"Caching frames {kept[0]}-{kept[1]} of {first}-{last}: the "
                              f"rest does not fit the cache (Edit ▸ Preferences)")
        else:
            self.show_message(f"Caching frames {first}-{last} for playback")
        return True

    def stop_playback_cache(self, forget: bool = False) -> None:
        """Stop caching for playback; with `forget`, drop the frames kept."""
        self.bridge.stop_render(forget)
        self._caching = False
        self.cache_task.hide()
        if forget:
            self._cache_range = None
        self.refresh_cached_frames()

    def _stop_stale_cache(self) -> None:
        """An edit while caching: the frames still to come would show the old recipe."""
        if self._caching:
            self.stop_playback_cache()
            self.show_message("Caching for playback stopped: the recipe changed "
                              "(Render ▸ Cache for playback starts again)")

    def _cache_progress(self, done: int, total: int, error: object) -> None:
        if not self._caching:
            return  # a render stopped since: its last frames' news are stale
        if error is not None or done >= total:
            self._caching = False
        self.cache_task.set_progress(done, total)
        if error is not None or done >= total:
            self.cache_task.hide()
        if error is None and done >= total and self._cache_range is not None:
            first, last = self._cache_range
            self.show_message(f"Frames {first}-{last} cached: they play at the clip's rate")
        if error is not None or done >= total or done % 8 == 0:
            self.refresh_cached_frames()

    def refresh_cached_frames(self) -> None:
        """Mark on the timeline the frames kept for playback with the recipe and preview
        scale in force now (an edit, or another scale, gives other pictures)."""
        plan = self.document.plan() if self.document.is_open else None
        if plan is None or self._cache_range is None:
            self.timeline.set_cached([])
            return
        first, last = self._cache_range
        frames = self.bridge.rendered_frames(plan, self.playback.preview_scale, first, last)
        self.timeline.set_cached([(run[0], run[-1]) for run in _contiguous(frames)])

    def _analysis_progress(self, done: int, total: int) -> None:
        busy = 0 < done < total
        self.analysis_label.setText(f"Analysing shots {100 * done // total}%" if busy else "")

    def _scale_changed(self, scale: float) -> None:
        self.scale_label.setText(f"Preview {dict(PREVIEW_SCALES)[scale].split()[0].lower()}"
                                 if scale in dict(PREVIEW_SCALES) else f"Preview ×{scale:g}")

    # --- view ------------------------------------------------------------------------------

    def set_compare_mode(self, mode: str) -> None:
        self.viewer.set_mode(mode)
        self.mode_actions[mode].setChecked(True)

    def set_preview_scale(self, scale: float) -> None:
        self.playback.set_preview_scale(scale)
        self.scale_actions[scale].setChecked(True)
        index = self.scale_combo.findData(scale) if hasattr(self, "scale_combo") else -1
        if index >= 0 and index != self.scale_combo.currentIndex():
            was = self.scale_combo.blockSignals(True)
            self.scale_combo.setCurrentIndex(index)
            self.scale_combo.blockSignals(was)
        self._scale_changed(scale)
        self.settings.setValue("preview_scale", scale)

    def _mask_entries(self) -> list[tuple[int | str | None, str]]:
        entries: list[tuple[int | str | None, str]] = [(None, "No mask")]
        if self.document.is_open:
            for position, step in enumerate(self.inspector.recipe().steps):
                entries.append((position, f"{position + 1}. {op_label(step.op)}"))
            entries.append((REPAIRS_OVERLAY, "Manual repairs"))
        return entries

    def _mask_choice(self) -> int | str | None:
        return REPAIRS_OVERLAY if self.repair_tool.overlay else self.viewer.mask_step

    def _fill_mask_combo(self) -> None:
        current = self._mask_choice()
        was = self.mask_combo.blockSignals(True)
        self.mask_combo.clear()
        for position, label in self._mask_entries():
            self.mask_combo.addItem(label, position)
        index = self.mask_combo.findData(current)
        self.mask_combo.setCurrentIndex(max(0, index))
        self.mask_combo.blockSignals(was)
        if index < 0 and current is not None:
            self.viewer.set_mask_step(None)
            self.repair_tool.set_overlay(False)

    def _fill_mask_menu(self) -> None:
        self.mask_menu.clear()
        for position, label in self._mask_entries():
            action = self.mask_menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(self._mask_choice() == position)
            action.triggered.connect(lambda _c=False, p=position: self.set_mask_step(p))

    def set_mask_step(self, position: int | str | None) -> None:
        """Overlay step `position`'s mask, the manual repairs (REPAIRS_OVERLAY) or nothing."""
        self.repair_tool.set_overlay(position == REPAIRS_OVERLAY)
        self.viewer.set_mask_step(position if isinstance(position, int) else None)
        self._fill_mask_combo()

    def _mask_combo_changed(self, index: int) -> None:
        choice = self.mask_combo.itemData(index)
        self.repair_tool.set_overlay(choice == REPAIRS_OVERLAY)
        self.viewer.set_mask_step(choice if isinstance(choice, int) else None)

    def _step_selected(self, position: object) -> None:
        if self.viewer.mask_step is not None and not self.repair_tool.overlay:  # the overlay follows the clicked step
            self.set_mask_step(position if isinstance(position, int) else None)

    # --- shots -----------------------------------------------------------------------------

    def _shot_clicked(self, position: int) -> None:
        modifiers = QApplication.keyboardModifiers()
        if modifiers & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier):
            if position in self.selected_shots:
                self.selected_shots.remove(position)
            else:
                self.selected_shots.append(position)
        else:
            self.selected_shots = [position]
        self.selected_shots.sort()
        self.inspector.set_current_shot(position)
        self._update_shot_status()

    def _in_out_changed(self, in_: object, out: object) -> None:
        self.in_out = (in_ if isinstance(in_, int) else None, out if isinstance(out, int) else None)

    def _current_shot(self) -> int | None:
        return self.inspector.current_shot

    def split_shot_at_playhead(self) -> None:
        """Start a new shot at the playhead (Ctrl+B / S)."""
        self.split_shot_at(self.playback.playhead)

    def split_shot_at(self, frame: int) -> None:
        if any(s.start == frame for s in self.document.shots()):
            self.show_message(f"Frame {frame} already starts a shot")
            return
        self._shot_edit(lambda: self.document.split_shot(frame))

    def join_with_next(self) -> None:
        """Merge the current shot with the next one (keeps the current shot's recipe)."""
        position = self._current_shot()
        if position is None or position + 1 >= len(self.document.shots()):
            self.show_message("The last shot has no next shot to merge with")
            return
        self.merge_shots(position)

    def merge_with_previous(self) -> None:
        """Merge the current shot into the previous one (keeps the previous one's recipe)."""
        position = self._current_shot()
        if not position:
            self.show_message("The first shot has no previous shot to merge with")
            return
        self.merge_shots(position - 1)

    def merge_shots(self, position: int) -> None:
        """Merge shot `position` with the one after it, as one undo step."""
        self._shot_edit(lambda: self.document.merge_shots(position))

    def move_boundary(self, position: int, new_start: int) -> None:
        """Shot `position` now starts at `new_start` (the timeline's boundary drag)."""
        self._shot_edit(lambda: self.document.move_boundary(position, new_start))

    def toggle_reviewed(self) -> None:
        position = self._current_shot()
        shots = self.document.shots()
        if position is None or position >= len(shots):
            return
        self._shot_edit(lambda: self.document.set_reviewed([position],
                                                           not shots[position].reviewed))

    def _shot_edit(self, edit: Callable[[], None]) -> None:
        try:
            edit()
        except NitrateError as exc:
            self.show_message(str(exc))

    def _edit_shots(self, shots: list[Shot], text: str) -> None:
        try:
            self.document.edit_shots(shots, text)
        except NitrateError as exc:
            self.show_message(str(exc))

    def _seek_paused(self, frame: int) -> None:
        self.playback.pause()
        self.playback.seek(frame)

    def _shot_list_selection(self, positions: list[int]) -> None:
        self.selected_shots = sorted(int(p) for p in positions)

    def _shown_frame(self) -> int:
        shown = self.viewer.shown_index
        return self.playback.playhead if shown is None else shown

    def _source_size(self) -> tuple[int, int] | None:
        info = self.bridge.info
        if info is None or not getattr(info, "width", 0):
            return None
        return int(info.width), int(info.height)

    def _repairs_changed(self) -> None:
        repairs = self.document.repairs()
        self.timeline.set_repairs([(r.start, r.end) for r in repairs if not r.protect])
        self.timeline.set_protections([(r.start, r.end) for r in repairs if r.protect])

    def _region_tool_changed(self) -> None:
        """The repair or protect tool was switched: a drag on the viewer draws a region
        (or moves or resizes one outlined) while either is on, and what it adds follows the
        one that is on; turning one on shows the "Manual repairs" outlines."""
        protect = self.act_protect_tool.isChecked()
        on = protect or self.act_repair_tool.isChecked()
        self.repair_tool.protecting = protect
        self.viewer.set_region_tool(on, protect=protect)
        if on and not self.repair_tool.overlay and self.document.is_open:
            # Marks are drawn, moved and resized where they can be seen.
            self.set_mask_step(REPAIRS_OVERLAY)

    def _fill_presets_menu(self) -> None:
        """Built-in and user presets: applied to the selected shots when several are
        selected, otherwise to the recipe the inspector edits."""
        menu = self.presets_menu
        menu.clear()
        try:
            presets = list_presets()
        except PresetError as exc:
            menu.addAction(str(exc)).setEnabled(False)
            return
        several = len(self.selected_shots) > 1
        for builtin, title in ((True, "Built-in"), (False, "Yours")):
            group = [p for p in presets if p.builtin == builtin]
            if group:
                menu.addSection(title)
            for preset in group:
                action = menu.addAction(preset.name)
                action.setToolTip(preset.description)
                if several:
                    action.triggered.connect(lambda _c=False, n=preset.name: (
                        self.shot_list.apply_preset(n, list(self.selected_shots))))
                else:
                    action.triggered.connect(
                        lambda _c=False, n=preset.name: self.inspector.apply_preset(n))
        if not presets:
            menu.addAction("No presets").setEnabled(False)
        menu.setToolTipsVisible(True)

    def start_shot_detection(self) -> None:
        media = self.document.media_path()
        if media is None:
            return
        self._detect_media = media
        self.detector.start(media)
        self.levels_meter.stop()  # detection measures the levels on its own pass
        self.shots_label.setText("Detecting shots…")
        self.detect_task.start("Detecting shots")

    def cancel_shot_detection(self) -> None:
        """The Cancel button: stop detecting; the shots stay as they were."""
        self.detector.stop()
        self.detect_task.hide()
        self._update_shot_status()
        self.show_message("Shot detection cancelled")
        media = self.document.media_path()
        if self._levels is None and media is not None:
            self.levels_meter.start(media)  # the levels detection was to measure

    def _measured(self, result: object, error: str) -> Any | None:
        """The data of a background measurement's (media, data) when it is of the clip
        open now; None when it failed (said in the status bar) or was made on a clip
        since replaced."""
        if error:
            self.show_message(error)
            return None
        if not isinstance(result, tuple) or result[0] != self.document.media_path():
            return None
        return result[1]

    def _levels_measured(self, result: object, error: str = "") -> None:
        """(media, every frame's mean luma), from the levels meter or cut detection."""
        levels = self._measured(result, error)
        if levels is not None:
            self._levels = levels
            self.levels_meter.stop()
            self._show_levels()

    def _measure_audio(self) -> None:
        """Measure the sound's waveform, moved by the clip's sound sync, on a thread of
        its own (decoding it takes seconds); a clip without sound has none."""
        info = self.bridge.info
        media = self.document.media_path()
        if info is not None and getattr(info, "audio", ()) and media is not None:
            self.audio_meter.start(media, info.frame_count, info.fps,
                                   self.document.audio_offset())
        else:
            self.audio_meter.stop()

    def _clip_setting_changed(self, _clip: int, name: str) -> None:
        if name == "display_lut":
            self.refresh_display_lut()
        elif name == "audio_offset":
            self._measure_audio()

    def sound_sync_dialog(self) -> None:
        """Clip ▸ Sound sync…: move the clip's sound against its picture (one undo step)."""
        info = self.bridge.info
        if not self.document.is_open or info is None:
            return
        if not getattr(info, "audio", ()):
            self.show_message("This clip has no sound to put in sync")
            return
        from ui.sound_sync_dialog import SoundSyncDialog

        dialog = SoundSyncDialog(self.document.audio_offset(), info.fps, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.set_audio_offset(dialog.seconds())

    def set_audio_offset(self, seconds: float) -> None:
        """Move the clip's sound `seconds` later against its picture (one undo step)."""
        info = self.bridge.info
        if not self.document.is_open or info is None:
            return
        what = describe_sound_offset(seconds, info.fps)
        self.document.set_audio_offset(seconds, f"Sound sync: {what}")
        self.show_message(f"Exports: {what}")

    def _audio_measured(self, result: object, error: str = "") -> None:
        """(media, every frame's loudest sample), from the audio meter."""
        peaks = self._measured(result, error)
        if peaks is not None and self.timeline.frame_count == len(peaks):
            self.timeline.set_audio(peaks)

    def _show_levels(self) -> None:
        """Hand the levels to the timeline once it shows a clip of their length."""
        if self._levels is not None and self.timeline.frame_count == len(self._levels):
            self.timeline.set_levels(self._levels)

    def _detect_progress(self, done: int, total: int) -> None:
        self.shots_label.setText(f"Detecting shots… {100 * done // max(1, total)} %")
        self.detect_task.set_progress(done, total)

    def _detect_finished(self, bounds: object, error: str) -> None:
        self.detect_task.hide()
        if error or not isinstance(bounds, list):
            self.show_message(error or "Shot detection stopped")
            self._update_shot_status()
            return
        if not self.document.is_open or self._detect_media != self.document.media_path():
            return  # found on a reel (or a clip) no longer shown
        old = self.document.shots()
        if [(s.start, s.end) for s in old] == list(bounds):
            self._update_shot_status()
            return
        # Shots keep the recipe of the old shot they start in: detection refines the cut
        # list without throwing away per-shot work.
        shots = []
        for start, end in bounds:
            source = next((s for s in old if s.start <= start <= s.end), None)
            shots.append(Shot(start, end, None if source is None else source.recipe))
        was_clean = self.document.undo_stack.isClean()
        self._edit_shots(shots, f"Detect shots ({len(shots)} found)")
        if was_clean:
            # Detection right after opening is part of opening, not an unsaved edit.
            self.document.undo_stack.setClean()
        self.show_message(f"Found {len(shots)} shots")

    def paste_recipe(self) -> None:
        """Paste onto every selected shot (one undo step), or the inspector's target."""
        if len(self.selected_shots) <= 1:
            self.inspector.paste_recipe()
            return
        stack = self.document.undo_stack
        stack.beginMacro(f"Paste recipe to {len(self.selected_shots)} shots")
        try:
            scope = self.inspector.scope.currentIndex()
            current = self.inspector.current_shot
            self.inspector.set_scope(Inspector.SCOPE_SHOT)
            for position in self.selected_shots:
                self.inspector.set_current_shot(position)
                self.inspector.paste_recipe()
            self.inspector.set_current_shot(current)
            self.inspector.set_scope(scope)
        finally:
            stack.endMacro()

    # --- stills -------------------------------------------------------------------------

    def _pointer_moved(self, point: QPointF | None) -> None:
        before, after = self.viewer.before_array(), self.viewer.after_array()
        size = self._source_size()
        if point is None or before is None or after is None or size is None:
            self.pixel_label.setText("")
            return
        x, y = int(point.x()), int(point.y())
        if not (0 <= y < after.shape[0] and 0 <= x < after.shape[1]):
            self.pixel_label.setText("")
            return
        info = self.bridge.info
        depth = int(getattr(info, "bit_depth", 8) or 8)
        self.pixel_label.setText(pixel_readout(
            (int(x * size[0] / after.shape[1]), int(y * size[1] / after.shape[0])),
            before[y, x], after[y, x], depth))

    def grab_reference(self) -> None:
        """Keep the restored frame shown (preview) as the reference still, and compare."""
        frame, index = self.viewer.after_array(), self.viewer.shown_index
        if frame is None or index is None:
            self.show_message("No frame to keep as a reference")
            return
        label = f"frame {index}"
        shot = next((n for n, s in enumerate(self.document.shots(), start=1)
                     if s.start <= index <= s.end), None)
        if shot is not None:
            label += f", shot {shot}"
        self._set_reference(frame.copy(), label)
        self.act_reference.setChecked(True)
        self.show_message(f"Reference still: {label} (Ctrl+G compares with it)")

    def match_to_reference(self) -> None:
        """Grade the shot shown so that its restored frame takes the reference still's
        black and white points, channel by channel: the lift and gain of its (last) colour
        step, one added at the end when it has none; the shot gets its own recipe. One
        undo step."""
        reference, shown = self.viewer.reference_array(), self.viewer.after_array()
        index = self.viewer.shown_index
        if reference is None or shown is None or index is None:
            self.show_message("Grab a reference still first (View ▸ Grab reference still)")
            return
        if self.viewer.showing_draft:
            self.show_message("Wait for the frame to be refined, then match it")
            return
        position = next((n for n, s in enumerate(self.document.shots())
                         if s.start <= index <= s.end), None)
        if position is None:
            return
        target = Target(self.document.current_clip, position)
        recipe = self.document.recipe(target)
        colour = [n for n, s in enumerate(recipe.steps) if s.op == "color" and s.enabled]
        if colour:
            at = colour[-1]
            step = recipe.steps[at]
        else:
            at, step = len(recipe.steps), Step.create("color")
            recipe = recipe.insert(at, step)
        values = match_grade(shown, reference, step.params)
        keyed = sorted(name for name in values if step.keyframes_for(name))
        if keyed:
            self.show_message(f"Shot {position + 1}: {', '.join(keyed)} are keyframed in "
                              f"its colour step; match them by hand")
            return
        self.document.edit_recipe(target, recipe.replace_step(at, step.with_values(**values)),
                                  f"Match shot {position + 1} to the reference")
        self.show_message(f"Shot {position + 1} graded to match the reference "
                          f"({self.viewer.reference_label})")

    def _set_reference(self, frame: np.ndarray | None, label: str = "") -> None:
        self.viewer.set_reference(frame, label)
        if frame is None:
            self.act_reference.setChecked(False)
        self._update_enabled()

    def toggle_scopes(self) -> None:
        """Bring the Scopes dock to the front, or close it when it is in front already."""
        if self.scopes.active:
            self.scopes_dock.close()
        else:
            self.scopes_dock.show()
            self.scopes_dock.raise_()

    def export_frame_dialog(self, compare: bool) -> None:
        """Ask where to save the frame shown as a still (with `compare`, the scan beside
        the restored frame), then make it in the background."""
        index = self.viewer.shown_index
        media = self.document.media_path()
        if not self.document.is_open or index is None or media is None:
            return
        base = Path(self.document.path or media)
        name = f"{clip_stem(base, 'frame')}_f{index:06d}{'_before_after' if compare else ''}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export frame", str(base.with_name(name)),
                                              "PNG (*.png);;TIFF (*.tif *.tiff)")
        if path:
            self.export_frame(Path(path), index, compare)

    def export_edl_dialog(self) -> None:
        """File ▸ Export shot list (EDL)…: ask where, then write it."""
        media = self.document.media_path()
        if media is None:
            return
        base = self.document.path or media
        path, _ = QFileDialog.getSaveFileName(self, "Export shot list",
                                              str(base.with_suffix(".edl")),
                                              "Edit decision list (*.edl)")
        if path:
            self.export_edl(Path(path))

    def export_edl(self, path: Path) -> bool:
        """Write the clip's shots (with their notes and reviewed ticks) to `path` as a
        CMX 3600 list at the source's timecode; errors shown, never raised."""
        from engine.shots.edl import ListedShot, edl_text, write_edl

        media, info = self.document.media_path(), self.bridge.info
        if media is None or info is None:
            return False
        if path.suffix.lower() != ".edl":
            path = path.with_name(path.name + ".edl")
        listed = [ListedShot(s.start, s.end, s.note, s.reviewed) for s in self.document.shots()]
        title = clip_stem(self.document.path or media, "film")
        try:
            write_edl(path, edl_text(listed, info.fps, media.name, title, info.timecode))
        except (NitrateError, ValueError) as exc:
            self.show_error("Export shot list", str(exc))
            return False
        self.show_message(f"{len(listed)} shots written to {path}")
        return True

    def export_frame(self, path: Path, index: int, compare: bool = False) -> None:
        """Write frame `index`, restored at full resolution, to `path` (worker thread)."""
        media = self.document.media_path()
        plan = self.document.plan()
        if media is None or plan is None:
            return
        if self.still_exporter.running:
            self.show_message("A frame is already being exported")
            return
        if path.suffix.lower() not in (".png", ".tif", ".tiff"):
            path = path.with_suffix(".png")
        framing = self.document.project_or_raise().output.framing
        self.still_exporter.start(media, plan, index, path, compare, framing)
        self.show_message(f"Exporting frame {index} to {path.name}…")

    def _still_finished(self, path: object, error: str) -> None:
        if error:
            self.show_error("Cannot export the frame", error)
        elif path:
            self.show_message(f"Frame written to {path}")

    # --- processing report -------------------------------------------------------------

    def report_dialog(self) -> None:
        """Ask where to save the processing report, then write it in the background."""
        if not self.document.is_open:
            return
        base = self.document.path or self.document.media_path() or Path.home() / "film"
        suggestion = Path(base).with_name(clip_stem(Path(base), "film") + "_report.html")
        path, _ = QFileDialog.getSaveFileName(self, "Save processing report", str(suggestion),
                                              "HTML reports (*.html)")
        if path:
            self.write_report(Path(path))

    def write_report(self, path: Path) -> None:
        """Write the processing report of the open project to `path` (worker thread)."""
        project = self.document.project
        if project is None:
            return
        if self.report_writer.running:
            self.show_message("A report is already being written")
            return
        if path.suffix.lower() not in (".html", ".htm"):
            path = path.with_suffix(".html")
        self.report_writer.start(project, path)
        self.report_task.start(f"Writing {path.name}")

    def _report_finished(self, path: str, error: str) -> None:
        self.report_task.hide()
        if error:
            self.show_error("Cannot write the report", error)
            return
        if not path:
            self.show_message("Report cancelled")
            return
        self.show_message(f"Report written to {path}")
        # Not modal: the restorer can go on working; the box offers the folder.
        box = QMessageBox(QMessageBox.Icon.Information, "Processing report",
                          f"The report was written to\n{path}", QMessageBox.StandardButton.Ok,
                          self)
        folder = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
        folder.clicked.connect(lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(Path(path).parent))))
        self.report_box = self._show_modeless(box)

    def _show_modeless(self, box: QMessageBox) -> QMessageBox:
        """Show `box` without blocking the window (the restorer goes on working); it is
        deleted when closed. Returns it, for the caller to keep (tests read it)."""
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()
        return box

    # --- frame check -----------------------------------------------------------------------

    def check_frames(self) -> None:
        """Clip ▸ Check frames: show the Frame check dock and check the reel shown."""
        if not self.document.is_open:
            return
        self.check_dock.show()
        self.check_dock.raise_()
        self.frame_check.start()  # after the reel being checked, if another is

    def check_every_reel(self) -> None:
        """Clip ▸ Check frames of every reel: queue each reel not checked yet."""
        if not self.document.is_open:
            return
        self.check_dock.show()
        self.check_dock.raise_()
        queued = self.frame_check.start_every_reel()
        self.show_message(f"Frame check: {queued} reel{'s' if queued != 1 else ''} to check"
                          if queued else "Frame check: every reel is checked")

    def step_flagged(self, step: int) -> None:
        """Show the next (step 1) or previous (-1) frame the frame check listed."""
        frame = self.frame_check.flagged_after(self._shown_frame(), step)
        if frame is None:
            self.show_message("No flagged frame " + ("after" if step > 0 else "before") +
                              " this one" + ("" if self.frame_check.result() else
                                             " (Clip ▸ Check frames lists them)"))
            return
        self._seek_paused(frame)

    # --- film frames from a transfer (pulldown, repeats) -----------------------------------

    def pulldown_dialog(self) -> None:
        """Clip ▸ Remove 3:2 pulldown…: ask where the film frames go, then write them."""
        self._film_frames_dialog("pulldown")

    def repeats_dialog(self) -> None:
        """Clip ▸ Remove repeated frames…: ask where the film frames go, then write them."""
        self._film_frames_dialog("repeats")

    def _film_frames_dialog(self, kind: str) -> None:
        media = self.document.media_path()
        if media is None:
            return
        suggestion = media.with_name(f"{clip_stem(media, 'film')}_film.mkv")
        path, _ = QFileDialog.getSaveFileName(self, "Film frames to", str(suggestion),
                                              "FFV1 lossless (*.mkv);;ProRes (*.mov)")
        if path:
            self.write_film_frames(kind, Path(path))

    def remove_pulldown(self, output: Path) -> None:
        """Write the open clip's film frames (3:2 pulldown removed) to `output`."""
        self.write_film_frames("pulldown", output)

    def remove_repeats(self, output: Path) -> None:
        """Write the open clip's frames but its cadence of repeats to `output`."""
        self.write_film_frames("repeats", output)

    def write_film_frames(self, kind: str, output: Path) -> None:
        """Write the open clip's film frames ("pulldown" or "repeats" removed) to `output`
        on a worker thread, then open it (a clip with neither is refused, with the
        reason)."""
        media = self.document.media_path()
        if media is None or self.film_frames_writer.running:
            return
        self.film_frames_writer.start(kind, media, output)
        what = "pulldown" if kind == "pulldown" else "repeated frames"
        self.film_frames_task.start(f"Removing {what} into {output.name}")

    def _pulldown_checked(self, result: object, error: str) -> None:
        report = self._measured(result, error)
        if report is not None and report.telecined:
            self.show_message(f"This clip looks telecined (3:2 pulldown: {report.moved:.0%} "
                              f"of its first {report.frames} frames take a neighbour's "
                              "field): Clip ▸ Remove 3:2 pulldown… gives back its film frames")

    def _film_frames_written(self, result: object, error: str) -> None:
        self.film_frames_task.hide()
        if error:  # it says what was refused and why (not telecined, no cadence, …)
            self.show_error("Cannot write the film frames", error)
            return
        assert isinstance(result, tuple)
        output, plan = result
        if self.open_path(output):
            self.show_message(f"{output.name}: {plan.describe()}")

    # --- fixity ----------------------------------------------------------------------------

    def verify_dialog(self) -> None:
        """Render ▸ Verify checksums…: pick the checksum list of an export, then check it."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Verify checksums", str(self.default_output().parent),
            "Checksum lists (*.md5 *.sha256)")
        if path:
            self.verify_checksums(Path(path))

    def verify_checksums(self, path: Path) -> None:
        """Check the export `path` (or its checksum list) on a worker thread; the result is
        shown in a box when done."""
        if self.checksum_verifier.running:
            self.show_message("Checksums are already being verified")
            return
        self.checksum_verifier.start(path)
        self.verify_task.start(f"Verifying {path.name}")

    def _verified(self, result: object, error: str) -> None:
        self.verify_task.hide()
        if error:
            self.show_error("Cannot verify the checksums", error)
            return
        from engine.render.fixity import Verification

        assert isinstance(result, Verification)
        self.show_message(result.summary())
        if result.ok:
            icon, title = QMessageBox.Icon.Information, "Checksums match"
        else:
            icon, title = QMessageBox.Icon.Warning, "Checksums do not match"
        box = QMessageBox(icon, title, result.summary(), QMessageBox.StandardButton.Ok, self)
        if not result.ok:
            box.setDetailedText("\n".join(
                [f"changed: {n}" for n in result.changed]
                + [f"missing: {n}" for n in result.missing]
                + [f"not in the list: {n}" for n in result.unlisted]))
        self.verify_box = self._show_modeless(box)

    # --- render ----------------------------------------------------------------------------

    def default_output(self) -> Path:
        """The export offered: named after the reel's media, or after the project when it
        holds several reels (each file then gets its reel's number)."""
        media = self.document.media_path() or Path.home() / "export"
        base = self.document.path.parent if self.document.path else media.parent
        if self.document.path is not None and len(self.document.reel_names()) > 1:
            return base / f"{self.document.path.stem}_restored.mov"
        # A sequence's pattern (reel_%06d.dpx) without its frame number: "reel_restored".
        return base / f"{clip_stem(media, 'export')}_restored.mov"

    def render_dialog(self, range_kind: str = "clip") -> None:
        if not self.document.is_open:
            return
        in_out = self.in_out if None not in self.in_out else None
        dialog = RenderDialog(self.default_output(), in_out,  # type: ignore[arg-type]
                              self.selected_shots or ([self._current_shot()]
                                                      if self._current_shot() is not None
                                                      else []),
                              self, default_range=range_kind, picture=self._export_picture(),
                              checksum=self.settings.value("render/checksum", "") or None,
                              display_lut=lut_label(self.document.display_lut()),
                              reels=len(self.document.reel_names()))
        if dialog.exec() == QDialog.DialogCode.Accepted:
            request = dialog.request()
            self.settings.setValue("render/checksum", request.checksum or "")
            self.queue_render(request)

    def queue_render(self, request: RenderRequest) -> list[int]:
        """Queue exports for `request`; returns the job ids (none when it is invalid)."""
        project = self.document.project
        if project is None:
            return []
        ranges: list[tuple[int | None, int | None, str]] = []
        clips = [self.document.current_clip]
        if request.range_kind == "reels":
            clips = list(range(len(project.clips)))
            ranges.append((None, None, ""))
        elif request.range_kind == "inout":
            in_, out = self.in_out
            if in_ is None or out is None or out < in_:
                self.show_error("Cannot render", "Set an in point (I) and an out point (O) "
                                                 "first")
                return []
            ranges.append((in_, out, ""))
        elif request.range_kind == "shots":
            shots = self.document.shots()
            chosen = self.selected_shots or ([self._current_shot()]
                                             if self._current_shot() is not None else [])
            for run in _contiguous(sorted(p for p in chosen if p is not None)):
                first, last = shots[run[0]], shots[run[-1]]
                label = (f"_shot{run[0] + 1:02d}" if len(run) == 1
                         else f"_shots{run[0] + 1:02d}-{run[-1] + 1:02d}")
                ranges.append((first.start, last.end, label))
        else:
            ranges.append((None, None, ""))
        ids = []
        jobs = [(clip, start, end, suffix) for clip in clips for start, end, suffix in ranges]
        for clip, start, end, suffix in jobs:
            output = request.output
            if len(clips) > 1:
                output = reel_output(output, clip)
            elif suffix and len(jobs) > 1:
                output = output.with_name(output.stem + suffix + output.suffix)
            options = {"codec": request.codec, "audio": request.audio,
                       "burn_in": request.burn_in, "checksum": request.checksum,
                       "view_lut": (self.document.display_lut(clip) if request.view_lut
                                    else ""),
                       "compare": request.compare}
            try:
                # Exactly as `nitrate render` builds its job (same plan, same file).
                job = job_for_project(project, output, clip_index=clip, start=start, end=end,
                                      **options)
            except NitrateError as exc:
                self.show_error("Cannot render", str(exc))
                return ids
            pending = PendingExport.of(project, job, clip, start, end, options, request.mode)
            ids.append(self.render_queue.add_job(job, mode=request.mode, pending=pending))
        self.render_dock.show()
        self.render_dock.raise_()
        return ids

    # --- dialogs and messages --------------------------------------------------------------

    def show_message(self, text: str) -> None:
        """One line in the status bar (errors and notices)."""
        self.statusBar().showMessage(text, 10_000)

    def show_error(self, title: str, text: str) -> None:
        """A one-line error in a message box (and the status bar)."""
        self.show_message(text)
        QMessageBox.warning(self, title, text)

    def preferences_dialog(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Preferences")
        form = QFormLayout(dialog)
        cache = QSpinBox()
        cache.setRange(128, 1 << 16)
        cache.setSingleStep(256)
        cache.setSuffix(" MB")
        cache.setValue(self.bridge.cache_budget >> 20)
        cache.setToolTip("Decoded and restored frames kept in memory for instant scrubbing")
        form.addRow("Frame cache", cache)
        device = QComboBox()
        device.addItems(list(DEVICE_CHOICES))
        device.setCurrentText(self.device_choice())
        device.setToolTip("Where neural operators (model, neural upscale) run; auto picks a "
                          "CUDA GPU, then Apple's MPS, else the CPU")
        form.addRow("Processing device", device)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        form.addRow(buttons)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.set_cache_budget(cache.value() << 20)
            self.set_device(device.currentText())

    FRAME_RATES = ("same as the source", "24", "25", "30000/1001", "30", "48", "50", "60",
                   "24000/1001")

    def frame_rate_dialog(self) -> None:
        """Ask for the export's frame rate (silent film at 16 or 18 fps → 24, say)."""
        if not self.document.is_open:
            return
        output = self.document.project_or_raise().output
        current = output.fps or self.FRAME_RATES[0]
        text, ok = QInputDialog.getItem(
            self, "Output frame rate",
            "Exports are converted to this rate (in-between frames are interpolated from the "
            "motion, never across a cut; the duration and the audio stay).\n"
            "Frames per second, e.g. 24 or 24000/1001:",
            list(self.FRAME_RATES), self.FRAME_RATES.index(current)
            if current in self.FRAME_RATES else 0, True)
        if not ok:
            return
        if text == self.FRAME_RATES[0]:
            self.set_output_frame_rate(None)
            return
        ways = list(self.RETIME_WAYS.values())
        way, ok = QInputDialog.getItem(
            self, "Output frame rate", f"How the clip becomes {text} fps:", ways,
            list(self.RETIME_WAYS).index("conform" if output.retime == "conform"
                                         else "motion"), False)
        if ok:
            retime = next(k for k, v in self.RETIME_WAYS.items() if v == way)
            self.set_output_frame_rate(text, retime)

    RETIME_WAYS = {
        "motion": "In-between frames made from the motion (the duration and the sound stay)",
        "conform": "Conformed: every frame kept and played at the new rate, the sound at "
                   "the same speed (a film transferred to PAL at 25 fps, back to 24)",
    }

    def set_output_frame_rate(self, fps: str | None, retime: str | None = None) -> bool:
        """Set the project's export rate (None: the source's) and how it is reached
        (`retime`: "motion" … or "conform"; None keeps the project's), as one undo step."""
        from dataclasses import replace

        from engine.retime import parse_fps

        if fps is not None:
            try:
                parse_fps(fps)
            except ValueError as exc:
                self.show_error("Output frame rate", str(exc))
                return False
        output = self.document.project_or_raise().output
        output = replace(output, fps=fps, retime=retime or output.retime)
        self.document.edit_output(output, "Output frame rate")
        how = ", conformed frame for frame" if fps and output.retime == "conform" else ""
        self.show_message(f"Exports at {fps} fps{how}" if fps
                          else "Exports at the source's rate")
        return True

    def framing_dialog(self) -> None:
        """Clip ▸ Framing…: set the picture area and output size, previewed on the viewer
        while the dialog is open."""
        size = self._source_size()
        if not self.document.is_open or size is None:
            return
        from ui.framing_dialog import FramingDialog

        current = self.document.project_or_raise().output.framing
        dialog = FramingDialog(current, size, self.document.media_path(), self)
        dialog.preview.connect(self.refresh_framing_guide)
        accepted = dialog.exec() == QDialog.DialogCode.Accepted
        dialog.preview.disconnect(self.refresh_framing_guide)
        if accepted:
            self.set_output_framing(dialog.framing())
        self.refresh_framing_guide()

    def _export_picture(self) -> str:
        """What an export's frames will be, in one line for the render dialog: framing
        and frame rate (both set in the Clip menu)."""
        size = self._source_size()
        if size is None or not self.document.is_open:
            return ""
        output = self.document.project_or_raise().output
        framing = output.framing
        text = (f"the whole frame, {size[0]} × {size[1]} px" if framing.identity
                else framing.describe(*size))
        rate = f"{output.fps} fps" if output.fps else "the source's frame rate"
        if output.fps and output.retime == "conform":
            rate += " (conformed frame for frame, the sound with it)"
        offset = self.document.audio_offset()
        info = self.bridge.info
        sound = (f"; {describe_sound_offset(offset, info.fps)}" if offset and info is not None
                 else "")
        return (f"{text}; {rate}{sound} (Clip ▸ Framing…, Output frame rate…, "
                "Sound sync…)")

    def set_output_framing(self, framing: Framing) -> bool:
        """Make `framing` the project's (one undo step); one refused with a message when
        the clip cannot take it."""
        from dataclasses import replace

        size = self._source_size()
        problem = framing.problem(*size) if size is not None else "no clip is open"
        if problem is not None:
            self.show_error("Framing", problem)
            return False
        output = replace(self.document.project_or_raise().output, framing=framing)
        self.document.edit_output(output, "Framing")
        self.show_message(f"Exports framed: {framing.describe(*size)}")  # type: ignore[misc]
        return True

    def set_display_lut(self, spec: str) -> bool:
        """Show the clip through the LUT `spec` names (a bundled LUT's name or a .cube
        file; "" for none), one undo step; a LUT that cannot be read is refused with a
        message naming the file."""
        if not self.document.is_open:
            return False
        if spec:
            try:
                load_lut(spec)
            except LutError as exc:
                self.show_error("Display LUT", str(exc))
                return False
        label = lut_label(spec)
        self.document.set_display_lut(spec, f"Display LUT: {label or 'none'}")
        return True

    def refresh_display_lut(self) -> None:
        """Show the pictures and thumbnails through the clip's display LUT (one that can no
        longer be read, moved since, say, is reported and the frames shown as they are)."""
        spec = self.document.display_lut() if self.document.is_open else ""
        lut = None
        if spec:
            try:
                lut = load_lut(spec)
            except LutError as exc:
                self.show_message(f"Display LUT: {exc}; the frames are shown as they are")
        self.display_lut_menu.set_current(spec)
        if lut is self.viewer.display_lut:
            return
        self.viewer.set_display_lut(lut, lut_label(spec) if lut is not None else "")
        self.bridge.set_display_lut(lut)
        self.timeline.refresh_thumbnails()

    def refresh_framing_guide(self, preview: Framing | None = None) -> None:
        """Show on the viewer what exports keep of the picture: the project's framing, or
        `preview` (the one being set in the Framing dialog)."""
        size = self._source_size()
        shown = self.viewer.before_image()
        framing = preview if isinstance(preview, Framing) else (
            self.document.project_or_raise().output.framing if self.document.is_open
            else Framing())
        if (not self.act_show_framing.isChecked() or framing.identity or size is None
                or shown is None or framing.problem(*size) is not None):
            self.viewer.set_framing_guide(None)
            return
        out_w, out_h = framing.output_size(*size)
        label = f"{out_w} × {out_h}" + (f" {framing.fit}" if framing.size is not None else "")
        self.viewer.set_framing_guide(
            on_picture(framing.source_box(*size), shown.width(), shown.height(), size), label)

    def device_choice(self) -> str:
        return str(self.settings.value("device", "auto"))

    def set_device(self, choice: str) -> bool:
        """Use `choice` ("auto", "cpu", "cuda", "mps") for neural operators from now on;
        remembered. A device this machine lacks is refused with a message."""
        try:
            set_default_device(choice)
        except NitrateError as exc:
            self.show_error("Processing device", str(exc))
            return False
        self.settings.setValue("device", choice)
        self.playback.refresh()
        return True

    def show_shortcuts(self) -> None:
        rows = [
            ("Space", "play / pause"), ("J / K / L", "shuttle back / stop / forward"),
            ("← / →", "one frame"), ("Shift+← / →", "ten frames"),
            ("↑ / ↓", "previous / next shot"), ("I / O", "mark in / out"),
            ("Home / End", "first / last frame"), ("Ctrl+B / S", "split shot at playhead"),
            ("Ctrl+J / Ctrl+Shift+J", "merge with next / previous shot"),
            ("Ctrl+Shift+R", "repair tool"), ("Ctrl+D", "mark frame destroyed"),
            ("Ctrl+Shift+P", "protect tool"), ("Ctrl+T", "track the selected region"),
            ("Ctrl+1…4", "side by side, split, A/B, difference"),
            ("F / Z / Shift+Z", "fit, 100 %, 200 %"), ("R", "show restored on/off"),
            ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"), ("Ctrl+E", "render the clip"),
            ("Ctrl+Shift+E", "export the frame shown as a still"),
            ("Ctrl+Shift+W", "scopes of the frame shown"),
            ("Ctrl+Shift+L", "mark clipped levels on the pictures"),
            ("Ctrl+Shift+G / Ctrl+G", "grab a reference still / compare with it"),
            ("Ctrl+Shift+M", "match the shot to the reference still"),
            ("Ctrl+Shift+K", "cache the in/out range (or the shot) for playback"),
            ("Ctrl+PgUp / Ctrl+PgDown", "previous / next reel"),
            ("Ctrl+Shift+F", "check the reel's frames"),
            ("Alt+← / Alt+→", "previous / next flagged frame"),
        ]
        text = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{text}</table>")

    def show_about(self) -> None:
        QMessageBox.about(self, "About Nitrate",
                          "<b>Nitrate</b> — open film restoration workstation.<br>"
                          "Dust, scratches, flicker, grain, weave and colour, shot by shot.")


def _contiguous(positions: list[int]) -> list[list[int]]:
    """[1, 2, 4] → [[1, 2], [4]]."""
    runs: list[list[int]] = []
    for p in positions:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs
