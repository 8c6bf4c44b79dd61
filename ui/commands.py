"""Undoable edits of the open project (QUndoCommand subclasses).

Every change a user makes to a project goes through one of these, pushed on the
Document's QUndoStack. Commands store whole values (a Recipe, a list of shots, a list of
repairs) before and after, so undo is an exact restore and never re-derives anything.
Keyframe edits are recipe edits (keys live on the recipe's steps), so RecipeCommand
carries them too.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from engine.project.model import OutputSettings, Shot
from engine.project.recipe import Recipe

if TYPE_CHECKING:
    from engine.project.model import Clip, Repair
    from ui.document import Document, Target

# QUndoCommand.id(): commands with the same id may be merged by the stack.
_MERGEABLE_RECIPE_EDIT = 1001


class RecipeCommand(QUndoCommand):
    """Set the recipe of a target (clip default or one shot's own recipe).

    `after` None on a shot target means "follow the clip default" (no own recipe).
    `merge_key`: consecutive commands with the same key become one undo step (a slider drag
    sends one command per position; the user undoes the drag as a whole).
    """

    def __init__(
        self,
        document: Document,
        target: Target,
        after: Recipe | None,
        text: str,
        merge_key: Hashable | None = None,
    ) -> None:
        super().__init__(text)
        self._document = document
        self.target = target
        self.before = document.own_recipe(target)
        self.after = after
        self.merge_key = merge_key

    def id(self) -> int:
        return _MERGEABLE_RECIPE_EDIT if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt's name)
        if not isinstance(other, RecipeCommand) or other.merge_key != self.merge_key:
            return False
        if other.target != self.target:
            return False
        self.after = other.after
        # A drag that ends where it started leaves nothing to undo.
        self.setObsolete(self.after == self.before)
        return True

    def redo(self) -> None:
        self._document.apply_recipe(self.target, self.after)

    def undo(self) -> None:
        self._document.apply_recipe(self.target, self.before)


class ShotsCommand(QUndoCommand):
    """Replace the shot list of a clip (split, join, mark reviewed, notes)."""

    def __init__(self, document: Document, clip: int, after: list[Shot], text: str) -> None:
        super().__init__(text)
        self._document = document
        self.clip = clip
        self.before = copy.deepcopy(document.project_or_raise().clips[clip].shots)
        self.after = copy.deepcopy(after)

    def redo(self) -> None:
        self._document.apply_shots(self.clip, copy.deepcopy(self.after))

    def undo(self) -> None:
        self._document.apply_shots(self.clip, copy.deepcopy(self.before))


class RepairsCommand(QUndoCommand):
    """Replace the manual repairs of a clip (add a region, mark a frame destroyed, remove)."""

    def __init__(self, document: Document, clip: int, after: list[Repair], text: str) -> None:
        super().__init__(text)
        self._document = document
        self.clip = clip
        self.before = list(document.repairs(clip))
        self.after = list(after)

    def redo(self) -> None:
        self._document.apply_repairs(self.clip, list(self.after))

    def undo(self) -> None:
        self._document.apply_repairs(self.clip, list(self.before))


class OutputCommand(QUndoCommand):
    """Change the project's output settings (frame rate conversion, say)."""

    def __init__(self, document: Document, after: OutputSettings, text: str) -> None:
        super().__init__(text)
        self._document = document
        self.before = replace(document.project_or_raise().output)
        self.after = replace(after)

    def redo(self) -> None:
        self._document.apply_output(replace(self.after))

    def undo(self) -> None:
        self._document.apply_output(replace(self.before))


class ClipSettingCommand(QUndoCommand):
    """Change one setting of a clip: its display LUT (a name or file, "" for none) or its
    sound's sync (seconds)."""

    def __init__(self, document: Document, clip: int, name: str, after: object,
                 text: str) -> None:
        super().__init__(text)
        self._document = document
        self.clip = clip
        self.name = name
        self.before = getattr(document.project_or_raise().clips[clip], name)
        self.after = after

    def redo(self) -> None:
        self._document.apply_clip_setting(self.clip, self.name, self.after)

    def undo(self) -> None:
        self._document.apply_clip_setting(self.clip, self.name, self.before)


class ReelsCommand(QUndoCommand):
    """Change the project's reels (add one); the reels' own edits are their own steps."""

    def __init__(self, document: Document, after: list[Clip], text: str) -> None:
        super().__init__(text)
        self._document = document
        self.before = list(document.project_or_raise().clips)
        self.after = list(after)

    def redo(self) -> None:
        self._document.apply_clips(self.after)

    def undo(self) -> None:
        self._document.apply_clips(self.before)
