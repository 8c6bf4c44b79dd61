"""The open project: model, undo stack, dirty flag, autosave and crash recovery.

The Document is the one owner of the `Project` in the UI. Widgets read it and change it only
through undoable commands (ui/commands.py); it announces changes with signals. The engine
receives immutable snapshots (`plan()`), so the background worker never sees a half-made edit.

Autosave writes the project every `autosave_interval_ms` (30 s) while it has unsaved
changes, to a recovery file in the user's data folder (never over the user's own file). A
clean exit or a save removes it; a recovery file left by a process that is no longer running
means a crash, and the next start offers to recover it.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from PySide6.QtCore import QObject, QStandardPaths, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QUndoStack

from engine.atomic_file import atomic_write_text
from engine.errors import ProjectError
from engine.media.sequence import media_exists
from engine.pipeline import ShotPlan
from engine.project import (
    Clip,
    OutputSettings,
    Project,
    Recipe,
    Shot,
    load_project,
    new_project,
    save_project,
)
from engine.project.io import SUFFIX, project_to_json
from ui.commands import (
    ClipSettingCommand,
    OutputCommand,
    RecipeCommand,
    ReelsCommand,
    RepairsCommand,
    ShotsCommand,
)

if TYPE_CHECKING:
    from engine.project.model import Repair

AUTOSAVE_INTERVAL_MS = 30_000
_RECOVERY_KEY = "nitrate_recovery"


@dataclass(frozen=True)
class Target:
    """What the inspector edits: a clip's default recipe (shot None) or one shot's recipe."""

    clip: int = 0
    shot: int | None = None

    @property
    def is_default(self) -> bool:
        return self.shot is None


@dataclass(frozen=True)
class Recovery:
    """An autosave left behind by a Nitrate that did not exit cleanly.

    original: the project file it belongs to (None for a project never saved).
    saved_at: seconds since the epoch of the autosave.
    """

    path: Path
    original: Path | None
    saved_at: float
    media: str

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        name = self.original.name if self.original else f"unsaved project on {Path(self.media).name}"
        return f"{name} (autosaved {when})"


def default_recovery_dir() -> Path:
    """The user's data folder for recovery files (XDG_DATA_HOME/Nitrate/recovery on Linux)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    return Path(base or Path.home() / ".local" / "share") / "Nitrate" / "recovery"


def default_queue_path() -> Path:
    """Where the render queue's waiting exports are kept (beside the recovery folder)."""
    return default_recovery_dir().parent / "render_queue.json"


def is_project_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() == SUFFIX


