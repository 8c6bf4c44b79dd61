"""The render queue: exports run one after another on a worker thread.

`RenderRunner` is the queue's one thread crossing: its worker iterates
`engine.render.render(job, cancel)` and reports through Qt signals delivered with queued
connections, so the widgets only ever run on the GUI thread. Jobs are built with
`engine.render.job_for_project`, exactly as `nitrate render` builds them, so the same job
from the CLI gives the same file.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import NitrateError, RenderCancelled
from engine.render import CancelToken, Progress, RenderJob, render
from engine.render.modes import PLAIN, ExportMode, run_export
from engine.render.pending import PendingExport, store_pending

# Progress is reported at most this often (seconds): a fast render of a small clip would
# otherwise flood the GUI thread with one event per frame.
_PROGRESS_INTERVAL_S = 0.1

RenderFn = Callable[[RenderJob, CancelToken], Iterator[Progress]]


@dataclass(frozen=True)
class Outcome:
    """How a job ended: state "done" | "cancelled" | "failed", and a one-line message."""

    state: str
    message: str


class RenderRunner(QObject):
    """Runs render jobs in order on one worker thread.

    Signals (delivered on the thread that owns the runner, via queued connections):
      started(int): job id.
      progressed(int, object): job id, engine.render.Progress.
      finished(int, object): job id, Outcome.
    """

    started = Signal(int)
    progressed = Signal(int, object)
    finished = Signal(int, object)

    # Emitted on the worker; connected queued to the public signals' re-emitters.
    _w_started = Signal(int)
    _w_progressed = Signal(int, object)
    _w_finished = Signal(int, object)

    def __init__(self, parent: QObject | None = None, render_fn: RenderFn = render) -> None:
        super().__init__(parent)
        self._render = render_fn
        self._queue: queue.Queue[tuple[int, RenderJob, ExportMode] | None] = queue.Queue()
        self._tokens: dict[int, CancelToken] = {}
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False
        queued = Qt.ConnectionType.QueuedConnection
        self._w_started.connect(self._relay_started, queued)
        self._w_progressed.connect(self._relay_progressed, queued)
        self._w_finished.connect(self._relay_finished, queued)

    def enqueue(self, job_id: int, job: RenderJob, mode: ExportMode = PLAIN) -> None:
        """Queue a job; it starts when the ones before it have finished. `mode`: plain,
        resumable, or distributed (engine.render.modes, as the CLI runs them)."""
        if self._closed:
            raise RuntimeError("the render runner is closed")
        with self._lock:
            self._tokens[job_id] = CancelToken()
            self._pending += 1
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="nitrate-render-queue",
                                            daemon=True)
            self._thread.start()
        self._queue.put((job_id, job, mode))

    def cancel(self, job_id: int) -> None:
        """Stop a running job at its next frame, or skip a queued one."""
        with self._lock:
            token = self._tokens.get(job_id)
        if token is not None:
            token.cancel()

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._pending > 0

    def wait_until_idle(self, timeout_s: float = 30.0) -> bool:
        """Block until every queued job has ended on the worker (for tests and shutdown).
        The `finished` signals still arrive through the event loop afterwards."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout_s: float = 30.0) -> None:
        """Cancel everything and stop the worker (the window's close calls this)."""
        self._closed = True
        with self._lock:
            tokens = list(self._tokens.values())
        for token in tokens:
            token.cancel()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout_s)
            self._thread = None

    # --- worker thread ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job_id, job, mode = item
            with self._lock:
                token = self._tokens[job_id]
            try:
                outcome = self._run(job_id, job, token, mode)
            finally:
                with self._idle:
                    self._tokens.pop(job_id, None)
                    self._pending -= 1
                    self._idle.notify_all()
            self._w_finished.emit(job_id, outcome)

    def _run(self, job_id: int, job: RenderJob, token: CancelToken,
             mode: ExportMode = PLAIN) -> Outcome:
        if token.cancelled:
            return Outcome("cancelled", "cancelled before it started")
        self._w_started.emit(job_id)
        last_emit = 0.0
        last: Progress | None = None
        try:
            runs = run_export(job, token, mode, plain=self._render)
            for progress in runs:
                last = progress
                now = time.monotonic()
                if progress.finished or now - last_emit >= _PROGRESS_INTERVAL_S:
                    last_emit = now
                    self._w_progressed.emit(job_id, progress)
        except RenderCancelled as exc:
            if exc.kept:  # the export is complete; only its checksum list was cancelled
                return Outcome("done", str(exc))
            return Outcome("cancelled", "cancelled; nothing was left under the output name")
        except NitrateError as exc:
            return Outcome("failed", str(exc))
        except Exception as exc:  # a bug in an operator or codec: shown, never a crash
            return Outcome("failed", f"{job.output}: {type(exc).__name__}: {exc}")
        if last is None:
            return Outcome("failed", f"{job.output}: the render produced no frames")
        fps = f" at {last.fps:.1f} fps" if last.fps else ""
        how = "; untouched, converted straight to the format (direct path)" if (
            last.route == "direct") else ""
        listed = f"; checksums in {last.manifest.name}" if last.manifest else ""
        return Outcome("done", f"{last.done} frames in {last.elapsed:.1f} s{fps}{how}"
                               f"{listed}")

    # --- GUI thread -------------------------------------------------------------------------

    @Slot(int)
    def _relay_started(self, job_id: int) -> None:
        self.started.emit(job_id)

    @Slot(int, object)
    def _relay_progressed(self, job_id: int, progress: object) -> None:
        self.progressed.emit(job_id, progress)

    @Slot(int, object)
    def _relay_finished(self, job_id: int, outcome: object) -> None:
        self.finished.emit(job_id, outcome)


