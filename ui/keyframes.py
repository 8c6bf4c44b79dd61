"""Keyframes on the timeline: the diamonds of the selected recipe step, and their edits.

The inspector adds and removes keys (a button per numeric control); this controller shows
the keys of one step of the edited recipe on the timeline and turns the timeline's requests
into undoable recipe edits: dragging a diamond moves every key of that step at that frame,
its context menu deletes them or sets how the value moves on to the next key. Keys sit at
absolute clip frames; a shot's own recipe keeps its keys inside the shot.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.errors import NitrateError
from engine.project.recipe import Step
from ui.document import Document
from ui.inspector import Inspector, op_label
from ui.timeline import Timeline


def keys_of(step: Step) -> list[tuple[int, str]]:
    """(frame, interpolation) of each keyed frame of `step`; where parameters disagree on
    the interpolation at a frame, the first parameter's (by name) is shown."""
    found: dict[int, str] = {}
    for _name, keys in step.keyframes:
        for key in keys:
            found.setdefault(key.frame, key.interpolation)
    return sorted(found.items())


class KeyframeController(QObject):
    """Keeps the timeline's diamonds in step with the edited recipe (see module docstring).

    Signals: message(str) a one-line notice or error for the status bar.
    """

    message = Signal(str)

    def __init__(self, document: Document, inspector: Inspector, timeline: Timeline,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.inspector = inspector
        self.timeline = timeline
        self._step: int | None = None
        document.recipe_changed.connect(lambda _t: self.refresh())
        document.shots_changed.connect(lambda _c: self.refresh())
        document.project_replaced.connect(self._project_replaced)
        inspector.step_selected.connect(self.select_step)
        inspector.scope.currentIndexChanged.connect(lambda _i: self.refresh())
        timeline.keyframe_moved.connect(self.move_key)
        timeline.keyframe_delete_requested.connect(self.delete_key)
        timeline.keyframe_interpolation_requested.connect(self.set_interpolation)
        self.refresh()

    @property
    def selected_step(self) -> int | None:
        """Position of the step whose keys the timeline shows (None: none)."""
        steps = self.inspector.recipe().steps
        if self._step is not None and self._step < len(steps):
            return self._step
        # Nothing chosen (or it went away): the first step that has keys, if any.
        return next((p for p, s in enumerate(steps) if s.keyframes), None)

    def select_step(self, position: object) -> None:
        self._step = position if isinstance(position, int) else None
        self.refresh()

    def refresh(self) -> None:
        """Show the selected step's keys on the timeline."""
        position = self.selected_step
        if not self.document.is_open or position is None:
            self.timeline.set_keyframes([], "")
            return
        step = self.inspector.recipe().steps[position]
        self.timeline.set_keyframes(keys_of(step), f"{op_label(step.op)}: no keyframes")

    def _project_replaced(self) -> None:
        self._step = None
        self.refresh()

    # --- edits from the timeline ---------------------------------------------------------

    def _range(self) -> tuple[int, int]:
        """Frames keys may sit on: the edited shot's, or the whole clip's for the default."""
        target = self.inspector.target()
        shots = self.document.shots()
        if target is not None and target.shot is not None and target.shot < len(shots):
            shot = shots[target.shot]
            return shot.start, shot.end
        return 0, max(0, shots[-1].end if shots else 0)

    def _selected(self) -> tuple[int, Step] | None:
        position = self.selected_step
        if position is None:
            return None
        return position, self.inspector.recipe().steps[position]

    def move_key(self, old: int, new: int) -> None:
        """Move every key of the selected step at frame `old` to `new` (one undo step; a
        key already at `new` is replaced)."""
        chosen = self._selected()
        if chosen is None:
            return
        lo, hi = self._range()
        new = min(hi, max(lo, int(new)))
        if new == old:
            return
        position, step = chosen
        try:
            for name, keys in step.keyframes:
                key = next((k for k in keys if k.frame == old), None)
                if key is None:
                    continue
                step = step.without_keyframe(name, old).with_keyframe(
                    name, new, key.value, key.interpolation)
        except NitrateError as exc:
            self.message.emit(str(exc))
            return
        self.inspector.replace_step(position, step,
                                    f"Move {op_label(step.op)} key from frame {old} to {new}")

    def delete_key(self, frame: int) -> None:
        """Delete every key of the selected step at `frame` (one undo step)."""
        chosen = self._selected()
        if chosen is None:
            return
        position, step = chosen
        for name, _keys in step.keyframes:
            step = step.without_keyframe(name, frame)
        self.inspector.replace_step(position, step,
                                    f"Delete {op_label(step.op)} key at frame {frame}")

    def set_interpolation(self, frame: int, interpolation: str) -> None:
        """How the selected step's values move on from the keys at `frame`."""
        chosen = self._selected()
        if chosen is None:
            return
        position, step = chosen
        try:
            for name, keys in step.keyframes:
                key = next((k for k in keys if k.frame == frame), None)
                if key is not None and key.interpolation != interpolation:
                    step = step.with_keyframe(name, frame, key.value, interpolation)
        except NitrateError as exc:
            self.message.emit(str(exc))
            return
        self.inspector.replace_step(position, step,
                                    f"{interpolation.capitalize()} {op_label(step.op)} key "
                                    f"at frame {frame}")