class Document(QObject):
    """The open project and everything about editing it.

    Signals:
      project_replaced(): a project was opened, created, recovered or closed, or another
        of its reels is shown (`select_clip`).
      reels_changed(): a reel was added or removed (or that was undone).
      recipe_changed(object): a Target's recipe changed (edit, undo, redo).
      shots_changed(int): the shot list of clip N changed.
      repairs_changed(int): the manual repairs of clip N changed.
      output_changed(): the output settings changed (frame rate, framing).
      clip_setting_changed(int, str): a setting of clip N changed: "display_lut" (it is
          shown through another LUT) or "audio_offset" (its sound's sync).
      modified(): any content change (the preview must be refreshed).
      dirty_changed(bool): unsaved changes appeared / were saved.
      path_changed(): the project file path changed (title bar, recent files).
    """

    project_replaced = Signal()
    reels_changed = Signal()
    recipe_changed = Signal(object)
    shots_changed = Signal(int)
    repairs_changed = Signal(int)
    output_changed = Signal()
    clip_setting_changed = Signal(int, str)
    modified = Signal()
    dirty_changed = Signal(bool)
    path_changed = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        recovery_dir: Path | None = None,
        autosave_interval_ms: int = AUTOSAVE_INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.undo_stack = QUndoStack(self)
        # A bound slot (not a lambda) so Qt drops the connection when the Document dies.
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.recovery_dir = recovery_dir or default_recovery_dir()
        self.recovery_path = self.recovery_dir / f"autosave-{os.getpid()}{SUFFIX}"
        # A recovered project is unsaved although its undo stack is empty.
        self._forced_dirty = False
        self._last_dirty = False
        self._autosaved_index: int | None = None
        self._plan: ShotPlan | None = None
        self._plan_clip = 0  # the reel `_plan` is of
        # The reel the workstation shows and edits (a project can hold several).
        self.current_clip = 0
        self._autosave = QTimer(self)
        self._autosave.setInterval(autosave_interval_ms)
        self._autosave.timeout.connect(self.autosave_now)

    # --- state -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.project is not None

    @property
    def is_dirty(self) -> bool:
        return self.project is not None and (self._forced_dirty or not self.undo_stack.isClean())

    @property
    def path(self) -> Path | None:
        return None if self.project is None else self.project.path

    def clip_index(self, clip: int | None = None) -> int:
        """`clip`, or the reel shown when None."""
        return self.current_clip if clip is None else clip

    def reel_names(self) -> list[str]:
        """"Reel 1: scan.mov", … for each clip of the project."""
        if self.project is None:
            return []
        return [f"Reel {i + 1}: {Path(c.path).name}" for i, c in enumerate(self.project.clips)]

    def select_clip(self, clip: int) -> None:
        """Show and edit reel `clip`: every view is rebuilt from it (`project_replaced`);
        the undo history is kept."""
        project = self.project_or_raise()
        if not 0 <= clip < len(project.clips):
            raise ProjectError(project.path or "project", f"there is no reel {clip + 1}")
        if clip != self.current_clip:
            self.current_clip = clip
            self.project_replaced.emit()

    def add_clip(self, path: str | Path) -> int:
        """Add the footage at `path` to the project as a new reel (one undo step) and
        return its index; ProjectError when it cannot be opened."""
        path = Path(path).expanduser()
        if not media_exists(path):
            raise ProjectError(path, "file not found")
        clip = new_project(path).clip
        project = self.project_or_raise()
        self.undo_stack.push(ReelsCommand(self, project.clips + [clip],
                                          f"Add reel {len(project.clips) + 1}"))
        return len(project.clips) - 1

    def remove_clip(self, clip: int) -> None:
        """Take reel `clip` out of the project (one undo step); the last reel stays."""
        project = self.project_or_raise()
        if len(project.clips) < 2:
            raise ProjectError(project.path or "project", "a project keeps at least one reel")
        name = Path(project.clips[clip].path).name
        clips = project.clips[:clip] + project.clips[clip + 1:]
        self.undo_stack.push(ReelsCommand(self, clips, f"Remove reel {clip + 1} ({name})"))

    def apply_clips(self, clips: list[Clip]) -> None:
        """Make `clips` the project's reels (ReelsCommand's do and undo)."""
        project = self.project_or_raise()
        shown = project.clips[self.current_clip] if project.clips else None
        project.clips = list(clips)
        self._plan = None
        # The reel shown stays shown (its place may change); taken out, the first is.
        place = next((i for i, c in enumerate(clips) if c is shown), None)
        self.current_clip = 0 if place is None else place
        if place is None:
            self.project_replaced.emit()
        self.reels_changed.emit()
        self.modified.emit()

    def project_or_raise(self) -> Project:
        if self.project is None:
            raise ProjectError("project", "no project is open")
        return self.project

    def display_name(self) -> str:
        if self.project is None:
            return "No project"
        if self.project.path is not None:
            return self.project.path.name
        if self.project.clips:
            return f"{Path(self.project.clip.path).name} (unsaved project)"
        return "Untitled"

    def media_path(self, clip: int | None = None) -> Path | None:
        """Absolute path of a clip's media."""
        clip = self.clip_index(clip)
        if self.project is None or not self.project.clips:
            return None
        return self.project.resolve(self.project.clips[clip].path)

    def plan(self, clip: int | None = None) -> ShotPlan | None:
        """Immutable snapshot of shots and recipes for the engine (cached until an edit)."""
        clip = self.clip_index(clip)
        if self.project is None or not self.project.clips:
            return None
        if self._plan is None or self._plan_clip != clip:
            self._plan = self.project.clips[clip].plan()
            self._plan_clip = clip
        return self._plan

    def shots(self, clip: int | None = None) -> list[Shot]:
        clip = self.clip_index(clip)
        if self.project is None or not self.project.clips:
            return []
        return self.project.clips[clip].shots

    def repairs(self, clip: int | None = None) -> list[Repair]:
        """The clip's manual repairs (frames inclusive, regions in source pixels)."""
        clip = self.clip_index(clip)
        if self.project is None or not self.project.clips:
            return []
        return list(getattr(self.project.clips[clip], "repairs", []))

    def own_recipe(self, target: Target) -> Recipe | None:
        """The recipe stored at `target` (None: a shot that follows the clip default)."""
        clip = self.project_or_raise().clips[target.clip]
        if target.shot is None:
            return clip.default_recipe
        return clip.shots[target.shot].recipe

    def recipe(self, target: Target) -> Recipe:
        """The recipe in effect at `target`."""
        own = self.own_recipe(target)
        if own is not None:
            return own
        return self.project_or_raise().clips[target.clip].default_recipe

    # --- opening and saving ---------------------------------------------------------------

    def open(self, path: str | Path,
             relink: Callable[[Path], Path | None] | None = None) -> None:
        """Open a `.nitrate` project, or footage as a new one-clip project.

        `relink(missing)` is asked for the new location of each clip whose media moved (a
        file dialog in the window); the project then opens with the new path, unsaved.
        Raises NitrateError (one line naming the file) and leaves the current project as
        it was when the file cannot be opened or a moved clip is not relinked."""
        path = Path(path).expanduser()
        relinked = False
        if is_project_path(path):
            project = load_project(path)
            if relink is not None:
                for clip in project.clips:
                    missing = project.resolve(clip.path)
                    if media_exists(missing):
                        continue
                    found = relink(missing)
                    if found is None or not media_exists(Path(found)):
                        raise ProjectError(path, f"media not found: {missing} (moved? relink it)")
                    clip.path = str(Path(found).resolve())
                    relinked = True
        else:
            if not media_exists(path):
                raise ProjectError(path, "file not found")
            project = new_project(path)
        self.set_project(project, dirty=relinked)

    def save(self, path: str | Path | None = None) -> Path:
        """Save (atomically, via engine.project.save_project) to `path` or the current file."""
        project = self.project_or_raise()
        target = Path(path) if path is not None else project.path
        if target is None:
            raise ProjectError("project", "has never been saved: choose a file name")
        # Media paths are stored relative to the new location, so make them absolute first
        # (a relative path is relative to the *old* project file).
        for clip in project.clips:
            clip.path = str(project.resolve(clip.path))
        old_path = project.path
        saved = save_project(project, target)
        self.undo_stack.setClean()
        self._forced_dirty = False
        self._discard_recovery()
        self._emit_dirty()
        if saved != old_path:
            self.path_changed.emit()
        return saved

    def close(self) -> None:
        """Forget the project (after the caller asked about unsaved changes)."""
        self.set_project(None)

    def shutdown(self) -> None:
        """Clean exit: stop autosaving and remove this process's recovery file."""
        self._autosave.stop()
        self._discard_recovery()

    def set_project(self, project: Project | None, *, dirty: bool = False) -> None:
        """Make `project` the open one (a fresh undo history); `dirty` marks it unsaved."""
        self._discard_recovery()
        self.project = project
        self._plan = None
        self.current_clip = 0
        self._forced_dirty = dirty
        self._autosaved_index = None
        self.undo_stack.clear()
        if project is None:
            self._autosave.stop()
        else:
            self._autosave.start()
        self.project_replaced.emit()
        self.path_changed.emit()
        self.modified.emit()
        self._emit_dirty()

    @Slot(bool)
    def _on_clean_changed(self, _clean: bool) -> None:
        self._emit_dirty()

    def _emit_dirty(self) -> None:
        dirty = self.is_dirty
        if dirty != self._last_dirty:
            self._last_dirty = dirty
            self.dirty_changed.emit(dirty)

    # --- edits (undoable) ---------------------------------------------------------------

    def edit_recipe(self, target: Target, recipe: Recipe | None, text: str,
                    merge_key: object | None = None) -> None:
        """Set the recipe at `target` as one undo step (merged with the previous step when
        both carry the same `merge_key`, e.g. one slider drag)."""
        self.project_or_raise()
        if recipe == self.own_recipe(target):
            return
        self.undo_stack.push(RecipeCommand(self, target, recipe, text, merge_key))

    def edit_shots(self, shots: list[Shot], text: str, clip: int | None = None) -> None:
        """Replace the shot list (validated: contiguous, covering the clip)."""
        clip = self.clip_index(clip)
        project = self.project_or_raise()
        probe = copy.deepcopy(project.clips[clip])
        probe.shots = copy.deepcopy(shots)
        try:
            probe.validate()
        except ValueError as exc:
            raise ProjectError(project.path or "project", str(exc)) from None
        self.undo_stack.push(ShotsCommand(self, clip, shots, text))

    def split_shot(self, frame: int, clip: int | None = None) -> None:
        """Start a new shot at `frame` (both halves keep the recipe), one undo step."""
        clip = self.clip_index(clip)
        from engine.project.shot_edit import split_shot

        shots = self._shot_edit(lambda c: split_shot(c, frame), clip)
        position = next(i for i, s in enumerate(shots) if s.start == frame)
        self.edit_shots(shots, f"Split shot {position} at frame {frame}", clip)

    def merge_shots(self, position: int, clip: int | None = None) -> None:
        """Merge shot `position` with the next one (keeping the first's recipe)."""
        clip = self.clip_index(clip)
        from engine.project.shot_edit import merge_shots

        shots = self._shot_edit(lambda c: merge_shots(c, position), clip)
        self.edit_shots(shots, f"Merge shots {position + 1} and {position + 2}", clip)

    def move_boundary(self, position: int, new_start: int, clip: int | None = None) -> None:
        """Make shot `position` start at `new_start` (its neighbour shrinks or grows)."""
        clip = self.clip_index(clip)
        from engine.project.shot_edit import move_boundary

        shots = self._shot_edit(lambda c: move_boundary(c, position, new_start), clip)
        self.edit_shots(shots, f"Move start of shot {position + 1} to frame {new_start}", clip)

    def set_reviewed(self, positions: list[int], reviewed: bool, clip: int | None = None) -> None:
        """Tick (or untick) shots as reviewed, one undo step."""
        clip = self.clip_index(clip)
        shots = copy.deepcopy(self.shots(clip))
        changed = [p for p in positions if 0 <= p < len(shots) and shots[p].reviewed != reviewed]
        if not changed:
            return
        for p in changed:
            shots[p].reviewed = reviewed
        which = (f"shot {changed[0] + 1}" if len(changed) == 1 else f"{len(changed)} shots")
        self.edit_shots(shots, f"Mark {which} {'reviewed' if reviewed else 'not reviewed'}", clip)

    def _shot_edit(self, edit: Callable[[Clip], list[Shot]], clip: int) -> list[Shot]:
        """Run an engine.project.shot_edit function on the clip; its complaints (a frame
        outside the clip, nothing to merge) become one-line ProjectErrors."""
        project = self.project_or_raise()
        try:
            return edit(project.clips[clip])
        except ValueError as exc:
            raise ProjectError(project.path or "project", str(exc)) from None

    def edit_repairs(self, repairs: list[Repair], text: str, clip: int | None = None) -> None:
        """Replace the clip's manual repairs as one undo step."""
        clip = self.clip_index(clip)
        self.project_or_raise()
        if list(repairs) == self.repairs(clip):
            return
        self.undo_stack.push(RepairsCommand(self, clip, list(repairs), text))

    def display_lut(self, clip: int | None = None) -> str:
        """The LUT clip `clip` is shown through, as `engine.lut.load_lut` takes it (a
        bundled LUT's name or an absolute path); "" for none."""
        clip = self.clip_index(clip)
        if self.project is None or not self.project.clips:
            return ""
        return self.project.display_lut(self.project.clips[clip])

    def set_display_lut(self, spec: str, text: str, clip: int | None = None) -> None:
        """Show the clip through the LUT `spec` names ("" for none), as one undo step."""
        clip = self.clip_index(clip)
        self._set_clip_setting(clip, "display_lut", spec, text)

    def audio_offset(self, clip: int | None = None) -> float:
        """Seconds clip `clip`'s sound is moved later against its picture (0 when no
        project is open)."""
        clip = self.clip_index(clip)
        if self.project is None or not self.project.clips:
            return 0.0
        return self.project.clips[clip].audio_offset

    def set_audio_offset(self, seconds: float, text: str, clip: int | None = None) -> None:
        """Move the clip's sound `seconds` later against its picture (negative: earlier),
        as one undo step; every export applies it."""
        clip = self.clip_index(clip)
        self._set_clip_setting(clip, "audio_offset", float(seconds), text)

    def _set_clip_setting(self, clip: int, name: str, value: object, text: str) -> None:
        if value == getattr(self.project_or_raise().clips[clip], name):
            return
        self.undo_stack.push(ClipSettingCommand(self, clip, name, value, text))

    def apply_clip_setting(self, clip: int, name: str, value: object) -> None:
        """Called by commands only."""
        setattr(self.project_or_raise().clips[clip], name, value)
        # Not `_changed`: no frame changes, so nothing is computed again.
        self.clip_setting_changed.emit(clip, name)

    def edit_output(self, output: OutputSettings, text: str) -> None:
        """Replace the project's output settings as one undo step."""
        if output == self.project_or_raise().output:
            return
        self.undo_stack.push(OutputCommand(self, output, text))

    def apply_output(self, output: OutputSettings) -> None:
        """Called by commands only."""
        self.project_or_raise().output = output
        self._changed()
        self.output_changed.emit()

    def apply_repairs(self, clip: int, repairs: list[Repair]) -> None:
        """Called by commands only: store the repairs and announce them."""
        self.project_or_raise().clips[clip].repairs = repairs
        self._changed()
        self.repairs_changed.emit(clip)

    def apply_recipe(self, target: Target, recipe: Recipe | None) -> None:
        """Called by commands only: store a recipe and announce it."""
        clip = self.project_or_raise().clips[target.clip]
        if target.shot is None:
            clip.default_recipe = recipe if recipe is not None else Recipe()
        else:
            clip.shots[target.shot].recipe = recipe
        self._changed()
        self.recipe_changed.emit(target)

    def apply_shots(self, clip: int, shots: list[Shot]) -> None:
        """Called by commands only: store a shot list and announce it."""
        self.project_or_raise().clips[clip].shots = shots
        self._changed()
        self.shots_changed.emit(clip)
        # Recipes per shot position may have moved with the shots.
        self.recipe_changed.emit(Target(clip, None))

    def _changed(self) -> None:
        self._plan = None
        self.modified.emit()

    # --- autosave and recovery ------------------------------------------------------------

    def autosave_now(self) -> Path | None:
        """Write the recovery file if there are changes since the last autosave."""
        if self.project is None or not self.is_dirty:
            return None
        state = self.undo_stack.index()
        if self._autosaved_index == state and self.recovery_path.exists():
            return None
        data = project_to_json(self.project, self.recovery_path)
        data[_RECOVERY_KEY] = {
            "original": None if self.project.path is None else str(self.project.path),
            "saved_at": time.time(),
            "pid": os.getpid(),
        }
        try:
            self.recovery_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.recovery_path, json.dumps(data, indent=2) + "\n")
        except (OSError, ValueError):
            # Autosave is best effort; the user's own save path is unaffected.
            return None
        self._autosaved_index = state
        return self.recovery_path

    def _discard_recovery(self) -> None:
        self.recovery_path.unlink(missing_ok=True)
        self._autosaved_index = None

    def find_recoveries(self) -> list[Recovery]:
        """Recovery files of Nitrate processes that are no longer running (crashes)."""
        found = []
        if not self.recovery_dir.is_dir():
            return found
        for path in sorted(self.recovery_dir.glob(f"autosave-*{SUFFIX}")):
            if path == self.recovery_path:
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                info = data[_RECOVERY_KEY]
                pid = int(info["pid"])
                media = str(data["clips"][0]["path"]) if data.get("clips") else ""
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                continue  # not ours or damaged: never offer what cannot be loaded
            if pid != os.getpid() and psutil.pid_exists(pid) and _is_nitrate(pid):
                continue  # another Nitrate is running and owns it
            original = info.get("original")
            found.append(Recovery(path, Path(original) if original else None,
                                  float(info.get("saved_at", path.stat().st_mtime)), media))
        return found

    def recover(self, recovery: Recovery) -> None:
        """Open an autosave as the current project: unsaved, under its original file name
        (so Save writes where the user expects), and removes the crash's file."""
        project = load_project(recovery.path)
        project.path = recovery.original
        self.set_project(project, dirty=True)
        self.autosave_now()  # keep a recovery copy under this process before dropping the old
        recovery.path.unlink(missing_ok=True)

    @staticmethod
    def discard_recovery(recovery: Recovery) -> None:
        recovery.path.unlink(missing_ok=True)