def format_eta(seconds: float | None) -> str:
    """"1:05" style time left ("–" while unknown)."""
    if seconds is None:
        return "–"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class JobRow(QFrame):
    """One job in the queue: title, progress bar, fps/ETA line, cancel/remove button."""

    cancel_requested = Signal(int)
    remove_requested = Signal(int)
    resume_requested = Signal(int)

    def __init__(self, job_id: int, title: str, detail: str, parent: QWidget | None = None,
                 resumable: bool = False):
        super().__init__(parent)
        self.job_id = job_id
        self.resumable = resumable
        self.state = "queued"
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(3)
        top = QHBoxLayout()
        self.title = QLabel(title)
        self.title.setToolTip(detail)
        self.title.setStyleSheet("font-weight: 600;")
        top.addWidget(self.title, 1)
        self.button = QToolButton()
        self.button.setText("Cancel")
        self.button.clicked.connect(self._clicked)
        self.resume_button = QToolButton()
        self.resume_button.setText("Resume")
        self.resume_button.setToolTip("Continue after the last complete segment")
        self.resume_button.clicked.connect(lambda: self.resume_requested.emit(self.job_id))
        self.resume_button.hide()
        top.addWidget(self.resume_button)
        top.addWidget(self.button)
        layout.addLayout(top)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFormat("queued")
        layout.addWidget(self.bar)
        self.status = QLabel(detail)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

    def _clicked(self) -> None:
        if self.state in ("queued", "running"):
            self.cancel_requested.emit(self.job_id)
        else:
            self.remove_requested.emit(self.job_id)

    def set_running(self) -> None:
        self.state = "running"
        self.bar.setFormat("%p%")

    def set_progress(self, progress: Progress) -> None:
        self.state = "running"
        if progress.checking is not None:
            done, files = progress.checking
            self.bar.setValue(int(round(1000 * done / max(files, 1))))
            self.bar.setFormat(f"checksums: {done} / {files} files")
            self.status.setText("reading the written files back")
            return
        self.bar.setValue(int(round(progress.fraction * 1000)))
        self.bar.setFormat(f"{progress.done} / {progress.total} frames")
        self.status.setText(f"{progress.fps:.1f} fps · {format_eta(progress.eta_seconds)} left")

    def set_outcome(self, outcome: Outcome) -> None:
        self.state = outcome.state
        self.bar.setProperty("state", outcome.state)
        self.bar.style().unpolish(self.bar)
        self.bar.style().polish(self.bar)
        if outcome.state == "done":
            self.bar.setValue(1000)
            self.bar.setFormat("done")
        else:
            self.bar.setFormat(outcome.state)
        self.status.setText(outcome.message)
        self.status.setToolTip(outcome.message)
        self.button.setText("Remove")
        self.resume_button.setVisible(self.resumable and outcome.state != "done")


