"""The Frame check dock: the whole frames of the reel shown to look at before restoring.

Check clip runs `engine.qc.check_frames` over the reel on a worker thread (the decode sets
the pace, about what playing it through costs). The repeated, flash, damaged and blank
frames it finds are listed with their timecode and marked on the timeline (orange, along
the thumbnails' top edge). A double click shows the frame; Rebuild selected marks the
selected frames destroyed, to be rebuilt from their neighbours (one undo step), and the
row says so. Regular repeats (a transfer that repeated frames to raise the rate) are named
above the list.

Checks run one at a time; Check frames of every reel queues the reels not checked yet,
and they go on whichever reel is shown. The results of each reel are kept while the
project is open, and in the user's cache
(`engine.qc.store`, as `nitrate check` keeps them), so a reel checked before shows its
findings again when it is opened; a reel never checked shows the hint. Not a fault takes
the selected frames off the list (and off the kept check).

Signals: seek_requested(int frame); flagged_changed(dict frame → finding, of the reel
shown); message(str) for the status bar.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.project.model import Repair, rebuilt_frames
from engine.qc import FrameCheck, FrameEvent
from engine.qc.store import cached_check, store_check
from ui.compare_viewer import REPAIR_COLOUR
from ui.document import BackgroundTask, CancelFlag, Document
from ui.repair_tool import swatch

HINT = ("Check the reel for repeated, flash, damaged and blank frames: whole frames the "
        "restoration operators do not mend.")
"""What the dock says of a reel not checked yet."""


class FrameChecker(BackgroundTask):
    """Frame check of a clip (engine.qc.check_frames), kept in the user's cache
    (engine.qc.store): `start(media)`. finished(result, error): result is (media,
    FrameCheck), or None with a one-line error; nothing is delivered when cancelled."""

    thread_name = "nitrate-frame-check"

    def _work(self, cancel: CancelFlag, media: Path) -> None:
        from engine.media import open_reader
        from engine.qc import check_frames

        def check() -> Any:
            with open_reader(media) as reader:
                result = check_frames(reader, progress=self._w_progress.emit, cancel=cancel)
            store_check(media, result)  # the findings come back with the reel
            return media, result

        checked = self._guarded(cancel, check, f"{media}: the frame check failed")
        if checked is not None and not cancel.is_set():
            self._w_finished.emit(checked, "")


class FrameCheckPanel(QWidget):
    """The dock's contents: Check clip (Stop while it runs), the findings, Rebuild selected."""

    seek_requested = Signal(int)
    flagged_changed = Signal(object)
    message = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("FrameCheckPanel")
        self.document = document
        self.checker = FrameChecker(self)
        self.checker.progress.connect(self._progress)
        self.checker.finished.connect(self._checked)
        self._results: dict[Path, FrameCheck] = {}  # per reel's media
        self._checking: Path | None = None
        self._waiting: list[Path] = []  # reels to check after the one being checked
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        self.summary = QLabel(HINT)
        self.summary.setObjectName("emptyHint")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(6)
        self.bar.hide()
        layout.addWidget(self.bar)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.itemDoubleClicked.connect(
            lambda item: self.seek_requested.emit(int(item.data(Qt.ItemDataRole.UserRole))))
        self.list.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        self.check_button = QPushButton("Check clip")
        self.check_button.setToolTip("Read the reel through and list the frames to look at "
                                     "(Clip ▸ Check frames)")
        self.check_button.clicked.connect(self._check_clicked)
        self.rebuild_button = QPushButton("Rebuild selected")
        self.rebuild_button.setToolTip(
            "Mark the selected frames destroyed: each is rebuilt from its motion-compensated "
            "neighbours (a repeated frame too, when it stands in for a lost one)")
        self.rebuild_button.clicked.connect(self.rebuild_selected)
        self.dismiss_button = QPushButton("Not a fault")
        self.dismiss_button.setToolTip("Take the selected frames off the list (motion the "
                                       "check mistook for damage, a flash in the action)")
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        buttons.addWidget(self.check_button)
        buttons.addStretch(1)
        buttons.addWidget(self.dismiss_button)
        buttons.addWidget(self.rebuild_button)
        layout.addLayout(buttons)
        document.project_replaced.connect(self._reel_changed)
        document.repairs_changed.connect(lambda _clip: self.refresh())
        self.refresh()

    # -- running -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._checking is not None

    def start(self, media: Path | None = None) -> None:
        """Check the reel shown (again), or the reel of `media`; after the one being
        checked, if any."""
        media = media or self.document.media_path()
        if media is None or media == self._checking or media in self._waiting:
            return
        if self._checking is not None:
            self._waiting.append(media)
        else:
            self._checking = media
            self.bar.setRange(0, 0)
            self.checker.start(media)
        self.refresh()

    def start_every_reel(self) -> int:
        """Check every reel of the project not checked yet, one after another, in the
        background, whichever reel is shown; returns how many were queued."""
        reels = [self.document.media_path(i) for i in range(self._reel_count())]
        todo = [m for m in reels if m is not None and m not in self._results]
        for media in todo:
            self.start(media)
        return len(todo)

    def stop(self) -> None:
        """Stop a running check, and those waiting, without waiting for it."""
        self._waiting.clear()
        if self._checking is not None:
            self.checker.stop()
            self._checking = None
            self.message.emit("Frame check stopped")
            self.refresh()

    def shutdown(self) -> None:
        """Stop and wait for the worker (the window is closing)."""
        self._waiting.clear()
        self.checker.cancel()
        self._checking = None

    def _next(self) -> None:
        """Start the next reel waiting, if any."""
        self._checking = None
        if self._waiting:
            self._checking = self._waiting.pop(0)
            self.bar.setRange(0, 0)
            self.checker.start(self._checking)

    def _check_clicked(self) -> None:
        if self.running:
            self.stop()
        else:
            self.start()

    def _progress(self, done: int, total: int) -> None:
        if self._checking is not None:
            self.bar.setRange(0, max(1, total))
            self.bar.setValue(done)

    def _checked(self, result: object, error: str) -> None:
        if error:
            self.message.emit(error)
            self._next()
            self.refresh()
            return
        if not isinstance(result, tuple) or result[0] != self._checking:
            return  # a check since stopped or replaced
        media, check = result
        self._results[media] = check
        self.message.emit(f"Frame check of {media.name}: {check.describe_counts()}")
        self._next()
        self.refresh()

    def _reel_changed(self) -> None:
        # Another project forgets every reel's results; another reel of the same project
        # keeps them (the media path tells them apart).
        known = {self.document.media_path(i) for i in range(self._reel_count())}
        self._results = {m: r for m, r in self._results.items() if m in known}
        self._waiting = [m for m in self._waiting if m in known]
        media = self.document.media_path()
        if self._checking is not None and self._checking not in known:
            self.checker.stop()
            self._next()
        if media is not None and media not in self._results:
            self._load_kept(media)
        self.refresh()

    def _load_kept(self, media: Path) -> None:
        """The reel's check from the user's cache, if it was checked before (here or with
        `nitrate check`)."""
        project = self.document.project
        if project is None:
            return
        clip = project.clips[self.document.clip_index()]
        check = cached_check(media, clip.frame_count)
        if check is not None:
            self._results[media] = check

    def _reel_count(self) -> int:
        project = self.document.project
        return 0 if project is None else len(project.clips)

    # -- the list ------------------------------------------------------------------------
    def result(self) -> FrameCheck | None:
        """The check of the reel shown, if it was checked."""
        media = self.document.media_path()
        return None if media is None else self._results.get(media)

    def refresh(self) -> None:
        media = self.document.media_path()
        check = self.result()
        selected = {int(i.data(Qt.ItemDataRole.UserRole)) for i in self.list.selectedItems()}
        self.list.clear()
        self.bar.setVisible(self.running)
        self.check_button.setText("Stop" if self.running else "Check clip")
        self.check_button.setEnabled(media is not None)
        flagged: dict[int, str] = {}
        if media is not None and media == self._checking:
            self.summary.setText(f"Checking {media.name}…")
        elif media is not None and media in self._waiting:
            self.summary.setText(f"{media.name} is checked after the reels before it.")
        elif check is None:
            busy = f" (checking {self._checking.name} now)" if self._checking else ""
            self.summary.setText(HINT + busy)
        else:
            rebuilt = rebuilt_frames(self.document.repairs())
            for event in check.events:
                item = QListWidgetItem(self._row(check, event, event.frame in rebuilt))
                if event.frame in rebuilt:  # the Repairs dock's and the viewer's magenta
                    item.setIcon(swatch(REPAIR_COLOUR))
                item.setData(Qt.ItemDataRole.UserRole, event.frame)
                item.setToolTip(item.text())
                self.list.addItem(item)
                item.setSelected(event.frame in selected)
                flagged[event.frame] = event.describe()
            self.summary.setText(self._summary(check))
        self._update_buttons()
        self.flagged_changed.emit(flagged)

    @staticmethod
    def _row(check: FrameCheck, event: FrameEvent, rebuilt: bool) -> str:
        mark = " — rebuilt" if rebuilt else ""
        return (f"{event.frame}  {check.timecode_of(event.frame)}  "
                f"{event.describe()}{mark}")

    @staticmethod
    def _summary(check: FrameCheck) -> str:
        text = f"Frames {check.start}-{check.end - 1} checked: {check.describe_counts()}."
        cadence = check.describe_cadence()
        if cadence is None:
            return text
        return (f"{text} {cadence[0].upper()}{cadence[1:]}: Clip ▸ Remove repeated frames… "
                "gives back the film's own frames.")

    def _update_buttons(self) -> None:
        selected = bool(self.list.selectedItems())
        self.rebuild_button.setEnabled(selected)
        self.dismiss_button.setEnabled(selected)

    def flagged_after(self, frame: int, step: int) -> int | None:
        """The next flagged frame after `frame` (step 1) or before it (step -1), if any."""
        check = self.result()
        frames = [] if check is None else [e.frame for e in check.events]
        ahead = [f for f in frames if (f - frame) * step > 0]
        if not ahead:
            return None
        return min(ahead) if step > 0 else max(ahead)

    def dismiss_selected(self) -> None:
        """Take the selected frames off the reel's list (and its kept check): the restorer
        looked and found nothing to mend."""
        media = self.document.media_path()
        kept = self.result()
        gone = {int(i.data(Qt.ItemDataRole.UserRole)) for i in self.list.selectedItems()}
        if kept is None or media is None or not gone:
            return
        check = replace(kept, events=tuple(e for e in kept.events if e.frame not in gone))
        self._results[media] = check
        store_check(media, check)
        self.message.emit(f"Frame check: {len(gone)} frame{'s' if len(gone) > 1 else ''} "
                          "taken off the list")
        self.refresh()

    def rebuild_selected(self) -> None:
        """Mark each selected frame not yet rebuilt destroyed (one undo step)."""
        repairs = self.document.repairs()
        rebuilt = rebuilt_frames(repairs)
        check = self.result()
        described = {} if check is None else {e.frame: e.describe() for e in check.events}
        frames = sorted({int(i.data(Qt.ItemDataRole.UserRole))
                         for i in self.list.selectedItems()} - rebuilt)
        if not frames:
            return
        added = [Repair(f, f, note=f"frame check: {described.get(f, '')}".rstrip(": "))
                 for f in frames]
        what = f"frame {frames[0]}" if len(frames) == 1 else f"{len(frames)} frames"
        self.document.edit_repairs([*repairs, *added], f"Rebuild {what} (frame check)")
        self.message.emit(f"Marked {what} to be rebuilt from the frames around")