def _is_nitrate(pid: int) -> bool:
    """Whether `pid` still looks like a Python process (a reused pid of another program
    means its Nitrate crashed)."""
    try:
        return "python" in psutil.Process(pid).name().lower()
    except (psutil.Error, OSError):
        return False




class BackgroundTask(QObject):
    """One job at a time on a worker thread, for the window's small thread crossings: the
    worker only emits Qt signals, delivered on the GUI thread through queued connections.

    Subclasses set `thread_name` and implement `_work(cancel, *args)`, which reports through
    `_w_progress` / `_w_finished`; `start(*args)` cancels a running job first.
    Signals: progress(int done, int total); finished(result, str error).
    """

    progress = Signal(int, int)
    finished = Signal(object, str)
    _w_progress = Signal(int, int)
    _w_finished = Signal(object, str)
    thread_name = "nitrate-task"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._cancel = CancelFlag()
        queued = Qt.ConnectionType.QueuedConnection
        self._w_progress.connect(self.progress, queued)
        self._w_finished.connect(self.finished, queued)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, *args: Any) -> None:
        self.cancel()
        self._cancel = CancelFlag()
        self._thread = threading.Thread(target=self._work, args=(self._cancel, *args),
                                        name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the worker to stop without waiting for it (a Cancel button: the GUI must
        not freeze while the engine reaches its next check)."""
        self._cancel.set()

    def cancel(self, timeout_s: float = 10.0) -> None:
        """Stop a running job and wait for its thread."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _work(self, cancel: CancelFlag, *args: Any) -> None:
        raise NotImplementedError

    def _guarded(self, cancel: CancelFlag, job: Callable[[], Any], failed: str) -> Any:
        """job()'s result, or None when it was cancelled or failed; a failure is delivered
        as finished(None, one line): a NitrateError's own message, anything else (a bug
        must not take the window down) as "`failed`: the exception"."""
        from engine.errors import NitrateError, RenderCancelled

        try:
            return job()
        except RenderCancelled:
            return None
        except NitrateError as exc:
            if not cancel.is_set():
                self._w_finished.emit(None, str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the window, never a crash
            if not cancel.is_set():
                self._w_finished.emit(None, f"{failed}: {exc}")
        return None


class CancelFlag:
    """A cancel flag set on the GUI thread and polled by the engine as `cancel()` → bool
    (build_report's contract)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def __call__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


class ShotDetector(BackgroundTask):
    """Cut detection of a clip (engine.shots.analyse_cuts): `start(media)`.

    finished(shots, error): shots is a list of (first, last) inclusive frame pairs, or None
    with a one-line error; nothing is delivered when cancelled. levels_ready((media,
    levels)): every frame's mean luma (float32 array, levels 0-1), measured on the way,
    just before.
    """

    thread_name = "nitrate-shot-detection"
    levels_ready = Signal(object)
    _w_levels = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._w_levels.connect(self.levels_ready, Qt.ConnectionType.QueuedConnection)

    def _work(self, cancel: CancelFlag, media: Path) -> None:
        from engine.media import open_reader
        from engine.media.levels import store_levels
        from engine.shots import analyse_cuts, shots_from_cuts

        def detect() -> list[tuple[int, int]]:
            with open_reader(media) as reader:
                analysis = analyse_cuts(reader, progress=self._w_progress.emit, cancel=cancel)
                store_levels(media, analysis.level)
                self._w_levels.emit((media, analysis.level))
                return shots_from_cuts(reader.info.frame_count, analysis.cuts)

        shots = self._guarded(cancel, detect, f"{media}: shot detection failed")
        if shots is not None and not cancel.is_set():
            self._w_finished.emit(shots, "")


class LevelsMeter(BackgroundTask):
    """Every frame's mean luma, for the timeline's levels graph (engine.media.levels,
    from the user's cache when this file was measured before): `start(media)`. finished(result, error): result is (media, levels: float32 array,
    levels 0-1), or None with a one-line error; nothing is delivered when cancelled."""

    thread_name = "nitrate-levels"

    def _work(self, cancel: CancelFlag, media: Path) -> None:
        from engine.media import open_reader
        from engine.media.levels import cached_levels, frame_levels, store_levels

        def measure() -> Any:
            with open_reader(media) as reader:
                kept = cached_levels(media, reader.info.frame_count)
                if kept is not None:
                    return kept
                levels = frame_levels(reader, progress=self._w_progress.emit, cancel=cancel)
            store_levels(media, levels)
            return levels

        levels = self._guarded(cancel, measure, f"{media}: the levels graph failed")
        if levels is not None and not cancel.is_set():
            self._w_finished.emit((media, levels), "")


class AudioMeter(BackgroundTask):
    """Every frame's loudest sample, for the timeline's audio waveform
    (engine.media.audio_peaks): `start(media, frame_count, fps, offset)` (offset: the
    clip's sound sync, seconds). finished(result, error):
    result is (media, peaks: float32 array, levels 0-1), or None with a one-line error;
    nothing is delivered when cancelled."""

    thread_name = "nitrate-audio"

    def _work(self, cancel: CancelFlag, media: Path, frame_count: int,  # type: ignore[override]
              fps: Any, offset: float = 0.0) -> None:
        from engine.media.audio_peaks import audio_peaks

        peaks = self._guarded(cancel, lambda: audio_peaks(media, frame_count, fps, cancel,
                                                          offset=offset),
                              f"{media}: the audio waveform failed")
        if peaks is not None and not cancel.is_set():
            self._w_finished.emit((media, peaks), "")


class RegionTracker(BackgroundTask):
    """Makes a region follow the picture (engine.ops.track): `start(media, repair, key)`,
    the region placed as it lies on frame `key`.

    finished(result, error): result is (repair as given, the same repair following the
    picture, frames where the picture could not be followed), so the caller can check the
    repair is still in the list; None with a one-line error; nothing is delivered when
    cancelled.
    """

    thread_name = "nitrate-track"

    def _work(self, cancel: CancelFlag, media: Path, repair: Repair, key: int) -> None:
        from engine.media import open_reader
        from engine.ops.track import Track, track_region

        region = repair.region_at(key)
        assert region is not None

        def follow() -> Track:
            with open_reader(media) as reader:
                return track_region(reader, region, repair.start, repair.end, key,
                                    progress=self._w_progress.emit, cancel=cancel)

        track = self._guarded(cancel, follow, f"{media}: tracking failed")
        if track is None or cancel.is_set():
            return
        # The offsets are from the key frame's place; stored, they are from the region's
        # own (a region tracked before keeps its origin).
        base = repair.track[key - repair.start] if repair.track else (0, 0)
        offsets = tuple((dx + base[0], dy + base[1]) for dx, dy in track.offsets)
        self._w_finished.emit((repair, replace(repair, track=offsets), track.unmeasured),
                              "")


class ReportWriter(BackgroundTask):
    """Writes the processing report (engine.report.build_report): `start(project, path)`.
    The worker works on a deep copy of the project taken on the GUI thread (the user may
    go on editing).

    finished(path, error): the written file, or "" with a one-line error (both empty when
    cancelled).
    """

    thread_name = "nitrate-report"

    def start(self, project: Project, path: Path) -> None:  # type: ignore[override]
        super().start(copy.deepcopy(project), path)

    def _work(self, cancel: CancelFlag, project: Project, path: Path) -> None:
        from engine.errors import NitrateError, RenderCancelled
        from engine.report import build_report

        try:
            written = build_report(project, path, progress=self._w_progress.emit, cancel=cancel)
        except RenderCancelled:
            self._w_finished.emit("", "")
            return
        except NitrateError as exc:
            self._w_finished.emit("", "" if cancel.is_set() else str(exc))
            return
        except OSError as exc:
            self._w_finished.emit("", f"{path}: cannot write the report: {exc.strerror or exc}")
            return
        except Exception as exc:  # a report bug must not take the window down
            self._w_finished.emit("", f"{path}: the report failed: {exc}")
            return
        self._w_finished.emit(str(written), "")


class ChecksumVerifier(BackgroundTask):
    """Checks an export against the checksum list beside it (engine.render.fixity.verify):
    `start(path)`, the list or the export.

    finished(Verification, error): the result, or None with a one-line error; nothing is
    delivered when cancelled.
    """

    thread_name = "nitrate-verify"

    def _work(self, cancel: CancelFlag, path: Path) -> None:
        from engine.render.fixity import verify

        result = self._guarded(cancel, lambda: verify(path, self._w_progress.emit, cancel),
                               f"{path}: the check failed")
        if result is not None and not cancel.is_set():
            self._w_finished.emit(result, "")


class FilmFramesWriter(BackgroundTask):
    """Writes a transfer's own film frames to a new file: `start(kind, source, output)`,
    kind "pulldown" (engine.render.pulldown.remove_pulldown: a telecined 29.97 fps clip) or
    "repeats" (engine.render.repeats.remove_repeats: a film stretched to a higher rate by
    repeated frames).

    finished((output, plan), error): where and what was written (the plan describes
    itself), or None with a one-line error (a clip without pulldown, or without a cadence
    of repeats, is refused with the reason); nothing is delivered when cancelled.
    """

    thread_name = "nitrate-film-frames"

    def _work(self, cancel: CancelFlag, kind: str,  # type: ignore[override]
              source: Path, output: Path) -> None:
        from engine.render.pulldown import remove_pulldown
        from engine.render.repeats import remove_repeats

        remove, job = {"pulldown": (remove_pulldown, "pulldown removal"),
                       "repeats": (remove_repeats, "repeat removal")}[kind]
        plan = self._guarded(cancel, lambda: remove(
            source, output, progress=self._w_progress.emit, cancelled=cancel),
            f"{source}: {job} failed")
        if plan is not None and not cancel.is_set():
            self._w_finished.emit((output, plan), "")


class PulldownChecker(BackgroundTask):
    """Tells whether a clip at 29.97 or 30 fps is telecined (engine.media.pulldown
    .analyse_pulldown, its first 60 frames): `start(media)`.

    finished((media, PulldownReport), error)."""

    thread_name = "nitrate-pulldown-check"

    def _work(self, cancel: CancelFlag, media: Path) -> None:
        from engine.media import open_reader
        from engine.media.pulldown import analyse_pulldown

        def check() -> object:
            with open_reader(media) as reader:
                return analyse_pulldown(reader)

        report = self._guarded(cancel, check, f"{media}: the pulldown check failed")
        if report is not None and not cancel.is_set():
            self._w_finished.emit((media, report), "")


class ProxyMaker(BackgroundTask):
    """Makes the scrubbing proxy of a video file (engine.media.proxy): `start(media)`.

    finished(proxy path, error): nothing is delivered when cancelled.
    """

    thread_name = "nitrate-proxy"

    def _work(self, cancel: CancelFlag, media: Path) -> None:
        from engine.errors import NitrateError
        from engine.media.proxy import make_proxy

        try:
            path = make_proxy(media, cancel=cancel, progress=self._w_progress.emit)
        except NitrateError as exc:
            self._w_finished.emit("", str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown in the window, never a crash
            self._w_finished.emit("", f"{media}: proxy failed ({exc})")
            return
        if path is not None and not cancel.is_set():
            self._w_finished.emit(str(path), "")