class RenderQueue(QWidget):
    """The render-queue panel: add jobs, watch progress, cancel.

    Signals: message(str) (one line for the status bar), job_finished(int, object).
    """

    message = Signal(str)
    job_finished = Signal(int, object)

    def __init__(self, parent: QWidget | None = None, render_fn: RenderFn = render,
                 keep_path: Path | None = None) -> None:
        super().__init__(parent)
        self.runner = RenderRunner(self, render_fn)
        # Where the exports still to run are kept (engine.render.pending), so quitting
        # loses none; None: not kept.
        self.keep_path = keep_path
        self.pending: dict[int, PendingExport] = {}
        self._keeping = True
        self.runner.started.connect(self._started)
        self.runner.progressed.connect(self._progressed)
        self.runner.finished.connect(self._finished)
        self._next_id = 1
        self.rows: dict[int, JobRow] = {}
        self.jobs: dict[int, RenderJob] = {}
        self.modes: dict[int, ExportMode] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        tools = QHBoxLayout()
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.clear_finished)
        self.summary = QLabel()
        tools.addWidget(self.summary, 1)
        tools.addWidget(self.clear_button)
        layout.addLayout(tools)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        host = QWidget()
        self.rows_layout = QVBoxLayout(host)
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(4)
        self.empty_label = QLabel("No exports queued. Use Render ▸ Add… to export the whole "
                                  "clip, the in/out range or selected shots.")
        self.empty_label.setObjectName("emptyHint")
        self.empty_label.setWordWrap(True)
        self.rows_layout.addWidget(self.empty_label)
        self.rows_layout.addStretch(1)
        scroll.setWidget(host)
        layout.addWidget(scroll, 1)
        self._update_summary()

    def add_job(self, job: RenderJob, title: str | None = None,
                mode: ExportMode = PLAIN, pending: PendingExport | None = None) -> int:
        """Queue `job` (run as `mode` says); returns its id. With `pending` (what to queue it
        again from), it is kept until it has run, and offered again after a quit."""
        job_id = self._next_id
        self._next_id += 1
        end = "end" if job.end is None else str(job.end)
        how = f" ({mode.describe()})" if mode.describe() else ""
        detail = f"frames {job.start}–{end} of {job.source.name} → {job.output}{how}"
        row = JobRow(job_id, title or job.output.name, detail, resumable=mode.resumable)
        row.cancel_requested.connect(self.cancel)
        row.remove_requested.connect(self.remove)
        row.resume_requested.connect(self.resume)
        self.rows[job_id] = row
        self.jobs[job_id] = job
        self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
        self.runner.enqueue(job_id, job, mode)
        self.modes[job_id] = mode
        if pending is not None:
            self.pending[job_id] = pending
        self._update_summary()
        self._keep()
        return job_id

    def resume(self, job_id: int) -> int | None:
        """Queue a cancelled or failed resumable job again: it continues after its last
        complete segment. Returns the new job's id."""
        job, mode = self.jobs.get(job_id), self.modes.get(job_id)
        if job is None or mode is None or not mode.resumable:
            return None
        title = self.rows[job_id].title.text()
        pending = self.pending.get(job_id)
        self.remove(job_id)
        return self.add_job(job, title, mode, pending)

    def cancel(self, job_id: int) -> None:
        self.runner.cancel(job_id)
        row = self.rows.get(job_id)
        if row is not None and row.state in ("queued", "running"):
            row.bar.setFormat("cancelling…")

    def remove(self, job_id: int) -> None:
        row = self.rows.pop(job_id, None)
        self.jobs.pop(job_id, None)
        self.modes.pop(job_id, None)
        self.pending.pop(job_id, None)
        if row is not None:
            self.rows_layout.removeWidget(row)
            row.deleteLater()
        self._update_summary()
        self._keep()

    def clear_finished(self) -> None:
        for job_id, row in list(self.rows.items()):
            if row.state not in ("queued", "running"):
                self.remove(job_id)

    def state(self, job_id: int) -> str:
        return self.rows[job_id].state

    def active_count(self) -> int:
        return sum(1 for r in self.rows.values() if r.state in ("queued", "running"))

    def close_runner(self) -> None:
        """Cancel running exports and stop the worker (window close). The exports still to
        run stay kept as they are now, to be offered again."""
        self._keeping = False
        self.runner.close()

    def _keep(self) -> None:
        """Keep the exports still queued or running (`keep_path`)."""
        if self.keep_path is None or not self._keeping:
            return
        waiting = [p for job_id, p in self.pending.items()
                   if job_id in self.rows and self.rows[job_id].state in ("queued", "running")]
        store_pending(self.keep_path, waiting)

    def _started(self, job_id: int) -> None:
        if job_id in self.rows:
            self.rows[job_id].set_running()
        self._update_summary()

    def _progressed(self, job_id: int, progress: Progress) -> None:
        if job_id in self.rows:
            self.rows[job_id].set_progress(progress)

    def _finished(self, job_id: int, outcome: Outcome) -> None:
        row = self.rows.get(job_id)
        if row is not None:
            row.set_outcome(outcome)
        name = self.jobs[job_id].output.name if job_id in self.jobs else f"job {job_id}"
        if outcome.state == "failed":
            self.message.emit(f"Export failed: {outcome.message}")
        else:
            self.message.emit(f"Export {name} {outcome.state}: {outcome.message}")
        self._update_summary()
        self._keep()
        self.job_finished.emit(job_id, outcome)

    def _update_summary(self) -> None:
        active = self.active_count()
        self.empty_label.setVisible(not self.rows)
        self.summary.setText(f"{active} export{'s' if active != 1 else ''} in progress"
                             if active else "Idle")
        self.clear_button.setEnabled(len(self.rows) > active)


# --- the "Add to render queue" dialog ---------------------------------------------------


@dataclass(frozen=True)
class OutputChoice:
    """An output format offered in the dialog: codec (engine.media.CODECS) and where it
    writes (a file with `suffix`, or a folder of numbered images when suffix is "")."""

    label: str
    codec: str
    suffix: str


OUTPUT_CHOICES: tuple[OutputChoice, ...] = (
    OutputChoice("ProRes 422 HQ (.mov) — mastering", "prores_hq", ".mov"),
    OutputChoice("ProRes 4444 (.mov)", "prores_4444", ".mov"),
    OutputChoice("DNxHR HQX 10-bit (.mov) — Avid / broadcast master", "dnxhr_hqx", ".mov"),
    OutputChoice("DNxHR HQX 10-bit (.mxf, OP1a) — broadcast delivery", "dnxhr_hqx", ".mxf"),
    OutputChoice("FFV1 lossless (.mkv) — archive", "ffv1", ".mkv"),
    OutputChoice("H.264 (.mp4) — review copy", "h264", ".mp4"),
    OutputChoice("H.265 (.mp4)", "h265", ".mp4"),
    OutputChoice("DPX image sequence (folder)", "dpx", ""),
    OutputChoice("16-bit TIFF image sequence (folder)", "tiff", ""),
    OutputChoice("PNG image sequence (folder)", "png", ""),
)


REVIEW_CODECS = frozenset({"h264", "h265"})
"""Delivery codecs: a review copy made in one goes through the display LUT by default."""

COMPARE_CHOICES: tuple[tuple[str, str], ...] = (
    ("The restored frame", ""),
    ("Before and after, side by side (twice as wide)", "side-by-side"),
    ("Before and after, split down the middle", "split"),
)

CHECKSUM_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("None", None),
    ("MD5, listed beside the output (archives' fixity)", "md5"),
    ("SHA-256, listed beside the output", "sha256"),
)


@dataclass(frozen=True)
class RenderRequest:
    """What the dialog asks for: range "clip" | "inout" | "shots" | "reels" (every reel of
    the project, one file each), output path, codec."""

    range_kind: str
    output: Path
    codec: str
    audio: bool
    mode: ExportMode = PLAIN
    burn_in: bool = False
    checksum: str | None = None
    view_lut: bool = False
    """Whether the frames go through the clip's display LUT (a review copy)."""
    compare: str = ""
    """"side-by-side" or "split": the scan shown with the restored frame; "" not."""


def output_for(base: Path, choice: OutputChoice) -> Path:
    """`base` (any path) given the suffix the format needs (none for a folder)."""
    stem = base.with_suffix("") if base.suffix else base
    return stem.with_name(stem.name + choice.suffix) if choice.suffix else stem


class RenderDialog(QDialog):
    """Choose what to export (whole clip, in/out range, selected shots) and how.
    `picture` says what the export's frames will be (the project's framing and rate), so
    the restorer sees it before queueing; empty shows no such line."""

    def __init__(
        self,
        default_output: Path,
        in_out: tuple[int, int] | None,
        selected_shots: list[int],
        parent: QWidget | None = None,
        default_range: str = "clip",
        picture: str = "",
        checksum: str | None = None,
        display_lut: str = "",
        reels: int = 1,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add to render queue")
        self.setMinimumWidth(520)
        form = QFormLayout(self)
        self.range_clip = QRadioButton("Whole clip" if reels <= 1 else "This reel")
        label = f"In/out range (frames {in_out[0]}–{in_out[1]})" if in_out else "In/out range (set I and O first)"
        self.range_inout = QRadioButton(label)
        self.range_inout.setEnabled(in_out is not None)
        shots_text = (", ".join(str(s + 1) for s in selected_shots)) if selected_shots else "none"
        self.range_shots = QRadioButton(f"Selected shots ({shots_text})")
        self.range_shots.setEnabled(bool(selected_shots))
        self.range_reels = QRadioButton(f"Every reel ({reels}), one file each")
        self.range_reels.setVisible(reels > 1)
        ranges = QVBoxLayout()
        for button in (self.range_clip, self.range_inout, self.range_shots, self.range_reels):
            ranges.addWidget(button)
        {"clip": self.range_clip, "inout": self.range_inout, "shots": self.range_shots,
         "reels": self.range_reels}.get(default_range, self.range_clip).setChecked(True)
        if not self.checked_range_enabled():
            self.range_clip.setChecked(True)
        form.addRow("Frames", ranges)
        self.format = QComboBox()
        for choice in OUTPUT_CHOICES:
            self.format.addItem(choice.label)
        form.addRow("Format", self.format)
        self.picture = QLabel(picture)
        self.picture.setWordWrap(True)
        if picture:
            form.addRow("Picture", self.picture)
        path_row = QHBoxLayout()
        self.path = QLineEdit(str(default_output))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        form.addRow("Output", path_row)
        self.audio = QCheckBox("Pass the source's audio through (video files)")
        self.audio.setChecked(True)
        form.addRow("", self.audio)
        self.burn_in = QCheckBox("Burn in timecode, frame and shot (a review copy)")
        form.addRow("", self.burn_in)
        self.compare = QComboBox()
        for label, mode in COMPARE_CHOICES:
            self.compare.addItem(label, mode)
        self.compare.setToolTip("A review copy for a client or a curator: the scan and the "
                                "restored frame, labelled Before and After")
        form.addRow("Show", self.compare)
        # Only offered with a display LUT: a log scan's review copy for a client is seen
        # as video, while its master stays in log for the grade.
        self.view_lut = QCheckBox(f"Through the display LUT ({display_lut}): a review copy",
                                  self)
        self.view_lut.setToolTip("The frames are exported as the viewer shows them through "
                                 "the display LUT; checked by itself for H.264 and H.265, "
                                 "left off for masters, which keep the scan's levels")
        self.view_lut.setVisible(bool(display_lut))
        self._display_lut = display_lut
        if display_lut:
            form.addRow("", self.view_lut)
        self.checksum = QComboBox()
        for label, algorithm in CHECKSUM_CHOICES:
            self.checksum.addItem(label, algorithm)
        self.checksum.setCurrentIndex(max(0, self.checksum.findData(checksum)))
        self.checksum.setToolTip("Read the written files back and list their checksums beside "
                                 "the output (OUTPUT.md5), to check later with `nitrate "
                                 "verify` or md5sum -c that not a bit has changed")
        form.addRow("Checksums", self.checksum)
        self.resumable = QCheckBox("Crash-safe: write closed segments, resumable after a crash")
        form.addRow("", self.resumable)
        self.workers = QSpinBox()
        self.workers.setRange(0, 64)
        self.workers.setSpecialValueText("this process")
        self.workers.setToolTip("Render chunks on this many local worker processes (Dask); "
                                "for render nodes use `nitrate render --cluster ADDRESS`")
        form.addRow("Workers", self.workers)
        self.workers.valueChanged.connect(self._workers_changed)
        self.format.currentIndexChanged.connect(self._format_changed)
        self._format_changed()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add to queue")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def _workers_changed(self, workers: int) -> None:
        # A distributed export is not resumable (its chunks are retried instead).
        if workers:
            self.resumable.setChecked(False)
        self.resumable.setEnabled(workers == 0)

    def checked_range_enabled(self) -> bool:
        return any(b.isChecked() and b.isEnabled()
                   for b in (self.range_clip, self.range_inout, self.range_shots))

    def choice(self) -> OutputChoice:
        return OUTPUT_CHOICES[self.format.currentIndex()]

    def _format_changed(self) -> None:
        choice = self.choice()
        self.path.setText(str(output_for(Path(self.path.text()), choice)))
        self.audio.setEnabled(bool(choice.suffix))
        self.view_lut.setChecked(choice.codec in REVIEW_CODECS)

    def _browse(self) -> None:
        choice = self.choice()
        if choice.suffix:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(),
                                                  f"{choice.label} (*{choice.suffix})")
        else:
            path = QFileDialog.getExistingDirectory(self, "Folder for the image sequence",
                                                    str(Path(self.path.text()).parent))
            if path:
                path = str(Path(path) / Path(self.path.text()).name)
        if path:
            self.path.setText(str(output_for(Path(path), choice)))

    def request(self) -> RenderRequest:
        if self.range_inout.isChecked():
            kind = "inout"
        elif self.range_shots.isChecked():
            kind = "shots"
        elif self.range_reels.isChecked() and not self.range_reels.isHidden():
            kind = "reels"
        else:
            kind = "clip"
        choice = self.choice()
        mode = ExportMode(resumable=self.resumable.isChecked(), workers=self.workers.value())
        return RenderRequest(kind, Path(self.path.text()).expanduser(), choice.codec,
                             self.audio.isChecked() and bool(choice.suffix), mode,
                             self.burn_in.isChecked(), self.checksum.currentData(),
                             bool(self._display_lut) and self.view_lut.isChecked(),
                             self.compare.currentData())
